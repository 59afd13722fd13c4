"""CA sets across the classes where Go's crypto/x509 (istiod) and a naive reader disagree (#21).

``make_set(spec)`` builds the four plug-in objects from a spec (``BASE`` plus changes; ``SPEC`` is
the hypothesis strategy over every field). What cryptography will not build (a negative serial, a
v1 root, a root whose self-signature does not verify) is made by re-encoding the TBS certificate
(RFC 5280 4.1) and signing it again. tests/differential/test_go_istiod.py judges these sets with
Go itself; tests/unit/test_istiod_startup.py with meshca's model only.
"""

import datetime
import functools

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from azext_meshca.model.certs import _der_header  # pylint: disable=protected-access  # the one DER reader

NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)


def _probable_prime(bits, rng):
    """A random prime of ``bits`` bits (Miller-Rabin, 40 rounds): for keys cryptography will not generate."""
    while True:
        candidate = rng.getrandbits(bits) | (1 << (bits - 1)) | 1
        if all(candidate % small for small in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31)) and _miller_rabin(candidate, rng):
            return candidate


def _miller_rabin(n, rng):
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(40):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def small_rsa_key(bits=768):
    """An RSA key under cryptography's 1,024-bit floor, which Go 1.24+ refuses to use."""
    import random
    rng = random.Random(bits)  # reproducible
    e = 65537
    while True:
        p, q = _probable_prime(bits // 2, rng), _probable_prime(bits // 2, rng)
        if p != q and (p - 1) % e and (q - 1) % e:
            break
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(e, p * q))
    return numbers.private_key(unsafe_skip_rsa_key_validation=True)


def inconsistent_rsa_key():
    """An RSA key whose CRT coefficient is wrong: Go 1.24+ refuses it when it parses it
    (crypto/internal/fips140/rsa checkPrivateKey: qInv·q ≡ 1 mod p); before, Validate did not look."""
    numbers = key("rsa").private_numbers()
    wrong = rsa.RSAPrivateNumbers(numbers.p, numbers.q, numbers.d, numbers.dmp1, numbers.dmq1,
                                  (numbers.iqmp + 1) % numbers.p, numbers.public_numbers)
    return wrong.private_key(unsafe_skip_rsa_key_validation=True)


@functools.lru_cache(maxsize=None)
def key(kind):
    """One key per kind for the whole session (generation is the slow part)."""
    makers = {
        "rsa": lambda: rsa.generate_private_key(65537, 2048),
        "rsa-b": lambda: rsa.generate_private_key(65537, 2048),
        "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
        "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
        "secp256k1": lambda: ec.generate_private_key(ec.SECP256K1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate,
        "ed448": ed448.Ed448PrivateKey.generate,
        "dsa": lambda: dsa.generate_private_key(2048),
        "rsa768": small_rsa_key,
        "rsa-inconsistent": inconsistent_rsa_key,
    }
    return makers[kind]()


def _hash_for(signer):
    return None if isinstance(signer, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) else hashes.SHA256()


def _der(tag, body):
    length = len(body)
    if length < 0x80:
        return bytes([tag, length]) + body
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big") + body


def _children(der):
    """The DER elements inside one constructed element."""
    _, start, end = _der_header(der, 0)
    items, offset = [], start
    while offset < end:
        body_end = _der_header(der, offset)[2]
        items.append(der[offset:body_end])
        offset = body_end
    return items


def _sign_raw(signer, tbs):
    if isinstance(signer, rsa.RSAPrivateKey):
        return signer.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(signer, ec.EllipticCurvePrivateKey):
        return signer.sign(tbs, ec.ECDSA(hashes.SHA256()))
    if isinstance(signer, dsa.DSAPrivateKey):
        return signer.sign(tbs, hashes.SHA256())
    return signer.sign(tbs)


def resign(cert, signer, *, negative_serial=False, v1=False, bad_signature=False):
    """cert re-encoded with TBS changes cryptography will not build (RFC 5280 4.1), re-signed."""
    outer = _children(cert.public_bytes(serialization.Encoding.DER))
    fields = _children(outer[0])
    if negative_serial:
        fields[1] = _der(0x02, b"\x80" + fields[1][3:] if len(fields[1]) > 3 else b"\x80\x01")
    if v1:
        fields = [item for item in fields if item[0] not in (0xA0, 0xA3)]
    tbs = _der(0x30, b"".join(fields))
    signature = _sign_raw(signer, tbs)
    if bad_signature:
        signature = bytes([signature[0] ^ 0x01]) + signature[1:]
    return x509.load_der_x509_certificate(_der(0x30, tbs + outer[1] + _der(0x03, b"\x00" + signature)))


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Istio"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _usage(cert_sign):
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=True,
                         encipher_only=False, decipher_only=False)


