"""The pure certificate engine: parsing edge cases, describe(), signatures, paths."""

import ast
import datetime
import os
import re
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding
from cryptography.x509.oid import NameOID

from azext_meshca.model import certs
from sandbox import certfactory as cf

NOW = cf.ANCHOR_TIME
CERTS_PY = os.path.join(os.path.dirname(certs.__file__), "certs.py")


def _key_body_lines(pem):
    """The base64 lines of a PEM key: none of them may ever appear in output."""
    return [line for line in pem.decode("latin-1").splitlines()
            if line and not line.startswith("-----") and ":" not in line and len(line) > 16]


def _der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def good():
    return cf.make_plugin_set()


@pytest.fixture(scope="module")
def three_tier():
    return cf.make_plugin_set(tiers=3)


# --------------------------------------------------------------------------- module purity

def test_certs_module_imports_only_cryptography_and_stdlib():
    with open(CERTS_PY, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert not imported & {"azure", "knack", "os", "requests", "socket", "subprocess", "kubernetes"}
    assert "cryptography" in imported


# --------------------------------------------------------------------------- parse_pem_bundle

def test_bundle_returns_every_certificate_in_order(three_tier):
    chain = certs.parse_pem_bundle(three_tier["cert-chain"])
    assert [certs.subject_string(cert) for cert in chain] == [
        "L=cluster1,CN=Intermediate CA,O=Istio", "CN=Intermediate CA 1,O=Istio",
        "CN=Root CA,O=Istio"]


@pytest.mark.parametrize("mangle", [
    lambda data: data.replace(b"\n", b"\r\n"),
    lambda data: b"Bag Attributes\n  friendlyName: x\nsubject=/O=Istio\n\n" + data + b"\nnotes\n",
    lambda data: b"\n\n   " + data.replace(b"\n", b"\n   ") + b"   \n\n",
    lambda data: data.replace(b"\n", b"\n\n"),
    lambda data: data.rstrip(b"\n"),
], ids=["crlf", "junk-around", "indented", "blank-lines", "no-final-newline"])
def test_bundle_tolerates_harmless_noise(good, mangle):
    parsed = certs.parse_pem_bundle(mangle(good["cert-chain"]))
    assert [_der(cert) for cert in parsed] == [_der(cert) for cert in certs.parse_pem_bundle(good["cert-chain"])]


def test_bundle_accepts_text_and_skips_other_blocks(good):
    mixed = good["ca-key"] + good["ca-cert"]
    assert len(certs.parse_pem_bundle(mixed)) == 1
    assert len(certs.parse_pem_bundle(good["ca-cert"].decode())) == 1


def _broken_base64(good):
    return good["ca-cert"].replace(b"MII", b"M*I", 1)


def _broken_asn1(good):
    lines = good["ca-cert"].split(b"\n")
    return b"\n".join([lines[0], lines[1][:40] + b"====", b"-----END CERTIFICATE-----"])


@pytest.mark.parametrize("make_input, kind", [
    (lambda good: b"", "empty"),
    (lambda good: b"  \r\n\t ", "empty"),
    (lambda good: None, "empty"),
    (lambda good: _der(certs.parse_pem_bundle(good["ca-cert"])[0]), "der"),
    (lambda good: b"\x30\x82\x01\x00" + b"\x00" * 300, "not-pem"),
    (lambda good: b"this is not a certificate", "not-pem"),
    (lambda good: b'{"value": "-----"}', "not-pem"),
    (lambda good: b"".join(good["ca-cert"].split(b"\n")[1:-2]), "not-pem"),
    (_broken_base64, "bad-pem"),
    (_broken_asn1, "bad-pem"),
    (lambda good: good["ca-cert"].replace(b"-----END CERTIFICATE-----", b""), "bad-pem"),
    (lambda good: good["ca-key"], "no-certificate"),
    (lambda good: b"x" * (certs.MAX_OBJECT_BYTES + 1), "too-large"),
    (lambda good: b"-----BEGIN X-----\nAAAA\n-----END X-----\n" * (certs.MAX_PEM_BLOCKS + 1),
     "too-large"),
], ids=["empty", "whitespace", "none", "der", "binary-not-der", "text", "json",
        "bare-base64", "broken-base64", "broken-asn1", "no-end-line", "key-only", "too-large",
        "too-many-blocks"])
def test_bundle_errors_have_a_kind_and_a_one_line_message(good, make_input, kind):
    data = make_input(good)
    with pytest.raises(certs.CertFormatError) as caught:
        certs.parse_pem_bundle(data)
    assert caught.value.kind == kind
    message = str(caught.value)
    assert "\n" not in message and len(message) < 200
    for line in _key_body_lines(good["ca-key"]) + _key_body_lines(good["ca-cert"]):
        assert line not in message


def test_twenty_megabytes_of_junk_fail_fast_and_cleanly():
    junk = os.urandom(1024) * (20 * 1024)
    started = time.monotonic()
    with pytest.raises(certs.CertFormatError) as caught:
        certs.parse_pem_bundle(junk)
    with pytest.raises(certs.CertFormatError):
        certs.parse_private_key(junk)
    assert caught.value.kind == "too-large"
    assert time.monotonic() - started < 1.0


def test_hostile_unterminated_blocks_stay_fast():
    hostile = b"-----BEGIN CERTIFICATE-----\n" * 30000
    started = time.monotonic()
    with pytest.raises(certs.CertFormatError) as caught:
        certs.parse_pem_bundle(hostile)
    assert caught.value.kind == "bad-pem"
    assert time.monotonic() - started < 1.0


# --------------------------------------------------------------------------- parse_private_key

@pytest.mark.parametrize("key_format, expected_format, algorithm", [
    ("pkcs8", "PKCS#8", "RSA"), ("pkcs1", "PKCS#1", "RSA"),
    ("ec", "EC (SEC 1)", "EC"), ("ec-pkcs8", "PKCS#8", "EC"),
])
def test_private_key_formats(key_format, expected_format, algorithm):
    objects = cf.make_plugin_set(key_format=key_format)
    key = certs.parse_private_key(objects["ca-key"])
    assert key.format == expected_format and key.algorithm == algorithm
    assert certs.key_matches_cert(key, certs.parse_pem_bundle(objects["ca-cert"])[0])


def test_private_key_repr_and_str_show_no_material():
    objects = cf.make_plugin_set()
    key = certs.parse_private_key(objects["ca-key"])
    shown = repr(key) + str(key)
    assert "PKCS#8" in shown and "RSA" in shown
    assert str(key.key.private_numbers().d) not in shown
    for line in _key_body_lines(objects["ca-key"]):
        assert line not in shown


def _der_key(good):
    key = certs.parse_private_key(good["ca-key"]).key
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.mark.parametrize("make_input, kind", [
    (lambda good: cf.make_plugin_set(encrypted_key=True)["ca-key"], "encrypted"),
    (lambda good: cf.make_plugin_set(encrypted_key="pkcs1")["ca-key"], "encrypted"),
    (lambda good: b"", "empty"),
    (_der_key, "der"),
    (lambda good: b"ca-key.pem", "not-pem"),
    (lambda good: good["ca-key"].replace(b"MII", b"M!I", 1), "bad-pem"),
    (lambda good: good["ca-key"].replace(b"PRIVATE KEY", b"RSA PRIVATE KEY")
     .replace(b"MII", b"MIA", 1), "bad-pem"),
    (lambda good: good["ca-cert"], "no-key"),
    (lambda good: b" " * (certs.MAX_OBJECT_BYTES + 5), "too-large"),
], ids=["encrypted-pkcs8", "encrypted-proc-type", "empty", "der", "path-not-content",
        "broken-base64", "broken-asn1", "certificate-not-key", "too-large"])
def test_private_key_errors_never_echo_the_key(good, make_input, kind):
    data = make_input(good)
    with pytest.raises(certs.CertFormatError) as caught:
        certs.parse_private_key(data)
    assert caught.value.kind == kind
    text = str(caught.value) + repr(caught.value) + repr(caught.value.__cause__)
    assert caught.value.__cause__ is None
    for line in _key_body_lines(good["ca-key"]) + _key_body_lines(data if data else b""):
        assert line not in text


def _asn1_length(length):
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _asn1(tag, body):
    return bytes([tag]) + _asn1_length(len(body)) + body


def _asn1_integer(value):
    return _asn1(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _rsa_key_pem(numbers, label="RSA PRIVATE KEY"):
    """A PEM key holding exactly ``numbers``, consistent or not: its DER written out here
    (RFC 8017 A.1.2 RSAPrivateKey; RFC 5208 PrivateKeyInfo), since cryptography refuses to
    build some broken keys at all."""
    import base64
    public = numbers.public_numbers
    values = (0, public.n, public.e, numbers.d, numbers.p, numbers.q, numbers.dmp1, numbers.dmq1, numbers.iqmp)
    der = _asn1(0x30, b"".join(_asn1_integer(value) for value in values))
    if label == "PRIVATE KEY":
        rsa_encryption = _asn1(0x30, _asn1(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00")
        der = _asn1(0x30, _asn1_integer(0) + rsa_encryption + _asn1(0x04, der))
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = b"\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    return b"-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label.encode(), lines, label.encode())


def _altered(numbers, **changes):
    from cryptography.hazmat.primitives.asymmetric import rsa
    fields = {name: getattr(numbers, name) for name in ("p", "q", "d", "dmp1", "dmq1", "iqmp")}
    public = numbers.public_numbers
    e, n = changes.pop("e", public.e), changes.pop("n", public.n)
    fields.update(changes)
    return rsa.RSAPrivateNumbers(public_numbers=rsa.RSAPublicNumbers(e, n), **fields)


@pytest.mark.parametrize("change, problem", [
    (lambda k: {"dmp1": k.dmp1 + 2}, "a CRT exponent is wrong"),
    (lambda k: {"dmq1": k.dmq1 + 2}, "a CRT exponent is wrong"),
    (lambda k: {"iqmp": k.iqmp + 1}, "the CRT coefficient is wrong"),
    (lambda k: {"d": k.d + 2}, "d is not the inverse of e"),
    (lambda k: {"q": k.q + 2}, "p × q is not the modulus"),
    (lambda k: {"p": 1}, "a prime is out of range"),
    (lambda k: {"e": 65538}, "the public exponent is even or out of range"),
    (lambda k: {"e": 2 ** 31 + 1}, "the public exponent is even or out of range"),
], ids=["dP", "dQ", "qInv", "d", "q", "p-is-one", "even-e", "e-too-large"])
@pytest.mark.parametrize("label", ["RSA PRIVATE KEY", "PRIVATE KEY"])
def test_inconsistent_rsa_keys_are_refused_as_go_refuses_them(good, change, problem, label):
    """Each relation Go's crypto/rsa checks when istiod loads ca-key (certs.rsa_key_problem)
    refuses the key, as OpenSSL's check did before; the error names the relation only."""
    numbers = certs.parse_private_key(good["ca-key"]).key.private_numbers()
    data = _rsa_key_pem(_altered(numbers, **change(numbers)), label)
    with pytest.raises(certs.CertFormatError) as caught:
        certs.parse_private_key(data)
    assert caught.value.kind == "bad-pem" and problem in caught.value.detail
    assert str(numbers.p) not in str(caught.value) and str(numbers.d)[:40] not in str(caught.value)


def test_composite_factors_load_as_in_go(good):
    """Go never tests p and q for primality (certs.rsa_key_problem), so a key whose
    "primes" are consistent but composite loads in istiod; meshca loads it too.
    OpenSSL's RSA_check_key, which cryptography runs by default, refuses it."""
    import math
    from cryptography.hazmat.primitives.asymmetric import rsa
    numbers = certs.parse_private_key(good["ca-key"]).key.private_numbers()
    e, q = 65537, numbers.q
    p = next(3 * numbers.p + 2 * step for step in range(1000)  # odd, divisible by 3 or not prime
             if math.gcd(e, (3 * numbers.p + 2 * step - 1) * (q - 1)) == 1 and (3 * numbers.p + 2 * step) % 3 == 0)
    d = pow(e, -1, (p - 1) * (q - 1))
    composite = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(e, p * q))
    data = _rsa_key_pem(composite)
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(data, password=None)
    assert certs.parse_private_key(data).algorithm == "RSA"


def test_a_4096_bit_key_loads_without_a_primality_test():
    """The cost that made this worth doing: OpenSSL's check of a 4096-bit key takes about
    a quarter of a second; Go's relations take microseconds. Not a timing assertion:
    the key parses, and its numbers pass rsa_key_problem."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    assert certs.parse_private_key(pem).key_size == 4096
    assert certs.rsa_key_problem(key.private_numbers()) is None


# --------------------------------------------------------------------------- describe

def test_describe_the_recipe_intermediate(good):
    ca_cert = certs.parse_pem_bundle(good["ca-cert"])[0]
    described = certs.describe(ca_cert, NOW)
    assert described["subject"] == "L=cluster1,CN=Intermediate CA,O=Istio"
    assert described["issuer"] == "CN=Root CA,O=Istio"
    assert described["isCa"] is True and described["pathLength"] == 0
    assert described["keyUsage"] == ["digitalSignature", "nonRepudiation", "keyEncipherment",
                                     "keyCertSign"]
    assert described["extendedKeyUsage"] is None
    assert described["subjectAlternativeNames"] == ["DNS:istiod.istio-system.svc"]
    assert described["signatureAlgorithm"] == "sha256WithRSAEncryption"
    assert described["keyAlgorithm"] == "RSA" and described["keySize"] == 2048
    assert described["curve"] is None and described["selfSigned"] is False
    assert described["daysLeft"] == 3650
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", described["notAfter"])
    assert re.fullmatch(r"[0-9a-f]+", described["serialNumber"])
    assert re.fullmatch(r"[0-9a-f]{40}", described["subjectKeyIdentifier"])
    root_described = certs.describe(certs.parse_pem_bundle(good["root-cert"])[0], NOW)
    assert described["authorityKeyIdentifier"] == root_described["subjectKeyIdentifier"]
    assert root_described["selfSigned"] is True


def test_fingerprint_matches_openssl(tmp_path, good):
    path = tmp_path / "ca-cert.pem"
    path.write_bytes(good["ca-cert"])
    output = subprocess.run(["openssl", "x509", "-in", str(path), "-noout", "-fingerprint",
                             "-sha256"], check=True, capture_output=True, text=True).stdout
    expected = output.strip().split("=", 1)[1]
    assert certs.describe(certs.parse_pem_bundle(good["ca-cert"])[0], NOW)[
        "fingerprintSha256"] == expected


@pytest.mark.parametrize("variant, key, expected", [
    (dict(key_format="ec"), "keyAlgorithm", "EC"),
    (dict(key_format="ec"), "curve", "secp256r1"),
    (dict(eku=["clientAuth", "1.2.3.4"]), "extendedKeyUsage", ["clientAuth", "1.2.3.4"]),
    (dict(days_left=12), "daysLeft", 12),
    (dict(expired=True), "daysLeft", -1),
    (dict(sha1=True), "signatureAlgorithm", "sha1WithRSAEncryption"),
    (dict(md5=True), "signatureAlgorithm", "md5WithRSAEncryption"),
    (dict(ca_not_ca=True), "isCa", False),
    (dict(weak_key=True), "keySize", 1024),
])
def test_describe_variants(variant, key, expected):
    ca_cert = certs.parse_pem_bundle(cf.make_plugin_set(**variant)["ca-cert"])[0]
    assert certs.describe(ca_cert, NOW)[key] == expected


def test_describe_accepts_naive_now(good):
    naive = NOW.replace(tzinfo=None)
    ca_cert = certs.parse_pem_bundle(good["ca-cert"])[0]
    assert certs.describe(ca_cert, naive)["daysLeft"] == 3650


def test_self_signed_needs_the_signature_not_just_the_name():
    key = cf.cached_key("impostor/root")
    other = cf.cached_key("impostor/other")
    name = cf.root_name()
    impostor = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(7)
                .not_valid_before(NOW - datetime.timedelta(days=1))
                .not_valid_after(NOW + datetime.timedelta(days=1))
                .sign(other, hashes.SHA256()))
    assert certs.describe(impostor, NOW)["selfSigned"] is False


# --------------------------------------------------------------------------- signatures and paths

def test_signed_by_compares_signatures_not_names(good):
    ca_cert = certs.parse_pem_bundle(good["ca-cert"])[0]
    root_a = certs.parse_pem_bundle(good["root-cert"])[0]
    root_b = certs.parse_pem_bundle(cf.make_plugin_set(set_id="B")["root-cert"])[0]
    assert root_a.subject == root_b.subject
    assert certs.signed_by(ca_cert, root_a) is True
    assert certs.signed_by(ca_cert, root_b) is False
    assert certs.signed_by(root_a, ca_cert) is False


def _leaf_signed(issuer_key, public_key, **sign_kwargs):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf")])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(public_key).serial_number(9)
            .not_valid_before(NOW - datetime.timedelta(days=1))
            .not_valid_after(NOW + datetime.timedelta(days=1))
            .sign(issuer_key, **sign_kwargs))


@pytest.mark.parametrize("issuer_kind", ["rsa-pss", "ecdsa", "ed25519"])
def test_signed_by_handles_pss_ecdsa_and_eddsa(issuer_kind):
    if issuer_kind == "rsa-pss":
        issuer_key = cf.cached_key("pss/issuer")
        leaf = _leaf_signed(issuer_key, issuer_key.public_key(), algorithm=hashes.SHA256(),
                            rsa_padding=padding.PSS(padding.MGF1(hashes.SHA256()),
                                                    padding.PSS.DIGEST_LENGTH))
    elif issuer_kind == "ecdsa":
        issuer_key = ec.generate_private_key(ec.SECP256R1())
        leaf = _leaf_signed(issuer_key, issuer_key.public_key(), algorithm=hashes.SHA256())
    else:
        issuer_key = ed25519.Ed25519PrivateKey.generate()
        leaf = _leaf_signed(issuer_key, issuer_key.public_key(), algorithm=None)
    assert certs.signed_by(leaf, leaf) is True
    stranger = certs.parse_pem_bundle(cf.make_plugin_set()["root-cert"])[0]
    assert certs.signed_by(leaf, stranger) is False
    assert certs.describe(leaf, NOW)["selfSigned"] is True


def test_key_matches_cert():
    good_key = certs.parse_private_key(cf.make_plugin_set()["ca-key"])
    wrong_key = certs.parse_private_key(cf.make_plugin_set(mismatched_key=True)["ca-key"])
    ec_key = certs.parse_private_key(cf.make_plugin_set(key_format="ec")["ca-key"])
    ca_cert = certs.parse_pem_bundle(cf.make_plugin_set()["ca-cert"])[0]
    assert certs.key_matches_cert(good_key, ca_cert) is True
    assert certs.key_matches_cert(good_key.key, ca_cert) is True
    assert certs.key_matches_cert(wrong_key, ca_cert) is False
    assert certs.key_matches_cert(ec_key, ca_cert) is False


def _subjects(path):
    return None if path is None else [certs.subject_string(cert) for cert in path]


@pytest.mark.parametrize("variant, expected", [
    ({}, ["L=cluster1,CN=Intermediate CA,O=Istio", "CN=Root CA,O=Istio"]),
    (dict(tiers=3), ["L=cluster1,CN=Intermediate CA,O=Istio", "CN=Intermediate CA 1,O=Istio",
                     "CN=Root CA,O=Istio"]),
    (dict(chain_wrong_order=True), ["L=cluster1,CN=Intermediate CA,O=Istio",
                                    "CN=Intermediate CA 1,O=Istio", "CN=Root CA,O=Istio"]),
    (dict(rotation=True), ["L=cluster1,CN=Intermediate CA,O=Istio", "CN=Root CA,O=Istio"]),
    (dict(rotation=True, set_id="B", rotation_peer="A"),
     ["L=cluster1,CN=Intermediate CA,O=Istio", "CN=Root CA,O=Istio"]),
    (dict(chain_missing_intermediate=True), None),
    (dict(wrong_root=True), None),
])
def test_build_path(variant, expected):
    objects = cf.make_plugin_set(**variant)
    ca_cert = certs.parse_pem_bundle(objects["ca-cert"])[0]
    roots = certs.parse_pem_bundle(objects["root-cert"])
    path = certs.build_path(ca_cert, certs.parse_pem_bundle(objects["cert-chain"]), roots)
    assert _subjects(path) == expected
    if path is not None:
        assert certs.fingerprint(path[-1]) in {certs.fingerprint(root) for root in roots}
        assert all(certs.signed_by(child, parent) for child, parent in zip(path, path[1:]))


def test_build_path_picks_the_signing_root_among_same_named_roots():
    set_b = cf.make_plugin_set(set_id="B", rotation=True, rotation_peer="A")
    roots = certs.parse_pem_bundle(set_b["root-cert"])
    ca_cert = certs.parse_pem_bundle(set_b["ca-cert"])[0]
    path = certs.build_path(ca_cert, [], list(reversed(roots)))
    assert certs.fingerprint(path[-1]) == certs.fingerprint(roots[0])


def test_openssl_made_set_parses(tmp_path):
    objects = cf.make_plugin_set_with_openssl(tmp_path)
    key = certs.parse_private_key(objects["ca-key"])
    ca_cert = certs.parse_pem_bundle(objects["ca-cert"])[0]
    assert key.format == "PKCS#8" and certs.key_matches_cert(key, ca_cert)
    described = certs.describe(ca_cert, datetime.datetime.now(datetime.timezone.utc))
    assert described["subject"] == "L=cluster1,CN=Intermediate CA,O=Istio"
    assert described["pathLength"] == 0
    assert "keyCertSign" in described["keyUsage"]
