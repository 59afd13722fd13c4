"""Pure certificate and key helpers for the plug-in CA checks.

Why pure: the same functions serve local files, Key Vault secrets and the
in-cluster ``cacerts`` secret, and tests feed them bytes directly. This module
does no file, network or environment I/O and imports nothing from azure-cli
or knack; it needs only ``cryptography`` and the standard library.

Secrecy rule: private-key bytes never reach a message, an exception or a
repr. Errors name the problem (and at most a PEM label such as
``RSA PRIVATE KEY``), never the input.
"""

import base64
import binascii
import collections
import dataclasses
import datetime
import hashlib
import re
import warnings

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, SignatureAlgorithmOID

from azext_meshca.model.snapshot import iso_utc  # the one timestamp format (also certs.iso_utc)

# cryptography warns (and will one day refuse) when it reads a negative serial number; meshca
# reports such a serial itself, as Go refuses it (MCA727), so the warning would only be noise on az's stderr.
warnings.filterwarnings("ignore", message="Parsed a serial number which wasn't positive", category=UserWarning)

# Plug-in objects are a few kilobytes; anything above this is the wrong file.
MAX_OBJECT_BYTES = 1024 * 1024
# More PEM blocks than this in one object is not a certificate bundle. A pool of this size
# is what build_path's worst case (see its docstring) is stated and tested for.
MAX_PEM_BLOCKS = 1000
# Deepest signature path build_path follows (root rotation + a few tiers fit easily).
MAX_PATH_DEPTH = 8

CERTIFICATE_LABEL = b"CERTIFICATE"
KEY_FORMATS = {
    b"PRIVATE KEY": "PKCS#8",
    b"RSA PRIVATE KEY": "PKCS#1",
    b"EC PRIVATE KEY": "EC (SEC 1)",
}
ENCRYPTED_KEY_LABEL = b"ENCRYPTED PRIVATE KEY"

_BEGIN_LINE = re.compile(rb"-----BEGIN ([A-Z0-9 ]{1,64})-----")
_BASE64_TEXT = re.compile(rb"^[A-Za-z0-9+/=\s]+$")

_KEY_USAGE_NAMES = (
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
)

_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}

# openssl's names, so output matches what users see in `openssl x509 -text`.
_SIGNATURE_NAMES = {
    SignatureAlgorithmOID.RSA_WITH_MD5: "md5WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA1: "sha1WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA224: "sha224WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA256: "sha256WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA384: "sha384WithRSAEncryption",
    SignatureAlgorithmOID.RSA_WITH_SHA512: "sha512WithRSAEncryption",
    SignatureAlgorithmOID.RSASSA_PSS: "rsassaPss",
    SignatureAlgorithmOID.ECDSA_WITH_SHA1: "ecdsa-with-SHA1",
    SignatureAlgorithmOID.ECDSA_WITH_SHA224: "ecdsa-with-SHA224",
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: "ecdsa-with-SHA256",
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: "ecdsa-with-SHA384",
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: "ecdsa-with-SHA512",
    SignatureAlgorithmOID.DSA_WITH_SHA1: "dsa_with_SHA1",
    SignatureAlgorithmOID.DSA_WITH_SHA256: "dsa_with_SHA256",
    SignatureAlgorithmOID.ED25519: "ED25519",
    SignatureAlgorithmOID.ED448: "ED448",
}

# Signature algorithms Go (and so istiod) refuses to verify.
BROKEN_SIGNATURE_OIDS = {
    SignatureAlgorithmOID.RSA_WITH_MD5: "MD5",
    SignatureAlgorithmOID.RSA_WITH_SHA1: "SHA-1",
    SignatureAlgorithmOID.ECDSA_WITH_SHA1: "SHA-1",
    SignatureAlgorithmOID.DSA_WITH_SHA1: "SHA-1",
}


class CertFormatError(ValueError):
    """Input that is not a usable PEM certificate bundle or private key.

    ``kind`` is one of: empty, der, not-pem, bad-pem, no-certificate, no-key,
    encrypted, too-large, duplicate-extension, pem-framing. ``detail`` is a short phrase for catalog templates.
    The message never contains input bytes.
    """

    def __init__(self, kind, detail, label=None):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.label = label  # the PEM label istiod choked on, when that is the problem


