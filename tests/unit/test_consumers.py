"""Each certificate rule against both consumer models: where one consumer accepts what the
other refuses, a case shows it, and the finding's ``breaks`` names the one that refuses.

Workload leaves are issued here the way istiod issues them (istio/istio
security/pkg/pki/util/generate_cert.go: keyUsage digitalSignature + keyEncipherment,
extendedKeyUsage serverAuth + clientAuth, not a CA).
"""

import datetime
import json
import os
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from azext_meshca.model import certs
from azext_meshca.rules.consumers import envoy, istiod
from azext_meshca.rules.validation import validate_plugin_set
from sandbox import certfactory as cf

NOW = cf.ANCHOR_TIME


def _workload_leaf(ca_cert, ca_key):
    builder = envoy.istio_leaf_builder(ca_cert, cf.cached_key("workload", kind="ec").public_key(), NOW, serial=7)
    return builder.sign(ca_key, hashes.SHA256())


def consumers_verdict(objects):
    """(istiod loads the set, Envoy accepts a workload chain, istio-agent accepts istiod's chain)."""
    roots = certs.parse_pem_bundle(objects["root-cert"])
    ca_cert = certs.parse_pem_bundle(objects["ca-cert"])[0]
    chain = certs.parse_pem_bundle(objects["cert-chain"])
    key = certs.parse_private_key(objects["ca-key"]).key
    ca_path = certs.build_path(ca_cert, chain, roots)
    istiod_ok = ca_path is not None and not istiod.verify_path(ca_path, NOW) \
        and certs.key_matches_cert(key, ca_cert) and not istiod.intermediate_not_ca(ca_cert)
    leaf = _workload_leaf(ca_cert, key)
    path = certs.build_path(leaf, chain, roots)
    envoy_ok = path is not None and not envoy.verify_path(path, 1, NOW)
    agent_ok = path is not None and not istiod.verify_path(path, NOW)
    return istiod_ok, envoy_ok, agent_ok


# (variant, istiod loads, Envoy accepts, istio-agent accepts, code, breaks)
CASES = {
    "good": (dict(), True, True, True, None, None),
    # Go ignores the keyUsage of Verify's leaf (ca-cert), so istiod loads; BoringSSL check_ca
    # refuses, and so does the agent, where ca-cert is a parent (Go CheckSignatureFrom)
    "ca-no-keycertsign": (dict(no_keycertsign=True), True, False, False, "MCA705", "envoy"),
    # Go accepts serverAuth / anyExtendedKeyUsage; BoringSSL xku_reject needs clientAuth for ssl_client
    "ca-eku-serverauth": (dict(eku=["serverAuth"]), True, False, True, "MCA723", "envoy"),
    "ca-eku-any": (dict(eku=["anyExtendedKeyUsage"]), True, False, True, "MCA723", "envoy"),
    "ca-eku-clientauth": (dict(eku=["clientAuth"]), False, False, False, "MCA706", "both"),
    # Go refuses SHA-1; BoringSSL verifies it (algorithm.cc x509_digest_nid_ok refuses MD4/MD5 only)
    "ca-sha1": (dict(sha1=True), False, True, False, "MCA707", "istiod"),
    "ca-md5": (dict(md5=True), False, False, False, "MCA707", "both"),
    # Go CheckSignatureFrom refuses a parent without cA; BoringSSL never checks the trust anchor
    "root-not-ca": (dict(root_not_ca=True), False, True, False, "MCA702", "istiod"),
    "ca-not-ca": (dict(ca_not_ca=True), False, False, False, "MCA704", "both"),
    # Go CheckSignatureFrom refuses a parent without keyCertSign, and so does BoringSSL
    "intermediate-no-keycertsign": (dict(intermediate_no_keycertsign=True), False, False, False,
                                    "MCA716", "both"),
    # root pathlen:0 over ca-cert: istiod and Envoy accept; the Go agent refuses istiod's chain
    "root-pathlen-0": (dict(root_pathlen=0), True, True, False, "MCA715", "envoy"),
    # an intermediate with pathlen:0 above ca-cert: istiod loads; Envoy and the agent refuse
    "intermediate-pathlen-0": (dict(intermediate_pathlen=0), True, False, False, "MCA715", "envoy"),
    # only istiod reads ca-key; a leaf signed with the wrong key verifies nowhere
    "mismatched-key": (dict(mismatched_key=True), False, False, False, "MCA709", "istiod"),
    "expired": (dict(expired=True), False, False, False, "MCA717", "both"),
}