UNKNOWN_EXTENSION = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")


def issue(subject, issuer, public_key, signer, *, days=(-30, 3650), cert_sign=True, critical_unknown=False,
          name_constraints=None, policy=False, serial=1000):
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(serial).not_valid_before(NOW + datetime.timedelta(days=days[0]))
               .not_valid_after(NOW + datetime.timedelta(days=days[1]))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(_usage(cert_sign), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
    if critical_unknown:
        builder = builder.add_extension(UNKNOWN_EXTENSION, critical=True)
    if name_constraints == "exclude":
        builder = builder.add_extension(x509.NameConstraints(
            permitted_subtrees=None, excluded_subtrees=[x509.DNSName("aks-istio-system.svc")]), critical=True)
    elif name_constraints == "permit-other":
        builder = builder.add_extension(x509.NameConstraints(
            permitted_subtrees=[x509.DNSName("example.com")], excluded_subtrees=None), critical=True)
    elif name_constraints == "permit":
        builder = builder.add_extension(x509.NameConstraints(
            permitted_subtrees=[x509.DNSName("svc")], excluded_subtrees=None), critical=True)
    if policy:
        builder = builder.add_extension(x509.PolicyConstraints(require_explicit_policy=0,
                                                               inhibit_policy_mapping=None), critical=True)
    return builder.sign(signer, _hash_for(signer))


def pem(*certs):
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs)


KEY_ENCODINGS = {
    "pkcs8": (serialization.PrivateFormat.PKCS8, None),
    "traditional": (serialization.PrivateFormat.TraditionalOpenSSL, None),
    "pkcs8-as-traditional": (serialization.PrivateFormat.PKCS8, "traditional"),
    "traditional-as-pkcs8": (serialization.PrivateFormat.TraditionalOpenSSL, b"PRIVATE KEY"),
}


def key_pem(private_key, encoding):
    private_format, relabel = KEY_ENCODINGS[encoding]
    if isinstance(private_key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):  # PKCS#8 only
        private_format = serialization.PrivateFormat.PKCS8
    data = private_key.private_bytes(serialization.Encoding.PEM, private_format, serialization.NoEncryption())
    if relabel == "traditional":
        label = b"RSA PRIVATE KEY" if isinstance(private_key, rsa.RSAPrivateKey) else b"EC PRIVATE KEY"
        data = data.replace(b"-----BEGIN PRIVATE KEY-----", b"-----BEGIN " + label + b"-----")
        data = data.replace(b"-----END PRIVATE KEY-----", b"-----END " + label + b"-----")
    elif relabel:
        first = data.split(b"\n", 1)[0][len(b"-----BEGIN "):-len(b"-----")]
        data = data.replace(first, relabel)
    return data


# PEM framing variants (golang/go src/encoding/pem/pem.go Decode): Go skips a block after a
# byte-order mark, an indented -----BEGIN line or text before it, and a block that does not
# decode; it reads indented base64 lines and CRLF. CertPool skips a block with headers.
_FRAMINGS = {
    "plain": lambda data: data,
    "bom": lambda data: b"\xef\xbb\xbf" + data,
    "indent": lambda data: b"".join(b"  " + line for line in data.splitlines(keepends=True)),
    "indent-body": lambda data: b"".join(line if line.startswith(b"-----") else b"  " + line
                                         for line in data.splitlines(keepends=True)),
    "text-before": lambda data: b"cert: " + data,
    "header": lambda data: data.replace(b"-----\n", b"-----\nComment: meshca\n\n", 1),
    "corrupt-before": lambda data: b"-----BEGIN CERTIFICATE-----\nnot*base64\n-----END CERTIFICATE-----\n" + data,
    "crlf": lambda data: data.replace(b"\n", b"\r\n"),
}


def frame(data, how):
    """data in one of the PEM framing variants above."""
    return _FRAMINGS[how](data)