@dataclasses.dataclass(eq=False, repr=False)
class PemBlock:
    """One decoded PEM block: its label, RFC 1421 headers and DER body."""

    __slots__ = ("label", "headers", "der")
    label: bytes
    headers: dict
    der: bytes

    def __repr__(self):
        return f"<PemBlock {self.label.decode('ascii')} ({len(self.der)} bytes)>"


class PrivateKeyInfo:
    """A parsed private key and the container format it came in.

    The repr and str show the format and algorithm only, so a key that ends
    up in a log line or assertion message reveals nothing.
    """

    __slots__ = ("key", "format")

    def __init__(self, key, key_format):
        self.key = key
        self.format = key_format

    @property
    def algorithm(self):
        return key_algorithm_name(self.key)

    @property
    def key_size(self):
        return getattr(self.key, "key_size", None)

    def __repr__(self):
        return f"<PrivateKeyInfo {self.format} {self.algorithm} {self.key_size}>"

    __str__ = __repr__


# --------------------------------------------------------------------------- PEM parsing

def _as_bytes(data):
    """Accept bytes or text; None counts as empty."""
    if data is None:
        return b""
    if isinstance(data, str):
        return data.encode("utf-8", errors="replace")
    return bytes(data)


def _check_size(data):
    """Refuse empty and oversized input before any parsing work."""
    if len(data) > MAX_OBJECT_BYTES:
        raise CertFormatError("too-large", f"input is more than {MAX_OBJECT_BYTES} bytes")
    if not data.strip():
        raise CertFormatError("empty", "input is empty")


def _decode_block_body(body, block_number, label):
    """Split RFC 1421 headers from the base64 body and decode it strictly."""
    headers = {}
    base64_lines = []
    for raw_line in body.splitlines():
        line = raw_line.strip()
        if not line:
            continue
        if b":" in line and not base64_lines:
            name, _, value = line.partition(b":")
            header_name = name.strip().decode("ascii", "replace")
            headers[header_name] = value.strip().decode("ascii", "replace")
            continue
        base64_lines.append(line)
    encoded = re.sub(rb"\s+", b"", b"".join(base64_lines))
    try:
        der = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise CertFormatError("bad-pem",
                              f"PEM block {block_number} ({label.decode('ascii')}) has broken base64") from None
    if not der:
        raise CertFormatError("bad-pem", f"PEM block {block_number} ({label.decode('ascii')}) is empty")
    return headers, der


def pem_blocks(data):
    """All PEM blocks in data, tolerant of CRLF, indentation and text around blocks.

    Why hand-written: the work must stay linear on hostile input (a missing END
    line stops the scan at once) and errors must never echo the input.
    """
    blocks = []
    position = 0
    while True:
        begin = _BEGIN_LINE.search(data, position)
        if begin is None:
            return blocks
        label = begin.group(1).strip()
        end_marker = b"-----END " + label + b"-----"
        end = data.find(end_marker, begin.end())
        block_number = len(blocks) + 1
        if end < 0:
            raise CertFormatError("bad-pem", f"PEM block {block_number} ({label.decode('ascii')}) has no END line")
        if block_number > MAX_PEM_BLOCKS:
            raise CertFormatError("too-large", f"more than {MAX_PEM_BLOCKS} PEM blocks")
        headers, der = _decode_block_body(data[begin.end():end], block_number, label)
        blocks.append(PemBlock(label, headers, der))
        position = end + len(end_marker)


def _loads_as_der_certificate(data):
    try:
        x509.load_der_x509_certificate(data)
        return True
    except (ValueError, TypeError):
        return False


def _loads_as_der_key(data):
    try:
        serialization.load_der_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
        return True
    except TypeError:  # encrypted DER: still a DER key
        return True
    except (ValueError, UnsupportedAlgorithm):
        return False


