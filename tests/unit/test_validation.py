"""Plug-in CA set rules: one variant in, the exact set of finding codes out."""

import base64
import datetime
import json
import random
import re

import pytest

from azext_meshca.model import certs
from azext_meshca.rules.catalog import CATALOG
from tests.oracles import describe_objects
from sandbox import certfactory as cf
from tests.oracles import validate_plugin_set

NOW = cf.ANCHOR_TIME
OBJECTS = ("root-cert", "ca-cert", "ca-key", "cert-chain")
FINDING_KEYS = {"code", "severity", "area", "object", "title", "message", "remedy", "evidence", "detail", "docs"}


def _codes(findings):
    return {item["code"] for item in findings}


def _errors(findings):
    return {item["code"] for item in findings if item["severity"] == "error"}


def _run(objects, **kwargs):
    findings, certificates = validate_plugin_set(objects, kwargs.pop("now", NOW), **kwargs)
    for item in findings:
        assert FINDING_KEYS <= set(item) <= FINDING_KEYS | {"breaks"}
        if item["area"] == "certificate" and item["severity"] == "error":
            assert item.get("breaks") in ("istiod", "envoy", "both"), item
        assert item["object"] in OBJECTS, item
        assert "\n" not in item["message"]
    return findings, certificates


def _secret_lines(objects):
    """Base64 lines of the CA key: none may appear in findings or descriptions."""
    data = objects.get("ca-key") or b""
    return [line for line in data.decode("latin-1").splitlines()
            if len(line) > 16 and not line.startswith("-----") and ":" not in line]


def _assert_no_key_material(objects, findings, certificates):
    text = json.dumps(findings) + json.dumps(certificates)
    assert not re.search(r"-----(BEGIN|END) [A-Z ]*PRIVATE KEY-----", text)
    for line in _secret_lines(objects):
        assert line not in text


# --------------------------------------------------------------------------- good shapes

GOOD_SHAPES = {
    "rsa-pkcs8": dict(),
    "rsa-pkcs1": dict(key_format="pkcs1"),
    "ec-p256": dict(key_format="ec"),
    "ec-p256-pkcs8": dict(key_format="ec-pkcs8"),
    "three-tier": dict(tiers=3),
    "three-tier-root-pathlen-2": dict(tiers=3, root_pathlen=2),
    "three-tier-intermediate-pathlen-1": dict(intermediate_pathlen=1),
    "root-rotation": dict(rotation=True),
    "root-rotation-new-root-signs": dict(set_id="B", rotation=True, rotation_peer="A"),
    "crlf-and-junk": dict(crlf=True, junk_around=True),
    "eku-with-serverauth": dict(eku=["serverAuth", "clientAuth"]),
    "rsa-4096": dict(key_size=4096),
}


@pytest.mark.parametrize("variant", GOOD_SHAPES.values(), ids=GOOD_SHAPES.keys())
def test_good_shapes_have_no_error_or_warning(variant):
    objects = cf.make_plugin_set(**variant)
    findings, certificates = _run(objects)
    assert _codes(findings) <= {"MCA703", "MCA719"}, findings
    _assert_no_key_material(objects, findings, certificates)


def test_the_openssl_cli_recipe_set_is_good(tmp_path):
    objects = cf.make_plugin_set_with_openssl(tmp_path / "certs")
    findings, certificates = _run(objects, now=datetime.datetime.now(datetime.timezone.utc))
    assert _codes(findings) == {"MCA719"}, findings
    assert len(certificates) == 4
    _assert_no_key_material(objects, findings, certificates)


# --------------------------------------------------------------------------- one defect each

