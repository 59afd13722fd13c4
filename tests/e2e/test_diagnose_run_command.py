"""diagnose --via-run-command through the real az against the simulator: ARM's
managedClusters/runCommand runs the script with the real kubectl against the Kubernetes
simulator (sandbox/sim/runcommand.py), on a private cluster the operator cannot reach.

Must show (issue 13): the same findings as a direct diagnose of the same cluster made
public; without the option, MCA912 names it and no runCommand is sent; each of
run-command's failures is a collection finding, never a traceback.
"""

import json

import pytest

from tests.e2e.test_diagnose_scenarios import EXIT_INCOMPLETE, Diagnosis, diagnose_json

pytestmark = pytest.mark.e2e

RUN_COMMAND_PATH = r"/managedClusters/[^/]+/runCommand"


def _verdict(run):
    """(code, severity, object) of every finding: what must be the same either way."""
    return sorted((item["code"], item["severity"], item.get("object")) for item in run.findings)


@pytest.fixture(scope="module")
def private(sim_factory):
    """One private cluster for this module; tests that turn a fault knob on turn it off."""
    sim = sim_factory.fresh("private-cluster")
    return sim, sim_factory.az_for(sim)


def _run_commands(sim):
    return sim.requests(service="arm", method="POST", path_regex=RUN_COMMAND_PATH)


# base64 of "-----BEGIN PRIVATE", "-----BEGIN EC PRIVATE", "-----BEGIN RSA PRIVATE"
_KEY_MARKERS = ("PRIVATE KEY", "LS0tLS1CRUdJTiBQUklWQVRF", "LS0tLS1CRUdJTiBFQyBQUklWQVRF",
                "LS0tLS1CRUdJTiBSU0EgUFJJVkFURQ")


def test_via_run_command_gives_the_findings_of_the_same_cluster_made_public(private, tmp_path):
    """The same simulated cluster (same objects, same times), once made public for the
    direct read: the operator's kubeconfig then names the API server's real address."""
    sim, az = private
    private_url = sim.kube_url
    sim.point_kube_at(None)
    try:
        direct = diagnose_json(az, "--export", str(tmp_path / "direct.json"))
    finally:
        sim.point_kube_at(private_url)
    before = len(_run_commands(sim))
    through = diagnose_json(az, "--via-run-command", "--export", str(tmp_path / "rc.json"))
    assert "MCA912" not in through.codes(), through.summary()
    assert _verdict(through) == _verdict(direct), (through.summary(), direct.summary())
    assert through.returncode == direct.returncode
    assert len(_run_commands(sim)) == before + 1, "one runCommand request, polled to completion"
    assert len(_run_commands(sim)) == 1, "the direct run never asks for a run-command"
    # The exported snapshots are the same but for how the in-cluster items were collected.
    exported = {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in ("direct", "rc")}
    rc_access = exported["rc"]["kube"].pop("access")
    direct_access = exported["direct"]["kube"].pop("access")
    assert rc_access["data"]["source"] == "runCommand" and direct_access["data"]["source"] == "azure"
    assert rc_access["data"]["runCommand"]["exitCode"] == 0 and rc_access["data"]["runCommand"]["complete"]
    assert exported["rc"]["options"].pop("viaRunCommand") is True
    for snapshot in exported.values():
        snapshot.pop("collectedAt")
    assert exported["rc"] == exported["direct"]
    offline = Diagnosis(az.run("aks", "mesh", "ca", "diagnose", "--from-snapshot", str(tmp_path / "rc.json"),
                               "-o", "json", cwd=az.config_dir))
    assert _verdict(offline) == _verdict(through), "the run-command snapshot loads and judges the same"
    logs = sim.servers["arm"].service.run_commands.logs()
    assert logs and not any(marker in text for text in logs for marker in _KEY_MARKERS), \
        "ca-key.pem's value never enters the command's output, which AKS keeps as its result"


def test_without_the_option_mca912_names_it_and_no_pod_is_created(private):
    sim, az = private
    before = len(_run_commands(sim))
    run = diagnose_json(az)
    assert run.returncode == EXIT_INCOMPLETE, run.summary()
    assert "--via-run-command" in run.find("MCA912")["remedy"]
    assert len(_run_commands(sim)) == before, "run-command creates a pod: never without being asked"


def _with(sim, *, knobs=None, operator=None, power=None):
    """Set a fault knob for one run (the module's simulator is private to it)."""
    sim.world.raw["runCommand"] = dict(knobs or {})
    sim.world.operator_arm = dict(operator or {})
    properties = sim.world.cluster["properties"]
    if power:
        properties["powerState"] = {"code": power}
    else:
        properties.pop("powerState", None)


