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

``workload_refusals`` is the set-level verdict: it reads root-cert and cert-chain with
BoringSSL's PEM rules and builds the chain a workload presents the way X509_verify_cert
does, then applies the checks above plus name constraints, policy constraints and the issuer
key types BoringSSL can use. tests/unit/test_envoy_boringssl.py holds it against real
handshakes through the BoringSSL bundled in grpcio.
"""

import binascii
import datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, SignatureAlgorithmOID

from azext_meshca.model import certs

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


# --------------------------------------------------------------------------- the workload handshake
#
# What Envoy decides when a workload presents its chain: the leaf istiod issued, followed by
# the raw cert-chain bytes (istio-agent hands both to Envoy over SDS), verified against a
# store holding root-cert with X509_V_FLAG_PARTIAL_CHAIN. Where the functions above judge a
# path someone else built, these build it the way BoringSSL does, from the same bytes:
# google/boringssl (commit a0689af, 2026-08-21) crypto/pem/pem_lib.cc PEM_read_bio_inner,
# crypto/x509/x509_vfy.cc X509_verify_cert, v3_purp.cc X509_check_issued / X509_check_akid,
# v3_ncons.cc NAME_CONSTRAINTS_check, policy.cc X509_policy_check. The differential test
# tests/unit/test_envoy_boringssl.py holds this model against real handshakes.

ENVOY_LOADER = "envoy"
GRPC_LOADER = "grpc"
# PEM_read_bio_X509 / _AUX accept these labels (crypto/pem/pem_lib.cc check_pem); others are skipped.
CERTIFICATE_LABELS = (b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE")
# BIO_gets(bp, buf, 254) in PEM_read_bio_inner reads at most 253 bytes, the newline included:
# a line of 253 bytes or more is read in pieces, and its newline can arrive as an empty line.
_PEM_LINE_LIMIT = 253
# crypto/fipsmodule/ec: the only named curves BoringSSL parses; anything else cannot be an issuer key.
SUPPORTED_CURVES = ("secp224r1", "secp256r1", "secp384r1", "secp521r1")


class _PemReader:  # pylint: disable=too-few-public-methods  # one pass over one object's lines
    """PEM_read_bio_inner's line discipline: a block starts only at a line that begins with
    ``-----BEGIN `` (trailing bytes <= ' ' stripped, nothing stripped in front: a byte-order
    mark, indentation or text before it hides the block); a blank line ends RFC 1421 headers."""

    def __init__(self, data):
        self.lines = []
        lines = data.split(b"\n")
        for number, line in enumerate(lines):
            while len(line) >= _PEM_LINE_LIMIT:
                self.lines.append(line[:_PEM_LINE_LIMIT])
                line = line[_PEM_LINE_LIMIT:]
            # what is left, the newline with it; after the last newline only if something is there
            if line or number < len(lines) - 1:
                self.lines.append(line)
        self.position = 0

    def _next(self):
        if self.position >= len(self.lines):
            return None
        line = self.lines[self.position]
        self.position += 1
        return line.rstrip(bytes(range(33)))

    def read_block(self):
        """(label, headers, body lines) of the next block; None at the end; ValueError when broken."""
        while True:
            line = self._next()
            if line is None:
                return None
            if line.startswith(b"-----BEGIN ") and line.endswith(b"-----") and len(line) >= 16:
                label = line[11:-5]
                break
        first, end = self._until_end(stop_at_blank=True)
        if end is None or end != b"-----END " + label + b"-----":
            if end == b"":  # a blank line: what came before it were headers
                body, end = self._until_end(stop_at_blank=False)
                if end != b"-----END " + label + b"-----":
                    raise ValueError("PEM_R_BAD_END_LINE")
                return label, first, body
            raise ValueError("PEM_R_BAD_END_LINE")
        return label, [], first

    def _until_end(self, stop_at_blank):
        collected = []
        while True:
            line = self._next()
            if line is None:
                return collected, None
            if stop_at_blank and line == b"":
                return collected, b""
            if line.startswith(b"-----END "):
                return collected, line
            collected.append(line)


def _decode_base64(lines):
    """EVP_DecodeUpdate / EVP_DecodeFinal (crypto/base64/base64.cc): spaces, tabs, CR and LF are
    skipped anywhere; any other byte outside the alphabet, data after the padding, or a
    trailing partial quad is an error."""
    encoded = bytes(byte for byte in b"".join(lines) if byte not in b" \t\r\n")
    try:
        decoded = binascii.a2b_base64(encoded, strict_mode=True)
    except (binascii.Error, ValueError):
        raise ValueError("PEM_R_BAD_BASE64_DECODE") from None
    if not decoded:
        raise ValueError("PEM_R_NO_DATA")
    return decoded


def pem_certificates(data, *, loader=ENVOY_LOADER):
    """(certificates, problem) as BoringSSL's PEM reader delivers them from data.

    Blocks with other labels are skipped (PEM_bytes_read_bio); a certificate block with
    RFC 1421 headers fails (PEM_get_EVP_CIPHER_INFO PEM_R_NOT_PROC_TYPE); a broken block is
    a read error. What a read error does depends on the loader:

    * Envoy (ENVOY_LOADER) refuses the whole object: the certificate chain unless the last
      error is PEM_R_NO_START_LINE (envoyproxy/envoy source/common/tls/context_impl.cc,
      "Failed to load certificate chain from"), the trusted CAs whenever
      PEM_X509_INFO_read_bio fails (default_validator.cc "Failed to load trusted CA
      certificates from").
    * gRPC (GRPC_LOADER, the differential test's harness) stops reading and keeps what it
      has (grpc/grpc src/core/tsi/ssl_transport_security.cc ssl_ctx_use_certificate_chain
      and x509_store_load_certs: ERR_clear_error(); break).
    """
    reader = _PemReader(bytes(data or b""))
    found = []
    while True:
        try:
            block = reader.read_block()
        except ValueError as error:
            return found, None if loader == GRPC_LOADER else f"PEM read error ({error})"
        if block is None:
            return found, None
        label, headers, body = block
        if label not in CERTIFICATE_LABELS:
            continue
        problem = "PEM read error (PEM_R_NOT_PROC_TYPE: headers inside a certificate block)" if headers else None
        if problem is None:
            try:
                found.append(x509.load_der_x509_certificate(_decode_base64(body)))
            except ValueError as error:
                problem = f"certificate does not parse ({str(error).split(':', maxsplit=1)[0]})"
        if problem:
            return found, None if loader == GRPC_LOADER else problem


def issuer_key_problem(cert):
    """Why BoringSSL cannot verify a signature with cert's public key (x509 algorithm.cc), or None."""
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "unable to decode issuer public key"
    if isinstance(key, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
        return None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name in SUPPORTED_CURVES:
            return None
        return f"unable to decode issuer public key (curve {key.curve.name})"
    return f"unable to decode issuer public key ({type(key).__name__.lstrip('_')})"


def _extension(cert, oid):
    try:
        return cert.extensions.get_extension_for_oid(oid).value
    except (x509.ExtensionNotFound, ValueError):
        return None


def akid_mismatch(issuer, subject):
    """X509_check_akid: the subject's authorityKeyIdentifier must name the issuer's key id and serial."""
    akid = _extension(subject, ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    if akid is None:
        return None
    skid = _extension(issuer, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    if akid.key_identifier is not None and skid is not None and akid.key_identifier != skid.digest:
        return "authority and subject key identifier mismatch"
    if akid.authority_cert_serial_number is not None \
            and akid.authority_cert_serial_number != issuer.serial_number:
        return "authority and issuer serial number mismatch"
    names = [name.value for name in (akid.authority_cert_issuer or ())
             if isinstance(name, x509.DirectoryName)]
    if names and names[0] != issuer.issuer:
        return "authority and issuer serial number mismatch"
    return None


def check_issued(issuer, subject):
    """X509_check_issued: names, then the AKID, then keyCertSign. No signature is checked here."""
    if issuer.subject != subject.issuer:
        return "subject issuer mismatch"
    return akid_mismatch(issuer, subject) or issuer_refused(issuer)


def self_signed(cert):
    """EXFLAG_SS: self-issued, its AKID names itself, and keyUsage (if any) allows keyCertSign."""
    return cert.subject == cert.issuer and check_issued(cert, cert) is None


def _first_issuer(cert, candidates):
    """find_issuer / X509_STORE_CTX_get1_issuer: the FIRST candidate X509_check_issued accepts.

    Neither looks at validity or signatures, so an expired issuer listed before the
    valid one is the one chosen."""
    for candidate in candidates:
        if candidate is not cert and check_issued(candidate, cert) is None:
            return candidate
    return None


def build_chain(leaf, untrusted, trusted):
    """X509_verify_cert's chain: (chain, number of untrusted certificates at its start, problem)."""
    chain = [leaf]
    pool = list(untrusted)
    while len(chain) < MAX_CHAIN and not self_signed(chain[-1]):
        if _first_issuer(chain[-1], trusted) is not None:
            break
        issuer = _first_issuer(chain[-1], pool)
        if issuer is None:
            break
        pool.remove(issuer)
        chain.append(issuer)
    chain_ss = chain.pop() if len(chain) > 1 and self_signed(chain[-1]) else None
    untrusted_count = len(chain)
    while len(chain) < MAX_CHAIN and not self_signed(chain[-1]):
        issuer = _first_issuer(chain[-1], trusted)
        if issuer is None:
            break
        chain.append(issuer)
    if len(chain) > untrusted_count:
        return chain, untrusted_count, None
    if chain_ss is not None and check_issued(chain_ss, chain[-1]) is None:
        return chain + [chain_ss], len(chain) + 1, "self signed certificate in certificate chain"
    why = _why_no_issuer(chain[-1], untrusted, trusted)
    return chain, untrusted_count, "unable to get local issuer certificate" + why


def _why_no_issuer(cert, untrusted, trusted):
    """Name the cause when a certificate with the right name and AKID was passed over for want
    of keyCertSign (X509_check_issued X509_V_ERR_KEYUSAGE_NO_CERTSIGN); BoringSSL's own error
    stays "unable to get local issuer certificate"."""
    for where, candidates in (("root-cert", trusted), ("cert-chain", untrusted)):
        for candidate in candidates:
            if candidate.subject == cert.issuer and akid_mismatch(candidate, cert) is None \
                    and issuer_refused(candidate):
                return f" (its issuer in {where} lacks keyCertSign)"
    return ""


# x509_vfy.cc: param->depth 100 (gRPC kMaxChainLength; Envoy's default max_verify_depth is
# unlimited within BoringSSL's own 100) plus the leaf and the anchor.
MAX_CHAIN = 102


def _names_of(cert):
    sans = _extension(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    return list(sans) if sans is not None else []


def _uri_host(uri):
    """nc_get_valid_uri_host: the host of scheme://host[:port]/..., or None."""
    scheme, sep, rest = uri.partition(":")
    if not sep or not scheme[:1].isalpha() or not rest.startswith("//"):
        return None
    authority = rest[2:]
    for stop in "/?#":
        authority = authority.split(stop, 1)[0]
    host = authority.rsplit(":", 1)[0] if ":" in authority else authority
    return host.rstrip(".") or None


def _uri_matches(uri, base):
    host = _uri_host(uri)
    if host is None:
        return False
    base = base.rstrip(".")
    if base.startswith("."):
        return host.lower().endswith(base.lower())
    return host.lower() == base.lower()


def _dns_matches(name, base):
    name, base = name.lower().rstrip("."), base.lower().rstrip(".")
    if not base:
        return True
    if base.startswith("."):
        return name.endswith(base)
    return name == base or name.endswith("." + base)


_MATCHERS = {x509.UniformResourceIdentifier: _uri_matches, x509.DNSName: _dns_matches}


def _constraint_violation(cert, constraints):
    """NAME_CONSTRAINTS_check for the URI and DNS SANs of cert (the kinds a mesh chain carries)."""
    for name in _names_of(cert):
        matcher = _MATCHERS.get(type(name))
        if matcher is None:
            continue
        permitted = [tree.value for tree in constraints.permitted_subtrees or () if isinstance(tree, type(name))]
        if permitted and not any(matcher(name.value, base) for base in permitted):
            return "permitted subtree violation"
        excluded = [tree.value for tree in constraints.excluded_subtrees or () if isinstance(tree, type(name))]
        if any(matcher(name.value, base) for base in excluded):
            return "excluded subtree violation"
    return None


def name_constraint_violations(chain):
    """check_name_constraints: every CA's constraints (the anchor's included) bind each
    certificate below it, the leaf's SPIFFE URI among them; self-issued CAs are skipped."""
    reasons = []
    for position, cert in enumerate(chain):
        if position and cert.subject == cert.issuer:
            continue
        for above in chain[position + 1:]:
            constraints = _extension(above, ExtensionOID.NAME_CONSTRAINTS)
            reason = constraints is not None and _constraint_violation(cert, constraints)
            if reason:
                reasons.append((position, reason))
    return reasons


def explicit_policy_required(chain):
    """policy.cc X509_policy_check without user policies: the anchor's constraints are not
    read; requireExplicitPolicy below it counts down the certificates after it, and once the
    count reaches zero the leaf needs a certificatePolicies chain. Istio's leaves carry none."""
    explicit = len(chain) + 1
    for position in range(len(chain) - 2, -1, -1):
        cert = chain[position]
        if position == 0 or cert.subject != cert.issuer:
            explicit = max(explicit - 1, 0)
        constraints = _extension(cert, ExtensionOID.POLICY_CONSTRAINTS)
        if constraints is not None and constraints.require_explicit_policy is not None:
            explicit = min(explicit, constraints.require_explicit_policy)
    policies = _extension(chain[0], ExtensionOID.CERTIFICATE_POLICIES)
    if explicit == 0 and not policies:
        return "no explicit policy"
    return None


# crypto/rsa/rsa_asn1.cc rsa_parse_pss_params: BoringSSL takes RSA-PSS with SHA-256/384/512 only,
# MGF1 over the same hash, and a salt as long as the digest (crypto/x509/rsa_pss.cc).
_PSS_HASHES = ("sha256", "sha384", "sha512")


def pss_parameters_refused(cert):
    """X509_R_INVALID_PSS_PARAMETERS for an RSA-PSS signature outside BoringSSL's three sets."""
    if cert.signature_algorithm_oid != SignatureAlgorithmOID.RSASSA_PSS:
        return None
    params = cert.signature_algorithm_parameters
    digest = cert.signature_hash_algorithm
    mgf_hash = getattr(getattr(params, "mgf", None), "_algorithm", None)  # cryptography keeps it private
    salt = getattr(params, "_salt_length", None)
    if digest is None or digest.name not in _PSS_HASHES or mgf_hash is None \
            or mgf_hash.name != digest.name or salt != digest.digest_size:
        return "certificate signature failure (invalid PSS parameters)"
    return None


def _signature_problems(chain, leaf_signed):
    """internal_verify: each signature below the top, with the issuer's key as BoringSSL reads it
    (the top's own signature is never checked: self-signed, or an anchor under PARTIAL_CHAIN)."""
    reasons = []
    for position in range(len(chain) - 1):
        child, issuer = chain[position], chain[position + 1]
        problem = issuer_key_problem(issuer) or pss_parameters_refused(child)
        if problem is None:
            verified = leaf_signed if position == 0 and leaf_signed is not None else certs.signed_by(child, issuer)
            problem = None if verified else "certificate signature failure"
        if problem:
            reasons.append((position, problem))
    return reasons


def verify_workload(leaf, untrusted, trusted, now, *, purposes=(SSL_CLIENT, SSL_SERVER), leaf_signed=None):
    """Reasons BoringSSL's X509_verify_cert refuses a workload's presented chain ([] = accepted).

    leaf: the workload certificate (a real one, or any certificate whose issuer name and
    AKID are the leaf's); untrusted: cert-chain as the PEM reader delivered it; trusted:
    root-cert's certificates. leaf_signed=None verifies the leaf's signature; True/False
    states it (a leaf istiod signs with ca-key verifies whenever ca-key matches ca-cert).
    Reasons are (position in the built chain, text).
    """
    chain, untrusted_count, problem = build_chain(leaf, untrusted, trusted)
    if problem:
        return [(len(chain) - 1, problem)]
    trusted_count = len(chain) - untrusted_count
    reasons = verify_path(chain, trusted_count, now, purposes=purposes)
    reasons += _signature_problems(chain, leaf_signed)
    reasons += name_constraint_violations(chain)
    policy = explicit_policy_required(chain)
    if policy:
        reasons.append((0, policy))
    return reasons


def _stand_in_key():
    if "key" not in _STAND_IN:
        _STAND_IN["key"] = ec.generate_private_key(ec.SECP256R1())
    return _STAND_IN["key"]


_STAND_IN = {}
# The workload identity Istio puts in a leaf (spiffe://<trust domain>/ns/<namespace>/sa/<account>).
SPIFFE_ID = "spiffe://cluster.local/ns/default/sa/default"


def istio_leaf_builder(ca_cert, public_key, now, *, names=(), serial=1):
    """An unsigned workload certificate as istiod issues it under ca-cert: Istio's extensions
    (istio/istio security/pkg/pki/util/generate_cert.go: keyUsage digitalSignature +
    keyEncipherment, EKU serverAuth + clientAuth, the SPIFFE URI SAN, plus ``names``) and the
    AKID that Go's x509.CreateCertificate copies from the parent's subjectKeyIdentifier. The
    model's stand-in (workload_leaf) and the BoringSSL harness's real leaves both start here."""
    alt_names = [x509.UniformResourceIdentifier(SPIFFE_ID)] + list(names)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([]))
               .issuer_name(ca_cert.subject)
               .public_key(public_key)
               .serial_number(serial)
               .not_valid_before(now - datetime.timedelta(hours=1))
               .not_valid_after(now + datetime.timedelta(hours=23))
               .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False),
                              critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                     ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
               .add_extension(x509.SubjectAlternativeName(alt_names), critical=True))
    skid = _extension(ca_cert, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    if skid is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier(skid.digest, None, None), critical=False)
    return builder


def workload_leaf(ca_cert, now):
    """A stand-in for the workload certificate istiod issues under ca-cert.

    Only what X509_verify_cert reads of a leaf is faithful (istio_leaf_builder). Its
    signature is not ca-key's: callers state it (istiod signs with ca-key; a ca-key that
    does not match ca-cert is istiod's own finding, MCA709).
    """
    key = _stand_in_key()
    return istio_leaf_builder(ca_cert, key.public_key(), now).sign(key, hashes.SHA256())


def workload_refusals(root_pem, cert_chain_pem, ca_cert, now, *, leaf=None, leaf_signed=None,
                      purposes=(SSL_CLIENT, SSL_SERVER), loader=ENVOY_LOADER):
    """Why Envoy refuses every workload chain a CA set produces ([] = mesh mTLS works).

    root_pem / cert_chain_pem are the raw objects (their PEM framing counts: Envoy reads
    both with BoringSSL's PEM reader); ca_cert is the parsed ca-cert istiod signs with.
    Without a leaf, a stand-in (workload_leaf) is judged as if ca-key had signed it.
    Bounded: objects over certs.MAX_OBJECT_BYTES are not judged; the chain stops at MAX_CHAIN,
    and each step looks at each certificate once (a 1,000-certificate same-key pool takes
    under a second).
    This is meshca's Envoy verdict on a set; tests/unit/test_envoy_boringssl.py holds it
    against real BoringSSL handshakes (with loader=GRPC_LOADER, the harness's PEM loading).
    """
    now = _aware(now)
    root_pem, cert_chain_pem = _bytes(root_pem), _bytes(cert_chain_pem)
    if max(len(root_pem), len(cert_chain_pem)) > certs.MAX_OBJECT_BYTES:
        return []  # not judged: MCA608 already refuses an object this large
    trusted, problem = pem_certificates(root_pem, loader=loader)
    if problem:
        return [f"root-cert: {problem}"]
    if not trusted:
        return ["root-cert: no certificate BoringSSL's PEM reader can read"]
    untrusted, problem = pem_certificates(cert_chain_pem, loader=loader)
    if problem:
        return [f"cert-chain: {problem}"]
    if leaf is None:
        leaf, leaf_signed = workload_leaf(ca_cert, now), True
    reasons = verify_workload(leaf, untrusted, trusted, now, purposes=purposes, leaf_signed=leaf_signed)
    return [text for _, text in reasons]


def _bytes(data):
    if isinstance(data, str):
        return data.encode("utf-8", errors="replace")
    return bytes(data or b"")


def _aware(now):
    if now.tzinfo is None:
        return now.replace(tzinfo=datetime.timezone.utc)
    return now


# Envoy refusals that other certificate rules already report (rules/validation.py: MCA704/705/706/707,
# MCA715, MCA716/722, MCA717/721, MCA723); MCA760 carries the rest.
REPORTED_ELSEWHERE = ("certificate has expired", "certificate is not yet valid", "invalid CA certificate",
                      "unsupported certificate purpose", "path length constraint exceeded",
                      "certificate signature failure (MD5)", "key usage does not include certificate signing",
                      "invalid or inconsistent certificate extension",
                      # MCA705 / MCA716: a CA in cert-chain without keyCertSign is passed over as an issuer
                      "unable to get local issuer certificate (its issuer in cert-chain lacks keyCertSign)")


def envoy_only(reasons):
    """The reasons no other certificate rule reports, in order, without repeats."""
    kept = []
    for text in reasons:
        if not text.startswith(REPORTED_ELSEWHERE) and text not in kept:
            kept.append(text)
    return kept