DEFECTS = {
    # variant keywords: exact set of codes expected
    "recipe": (dict(), {"MCA719"}),
    "rotation-info": (dict(rotation=True), {"MCA703", "MCA719"}),
    "root-not-self-signed": (dict(root_not_self_signed=True), {"MCA701", "MCA719"}),
    "root-not-ca": (dict(root_not_ca=True), {"MCA702", "MCA719"}),
    "ca-not-ca": (dict(ca_not_ca=True), {"MCA704", "MCA719"}),
    "ca-no-keycertsign": (dict(no_keycertsign=True), {"MCA705", "MCA719"}),
    "ca-eku-clientauth": (dict(eku=["clientAuth"]), {"MCA706", "MCA719"}),
    # Go accepts anyExtendedKeyUsage / serverAuth alone; BoringSSL's xku_reject needs clientAuth too
    "ca-eku-any": (dict(eku=["anyExtendedKeyUsage"]), {"MCA723", "MCA719"}),
    "ca-eku-server": (dict(eku=["serverAuth"]), {"MCA723", "MCA719"}),
    "ca-eku-both": (dict(eku=["serverAuth", "clientAuth"]), {"MCA719"}),
    "ca-sha1": (dict(sha1=True), {"MCA707", "MCA719"}),
    "ca-md5": (dict(md5=True), {"MCA707", "MCA719"}),
    "ca-weak-key": (dict(weak_key=True), {"MCA708", "MCA719"}),
    "key-mismatch": (dict(mismatched_key=True), {"MCA709", "MCA719"}),
    "key-encrypted-pkcs8": (dict(encrypted_key=True), {"MCA607", "MCA719"}),
    "key-encrypted-proc-type": (dict(encrypted_key="pkcs1"), {"MCA607", "MCA719"}),
    "wrong-root": (dict(wrong_root=True), {"MCA710", "MCA719"}),
    "wrong-root-three-tier": (dict(wrong_root=True, tiers=3), {"MCA710", "MCA719"}),
    "chain-missing-intermediate": (dict(chain_missing_intermediate=True),
                                   {"MCA710", "MCA712", "MCA719"}),
    # ca-cert absent from cert-chain: istiod starts, the istio-agent cannot verify istiod's serving
    # chain, so sidecars get no certificate (MCA736); Envoy, which would refuse the workload chains
    # too (MCA760), never sees one (validation.reconcile_with_startup)
    "chain-not-starting-with-ca": (dict(chain_not_starting_with_ca_cert=True),
                                   {"MCA711", "MCA719", "MCA736"}),
    "chain-not-starting-with-ca-3": (dict(chain_not_starting_with_ca_cert=True, tiers=3),
                                     {"MCA711", "MCA719", "MCA736"}),
    "chain-wrong-order": (dict(chain_wrong_order=True), {"MCA713", "MCA719"}),
    "chain-extra-unrelated": (dict(chain_extra_unrelated=True), {"MCA714", "MCA719"}),
    "root-pathlen0-three-tier": (dict(root_pathlen0_over_issuing_intermediate=True),
                                 {"MCA715", "MCA719"}),
    "root-pathlen0-two-tier": (dict(root_pathlen=0), {"MCA715", "MCA719"}),
    "root-pathlen1-three-tier": (dict(tiers=3, root_pathlen=1), {"MCA715", "MCA719"}),
    "intermediate-pathlen0": (dict(intermediate_pathlen=0), {"MCA715", "MCA719"}),
    "intermediate-no-keycertsign": (dict(intermediate_no_keycertsign=True),
                                    {"MCA716", "MCA719"}),
    "intermediate-not-ca": (dict(intermediate_not_ca=True), {"MCA722", "MCA719"}),
    "ca-expired": (dict(expired=True), {"MCA717"}),
    "ca-not-yet-valid": (dict(not_yet_valid=True), {"MCA721"}),
    "ca-expires-soon": (dict(days_left=10), {"MCA718"}),
    "ca-expires-at-threshold": (dict(days_left=30), {"MCA718"}),
    "ca-expires-later": (dict(days_left=31), {"MCA719"}),
    "root-expires-soon": (dict(root_days_left=10), {"MCA718", "MCA720"}),
    "root-expires-before-ca": (dict(root_days_left=400), {"MCA719", "MCA720"}),
    "root-expired": (dict(root_days_left=-5), {"MCA717", "MCA720"}),
}