def make_set(spec):
    """The four objects of one CA set described by spec (BASE's fields; spec_strategy draws them)."""
    root_key, ca_key = key(spec["root_key"]), key(spec["ca_key"])
    root = issue(_name("Root CA"), _name("Root CA"), root_key.public_key(), root_key,
                 cert_sign=spec["root_cert_sign"], critical_unknown=spec["root_critical_unknown"],
                 name_constraints=spec["name_constraints"])
    if spec["root_v1"] or spec["root_bad_signature"]:
        root = resign(root, root_key, v1=spec["root_v1"], bad_signature=spec["root_bad_signature"])
    ca = issue(_name("Intermediate CA"), root.subject, ca_key.public_key(), root_key,
               days=(-30, -1) if spec["ca_expired"] else (-30, 1000),
               critical_unknown=spec["ca_critical_unknown"], policy=spec["ca_policy"], serial=2000)
    if spec["ca_negative_serial"]:
        ca = resign(ca, root_key, negative_serial=True)
    old = issue(_name("Old CA"), _name("Old Root"), key("p256").public_key(), key("p256"), days=(-900, -400))
    chains = {"ca+root": [ca, root], "ca": [ca], "root": [root], "empty": [], "ca+root+expired": [ca, root, old],
              "root+ca": [root, ca]}
    chain = pem(*chains[spec["chain"]])
    if spec["chain_key_first"]:
        chain = key_pem(key("p256"), "pkcs8") + chain
    roots = {"root": [root], "ca": [ca], "root+ca": [root, ca], "ca+root": [ca, root]}
    root_pem = pem(*roots[spec["root_cert"]]) + (key_pem(key("p256"), "pkcs8") if spec["root_holds_key"] else b"")
    objects = {"root-cert": root_pem, "ca-cert": pem(ca), "ca-key": key_pem(ca_key, spec["key_encoding"]),
               "cert-chain": chain}
    name, how = spec["framing"]
    objects[name] = frame(objects[name], how)
    return objects


BASE = {"root_key": "rsa", "ca_key": "p256", "root_cert_sign": True, "root_critical_unknown": False,
        "name_constraints": None, "root_v1": False, "root_bad_signature": False, "ca_expired": False,
        "ca_critical_unknown": False, "ca_policy": False, "ca_negative_serial": False, "chain": "ca+root",
        "chain_key_first": False, "root_holds_key": False, "key_encoding": "pkcs8",
        "framing": ("ca-cert", "plain"), "root_cert": "root"}
SIGNING_KEYS = ["rsa", "p256", "p384", "ed25519", "ed448", "dsa", "secp256k1", "rsa768"]
CA_KEYS = ["rsa", "p256", "p384", "ed25519", "ed448", "dsa", "rsa-inconsistent"]
OBJECTS = ["root-cert", "ca-cert", "ca-key", "cert-chain"]
# cert-chain's shapes: with ca-cert and the root, ca-cert alone, the root alone (lacks ca-cert),
# empty, and with an expired certificate on no path at its end.
CHAINS = ("ca+root", "ca", "root", "empty", "ca+root+expired", "root+ca")
# root-cert's shapes: the root, or ca-cert (an intermediate, not self-signed) alone or beside it (i701).
ROOT_CERTS = ("root", "ca", "root+ca", "ca+root")
FRAMINGS = sorted(_FRAMINGS)


def spec_strategy():
    """The hypothesis strategy: BASE with up to three fields drawn from their whole range, so that
    about a third of the sets carry no defect and most carry one or two (hypothesis is test-only)."""
    from hypothesis import strategies as st  # pylint: disable=import-error  # test-only, not in the wheel
    fields = {
        "root_key": st.sampled_from(SIGNING_KEYS), "ca_key": st.sampled_from(CA_KEYS),
        "root_cert_sign": st.booleans(), "root_critical_unknown": st.booleans(),
        "name_constraints": st.sampled_from([None, "exclude", "permit-other", "permit"]),
        "root_v1": st.booleans(), "root_bad_signature": st.booleans(), "ca_expired": st.booleans(),
        "ca_critical_unknown": st.booleans(), "ca_policy": st.booleans(), "ca_negative_serial": st.booleans(),
        "chain": st.sampled_from(sorted(CHAINS)),
        "chain_key_first": st.booleans(), "root_holds_key": st.booleans(),
        "root_cert": st.sampled_from(ROOT_CERTS),
        "key_encoding": st.sampled_from(sorted(KEY_ENCODINGS)),
        "framing": st.tuples(st.sampled_from(OBJECTS), st.sampled_from(FRAMINGS)),
    }

    @st.composite
    def specs(draw):
        chosen = draw(st.permutations(sorted(fields)))[:draw(st.integers(0, 3))]
        return dict(BASE, **{name: draw(fields[name]) for name in chosen})
    return specs()
