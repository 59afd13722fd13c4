"""When the cluster itself cannot be read there is nothing to report: diagnose says why
in one line and exits like az does (3 for a name that does not exist, 1 otherwise),
never 4 ("problems found"), which a CI pipeline would read as a verdict."""

import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.scenario("healthy")
def test_a_cluster_that_does_not_exist_exits_3(az):
    proc = az.run("aks", "mesh", "ca", "diagnose", "-g", "myResourceGroup", "-n", "noSuchCluster")
    assert proc.returncode == 3
    assert "cluster myResourceGroup/noSuchCluster was not found" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.scenario("healthy", fresh=True)
def test_a_cluster_that_cannot_be_read_is_a_one_line_error(az, sim):
    sim.add_fault("error", service="arm", method="GET", path="managedClusters/myAKSCluster$", status=403, count=None)
    proc = az.run("aks", "mesh", "ca", "diagnose", "-g", "myResourceGroup", "-n", "myAKSCluster")
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and "Could not read cluster myResourceGroup/myAKSCluster: 403" in errors[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