@pytest.mark.parametrize("variant, expected", DEFECTS.values(), ids=DEFECTS.keys())
def test_each_defect_gives_exactly_its_codes(variant, expected):
    objects = cf.make_plugin_set(**variant)
    findings, certificates = _run(objects)
    assert _codes(findings) == expected, [(item["code"], item["message"]) for item in findings]
    _assert_no_key_material(objects, findings, certificates)


@pytest.mark.parametrize("variant, code, obj", [
    (dict(root_not_self_signed=True), "MCA701", "root-cert"),
    (dict(root_not_ca=True), "MCA702", "root-cert"),
    (dict(ca_not_ca=True), "MCA704", "ca-cert"),
    (dict(mismatched_key=True), "MCA709", "ca-key"),
    (dict(encrypted_key=True), "MCA607", "ca-key"),
    (dict(wrong_root=True), "MCA710", "ca-cert"),
    (dict(chain_missing_intermediate=True), "MCA712", "cert-chain"),
    (dict(chain_wrong_order=True), "MCA713", "cert-chain"),
    (dict(intermediate_no_keycertsign=True), "MCA716", "cert-chain"),
    (dict(root_days_left=10), "MCA718", "root-cert"),
    (dict(days_left=10), "MCA718", "ca-cert"),
    (dict(root_pathlen=0), "MCA715", "root-cert"),
    (dict(intermediate_pathlen=0), "MCA715", "cert-chain"),
])
def test_findings_name_their_object(variant, code, obj):
    findings, _ = _run(cf.make_plugin_set(**variant))
    assert [item["object"] for item in findings if item["code"] == code] == [obj]


ISTIOD_TEXTS = {
    "MCA704": (dict(ca_not_ca=True), "certificate is not authorized to sign other certificates"),
    "MCA706": (dict(eku=["clientAuth"]), "x509: certificate specifies an incompatible key usage"),
    "MCA709": (dict(mismatched_key=True),
               "the cert does not match the key: tls: private key does not match public key"),
    "MCA710": (dict(wrong_root=True), "x509: certificate signed by unknown authority"),
    "MCA707": (dict(sha1=True), "x509: certificate signed by unknown authority"),
    "MCA717": (dict(expired=True), "x509: certificate has expired or is not yet valid"),
    "MCA721": (dict(not_yet_valid=True), "x509: certificate has expired or is not yet valid"),
    "MCA607": (dict(encrypted_key=True), "invalid PEM-encoded key"),
    "MCA715": (dict(root_pathlen0_over_issuing_intermediate=True),
               "x509: too many intermediates for path length constraint"),
}


@pytest.mark.parametrize("code, case", ISTIOD_TEXTS.items(), ids=ISTIOD_TEXTS.keys())
def test_evidence_carries_the_text_istiod_logs(code, case):
    variant, text = case
    findings, _ = _run(cf.make_plugin_set(**variant))
    evidence = [line for item in findings if item["code"] == code for line in item["evidence"]]
    assert any(text in line for line in evidence), evidence


def test_root_pathlen_that_only_breaks_the_data_plane_names_the_agent():
    """BoringSSL skips a trust anchor's pathlen (x509_vfy.cc check_chain_extensions runs on
    untrusted certs only); the Go istio-agent's check of istiod's serving chain does not."""
    findings, _ = _run(cf.make_plugin_set(root_pathlen=0))
    item = [item for item in findings if item["code"] == "MCA715"][0]
    assert item["breaks"] == "envoy"
    assert any("istio-agent" in line for line in item["evidence"])
    assert not any(line.startswith("istiod: x509: too many") for line in item["evidence"])


