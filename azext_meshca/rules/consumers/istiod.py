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

import functools

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from azext_meshca.model import certs
from azext_meshca.model.gopem import pem_decode, pem_decode_all

# The Go release each Istio minor is built with: the ``go`` line of istio/istio's go.mod at the
# minor's .0 tag (1.18.0 and 1.19.0: go 1.20; 1.20.0, 1.21.0: 1.21; 1.22.0-1.24.0: 1.22.0; 1.25.0:
# 1.23.0; 1.26.0-1.28.0: 1.24.0; 1.29.0: 1.25.0; 1.30.0: 1.25.7), except 1.28, whose patch releases
# moved to Go 1.25 (1.28.10, commit ff49c18: go 1.25.5), the newest 1.28s. The line is a minimum, and a module
# whose go.mod says go 1.N gets Go 1.N's GODEBUG defaults whatever toolchain builds it.
GO_FOR_ISTIO = {
    (1, 18): (1, 20), (1, 19): (1, 20), (1, 20): (1, 21), (1, 21): (1, 21), (1, 22): (1, 22),
    (1, 23): (1, 22), (1, 24): (1, 22), (1, 25): (1, 23), (1, 26): (1, 24), (1, 27): (1, 24),
    (1, 28): (1, 25), (1, 29): (1, 25), (1, 30): (1, 25),
}
NEWEST_GO = max(GO_FOR_ISTIO.values())
# Version-dependent Go rules modelled here (golang/go release notes and sources):
GO_REFUSES_NEGATIVE_SERIAL = (1, 23)   # parser.go "x509: negative serial number" (GODEBUG x509negativeserial)
GO_RSA_MIN_BITS = (1, 24)              # crypto/rsa: keys under 1024 bits are refused (GODEBUG rsa1024min)
GO_POLICY_VALIDATION = (1, 24)         # verify.go policiesValid; parser.go handles policyConstraints

# Extensions Go's parser handles (golang/go src/crypto/x509/parser.go processExtensions);
# any other critical extension is UnhandledCriticalExtension in isValid.
HANDLED_EXTENSIONS = {
    ExtensionOID.KEY_USAGE, ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
    ExtensionOID.NAME_CONSTRAINTS, ExtensionOID.CRL_DISTRIBUTION_POINTS,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER, ExtensionOID.EXTENDED_KEY_USAGE,
    ExtensionOID.SUBJECT_KEY_IDENTIFIER, ExtensionOID.CERTIFICATE_POLICIES,
    ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
}
# Handled from Go 1.24, with policy validation (RFC 9618); before, critical ones are unhandled.
POLICY_EXTENSIONS = {ExtensionOID.POLICY_CONSTRAINTS, ExtensionOID.POLICY_MAPPINGS, ExtensionOID.INHIBIT_ANY_POLICY}


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
    """x509.go checkSignature: DSA signatures are not verified (Go 1.16+), and an Ed448 key is an
    UnknownPublicKeyAlgorithm to Go (parser.go), so nothing it signed verifies."""
    if isinstance(certs.public_key_or_none(issuer), (dsa.DSAPublicKey, ed448.Ed448PublicKey)):
        return "x509: cannot verify signature: algorithm unimplemented"
    return None


def unhandled_critical(cert, go=NEWEST_GO):
    """verify.go isValid: UnhandledCriticalExtension, for leaf, intermediates and roots."""
    handled = HANDLED_EXTENSIONS | (POLICY_EXTENSIONS if go >= GO_POLICY_VALIDATION else set())
    for extension in cert.extensions:
        if extension.critical and extension.oid not in handled:
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


def lacks_key_cert_sign(cert):
    """A keyUsage extension without keyCertSign (no extension: no restriction)."""
    usage = certs.key_usage_names(cert)
    return usage is not None and "keyCertSign" not in usage


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