def _not_pem_error(data, looks_like_der):
    """Say what the non-PEM input looks like, without quoting it."""
    if data[:1] == b"\x30":
        if looks_like_der(data):
            return CertFormatError("der", "input is binary DER, not PEM")
        return CertFormatError("not-pem", "binary data (DER, PKCS#12 or other), no PEM block")
    stripped = data.strip()
    if _BASE64_TEXT.match(stripped):
        try:
            decoded = base64.b64decode(re.sub(rb"\s+", b"", stripped), validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if decoded and looks_like_der(decoded):
            return CertFormatError("not-pem", "bare base64 without -----BEGIN/-----END lines")
    if stripped[:1] in (b"{", b"["):
        return CertFormatError("not-pem", "JSON text, no PEM block")
    return CertFormatError("not-pem", "no -----BEGIN line found")


def _load_certificate(block, block_number):
    """Parse one certificate and read every field the checks use.

    cryptography parses some fields lazily; reading them here turns a
    malformed name or extension into a format error now instead of a crash
    deep inside a rule later. Go's parser rejects such certificates too.

    A repeated extension is its own kind: cryptography raises DuplicateExtension
    (not a ValueError) and both consumers refuse such a certificate (Go's
    crypto/x509 parser, parser.go "certificate contains duplicate extensions";
    BoringSSL marks it EXFLAG_INVALID in v3_purp.cc x509v3_cache_extensions).
    """
    try:
        cert = x509.load_der_x509_certificate(block.der)
        _ = (cert.subject, cert.issuer, cert.extensions, cert.not_valid_before_utc,
             cert.not_valid_after_utc, cert.signature_algorithm_oid, cert.tbs_certificate_bytes)
        return cert
    except x509.DuplicateExtension as error:
        raise CertFormatError("duplicate-extension",
                              f"certificate block {block_number} repeats the {_oid_label(error.oid)} extension") \
            from None
    except (ValueError, TypeError):
        raise CertFormatError("bad-pem", f"certificate block {block_number} does not parse as X.509") from None


def _oid_label(oid):
    """'basicConstraints (2.5.29.19)' style label of an extension OID."""
    name = getattr(oid, "_name", None)
    dotted = getattr(oid, "dotted_string", "?")
    return f"{name} ({dotted})" if name and name != "Unknown OID" else dotted


def parse_pem_bundle(data):
    """Every CERTIFICATE in a PEM bundle, in file order.

    Other PEM blocks are skipped (istiod does the same); a bundle without any
    certificate is an error of its own kind so the caller can say "holds no
    certificate" rather than "not PEM".
    """
    data = _as_bytes(data)
    _check_size(data)
    blocks = pem_blocks(data)
    if not blocks:
        raise _not_pem_error(data, _loads_as_der_certificate)
    certificate_blocks = [block for block in blocks if block.label == CERTIFICATE_LABEL]
    if not certificate_blocks:
        labels = sorted({block.label.decode("ascii") for block in blocks})
        raise CertFormatError("no-certificate", f"found only {', '.join(labels)} block(s)")
    return [_load_certificate(block, number)
            for number, block in enumerate(certificate_blocks, start=1)]


def _is_encrypted(block):
    return (block.label == ENCRYPTED_KEY_LABEL
            or "ENCRYPTED" in block.headers.get("Proc-Type", "").upper())


def _load_key_block(block):
    """Load one unencrypted key block and check it matches its label.

    An RSA key is checked as istiod's Go checks it (``rsa_key_problem``), not by
    OpenSSL's RSA_check_key, which cryptography runs by default: that one also tests
    p and q for primality, which Go does not, and costs 40 ms for a 2048-bit key and
    240 ms for a 4096-bit one, on diagnose's critical path.
    """
    label = block.label.decode("ascii")
    container = der_key_container(block.der)
    if container is not None and container != KEY_FORMATS[block.label]:
        raise CertFormatError("bad-pem", f"the {label} block holds a {container} key; istiod picks the "
                              f"parser by the label (crypto.go ParsePemEncodedKey), so it does not load")
    try:
        key = serialization.load_der_private_key(block.der, password=None, unsafe_skip_rsa_key_validation=True)
    except TypeError:
        raise CertFormatError("encrypted", "the private key is encrypted") from None
    except (ValueError, UnsupportedAlgorithm):
        raise CertFormatError("bad-pem", f"the {label} block does not parse as a private key") from None
    expected_type = {b"RSA PRIVATE KEY": rsa.RSAPrivateKey,
                     b"EC PRIVATE KEY": ec.EllipticCurvePrivateKey}.get(block.label)
    if expected_type is not None and not isinstance(key, expected_type):
        raise CertFormatError("bad-pem", f"the {label} block holds a different key type")
    unsupported = _go_unsupported_key(key)
    if unsupported:
        raise CertFormatError("bad-pem", f"the {label} block holds {unsupported}, which istiod's Go cannot load")
    if isinstance(key, rsa.RSAPrivateKey):
        problem = rsa_key_problem(key.private_numbers())
        if problem:
            raise CertFormatError("bad-pem", f"the {label} block does not parse as a private key: {problem}")
    return PrivateKeyInfo(key, KEY_FORMATS[block.label])


# Curves Go's crypto/x509 loads keys on (sec1.go / pkcs8.go namedCurveFromOID).
_GO_KEY_CURVES = {"secp224r1", "secp256r1", "secp384r1", "secp521r1"}


def _go_unsupported_key(key):
    """What Go's ParsePKCS8PrivateKey / ParseECPrivateKey refuse: DSA, Ed448, other curves."""
    if isinstance(key, (dsa.DSAPrivateKey, ed448.Ed448PrivateKey)):
        return f"a {key_algorithm_name(key)} key"
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name not in _GO_KEY_CURVES:
        return f"an EC key on {key.curve.name}"
    return None


def _der_header(der, offset):
    """(tag, content start, content end) of the DER element at offset, or None."""
    if offset + 2 > len(der):
        return None
    tag, length = der[offset], der[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or start + count > len(der):
            return None
        length = int.from_bytes(der[start:start + count], "big")
        start += count
    return tag, start, start + length


def der_serial_is_negative(der):
    """True when a DER certificate's serial number INTEGER is negative (its first content byte has
    the top bit set), read from the bytes so that no parser's leniency decides."""
    outer = _der_header(der, 0)
    tbs = _der_header(der, outer[1]) if outer else None
    if tbs is None:
        return False
    field = _der_header(der, tbs[1])
    if field is not None and field[0] == 0xA0:  # [0] EXPLICIT version
        field = _der_header(der, field[2])
    return field is not None and field[0] == 0x02 and field[1] < len(der) and bool(der[field[1]] & 0x80)


def der_key_container(der):
    """'PKCS#8', 'PKCS#1' or 'EC (SEC 1)' by the DER's shape, or None when it is none of them.

    All three are SEQUENCE { INTEGER version, ... }; the element after the version tells them
    apart: an AlgorithmIdentifier SEQUENCE (PKCS#8), the modulus INTEGER (PKCS#1), the private
    key OCTET STRING (SEC 1). Go parses each label with one parser only.
    """
    outer = _der_header(der, 0)
    if outer is None or outer[0] != 0x30:
        return None
    version = _der_header(der, outer[1])
    if version is None or version[0] != 0x02:
        return None
    second = _der_header(der, version[2])
    if second is None:
        return None
    return {0x30: "PKCS#8", 0x02: "PKCS#1", 0x04: "EC (SEC 1)"}.get(second[0])


def rsa_key_problem(numbers):
    """Why istiod's Go would refuse these RSA private numbers, or None.

    The union of what the Go versions istiod is built with check when they load a key
    (crypto/x509 ParsePKCS1PrivateKey and ParsePKCS8PrivateKey call Validate): before
    Go 1.24, crypto/rsa/rsa.go Validate (p, q > 1, p·q = n, d·e ≡ 1 mod p-1 and q-1);
    from Go 1.24, crypto/internal/fips140/rsa/rsa.go checkPublicKey and checkPrivateKey
    (n odd, e odd, 2 ≤ e < 2³¹, p odd, p·q = n, e·dP ≡ 1 mod p-1, e·dQ ≡ 1 mod q-1,
    qInv·q ≡ 1 mod p). Neither tests p or q for primality. The messages name which
    relation fails and never print a number.
    """
    public = numbers.public_numbers
    n, e, p, q, d = public.n, public.e, numbers.p, numbers.q, numbers.d
    # In order, each relied on by the ones after it (no division by zero, no p - 1 of 0).
    checks = (
        (lambda: n > 0 and n % 2 == 1, "the modulus is even"),
        (lambda: 2 <= e <= 2 ** 31 - 1 and e % 2 == 1, "the public exponent is even or out of range"),
        (lambda: d > 0 and 1 < p < n and 1 < q < n and p % 2 == 1, "a prime is out of range"),
        (lambda: p * q == n, "p × q is not the modulus"),
        (lambda: (d * e) % (p - 1) == 1 and (d * e) % (q - 1) == 1, "d is not the inverse of e"),
        (lambda: (numbers.dmp1 * e) % (p - 1) == 1 and (numbers.dmq1 * e) % (q - 1) == 1,
         "a CRT exponent is wrong"),
        (lambda: (numbers.iqmp * q) % p == 1, "the CRT coefficient is wrong"),
    )
    for holds, problem in checks:
        if not holds():
            return problem
    return None


def parse_private_key(data):
    """The private key in the FIRST PEM block: PKCS#8, PKCS#1 (RSA) or SEC 1 (EC).

    Why only the first: istiod's ParsePemEncodedKey (istio/istio
    security/pkg/pki/util/crypto.go) pem.Decodes one block and refuses any type
    but these three. So a Key Vault certificate's PEM backing secret (key, then
    certificate) loads, and a certificate followed by a key does not. Blocks
    after the first are ignored. Encrypted keys are refused (istiod cannot take
    a passphrase).
    """
    data = _as_bytes(data)
    _check_size(data)
    first = go_first_block(data)  # the block istiod reads: Go skips one that does not decode
    if first is not None and first.label in KEY_FORMATS and not _is_encrypted(first):
        return _load_key_block(first)
    blocks = pem_blocks(data)
    if not blocks:
        raise _not_pem_error(data, _loads_as_der_key)
    if first is None:
        raise CertFormatError("pem-framing", "istiod's PEM reader (Go encoding/pem) finds no block: a "
                              "byte-order mark, indentation or text before -----BEGIN on its line, or a "
                              "block that does not decode")
    if _is_encrypted(first):
        raise CertFormatError("encrypted", "the private key is encrypted")
    if first.label in KEY_FORMATS:
        return _load_key_block(first)
    if any(block.label in KEY_FORMATS or _is_encrypted(block) for block in blocks):
        raise CertFormatError("no-key", f"the first PEM block is {first.label.decode('ascii')}, not the private key "
                              "(istiod reads only the first block)",
                              label=first.label.decode("ascii"))
    labels = sorted({block.label.decode("ascii") for block in blocks})
    raise CertFormatError("no-key", f"found only {', '.join(labels)} block(s), no private key")


def go_first_block(data):
    """The first block Go's pem.Decode yields (model/gopem.py pem_decode), or None."""
    from azext_meshca.model.gopem import pem_decode
    return pem_decode(_as_bytes(data))[0]


def first_block_label(data):
    """Label of the first PEM block in data ('CERTIFICATE', 'PRIVATE KEY'...), or None.

    istiod takes ca-cert.pem's first block as its signing certificate whatever its
    label (ParsePemEncodedCertificate, istio/istio security/pkg/pki/util/crypto.go).
    """
    block = go_first_block(data)
    return block.label.decode("ascii", "replace") if block is not None else None


# --------------------------------------------------------------------------- facts about one cert

def fingerprint(cert):
    """SHA-256 of the DER, as openssl prints it (AB:CD:...)."""
    return der_fingerprint(cert.public_bytes(serialization.Encoding.DER))


def der_fingerprint(der):
    """SHA-256 of DER bytes, as openssl prints it (AB:CD:...)."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def bundle_fingerprints(data):
    """The fingerprint of every certificate in a PEM bundle (CertFormatError if it has none):
    roots are compared by these, never by name."""
    return [fingerprint(cert) for cert in parse_pem_bundle(data)]


def name_string(name):
    """RFC 4514 string of a Name; a broken name gives a placeholder, not a crash."""
    try:
        return name.rfc4514_string() or "(empty)"
    except ValueError:
        return "(unreadable name)"


def subject_string(cert):
    return name_string(cert.subject)


def key_algorithm_name(key):
    """RSA / EC / Ed25519 / Ed448 / DSA for a public or private key."""
    kinds = ((rsa.RSAPublicKey, "RSA"), (rsa.RSAPrivateKey, "RSA"),
             (ec.EllipticCurvePublicKey, "EC"), (ec.EllipticCurvePrivateKey, "EC"),
             (ed25519.Ed25519PublicKey, "Ed25519"), (ed25519.Ed25519PrivateKey, "Ed25519"),
             (ed448.Ed448PublicKey, "Ed448"), (ed448.Ed448PrivateKey, "Ed448"),
             (dsa.DSAPublicKey, "DSA"), (dsa.DSAPrivateKey, "DSA"))
    for key_type, name in kinds:
        if isinstance(key, key_type):
            return name
    return "unknown"


def public_key_or_none(cert):
    try:
        return cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return None


def extension_value(cert, extension_class):
    """The parsed extension value, or None when absent or malformed."""
    try:
        return cert.extensions.get_extension_for_class(extension_class).value
    except (x509.ExtensionNotFound, ValueError):
        return None


def key_usage_names(cert):
    """keyUsage bits by their RFC 5280 names; None when the extension is absent."""
    usage = extension_value(cert, x509.KeyUsage)
    if usage is None:
        return None
    names = [name for attribute, name in _KEY_USAGE_NAMES if getattr(usage, attribute)]
    if usage.key_agreement:
        names += [name for attribute, name in (("encipher_only", "encipherOnly"),
                                               ("decipher_only", "decipherOnly"))
                  if getattr(usage, attribute)]
    return names


def extended_key_usage_names(cert):
    """EKU purposes by name (dotted OID when unnamed); None when absent."""
    usage = extension_value(cert, x509.ExtendedKeyUsage)
    if usage is None:
        return None
    return [_EKU_NAMES.get(oid, oid.dotted_string) for oid in usage]


def basic_constraints(cert):
    """(is_ca, path_length); (False, None) when the extension is absent."""
    constraints = extension_value(cert, x509.BasicConstraints)
    if constraints is None:
        return False, None
    return constraints.ca, constraints.path_length


def signature_algorithm_name(cert):
    oid = cert.signature_algorithm_oid
    return _SIGNATURE_NAMES.get(oid, oid.dotted_string)


def key_strength(cert):
    """(algorithm, size, curve) of the certificate's public key."""
    public_key = public_key_or_none(cert)
    if public_key is None:
        return "unknown", None, None
    algorithm = key_algorithm_name(public_key)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return algorithm, public_key.curve.key_size, public_key.curve.name
    return algorithm, getattr(public_key, "key_size", None), None


def _aware(moment):
    """Treat a naive datetime as UTC so callers cannot trip over time zones."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.timezone.utc)
    return moment


def days_left(cert, now):
    """Whole days from now to notAfter, rounded down (negative once expired)."""
    return (cert.not_valid_after_utc - _aware(now)).days


def _san_strings(cert):
    names = extension_value(cert, x509.SubjectAlternativeName)
    if names is None:
        return []
    prefixes = {x509.DNSName: "DNS", x509.IPAddress: "IP Address",
                x509.UniformResourceIdentifier: "URI", x509.RFC822Name: "email"}
    result = []
    for general_name in names:
        prefix = prefixes.get(type(general_name), type(general_name).__name__)
        result.append(f"{prefix}:{general_name.value}")
    return result


def _key_identifiers(cert):
    subject_id = extension_value(cert, x509.SubjectKeyIdentifier)
    authority_id = extension_value(cert, x509.AuthorityKeyIdentifier)
    subject_hex = subject_id.digest.hex() if subject_id is not None else None
    authority_hex = None
    if authority_id is not None and authority_id.key_identifier is not None:
        authority_hex = authority_id.key_identifier.hex()
    return subject_hex, authority_hex


def is_self_signed(cert):
    """Issuer equals subject AND the certificate's own key verifies its signature."""
    return cert.issuer == cert.subject and signed_by(cert, cert)


def describe(cert, now):
    """A JSON-ready summary of one certificate (camelCase keys, no key material)."""
    is_ca, path_length = basic_constraints(cert)
    algorithm, size, curve = key_strength(cert)
    subject_key_id, authority_key_id = _key_identifiers(cert)
    return {
        "subject": subject_string(cert),
        "issuer": name_string(cert.issuer),
        "serialNumber": format(cert.serial_number, "x"),
        "notBefore": iso_utc(cert.not_valid_before_utc),
        "notAfter": iso_utc(cert.not_valid_after_utc),
        "daysLeft": days_left(cert, now),
        "fingerprintSha256": fingerprint(cert),
        "keyAlgorithm": algorithm,
        "keySize": size,
        "curve": curve,
        "isCa": is_ca,
        "pathLength": path_length,
        "keyUsage": key_usage_names(cert),
        "extendedKeyUsage": extended_key_usage_names(cert),
        "subjectAlternativeNames": _san_strings(cert),
        "subjectKeyIdentifier": subject_key_id,
        "authorityKeyIdentifier": authority_key_id,
        "signatureAlgorithm": signature_algorithm_name(cert),
        "selfSigned": is_self_signed(cert),
    }


# --------------------------------------------------------------------------- cert relations

def signed_by(child, issuer):
    """True when issuer's public key verifies child's signature.

    Why signatures and not names: every root from Istio's recipe is called
    ``O=Istio, CN=Root CA``, so a name match proves nothing.
    """
    public_key = public_key_or_none(issuer)
    if public_key is None:
        return False
    try:
        parameters = child.signature_algorithm_parameters
        if isinstance(public_key, rsa.RSAPublicKey):
            # cryptography gives no parameters for legacy hashes such as MD5.
            parameters = parameters or padding.PKCS1v15()
            public_key.verify(child.signature, child.tbs_certificate_bytes, parameters,
                              child.signature_hash_algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(child.signature, child.tbs_certificate_bytes, parameters)
        elif isinstance(public_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            public_key.verify(child.signature, child.tbs_certificate_bytes)
        elif isinstance(public_key, dsa.DSAPublicKey):
            public_key.verify(child.signature, child.tbs_certificate_bytes,
                              child.signature_hash_algorithm)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def _public_key_der(key):
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def key_matches_cert(key, cert):
    """True when the private key is the other half of the certificate's public key."""
    private_key = key.key if isinstance(key, PrivateKeyInfo) else key
    cert_public_key = public_key_or_none(cert)
    if cert_public_key is None:
        return False
    try:
        return _public_key_der(private_key.public_key()) == _public_key_der(cert_public_key)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False


def build_path(leaf, intermediates, roots):
    """Signature path [leaf, ..., root] to one of roots, or None.

    Only signatures and names count: validity dates, CA flags and path lengths
    are separate checks so each problem gets its own finding. A candidate
    issuer must carry the child's issuer name as its subject, as in Go
    (crypto/x509 isValid, NameMismatch) and BoringSSL (X509_check_issued); the
    signature is the proof, so two roots both called ``O=Istio, CN=Root CA``
    are still told apart. The path found is a shortest one.

    Worst case, bounded by construction, for a pool of n certificates
    (intermediates plus roots) holding k distinct public keys:

    * breadth-first search with one visited set: each certificate is expanded
      at most once, so at most n expansions, none deeper than MAX_PATH_DEPTH;
    * each expansion looks only at the certificates whose subject equals the
      expanded certificate's issuer (one dict lookup), so at most n*n cheap
      candidate visits in all;
    * signatures are verified at most once per (certificate, issuer key) pair,
      so at most n*k verifications, and never more than MAX_SIGNATURE_CHECKS:
      past that the search stops with None. Go's own path builder gives up
      after 100 (crypto/x509 verify.go maxChainSignatureChecks), so istiod
      refuses such a pool too.

    With the 1,000-certificate cap on a PEM object (MAX_PEM_BLOCKS) and x509-limbo's
    pathological same-key chains (k = 1) that is 1,000 verifications, not 2**100.
    """
    return _PathSearch(intermediates, roots).run(leaf)


# Upper bound on signature verifications in one build_path call (see its docstring).
MAX_SIGNATURE_CHECKS = 20000


class _PathSearch:  # pylint: disable=too-few-public-methods  # one search's state; run() is its entry point
    """State of one bounded build_path search: name index, signature cache, budget."""

    def __init__(self, intermediates, roots):
        self.roots = list(roots)
        self.root_fingerprints = {fingerprint(root) for root in self.roots}
        self.by_subject = {}
        for cert in list(self.roots) + list(intermediates):
            self.by_subject.setdefault(_name_key(cert.subject), []).append((cert, fingerprint(cert)))
        self.verdicts = {}
        self.key_ids = {}
        self.checks = 0

    def run(self, leaf):
        leaf_fingerprint = fingerprint(leaf)
        if leaf_fingerprint in self.root_fingerprints:
            return [leaf]
        parents = {leaf_fingerprint: None}
        queue = collections.deque([(leaf, leaf_fingerprint, 1)])
        while queue:  # breadth first: issuers are appended as they are found
            cert, cert_fingerprint, depth = queue.popleft()
            issuers = self._issuers(cert, cert_fingerprint)
            if issuers is None:
                return None  # signature budget spent
            for issuer, issuer_fingerprint in issuers:
                if issuer_fingerprint in self.root_fingerprints:
                    return self._path(parents, cert, cert_fingerprint) + [issuer]
            if depth >= MAX_PATH_DEPTH:
                continue
            for issuer, issuer_fingerprint in issuers:
                if issuer_fingerprint not in parents:
                    parents[issuer_fingerprint] = (cert, cert_fingerprint)
                    queue.append((issuer, issuer_fingerprint, depth + 1))
        return None

    def _issuers(self, cert, cert_fingerprint):
        """[(issuer, fingerprint)] that signed cert, roots first; None when over budget."""
        found = []
        for candidate, candidate_fingerprint in self.by_subject.get(_name_key(cert.issuer), ()):
            if candidate_fingerprint == cert_fingerprint:
                continue
            verdict = self._signed(cert, cert_fingerprint, candidate, candidate_fingerprint)
            if verdict is None:
                return None
            if verdict:
                found.append((candidate, candidate_fingerprint))
        found.sort(key=lambda pair: pair[1] not in self.root_fingerprints)
        return found

    def _signed(self, cert, cert_fingerprint, candidate, candidate_fingerprint):
        key = (cert_fingerprint, self._key_id(candidate, candidate_fingerprint))
        if key not in self.verdicts:
            if self.checks >= MAX_SIGNATURE_CHECKS:
                return None
            self.checks += 1
            self.verdicts[key] = signed_by(cert, candidate)
        return self.verdicts[key]

    def _key_id(self, cert, cert_fingerprint):
        """A small id per distinct public key (its SubjectPublicKeyInfo bytes), cached per cert."""
        if cert_fingerprint not in self.key_ids:
            public_key = public_key_or_none(cert)
            spki = _public_key_der(public_key) if public_key is not None else cert_fingerprint
            self.key_ids[cert_fingerprint] = self.key_ids.setdefault(("spki", spki), len(self.key_ids))
        return self.key_ids[cert_fingerprint]

    @staticmethod
    def _path(parents, cert, cert_fingerprint):
        path = []
        link = (cert, cert_fingerprint)
        while link is not None:
            path.append(link[0])
            link = parents[link[1]]
        return list(reversed(path))


def _name_key(name):
    """Hashable, exact form of a Name for the issuer index (DER bytes)."""
    try:
        return name.public_bytes()
    except (ValueError, TypeError):
        return repr(name)