def test_wrong_root_says_same_name_different_key():
    objects = cf.make_plugin_set(wrong_root=True)
    objects["cert-chain"] = objects["ca-cert"]
    findings, _ = _run(objects)
    assert _codes(findings) == {"MCA710", "MCA719"}
    evidence = " ".join(findings[0]["evidence"])
    assert "same name" in evidence


def test_rotation_info_lists_both_roots():
    findings, _ = _run(cf.make_plugin_set(rotation=True))
    rotation = [item for item in findings if item["code"] == "MCA703"][0]
    assert rotation["severity"] == "info" and "2 roots" in rotation["message"]
    assert len(rotation["evidence"]) == 2


@pytest.mark.parametrize("members", [("int",), ("root", "int"), ("int", "root")])
def test_intermediate_in_root_cert_is_a_warning_not_a_rotation(members):
    """Go and BoringSSL trust a non-self-signed root-cert entry as an anchor (i701,
    tests/differential/test_go_istiod.py test_root_cert_shapes_against_go_and_boringssl): MCA701 is a
    warning, and an intermediate beside its root is not a second root (no MCA703)."""
    objects = cf.make_plugin_set(tiers=3)
    pems = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n", objects["cert-chain"], re.S)
    by_name = dict(zip(("ca", "int", "root"), pems))  # cert-chain: ca-cert, Intermediate CA 1, root
    objects["root-cert"] = b"".join(by_name[name] for name in members)
    findings, _ = _run(objects)
    # The root in cert-chain issued the intermediate root-cert holds: the rest of the path, not
    # an unrelated certificate (MCA714), whose remedy would drop it from cert-chain.
    assert _codes(findings) == {"MCA701", "MCA719"}, findings
    assert _errors(findings) == set(), findings
    flagged = [item for item in findings if item["code"] == "MCA701"]
    assert len(flagged) == 1 and "Intermediate CA 1" in flagged[0]["message"], flagged


def test_warn_days_moves_the_threshold():
    objects = cf.make_plugin_set(days_left=40)
    assert _codes(_run(objects)[0]) == {"MCA719"}
    assert _codes(_run(objects, warn_days=60)[0]) == {"MCA718"}


def test_expiry_info_names_the_soonest_certificate():
    findings, _ = _run(cf.make_plugin_set(days_left=100))
    info = [item for item in findings if item["code"] == "MCA719"][0]
    assert info["object"] == "ca-cert" and "100 day(s)" in info["message"]


def test_naive_now_is_treated_as_utc():
    findings, _ = _run(cf.make_plugin_set(days_left=10), now=NOW.replace(tzinfo=None))
    assert _codes(findings) == {"MCA718"}


# --------------------------------------------------------------------------- presence and format

def _der_cert(objects):
    return certs.parse_pem_bundle(objects["ca-cert"])[0].public_bytes(
        certs.serialization.Encoding.DER)


def _der_key(objects):
    return certs.parse_private_key(objects["ca-key"]).key.private_bytes(
        certs.serialization.Encoding.DER, certs.serialization.PrivateFormat.PKCS8,
        certs.serialization.NoEncryption())


FORMAT_DEFECTS = {
    "missing": (lambda objects, name: None, {name: "MCA601" for name in OBJECTS}),
    # An empty cert-chain is not a format error (ca.go minTTL skips it): here (three tiers) the
    # intermediate is then missing, so istiod refuses ca-cert (MCA710, MCA712); with two tiers the
    # agent breaks instead (MCA733, tests/differential).
    "empty": (lambda objects, name: b"", {name: "MCA602" for name in OBJECTS}),
    "whitespace": (lambda objects, name: b" \r\n", {name: "MCA602" for name in OBJECTS}),
    "der": (lambda objects, name: _der_key(objects) if name == "ca-key" else _der_cert(objects),
            {name: "MCA603" for name in OBJECTS}),
    "not-pem": (lambda objects, name: b"ca-cert.pem\n", {name: "MCA604" for name in OBJECTS}),
    "broken-base64": (lambda objects, name: objects[name].replace(b"MII", b"M%I", 1),
                      {"root-cert": "MCA605", "ca-cert": "MCA605", "cert-chain": "MCA605",
                       "ca-key": "MCA609"}),
    "huge": (lambda objects, name: b"\0junk" * (4 * 1024 * 1024),
             {name: "MCA608" for name in OBJECTS}),
    "swapped": (lambda objects, name: objects["ca-cert"] if name == "ca-key" else objects["ca-key"],
                {"root-cert": "MCA606", "ca-cert": "MCA606", "cert-chain": "MCA606",
                 "ca-key": "MCA609"}),
}

