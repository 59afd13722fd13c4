"""validate-secrets through the real az on sets that istiod's start-up path (Go) judges otherwise
than a naive reader (#21): what Go refuses, what it accepts, and where only the agent breaks.

The sets are sandbox/casets.py's; tests/differential/test_go_istiod.py holds Go's own verdict on
each of them. Here the point is the whole CLI: codes, exit status, and a clean stderr.
"""

import json

import pytest

from sandbox.azcli import new_az
from sandbox.casets import BASE, make_set

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def az():
    return new_az("istiod-startup")


def _validate(az, tmp_path, changes):
    folder = tmp_path / "set"
    folder.mkdir()
    for name, data in make_set(dict(BASE, **changes)).items():
        (folder / f"{name}.pem").write_bytes(data)
    proc = az.run("aks", "mesh", "ca", "validate-secrets", "--cert-dir", str(folder), "-o", "json")
    assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr, proc.stderr
    result = json.loads(proc.stdout)
    errors = {item["code"]: item for item in result["findings"] if item["severity"] == "error"}
    return proc, result, errors


# (changes, the error code meshca gives or None, which consumer it breaks)
ROWS = {
    "bom-before-ca-cert": ({"framing": ("ca-cert", "bom")}, "MCA724", "istiod"),
    "negative-serial": ({"ca_negative_serial": True}, "MCA727", "istiod"),
    "name-constraints-exclude-istiod": ({"name_constraints": "exclude"}, "MCA728", "envoy"),
    "empty-cert-chain": ({"chain": "empty"}, "MCA733", "envoy"),
    "cert-chain-lacks-ca-cert": ({"chain": "root"}, "MCA736", "envoy"),
    "v1-root": ({"root_v1": True}, None, None),
    "root-with-unverifiable-self-signature": ({"root_bad_signature": True}, None, None),
}


@pytest.mark.parametrize("row", sorted(ROWS))
def test_istiod_startup_verdict_through_az(az, tmp_path, row):
    changes, code, breaks = ROWS[row]
    proc, result, errors = _validate(az, tmp_path, changes)
    if code is None:
        assert proc.returncode == 0 and not errors, result["findings"]
        return
    assert proc.returncode == 4, proc.stderr
    assert code in errors and errors[code]["breaks"] == breaks, errors


def test_cert_chain_with_ca_cert_last_is_a_warning_and_exits_0(az, tmp_path):
    """Issue i711: root first, then ca-cert. Go and BoringSSL accept it
    (tests/differential/test_go_istiod.py test_cert_chain_order_against_go_and_boringssl)."""
    proc, result, errors = _validate(az, tmp_path, {"chain": "root+ca"})
    assert proc.returncode == 0 and not errors, errors
    assert result["status"] == "warnings", result["status"]
    assert "MCA711" in {item["code"] for item in result["findings"] if item["severity"] == "warning"}


@pytest.mark.parametrize("root_cert", ["ca", "root+ca"])
def test_intermediate_in_root_cert_is_a_warning_and_exits_0(az, tmp_path, root_cert):
    """Issue i701: root-cert holding ca-cert (not self-signed), alone or beside the root. Go and
    BoringSSL trust it as an anchor (tests/differential/test_go_istiod.py
    test_root_cert_shapes_against_go_and_boringssl), so the set passes with a warning."""
    proc, result, errors = _validate(az, tmp_path, {"root_cert": root_cert})
    assert proc.returncode == 0 and not errors, errors
    assert result["status"] == "warnings", result["status"]
    warnings = {item["code"]: item for item in result["findings"] if item["severity"] == "warning"}
    assert "MCA701" in warnings and "breaks" not in warnings["MCA701"], warnings
    assert "MCA703" not in {item["code"] for item in result["findings"]}, result["findings"]


def test_expired_unused_cert_at_the_end_of_cert_chain_is_a_warning(az, tmp_path):
    proc, result, errors = _validate(az, tmp_path, {"chain": "ca+root+expired"})
    assert proc.returncode == 0 and not errors, errors
    assert "MCA734" in {item["code"] for item in result["findings"] if item["severity"] == "warning"}