@pytest.mark.parametrize("name", CASES.keys())
def test_each_rule_against_both_consumers(name):
    variant, istiod_ok, envoy_ok, agent_ok, code, breaks = CASES[name]
    objects = cf.make_plugin_set(**variant)
    assert consumers_verdict(objects) == (istiod_ok, envoy_ok, agent_ok)
    findings, _ = validate_plugin_set(objects, NOW)
    errors = {item["code"]: item for item in findings if item["severity"] == "error"}
    if code is None:
        assert errors == {}
        return
    assert errors[code]["breaks"] == breaks


def _duplicate_extension_pem():
    """x509-limbo rfc5280::duplicate-extensions (C2SP/x509-limbo, commit 8a2e6f4): an EE with two SANs."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "reference", "x509-limbo",
                        "cases.json")
    if not os.path.exists(path):
        pytest.skip("x509-limbo cases not present")
    with open(path, encoding="utf-8") as handle:
        case = next(item for item in json.load(handle)["testcases"]
                    if item["id"] == "rfc5280::duplicate-extensions")
    return case["peer_certificate"].encode("ascii")


def test_duplicate_extension_is_a_finding_both_consumers_refuse():
    objects = dict(cf.make_plugin_set(), **{"ca-cert": _duplicate_extension_pem()})
    findings, _ = validate_plugin_set(objects, NOW)
    item = next(item for item in findings if item["code"] == "MCA610")
    assert item["object"] == "ca-cert" and item["breaks"] == "both"
    assert any("duplicate extensions" in line for line in item["evidence"])


def test_key_vault_certificate_secret_is_a_valid_ca_key():
    """Key then certificate, as a Key Vault certificate's PEM secret: istiod's ParsePemEncodedKey
    reads the first block and loads it."""
    objects = cf.make_plugin_set()
    objects["ca-key"] = objects["ca-key"] + objects["ca-cert"]
    findings, _ = validate_plugin_set(objects, NOW)
    assert [item["code"] for item in findings if item["severity"] == "error"] == []


def test_certificate_before_the_key_is_refused_as_istiod_does():
    objects = cf.make_plugin_set()
    objects["ca-key"] = objects["ca-cert"] + objects["ca-key"]
    findings, _ = validate_plugin_set(objects, NOW)
    item = next(item for item in findings if item["code"] == "MCA609")
    assert "first PEM block is CERTIFICATE" in item["message"]
    assert "istiod: unsupported PEM block type for a private key: CERTIFICATE" in item["evidence"]
    assert item["breaks"] == "istiod"


def test_ca_cert_that_starts_with_a_key_is_refused_as_istiod_does():
    objects = cf.make_plugin_set()
    objects["ca-cert"] = objects["ca-key"] + objects["ca-cert"]
    findings, _ = validate_plugin_set(objects, NOW)
    item = next(item for item in findings if item["code"] == "MCA614")
    assert item["breaks"] == "istiod"
    assert "PRIVATE KEY" in item["message"]


def test_path_search_over_a_1000_certificate_same_key_pool_is_bounded():
    """x509-limbo's pathological same-key chain, ten times larger: no path, found out quickly."""
    root, ca_cert, pool = cf.make_same_key_pool(999)
    search = certs._PathSearch(pool, [root])
    started = time.monotonic()
    assert search.run(ca_cert) is None
    elapsed = time.monotonic() - started
    # the docstring's bound: at most one verification per (certificate, issuer key)
    assert search.checks <= (len(pool) + 1) * 2
    assert elapsed < 60  # a guard against a hang, not a speed assertion


def test_path_search_finds_the_root_through_a_same_key_pool():
    root, ca_cert, pool = cf.make_same_key_pool(50)
    root_key = cf.cached_key("pool-root", kind="ec")
    bridge = (x509.CertificateBuilder().subject_name(pool[0].subject).issuer_name(root.subject)
              .public_key(pool[0].public_key()).serial_number(99)
              .not_valid_before(NOW - datetime.timedelta(days=1)).not_valid_after(NOW + datetime.timedelta(days=9))
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .sign(root_key, hashes.SHA256()))
    path = certs.build_path(ca_cert, pool + [bridge], [root])
    assert path is not None and path[0] == ca_cert and path[-1] == root and path[-2] == bridge
    assert len(path) == 3  # the shortest path