def verify_path(path, now, usage=ExtendedKeyUsageOID.SERVER_AUTH, go=NEWEST_GO):
    """Reasons Go's Verify refuses path [leaf, intermediates..., root] ([] = accepted).

    Each reason is (position in path, text). The leaf's own keyUsage and CA flag
    are not checked (verify.go: "KeyUsage status flags are ignored").
    """
    reasons = []
    for position, cert in enumerate(path):
        checks = [parse_refused(cert), unhandled_critical(cert, go), expired(cert, now),
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


# --------------------------------------------------------------------------- istiod's whole start-up path
#
# What follows models istiod's plug-in CA start-up on the four files' bytes, step by step, as
# istio/istio 1.30.3 (commit 56df41f) runs it: pilot/pkg/bootstrap/istio_ca.go (all four files
# required from 1.26.1), security/pkg/pki/util/keycertbundle.go Verify, crypto.go
# ParsePemEncodedCertificate / ParsePemEncodedKey, security/pkg/pki/ca/ca.go
# NewPluggedCertIstioCAOptions (ca-cert must be a CA), NewIstioCA minTTL (cert-chain's first
# block), GenKeyCert (the DNS serving certificate istiod signs for itself), and the istio-agent's
# crypto/tls verification of that serving chain. tests/differential/test_go_istiod.py runs the
# same path in Go (tests/differential/istiodload/main.go) and compares verdicts.

# istiod's own DNS name in the AKS add-on: deployment istiod-<revision> in aks-istio-system.
ISTIOD_DNS_NAME = "istiod-asm-1-30.aks-istio-system.svc"
# Refusal classes (startup() returns one): each is what one finding code explains.
(PEM, UNHANDLED_CRITICAL, KEY_TYPE, SERIAL, NAME_CONSTRAINTS, POLICY, ROOT_KEY_USAGE, CHAIN_HEAD, EMPTY_CHAIN,
 RSA_SMALL, OTHER) = ("pem", "unhandled-critical", "key-type", "serial", "name-constraints", "policy",
                      "root-key-usage", "chain-head", "empty-chain", "rsa-small", "other")


@functools.lru_cache(maxsize=64)
def go_for_revision(revision):
    """The Go release of an add-on revision ('asm-1-28' -> (1, 25)); the newest when unknown.
    The revision's Istio version is read where every rule reads it (capath.istio_version).
    Kept per revision name: every snapshot's context asks it (scan: once per cluster)."""
    from azext_meshca.rules.capath import istio_version
    return GO_FOR_ISTIO.get(istio_version(revision), NEWEST_GO)


class Refusal(Exception):
    """One step of the start-up path failing: its class, Go's text, and the object concerned."""

    def __init__(self, kind, text, obj=None):
        super().__init__(text)
        self.kind = kind
        self.text = text
        self.object = obj


def parse_certificate(der, go=NEWEST_GO):
    """crypto/x509 ParseCertificate as Go ``go`` runs it: the certificate, or Refusal."""
    if go >= GO_REFUSES_NEGATIVE_SERIAL and certs.der_serial_is_negative(der):
        raise Refusal(SERIAL, "x509: negative serial number")
    try:
        cert = x509.load_der_x509_certificate(der)
        _ = (cert.extensions, cert.subject, cert.issuer, cert.not_valid_after_utc)
    except x509.DuplicateExtension:
        raise Refusal(OTHER, "x509: certificate contains duplicate extensions") from None
    except (ValueError, TypeError):
        raise Refusal(OTHER, "x509: malformed certificate") from None
    reason = parse_refused(cert)
    if reason:
        raise Refusal(KEY_TYPE if "curve" in reason else OTHER, reason)
    return cert


def cert_pool(data, go=NEWEST_GO):
    """CertPool.AppendCertsFromPEM: CERTIFICATE blocks without headers that parse; others skipped."""
    pool = []
    for block in pem_decode_all(certs._as_bytes(data)):  # pylint: disable=protected-access
        if block.label != b"CERTIFICATE" or block.headers:
            continue
        try:
            pool.append(parse_certificate(block.der, go))
        except Refusal:
            continue
    return pool


def parse_first_certificate(data, obj, go=NEWEST_GO):
    """ParsePemEncodedCertificate: the first block pem.Decode finds, whatever its label."""
    block, _ = pem_decode(certs._as_bytes(data))  # pylint: disable=protected-access
    if block is None:
        raise Refusal(PEM, "invalid PEM encoded certificate", obj)
    try:
        return parse_certificate(block.der, go)
    except Refusal as refusal:
        kind = refusal.kind if refusal.kind in (SERIAL, KEY_TYPE) else OTHER
        if block.label != b"CERTIFICATE" and obj == "cert-chain":
            kind = CHAIN_HEAD
        raise Refusal(kind, f"failed to parse X.509 certificate ({refusal.text})", obj) from None


def _rsa_too_small(public_key, go):
    """crypto/rsa (Go 1.24+): signing or verifying with a key under 1,024 bits fails."""
    return (go >= GO_RSA_MIN_BITS and isinstance(public_key, rsa.RSAPublicKey)
            and public_key.key_size < 1024)


def _dns_matches(name, constraint):
    """verify.go matchDomainConstraint: "a.b" covers a.b and its subdomains; ".a.b" subdomains only."""
    name, constraint = name.lower().rstrip("."), constraint.lower()
    if not constraint:
        return True
    if constraint.startswith("."):
        return name.endswith(constraint)
    return name == constraint or name.endswith("." + constraint)


# verify.go checkNameConstraints' error text (CertificateInvalidError CANotAuthorizedForThisName).
_NOT_AUTHORIZED = "x509: a root or intermediate certificate is not authorized to sign for this name"


def name_constraint_violation(dns_names, cas):
    """verify.go isValid checkNameConstraints, DNS names only: every CA's permitted and excluded
    DNS subtrees against the leaf's DNS names (the sets here carry no other name types)."""
    for ca in cas:
        constraints = certs.extension_value(ca, x509.NameConstraints)
        if constraints is None:
            continue
        permitted = [tree.value for tree in constraints.permitted_subtrees or () if isinstance(tree, x509.DNSName)]
        excluded = [tree.value for tree in constraints.excluded_subtrees or () if isinstance(tree, x509.DNSName)]
        for name in dns_names:
            barred = next((tree for tree in excluded if _dns_matches(name, tree)), None)
            if barred is not None:
                return f"{_NOT_AUTHORIZED}: DNS name \"{name}\" is excluded by constraint \"{barred}\""
            if permitted and not any(_dns_matches(name, tree) for tree in permitted):
                return f"{_NOT_AUTHORIZED}: DNS name \"{name}\" is not permitted by any constraint"
    return None


def policy_refused(path, go):
    """verify.go policiesValid (Go 1.24+, RFC 9618) for chains whose certificates carry no
    certificatePolicies: the chain fails once explicit_policy reaches 0. Before Go 1.24 the parser
    did not handle policyConstraints, so a critical one is an unhandled critical extension."""
    if go < GO_POLICY_VALIDATION or len(path) < 2:
        return None
    if any(certs.extension_value(cert, x509.CertificatePolicies) is not None for cert in path[:-1]):
        return None  # a policy graph is in play: not modelled, Go decides (the differential test holds none)
    n = len(path) - 1
    explicit = n + 1
    for position in range(n - 1, -1, -1):
        cert = path[position]
        constraints = certs.extension_value(cert, x509.PolicyConstraints)
        self_issued = cert.issuer == cert.subject
        if position > 0:
            if not self_issued and explicit > 0:
                explicit -= 1
            if constraints is not None and constraints.require_explicit_policy is not None:
                explicit = min(explicit, constraints.require_explicit_policy)
        else:
            if not self_issued and explicit > 0:
                explicit -= 1
            if constraints is not None and constraints.require_explicit_policy == 0:
                explicit = 0
    if explicit == 0:
        return "x509: no valid chains built: all candidate chains have invalid policies"
    return None


def _classify(text):
    """The refusal class of one Go reason text from verify_path and the checks above."""
    if "unhandled critical extension" in text:
        return UNHANDLED_CRITICAL
    if "algorithm unimplemented" in text or "elliptic curve" in text:
        return KEY_TYPE
    return OTHER


def go_verify(leaf, intermediates, roots, now, *, go=NEWEST_GO, dns_names=()):
    """Certificate.Verify(Intermediates, Roots) as Go ``go`` runs it: the path it verified, or Refusal.

    The path is meshca's (certs.build_path: names and signatures, roots never self-checked, as
    Go trusts any certificate in Roots); the rules on it are verify_path's plus name constraints,
    policy and Go 1.24's RSA minimum. A root without keyCertSign is its own class: Go's
    CheckSignatureFrom refuses it as a parent.
    """
    path = certs.build_path(leaf, intermediates, roots)
    if path is None:
        raise Refusal(OTHER, "x509: certificate signed by unknown authority")
    for position, text in verify_path(path, now, go=go):
        kind = _classify(text)
        if position == len(path) - 1 and "cannot sign" in text and lacks_key_cert_sign(path[-1]):
            kind = ROOT_KEY_USAGE
        raise Refusal(kind, text)
    if any(_rsa_too_small(certs.public_key_or_none(cert), go) for cert in path[1:]):
        raise Refusal(RSA_SMALL, "x509: verification error: crypto/rsa: 1024-bit or larger key required")
    violation = name_constraint_violation(list(dns_names), path[1:])
    if violation:
        raise Refusal(NAME_CONSTRAINTS, violation)
    refused = policy_refused(path, go)
    if refused:
        raise Refusal(POLICY, refused)
    return path


_SERVING_LEAF = []


def _serving_leaf():
    """A stand-in for the serving certificate istiod signs for itself (ca.go genCertTemplateFromCSR):
    DNS SAN istiod's name, digitalSignature and keyEncipherment, serverAuth and clientAuth. Only its
    fields are judged (its issuer is ca-cert by construction), so it is made once, self-signed."""
    if not _SERVING_LEAF:
        import datetime
        from cryptography.hazmat.primitives import hashes
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([])
        usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                              data_encipherment=False, key_agreement=False, key_cert_sign=False,
                              crl_sign=False, encipher_only=False, decipher_only=False)
        leaf = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(1).not_valid_before(datetime.datetime(2000, 1, 1))
                .not_valid_after(datetime.datetime(9999, 1, 1))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(ISTIOD_DNS_NAME)]), critical=False)
                .add_extension(usage, critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        _SERVING_LEAF.append(leaf)
    return _SERVING_LEAF[0]


def _dns_names(cert):
    names = certs.extension_value(cert, x509.SubjectAlternativeName)
    return names.get_values_for_type(x509.DNSName) if names is not None else []


def _hidden_by_pem(objects, pools):
    """'<object>: Go reads n of m certificates' when Go's encoding/pem and CertPool read fewer
    certificates from root-cert or cert-chain than a lenient reader does (a byte-order mark, an
    indented or prefixed -----BEGIN, headers), else None: why a path a reader sees is not Go's."""
    for name, pool in pools.items():
        try:
            lenient = len(certs.parse_pem_bundle(objects[name]))
        except certs.CertFormatError:
            continue
        if len(pool) < lenient:
            return f"{name}: Go's encoding/pem and CertPool read {len(pool)} of its {lenient} certificates"
    return None


def _load_key(data):
    """ParsePemEncodedKey (and the key facts diagnose keeps instead of the bytes): info or Refusal."""
    from collections.abc import Mapping
    try:
        if isinstance(data, Mapping):
            from azext_meshca.model.keyfacts import key_info_from_facts
            return key_info_from_facts(data)
        return certs.parse_private_key(data)
    except certs.CertFormatError as error:
        raise Refusal(PEM if error.kind == "pem-framing" else KEY_TYPE if "cannot load" in error.detail
                      else OTHER, f"failed to parse private key PEM: {error.detail}", "ca-key") from None


def _istiod_steps(objects, now, go):
    """istiod's start-up on the four objects: (ca-cert, chain certificates) or Refusal."""
    missing = [name for name in ("root-cert", "ca-cert", "ca-key", "cert-chain") if objects.get(name) is None]
    if missing:
        raise Refusal(OTHER, "failed to create an istiod CA: incomplete signing CA bundle detected", missing[0])
    roots = cert_pool(objects["root-cert"], go)
    intermediates = cert_pool(objects["cert-chain"], go)
    ca = parse_first_certificate(objects["ca-cert"], "ca-cert", go)
    try:
        go_verify(ca, intermediates, roots, now, go=go, dns_names=_dns_names(ca))
    except Refusal as refusal:
        refusal.object = refusal.object or "ca-cert"
        if "unknown authority" in refusal.text:
            hidden = _hidden_by_pem(objects, {"root-cert": roots, "cert-chain": intermediates})
            if hidden:
                raise Refusal(PEM, f"{refusal.text} ({hidden})", hidden.split(":", 1)[0]) from None
        raise
    key = _load_key(objects["ca-key"])
    # tls.X509KeyPair(ca-cert, ca-key): the first CERTIFICATE block against the key's public half.
    first_cert = next((block for block in pem_decode_all(certs._as_bytes(objects["ca-cert"]))  # pylint: disable=protected-access
                       if block.label == b"CERTIFICATE"), None)
    try:
        pair_cert = parse_certificate(first_cert.der, go) if first_cert is not None else None
    except Refusal:
        pair_cert = None
    if pair_cert is None or not certs.key_matches_cert(key, pair_cert):
        raise Refusal(OTHER, "the cert does not match the key: tls: private key does not match public key", "ca-key")
    if not certs.basic_constraints(ca)[0]:
        raise Refusal(OTHER, "certificate is not authorized to sign other certificates", "ca-cert")
    chain_bytes = certs._as_bytes(objects["cert-chain"])  # pylint: disable=protected-access
    if chain_bytes:
        head = parse_first_certificate(chain_bytes, "cert-chain", go) if pem_decode(chain_bytes)[0] is not None \
            else None
        if head is None:
            raise Refusal(CHAIN_HEAD, "failed to get cert chain TTL: invalid PEM encoded certificate", "cert-chain")
        if head.not_valid_after_utc <= now:
            raise Refusal(CHAIN_HEAD, "failed to get default cert TTL cert chain has expired", "cert-chain")
    if _rsa_too_small(key.key.public_key(), go):
        raise Refusal(RSA_SMALL, "failed to create istiod DNS certificate: crypto/rsa: 1024-bit or larger key "
                      "required", "ca-key")
    return ca, chain_bytes


def _agent_steps(objects, ca, chain_bytes, now, go):
    """The istio-agent's crypto/tls verification of istiod's serving chain [istiod, cert-chain...]."""
    if not chain_bytes.strip():
        raise Refusal(EMPTY_CHAIN, "tls: failed to verify certificate: x509: certificate signed by unknown "
                      "authority (cert-chain is empty, so istiod presents its certificate alone)", "cert-chain")
    presented = []
    for block in pem_decode_all(chain_bytes):
        if block.label != b"CERTIFICATE":
            continue
        try:
            presented.append(parse_certificate(block.der, go))
        except Refusal as refusal:
            raise Refusal(refusal.kind, f"tls: failed to parse certificate from server: {refusal.text}",
                          "cert-chain") from None
    roots = cert_pool(objects["root-cert"], go)
    if not roots:
        raise Refusal(OTHER, "no certificate in root-cert for the agent to trust", "root-cert")
    if certs.fingerprint(ca) not in {certs.fingerprint(cert) for cert in presented + roots}:
        raise Refusal(OTHER, "tls: failed to verify certificate: x509: certificate signed by unknown authority "
                      "(cert-chain lacks ca-cert)", "cert-chain")
    leaf = _serving_leaf()
    try:
        path = go_verify(ca, presented, roots, now, go=go)
    except Refusal as refusal:
        raise Refusal(refusal.kind, f"tls: failed to verify certificate: {refusal.text}",
                      refusal.object or "cert-chain") from None
    # Go checks name constraints against the leaf's names only: here istiod's, under every CA.
    violation = name_constraint_violation([ISTIOD_DNS_NAME], path)
    if violation:
        raise Refusal(NAME_CONSTRAINTS, f"tls: failed to verify certificate: {violation}", "cert-chain")
    full = [leaf] + list(path)
    for position, text in verify_path(full, now, go=go):
        if position > 0:
            raise Refusal(_classify(text), f"tls: failed to verify certificate: {text}", "cert-chain")
    refused = policy_refused(full, go)
    if refused:
        raise Refusal(POLICY, f"tls: failed to verify certificate: {refused}", "cert-chain")


def startup(objects, now, go=NEWEST_GO):
    """istiod's start-up and the agent's check of istiod's serving chain, on the plug-in objects.

    ``objects`` maps root-cert, ca-cert, cert-chain to bytes and ca-key to bytes or key facts
    (None = absent). Returns {"istiod": Refusal or None, "agent": Refusal or None}; the agent is
    judged only when istiod starts. The first refusal is the one istiod logs and exits on.
    """
    result = {"istiod": None, "agent": None}
    try:
        ca, chain_bytes = _istiod_steps(objects, now, go)
    except Refusal as refusal:
        result["istiod"] = refusal
        return result
    try:
        _agent_steps(objects, ca, chain_bytes, now, go)
    except Refusal as refusal:
        result["agent"] = refusal
    return result
