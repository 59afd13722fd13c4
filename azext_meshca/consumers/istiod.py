"""istiod's view of a certificate path: Go crypto/x509 as istiod calls it.

istiod verifies ca-cert against root-cert with cert-chain as intermediates
(istio/istio security/pkg/pki/util/keycertbundle.go ``verify``:
``cert.Verify(x509.VerifyOptions{Intermediates, Roots})``, so KeyUsages defaults
to serverAuth). The rules below follow golang/go src/crypto/x509/verify.go
(``isValid``, ``buildChains``) and x509.go (``CheckSignatureFrom``); the pure
functions take cryptography certificates and return a reason string or None.
The istio-agent verifies istiod's serving chain [istiod cert, ca-cert, ..., root]
with the same Go rules, so ``verify_path`` also answers for it.
"""

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from azext_meshca import certs

# Extensions Go's parser handles (golang/go src/crypto/x509/parser.go processExtensions);
# any other critical extension is UnhandledCriticalExtension in isValid.
HANDLED_EXTENSIONS = {
    ExtensionOID.KEY_USAGE, ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
    ExtensionOID.NAME_CONSTRAINTS, ExtensionOID.CRL_DISTRIBUTION_POINTS,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER, ExtensionOID.EXTENDED_KEY_USAGE,
    ExtensionOID.SUBJECT_KEY_IDENTIFIER, ExtensionOID.CERTIFICATE_POLICIES,
    ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
}


# Extensions Go's parser refuses outright when marked critical (parser.go processExtensions:
# "x509: ... incorrectly marked critical"); such a certificate never parses.
MUST_NOT_BE_CRITICAL = {
    ExtensionOID.SUBJECT_KEY_IDENTIFIER: "subject key identifier",
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER: "authority key identifier",
    ExtensionOID.AUTHORITY_INFORMATION_ACCESS: "authority info access",
}
# Curves Go's parser supports (parser.go namedCurveFromOID); any other key fails to parse.
GO_CURVES = {"secp224r1", "secp256r1", "secp384r1", "secp521r1"}


def parse_refused(cert):
    """parser.go ParseCertificate errors the chain rules depend on (None = parses).

    Certificates that fail here are dropped silently by CertPool.AppendCertsFromPEM
    (root-cert, cert-chain) or refused by ParsePemEncodedCertificate (ca-cert).
    """
    for extension in cert.extensions:
        label = MUST_NOT_BE_CRITICAL.get(extension.oid)
        if label and extension.critical:
            return f"x509: {label} incorrectly marked critical"
    public_key = certs.public_key_or_none(cert)
    if isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name not in GO_CURVES:
        return "x509: unsupported elliptic curve"
    return None


def unsupported_issuer_key(issuer):
    """x509.go checkSignature: DSA signatures are not verified (Go 1.16+)."""
    if isinstance(certs.public_key_or_none(issuer), dsa.DSAPublicKey):
        return "x509: cannot verify signature: algorithm unimplemented"
    return None


def unhandled_critical(cert):
    """verify.go isValid: UnhandledCriticalExtension, for leaf, intermediates and roots."""
    for extension in cert.extensions:
        if extension.critical and extension.oid not in HANDLED_EXTENSIONS:
            return f"x509: unhandled critical extension ({extension.oid.dotted_string})"
    return None


def expired(cert, now):
    """verify.go isValid: now before NotBefore or after NotAfter (both inclusive bounds valid)."""
    if now < cert.not_valid_before_utc or now > cert.not_valid_after_utc:
        return "x509: certificate has expired or is not yet valid"
    return None


def incompatible_usage(cert, usage=ExtendedKeyUsageOID.SERVER_AUTH):
    """verify.go isValid: a cert listing EKUs must list the requested one or anyExtendedKeyUsage."""
    eku = certs.extension_value(cert, x509.ExtendedKeyUsage)
    if eku is None:
        return None
    if usage in eku or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku:
        return None
    return "x509: certificate specifies an incompatible key usage"


def cannot_sign(parent):
    """x509.go CheckSignatureFrom: a v3 parent needs basicConstraints cA, and keyCertSign if it has keyUsage."""
    is_ca, _ = certs.basic_constraints(parent)
    has_constraints = certs.extension_value(parent, x509.BasicConstraints) is not None
    if parent.version == x509.Version.v3 and (not has_constraints or not is_ca):
        return "x509: invalid signature: parent certificate cannot sign this kind of certificate"
    usage = certs.key_usage_names(parent)
    if usage is not None and "keyCertSign" not in usage:
        return "x509: invalid signature: parent certificate cannot sign this kind of certificate"
    return None


def intermediate_not_ca(cert):
    """verify.go isValid: an intermediate needs BasicConstraintsValid && IsCA (NotAuthorizedToSign)."""
    is_ca, _ = certs.basic_constraints(cert)
    if not is_ca:
        return "x509: certificate is not authorized to sign other certificates"
    return None


def too_many_intermediates(cert, intermediates_below):
    """verify.go isValid: MaxPathLen >= 0 and len(currentChain)-1 > MaxPathLen, roots included."""
    _, path_length = certs.basic_constraints(cert)
    if path_length is not None and intermediates_below > path_length:
        return "x509: too many intermediates for path length constraint"
    return None


def insecure_signature(cert):
    """x509.go checkSignature: MD5 and SHA-1 signatures are refused (Go 1.18+)."""
    broken = certs.BROKEN_SIGNATURE_OIDS.get(cert.signature_algorithm_oid)
    if broken:
        return f"x509: cannot verify signature: insecure algorithm {certs.signature_algorithm_name(cert)}"
    return None


def verify_path(path, now, usage=ExtendedKeyUsageOID.SERVER_AUTH):
    """Reasons Go's Verify refuses path [leaf, intermediates..., root] ([] = accepted).

    Each reason is (position in path, text). The leaf's own keyUsage and CA flag
    are not checked (verify.go: "KeyUsage status flags are ignored").
    """
    reasons = []
    for position, cert in enumerate(path):
        checks = [parse_refused(cert), unhandled_critical(cert), expired(cert, now),
                  incompatible_usage(cert, usage)]
        if position > 0:
            checks.append(cannot_sign(cert))
            checks.append(unsupported_issuer_key(cert))
            checks.append(insecure_signature(path[position - 1]))
            checks.append(too_many_intermediates(cert, position - 1))
            if position < len(path) - 1:
                checks.append(intermediate_not_ca(cert))
        reasons += [(position, text) for text in checks if text]
    return reasons
