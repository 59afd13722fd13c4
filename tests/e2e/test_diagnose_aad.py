"""An AAD-integrated cluster: its user kubeconfig runs kubelogin, which meshca cannot
rely on; diagnose must reach the API server with the CLI's own AAD token (as ``az aks command invoke`` does, Azure/azure-cli
``src/azure-cli/azure/cli/command_modules/acs/custom.py``)."""

import json

import pytest

pytestmark = pytest.mark.e2e

AKS_AAD_SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"


@pytest.mark.scenario("healthy-aad")
def test_diagnose_reaches_an_aad_cluster_with_the_cli_token(az, sim):
    sim.log.clear()
    proc = az.run("aks", "mesh", "ca", "diagnose", "-g", "myResourceGroup", "-n", "myAKSCluster", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [item["code"] for item in result["findings"] if item["severity"] != "info"] == []
    assert "MCA813" in [item["code"] for item in result["findings"]]   # istiod's log was read
    token_requests = sim.requests(service="msi")
    assert any(AKS_AAD_SERVER_APP in json.dumps(entry["query"]) for entry in token_requests)
    kube = sim.requests(service="kube")
    assert kube and all(entry["status"] < 400 for entry in kube)
