"""The release smoke: the commands' main paths through another az release than the suite's.

meshca supports the az releases of the past year (azext_metadata.json's minCliCoreVersion),
whose bundled SDKs differ: older azure-mgmt-* packages have AutoRest models where newer ones
have TypeSpec models. scripts/test runs this module with MESHCA_AZ_VENV=.venv-az-min (the
oldest supported release); with the suite's own az the rest of the suite covers the same
paths in depth, so it is skipped there.

Each test states the same verdict the suite expects on the default az.
"""

import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from sandbox import azcli, certfactory
from tests.e2e.test_diagnose_scenarios import EXIT_OK, EXIT_PROBLEMS, Diagnosis, diagnose
from tests.e2e.test_fix_access import ADDON_OID, VAULT, fix_json, now, writes_since

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    azcli.OTHER_AZ_VENV is None, reason="release smoke: run with MESHCA_AZ_VENV=<venv of another az release>")]

# Three diagnose scenarios: a healthy access-policy cluster (reads the secrets and judges the
# certificates), the article's issue 1 (access policy missing) and an RBAC vault where the
# add-on holds only Key Vault Reader (role assignments and definitions).
DIAGNOSE = {
    "healthy": ({"MCA303", "MCA719", "MCA813"}, set(), EXIT_OK),
    "article-issue-1": ({"MCA303"}, {"MCA401", "MCA801", "MCA802"}, EXIT_PROBLEMS),
    "rbac-reader-role": (set(), {"MCA403", "MCA801", "MCA803"}, EXIT_PROBLEMS),
}


def test_the_az_under_test_is_the_one_named():
    """The runner really runs the other release, and meshca accepts it (minCliCoreVersion)."""
    with open(os.path.join(azcli.REPO, "azext_meshca", "azext_metadata.json"), encoding="utf-8") as handle:
        minimum = json.load(handle)["azext.minCliCoreVersion"]
    assert azcli.az_versions()["azure-cli-core"] == minimum


@pytest.fixture(scope="module")
def offline_az():
    return azcli.new_az("release-smoke-offline")


@pytest.fixture(scope="module")
def cert_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("certs")
    paths = {}
    for name, objects in {"good": certfactory.make_plugin_set(),
                          "wrong-root": certfactory.make_plugin_set(wrong_root=True)}.items():
        paths[name] = str(root / name)
        certfactory.write_cert_dir(paths[name], objects)
    return paths


@pytest.mark.parametrize("name, exit_status, errors", [("good", 0, []), ("wrong-root", 4, ["MCA710"])])
def test_validate_secrets(offline_az, cert_dirs, name, exit_status, errors):
    proc = offline_az.run("aks", "mesh", "ca", "validate-secrets", "--cert-dir", cert_dirs[name], "-o", "json")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == exit_status, proc.stderr
    result = json.loads(proc.stdout)
    assert [item["code"] for item in result["findings"] if item["severity"] == "error"] == errors


def test_show_cert(offline_az, cert_dirs):
    proc = offline_az.run("aks", "mesh", "ca", "show-cert", "--file",
                          os.path.join(cert_dirs["good"], "cert-chain.pem"), "-o", "json")
    assert proc.returncode == 0, proc.stderr
    certificates = json.loads(proc.stdout)["certificates"]
    assert len(certificates) == 2 and certificates[0]["isCa"] is True and certificates[0]["pathLength"] == 0


@pytest.fixture(scope="module")
def diagnosed(sim_factory):
    """{scenario: Diagnosis}, the three runs overlapping (diagnose only reads)."""
    sims = {scenario: sim_factory.shared(scenario) for scenario in DIAGNOSE}
    sim_factory.az_for(sims["healthy"])  # builds and installs the wheel once, before the pool

    def run(scenario):
        return scenario, Diagnosis(diagnose(sim_factory.az_for(sims[scenario]), "-o", "json"))

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(pool.map(run, DIAGNOSE))


@pytest.mark.parametrize("scenario", sorted(DIAGNOSE))
def test_diagnose(diagnosed, scenario):
    infos, problems, exit_status = DIAGNOSE[scenario]
    run = diagnosed[scenario]
    assert "Traceback" not in run.stderr, run.stderr
    assert run.result is not None, run.stderr[-2000:]
    assert run.problems() == problems, run.summary()
    assert infos <= run.codes("info"), run.summary()
    assert run.returncode == exit_status, run.summary()


@pytest.mark.parametrize("scenario, kind", [("article-issue-1", "accessPolicyAdd"),
                                            ("rbac-no-access", "roleAssignment")])
def test_fix_access_dry_run(sim_factory, scenario, kind):
    sim = sim_factory.shared(scenario)
    az = sim_factory.az_for(sim)
    since = now(sim)
    result, _ = fix_json(az, "--dry-run")
    assert result["outcome"] == "planned"
    assert result["change"]["kind"] == kind
    assert result["identity"]["objectId"] == ADDON_OID
    assert result["vault"]["name"] == VAULT
    assert writes_since(sim, since) == []
