"""validate-secrets through the real az on sets istiod loads and Envoy refuses (MCA760, issue #21).

The verdicts were checked against real BoringSSL handshakes in tests/unit/test_envoy_boringssl.py;
here the finding reaches the user through az: code, breaks, the exit code and BoringSSL's words.
Fixtures are made at test time (sandbox/certfactory.py).
"""

import json

import pytest

from sandbox import certfactory
from sandbox.azcli import new_az

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def az():
    return new_az("envoy-refusals")


def _validate(az, tmp_path, objects, *extra):
    folder = str(tmp_path / "set")
    certfactory.write_cert_dir(folder, objects)
    proc = az.run("aks", "mesh", "ca", "validate-secrets", "--cert-dir", folder, *extra)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def _mca760(proc, code="MCA760"):
    result = json.loads(proc.stdout)
    return [item for item in result["findings"] if item["code"] == code]


def test_cert_chain_without_ca_cert_is_a_data_plane_refusal(az, tmp_path):
    """The dangerous one: istiod starts, and no sidecar gets a working chain. The first to refuse
    is the istio-agent, verifying istiod's serving chain (MCA736, breaks envoy: the data plane);
    Envoy would refuse the workload chains too, but none reaches it (reconcile_with_startup)."""
    objects = certfactory.make_plugin_set(chain_not_starting_with_ca_cert=True)  # cert-chain = root only
    proc = _validate(az, tmp_path, objects, "-o", "json")
    assert proc.returncode == 4
    (item,) = _mca760(proc, "MCA736")
    assert item["breaks"] == "envoy" and item["object"] == "cert-chain"
    assert _mca760(proc) == []


def test_byte_order_mark_before_cert_chain_hides_ca_cert_from_the_data_plane(az, tmp_path):
    """Go's and BoringSSL's PEM readers both skip a block whose BEGIN line does not start the line:
    the agent refuses istiod's serving chain first (MCA736), breaks envoy, the data plane."""
    objects = certfactory.make_plugin_set()
    objects["cert-chain"] = b"\xef\xbb\xbf" + objects["cert-chain"]
    proc = _validate(az, tmp_path, objects, "-o", "json")
    assert proc.returncode == 4
    (item,) = _mca760(proc, "MCA736")
    assert item["breaks"] == "envoy"


def test_recipe_set_has_no_envoy_refusal_and_table_names_the_code(az, tmp_path):
    good = _validate(az, tmp_path / "good", certfactory.make_plugin_set(), "-o", "json")
    assert good.returncode == 0 and _mca760(good) == []
    bad = certfactory.make_plugin_set(chain_not_starting_with_ca_cert=True)
    table = _validate(az, tmp_path / "bad", bad, "-o", "table")
    assert "MCA736" in table.stdout