FORMAT_CASES = [(defect, name) for defect in FORMAT_DEFECTS for name in OBJECTS]


@pytest.mark.parametrize("defect, name", FORMAT_CASES,
                         ids=["{}-{}".format(*case) for case in FORMAT_CASES])
def test_format_problems_give_one_error_and_no_cascade(defect, name):
    make_bad, expected_by_object = FORMAT_DEFECTS[defect]
    objects = cf.make_plugin_set(tiers=3)
    objects[name] = make_bad(objects, name)
    findings, certificates = _run(objects, sources={name: "file ./{}.pem".format(name)})
    if defect == "broken-base64" and name == "cert-chain":
        # Go's encoding/pem skips the broken block (ca-cert's copy) and loads the rest: istiod
        # starts, and the agent refuses istiod's serving chain, which lacks ca-cert.
        assert _errors(findings) == {"MCA736"}, findings
        return
    if defect in ("empty", "whitespace") and name == "cert-chain":
        assert _errors(findings) == {"MCA710", "MCA712"}, findings
        return
    assert _errors(findings) == {expected_by_object[name]}, [
        (item["code"], item["message"]) for item in findings]
    problem = [item for item in findings if item["code"] == expected_by_object[name]][0]
    assert problem["object"] == name and "file ./{}.pem".format(name) in problem["message"]
    assert all(row["object"] != name for row in certificates)
    original = cf.make_plugin_set(tiers=3)
    _assert_no_key_material(original, findings, certificates)


def test_format_findings_say_what_is_wrong():
    objects = cf.make_plugin_set()
    objects["root-cert"] = objects["root-cert"].replace(b"-----END CERTIFICATE-----", b"")
    objects["ca-cert"] = b'{"kty": "RSA"}'
    findings, _ = _run(objects)
    messages = {item["object"]: item["message"] for item in findings if item["severity"] == "error"}
    assert "no END line" in messages["root-cert"]
    assert "JSON" in messages["ca-cert"]


def test_all_four_missing_is_four_findings_and_no_crash():
    findings, certificates = _run({})
    assert [item["code"] for item in findings] == ["MCA601"] * 4
    assert certificates == []


@pytest.mark.parametrize("cut", [10, 60, 200, 600, 1000, -40])
def test_truncated_objects_never_raise(cut):
    for name in OBJECTS:
        objects = cf.make_plugin_set(tiers=3)
        objects[name] = objects[name][:cut]
        findings, _ = _run(objects)
        if name == "cert-chain" and cut == -40:
            # Only cert-chain's last block (the root's copy) is cut: Go's encoding/pem skips it and
            # istiod loads with the rest, so no error (tests/differential holds the Go verdict).
            continue
        assert _errors(findings), (name, cut)


# --------------------------------------------------------------------------- certificates output

def test_certificates_list_every_cert_with_object_and_index():
    findings, certificates = _run(cf.make_plugin_set(tiers=3, rotation=True))
    assert [(row["object"], row["index"]) for row in certificates] == [
        ("root-cert", 1), ("root-cert", 2), ("ca-cert", 1),
        ("cert-chain", 1), ("cert-chain", 2), ("cert-chain", 3), ("cert-chain", 4)]
    assert all("fingerprintSha256" in row and "daysLeft" in row for row in certificates)
    assert _codes(findings) == {"MCA703", "MCA719"}


