"""validate-secrets and show-cert through the real az on sets that istiod and Envoy judge
differently from the object's type or from a naive parser (issues 8 and 12).

Fixtures are made at test time (sandbox/certfactory.py). The duplicated-extension
certificate is x509-limbo's rfc5280::duplicate-extensions (C2SP/x509-limbo, commit 8a2e6f4),
read from ../shared/reference/x509-limbo/cases.json.
"""

import json
import os

import pytest

from sandbox import certfactory
from sandbox.azcli import new_az

pytestmark = pytest.mark.e2e

LIMBO = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "reference", "x509-limbo",
                     "cases.json")


@pytest.fixture(scope="module")
def az():
    return new_az("consumers")


def _duplicate_extension_pem():
    if not os.path.exists(LIMBO):
        pytest.skip("x509-limbo cases not present")
    with open(LIMBO, encoding="utf-8") as handle:
        case = next(item for item in json.load(handle)["testcases"]
                    if item["id"] == "rfc5280::duplicate-extensions")
    return case["peer_certificate"].encode("ascii")


def _cert_dir(tmp_path, objects):
    folder = str(tmp_path / "set")
    certfactory.write_cert_dir(folder, objects)
    return folder


def _validate(az, folder):
    proc = az.run("aks", "mesh", "ca", "validate-secrets", "--cert-dir", folder, "-o", "json")
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, json.loads(proc.stdout)


def _errors(result):
    return {item["code"]: item for item in result["findings"] if item["severity"] == "error"}


def test_key_vault_certificate_secret_as_ca_key_passes(az, tmp_path):
    """Key then certificate (a Key Vault certificate's PEM secret): istiod loads it."""
    objects = certfactory.make_plugin_set()
    objects["ca-key"] = objects["ca-key"] + objects["ca-cert"]
    proc, result = _validate(az, _cert_dir(tmp_path, objects))
    assert proc.returncode == 0, result
    assert _errors(result) == {}


def test_certificate_before_the_key_fails_as_in_istiod(az, tmp_path):
    """istiod's ParsePemEncodedKey reads only the first block: a certificate there is refused."""
    objects = certfactory.make_plugin_set()
    objects["ca-key"] = objects["ca-cert"] + objects["ca-key"]
    proc, result = _validate(az, _cert_dir(tmp_path, objects))
    assert proc.returncode == 4
    assert set(_errors(result)) == {"MCA609"}
    assert _errors(result)["MCA609"]["breaks"] == "istiod"


def test_duplicate_extension_is_a_finding_not_a_traceback(az, tmp_path):
    objects = dict(certfactory.make_plugin_set(), **{"ca-cert": _duplicate_extension_pem()})
    proc, result = _validate(az, _cert_dir(tmp_path, objects))
    assert proc.returncode == 4
    item = _errors(result)["MCA610"]
    assert item["object"] == "ca-cert" and item["breaks"] == "both"


def test_show_cert_on_a_duplicate_extension(az, tmp_path):
    path = tmp_path / "dup.pem"
    path.write_bytes(_duplicate_extension_pem())
    proc = az.run("aks", "mesh", "ca", "show-cert", "--file", str(path), "-o", "json")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 4
    assert [item["code"] for item in json.loads(proc.stdout)["findings"]] == ["MCA610"]


def test_1000_certificate_same_key_chain_finishes(az, tmp_path):
    """x509-limbo's pathological same-key chain at 1,000 certificates: the old depth-first
    search did not finish; the bounded one reports the missing path."""
    proc, result = _validate(az, _cert_dir(tmp_path, certfactory.same_key_pool_plugin_set(1000)))
    assert proc.returncode == 4
    assert "MCA710" in _errors(result)
    assert len([row for row in result["certificates"] if row["object"] == "cert-chain"]) == 1000