@pytest.mark.parametrize("fault, code, words", [
    ({"operator": {"canRunCommand": False}}, "MCA913", ["runCommand/action", "Cluster Admin Role",
                                                        "Cluster User Role"]),
    ({"knobs": {"exitCode": 3}}, "MCA914", ["exited with 3"]),
    ({"knobs": {"provisioningFailed": "ImagePullBackoff"}}, "MCA914", ["ImagePullBackoff"]),
    ({"knobs": {"timeoutSeconds": 1}}, "MCA914", ["exited with 124", "timed out"]),
    ({"power": "Stopped"}, "MCA915", ["stopped", "az aks start"]),
], ids=["forbidden", "script-fails", "pod-failed", "timed-out", "cluster-stopped"])
def test_run_command_failure_is_a_collection_finding(private, fault, code, words):
    sim, az = private
    _with(sim, **fault)
    try:
        run = diagnose_json(az, "--via-run-command")
    finally:
        _with(sim)
    assert "Traceback" not in run.stderr
    assert run.returncode == EXIT_INCOMPLETE, run.summary()
    found = run.find(code)
    assert found["area"] == "collection"
    text = found["message"] + " " + found["remedy"]
    for word in words:
        assert word in text, text
    assert not {"MCA905", "MCA906", "MCA907", "MCA912"} & run.codes(), run.summary()
    assert code in run.result["summary"]["notChecked"]


def test_stopped_cluster_sends_no_run_command(private):
    sim, az = private
    before = len(_run_commands(sim))
    _with(sim, power="Stopped")
    try:
        diagnose_json(az, "--via-run-command")
    finally:
        _with(sim)
    assert len(_run_commands(sim)) == before, "powerState Stopped: AKS would refuse, so nothing is asked"


def test_output_cut_by_aks_is_reported_and_the_rest_still_judged(private):
    """AKS cuts the output at 512 KB; here the simulator cuts it far sooner, as if the
    cluster's objects were that large: what did not come is MCA916, what came is judged."""
    sim, az = private
    _with(sim, knobs={"logsCap": 6000})
    try:
        run = diagnose_json(az, "--via-run-command")
    finally:
        _with(sim)
    assert "Traceback" not in run.stderr
    found = run.find("MCA916")
    assert "512 KB" in found["message"]
    assert any("ended before" in line for line in found["evidence"]), found["evidence"]
    assert "MCA907" not in run.codes()


def test_run_command_longer_than_the_timeout_is_reported_not_waited_for(private):
    sim, az = private
    _with(sim, knobs={"startDelaySeconds": 30})
    try:
        run = diagnose_json(az, "--via-run-command", "--timeout", "8")
    finally:
        _with(sim)
    found = run.find("MCA914")
    assert "did not finish within the run's --timeout of 8 s" in found["message"], found["message"]


def test_aad_cluster_runs_the_command_as_the_caller(sim_factory):
    """aadProfile.managed: the request carries clusterToken (the CLI's token for the AKS AAD
    server app, as az aks command invoke sends), and the pod's reads succeed with it."""
    sim = sim_factory.fresh("private-cluster-aad")
    run = diagnose_json(sim_factory.az_for(sim), "--via-run-command")
    assert not [item for item in run.findings if item["area"] == "collection"], run.summary()
    assert sim.servers["arm"].service.run_commands.submitted == [{"clusterToken": True, "context": ""}]


def test_a_failed_run_command_request_is_not_sent_again(private):
    """A 503 on the POST may still have started a command pod: as az aks command invoke
    (retry_total=0), it is reported, not retried."""
    sim, az = private
    before = len(_run_commands(sim))
    sim.add_fault("error", service="arm", method="POST", path=RUN_COMMAND_PATH, status=503, count=1)
    run = diagnose_json(az, "--via-run-command")
    assert len(_run_commands(sim)) == before + 1, "one runCommand request, not retried"
    assert "503" in run.find("MCA914")["message"]


def test_the_ca_path_reads_go_through_the_run_command_too(sim_factory, tmp_path):
    """Today's add-on behind a private API server: the mount statuses, the injector webhooks
    and the sidecar pods (counted in the pod, sources/runcommand.py) give the verdict of
    the direct read, stale sidecars included."""
    scenario = tmp_path / "private-stale-sidecars.yaml"
    scenario.write_text("base: rot-stale-sidecars\nprivateApiServer: true\ncluster:\n  properties:\n"
                        "    apiServerAccessProfile: {enablePrivateCluster: true, privateDNSZone: system}\n",
                        encoding="utf-8")
    with sim_factory.fresh(str(scenario)) as sim:
        az = sim_factory.az_for(sim)
        private_url = sim.kube_url
        sim.point_kube_at(None)
        try:
            direct = diagnose_json(az, "--export", str(tmp_path / "direct.json"))
        finally:
            sim.point_kube_at(private_url)
        through = diagnose_json(az, "--via-run-command", "--export", str(tmp_path / "rc.json"))
    assert "MCA312" in direct.codes() and _verdict(through) == _verdict(direct), (through.summary(), direct.summary())
    exported = {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in ("direct", "rc")}
    for key in ("mountStatuses", "webhooks", "sidecars"):
        assert exported["rc"]["kube"][key] == exported["direct"]["kube"][key], key
