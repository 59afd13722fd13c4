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


def _mca760(proc):
    result = json.loads(proc.stdout)
    return [item for item in result["findings"] if item["code"] == "MCA760"]


def test_cert_chain_without_ca_cert_is_an_envoy_refusal(az, tmp_path):
    """The dangerous one: istiod starts, every workload connection fails."""
    objects = certfactory.make_plugin_set(chain_not_starting_with_ca_cert=True)  # cert-chain = root only
    proc = _validate(az, tmp_path, objects, "-o", "json")
    assert proc.returncode == 4
    (item,) = _mca760(proc)
    assert item["breaks"] == "envoy" and item["object"] == "cert-chain"
    assert "envoy: unable to get local issuer certificate" in item["evidence"]


def test_byte_order_mark_before_cert_chain_hides_ca_cert_from_envoy(az, tmp_path):
    """BoringSSL's PEM reader skips a block whose BEGIN line does not start the line."""
    objects = certfactory.make_plugin_set()
    objects["cert-chain"] = b"\xef\xbb\xbf" + objects["cert-chain"]
    proc = _validate(az, tmp_path, objects, "-o", "json")
    assert proc.returncode == 4
    (item,) = _mca760(proc)
    assert item["breaks"] == "envoy"


def test_recipe_set_has_no_envoy_refusal_and_table_names_the_code(az, tmp_path):
    good = _validate(az, tmp_path / "good", certfactory.make_plugin_set(), "-o", "json")
    assert good.returncode == 0 and _mca760(good) == []
    bad = certfactory.make_plugin_set(chain_not_starting_with_ca_cert=True)
    table = _validate(az, tmp_path / "bad", bad, "-o", "table")
    assert "MCA760" in table.stdout