def test_describe_objects_for_show_cert():
    objects = cf.make_plugin_set(days_left=5)
    findings, certificates = describe_objects(
        {"file": objects["cert-chain"], "key": objects["ca-key"]}, NOW,
        sources={"file": "file chain.pem", "key": "file key.pem"})
    assert [row["index"] for row in certificates] == [1, 2]
    assert {(item["code"], item["object"]) for item in findings} == {("MCA718", "file"),
                                                                     ("MCA606", "key")}
    _assert_no_key_material(objects, findings, certificates)


def test_every_code_used_here_is_in_the_catalog():
    used = set()
    for _, expected in DEFECTS.values():
        used |= expected
    for _, expected_by_object in FORMAT_DEFECTS.values():
        used |= set(expected_by_object.values())
    assert used <= set(CATALOG)


def _mutated_pem(pem, rng):
    """The certificate with a few DER bytes changed, re-armoured as valid PEM."""
    der = bytearray(certs.parse_pem_bundle(pem)[0].public_bytes(certs.serialization.Encoding.DER))
    for _ in range(rng.randint(1, 4)):
        der[rng.randrange(len(der))] = rng.randrange(256)
    body = base64.encodebytes(bytes(der))
    return b"-----BEGIN CERTIFICATE-----\n" + body + b"-----END CERTIFICATE-----\n"


def test_mutated_certificates_give_findings_never_tracebacks():
    rng = random.Random(1234)
    good = cf.make_plugin_set(tiers=3)
    good["ca-key"] = None  # loading (and checking) the RSA key costs ~35 ms; certs are the target
    for _ in range(150):
        objects = dict(good)
        name = rng.choice(["root-cert", "ca-cert", "cert-chain"])
        objects[name] = _mutated_pem(good[name], rng)
        findings, _ = _run(objects)
        assert findings


# --------------------------------------------------------------------------- key facts (diagnose's form of ca-key)

@pytest.mark.parametrize("variant, expected", [
    ({}, set()),
    ({"mismatched_key": True}, {"MCA709"}),
    ({"encrypted_key": True}, {"MCA607"}),
    ({"key_format": "ec"}, set()),
])
def test_key_facts_are_judged_like_key_bytes(variant, expected):
    """diagnose keeps only key facts; the verdicts must match those on the key bytes."""
    from azext_meshca.model.keyfacts import key_facts
    objects = cf.make_plugin_set(**variant)
    by_bytes, _ = validate_plugin_set(objects, NOW)
    with_facts = dict(objects, **{"ca-key": key_facts(objects["ca-key"])})
    by_facts, _ = validate_plugin_set(with_facts, NOW)
    assert [item["code"] for item in by_facts] == [item["code"] for item in by_bytes]
    assert {item["code"] for item in by_facts if item["severity"] == "error"} == expected
    assert "PRIVATE KEY-----" not in repr(with_facts["ca-key"])


@pytest.mark.parametrize("key_text", [
    b"-----BEGIN PRIVATE KEY-----\nnot base64!!\n-----END PRIVATE KEY-----\n",        # Go's pem.Decode skips it
    b"# key: -----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n",  # hidden from Go by the text
])
def test_a_key_in_root_cert_is_published_even_where_go_skips_its_block(key_text):
    """istiod publishes root-cert's bytes (MCA732's docstring): a key Go would not decode leaks all the same."""
    objects = cf.make_plugin_set()
    objects["root-cert"] = objects["root-cert"] + key_text
    findings, _ = validate_plugin_set(objects, NOW)  # not _run: MCA732 is a leak, it breaks no consumer
    assert "MCA732" in {item["code"] for item in findings}, findings
