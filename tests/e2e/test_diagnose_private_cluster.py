"""A private or IP-restricted API server that the operator cannot reach, through the real
az: the Azure side is reported in full and the cluster side is one MCA912 that says why."""

import pytest

from tests.e2e.test_diagnose_scenarios import EXIT_INCOMPLETE, diagnose_json

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("scenario, restriction", [
    ("private-cluster", "is private (apiServerAccessProfile.enablePrivateCluster)"),
    ("ip-restricted-cluster", "allows only authorised IP ranges (203.0.113.0/24)"),
])
def test_unreachable_restricted_api_server_is_mca912(sim_factory, scenario, restriction):
    sim = sim_factory.shared(scenario)
    run = diagnose_json(sim_factory.az_for(sim))
    assert run.returncode == EXIT_INCOMPLETE, run.summary()
    assert run.problems() == {"MCA912"}
    found = run.find("MCA912")
    assert restriction in found["message"]
    assert "virtual network" in found["remedy"]
    assert "MCA912" in run.result["summary"]["notChecked"]
    assert run.result["certificates"], "the Key Vault objects were still read and described"
    assert not any("/runCommand" in entry["path"] for entry in sim.requests(service="arm")), \
        "run-command creates a pod in the cluster: never without being asked"
