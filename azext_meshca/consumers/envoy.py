"""Envoy's view of a workload chain: BoringSSL X509_verify_cert as Envoy calls it.

Envoy (envoyproxy/envoy source/common/tls/cert_validator/default_validator.cc
``doVerifyCertChain``) verifies a peer's chain with ``X509_verify_cert`` under
purpose ``ssl_client`` on the server side and ``ssl_server`` on the client side,
with ``X509_V_FLAG_PARTIAL_CHAIN`` set on a store holding root-cert. Mesh mTLS
runs both directions, so a CA set must satisfy both purposes.

Rules follow google/boringssl (commit a0689af, 2026-08-21) crypto/x509/x509_vfy.cc
``check_chain_extensions`` (run on every UNTRUSTED certificate: the leaf, ca-cert
and cert-chain's intermediates, never the trust anchor), ``internal_verify`` /
``check_cert_time`` (every certificate), and v3_purp.cc ``check_ca``,
``check_purpose`` / ``xku_reject`` and ``X509_check_issued``.
"""

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, SignatureAlgorithmOID

from azext_meshca import certs

SSL_CLIENT = "ssl_client"  # Envoy as server verifying a client's chain
SSL_SERVER = "ssl_server"  # Envoy as client verifying a server's chain
PURPOSE_EKU = {SSL_CLIENT: ExtendedKeyUsageOID.CLIENT_AUTH, SSL_SERVER: ExtendedKeyUsageOID.SERVER_AUTH}

# v3_purp.cc X509_supported_extension: critical extensions BoringSSL understands.
SUPPORTED_CRITICAL = {
    ExtensionOID.KEY_USAGE, ExtensionOID.SUBJECT_ALTERNATIVE_NAME, ExtensionOID.BASIC_CONSTRAINTS,
    ExtensionOID.CERTIFICATE_POLICIES, ExtensionOID.EXTENDED_KEY_USAGE, ExtensionOID.POLICY_CONSTRAINTS,
    ExtensionOID.NAME_CONSTRAINTS, ExtensionOID.POLICY_MAPPINGS, ExtensionOID.INHIBIT_ANY_POLICY,
}


def unhandled_critical(cert):
    """check_chain_extensions: EXFLAG_CRITICAL -> X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION."""
    for extension in cert.extensions:
        if extension.critical and extension.oid not in SUPPORTED_CRITICAL:
            return f"unhandled critical extension ({extension.oid.dotted_string})"
    return None


def invalid_extension(cert):
    """x509v3_cache_extensions EXFLAG_INVALID: a pathlen on a non-CA basicConstraints."""
    constraints = certs.extension_value(cert, x509.BasicConstraints)
    if constraints is not None and constraints.path_length is not None and not constraints.ca:
        return "invalid or inconsistent certificate extension"
    return None


def not_a_ca(cert):
    """v3_purp.cc check_ca: keyUsage (if present) must have keyCertSign; then BC cA (or a v1 root)."""
    usage = certs.key_usage_names(cert)
    if usage is not None and "keyCertSign" not in usage:
        return "invalid CA certificate (keyUsage without keyCertSign)"
    if cert.version == x509.Version.v1 and certs.is_self_signed(cert):
        return None
    is_ca, _ = certs.basic_constraints(cert)
    if not is_ca:
        return "invalid CA certificate (no basicConstraints cA)"
    return None


def purpose_rejected(cert, purpose):
    """v3_purp.cc check_purpose: xku_reject on every cert; anyExtendedKeyUsage does not count."""
    eku = certs.extension_value(cert, x509.ExtendedKeyUsage)
    if eku is not None and PURPOSE_EKU[purpose] not in eku:
        lacking = "clientAuth" if purpose == SSL_CLIENT else "serverAuth"
        return f"unsupported certificate purpose ({purpose}: extendedKeyUsage lacks {lacking})"
    return None


def ca_purpose_reasons(cert):
    """Why Envoy refuses cert as an untrusted CA in either direction of mTLS ([] = accepted)."""
    reasons = [unhandled_critical(cert), invalid_extension(cert), not_a_ca(cert)]
    reasons += [purpose_rejected(cert, purpose) for purpose in (SSL_CLIENT, SSL_SERVER)]
    return [text for text in reasons if text]


def issuer_refused(issuer):
    """X509_check_issued: an issuer whose keyUsage lacks keyCertSign is not an issuer."""
    usage = certs.key_usage_names(issuer)
    if usage is not None and "keyCertSign" not in usage:
        return "key usage does not include certificate signing"
    return None


def path_length_exceeded(cert, non_self_issued_below):
    """check_chain_extensions: i > 1 and plen > pathlen + 1 (self-issued intermediates not counted)."""
    _, path_length = certs.basic_constraints(cert)
    if path_length is not None and non_self_issued_below > path_length + 1:
        return "path length constraint exceeded"
    return None


# v3_purp.cc check_purpose_ssl_client / _server: keyUsage bits the LEAF needs (CAs are exempt).
LEAF_KEY_USAGE = {SSL_CLIENT: ("digitalSignature", "keyAgreement"),
                  SSL_SERVER: ("digitalSignature", "keyEncipherment", "keyAgreement")}


def leaf_usage_rejected(cert, purpose):
    """check_purpose on the end-entity: ku_reject unless one of the purpose's bits is set."""
    usage = certs.key_usage_names(cert)
    if usage is not None and not set(usage) & set(LEAF_KEY_USAGE[purpose]):
        return f"unsupported certificate purpose ({purpose}: keyUsage)"
    return None


def expired(cert, now):
    """check_cert_time on every certificate, anchors included, in whole POSIX seconds
    (X509_cmp_time_posix), so a fraction of a second past notAfter is still valid."""
    now = now.replace(microsecond=0)
    if now < cert.not_valid_before_utc:
        return "certificate is not yet valid"
    if now > cert.not_valid_after_utc:
        return "certificate has expired"
    return None


def insecure_signature(cert):
    """algorithm.cc x509_digest_nid_ok: MD4 and MD5 signatures are refused; SHA-1 is verified."""
    if cert.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_MD5:
        return "certificate signature failure (MD5)"
    return None


def verify_path(path, trusted_count, now, purposes=(SSL_CLIENT, SSL_SERVER)):
    """Reasons X509_verify_cert refuses path [leaf, ..., anchor] ([] = accepted).

    The last ``trusted_count`` certificates came from the trust store and skip
    check_chain_extensions, as in x509_vfy.cc. Reasons are (position, text).
    """
    reasons = []
    untrusted = len(path) - trusted_count
    plen = 0
    for position, cert in enumerate(path):
        checks = [expired(cert, now)]
        if position > 0:
            checks.append(issuer_refused(cert))
            checks.append(insecure_signature(path[position - 1]))
        if position < untrusted:
            checks += [unhandled_critical(cert), invalid_extension(cert)]
            if position > 0:
                checks.append(not_a_ca(cert))
            else:
                checks += [leaf_usage_rejected(cert, purpose) for purpose in purposes]
            checks += [purpose_rejected(cert, purpose) for purpose in purposes]
            if position > 1:
                checks.append(path_length_exceeded(cert, plen))
            if position == 0 or cert.issuer != cert.subject:
                plen += 1
        reasons += [(position, text) for text in checks if text]
    return reasons
