"""diagnose under injected faults, through the real az against the loopback simulator.

A transient fault (429 with Retry-After, one 500/503, one reset connection, one hung
Kubernetes call) must leave the verdict unchanged; a lasting one must become a
collection finding while every other check still reports. Never a traceback, and the
exit status follows the verdict (4 with errors, 5 when only checks are missing).

The faults are injected on this module's own simulator (article issue 1, so the
verdict has causes and symptoms to lose); each test clears the faults and the log.
"""

import time

import pytest

from tests.e2e.test_diagnose_scenarios import (
    EXIT_INCOMPLETE, EXIT_PROBLEMS, comparable, diagnose_json)

pytestmark = pytest.mark.e2e

CLUSTER_PATH = r"/managedClusters/myAKSCluster$"
VAULT_PATH = r"/providers/Microsoft\.KeyVault/vaults/MyAzureKeyVault$"
KV_SERVICE = "kv:MyAzureKeyVault"
ROOT_SECRET_PATH = r"^/secrets/test-root-cert"
EVENTS_PATH = r"^/api/v1/namespaces/aks-istio-system/events$"
CRONJOB_PATH = r"^/apis/batch/v1/namespaces/aks-istio-system/cronjobs/"


@pytest.fixture(scope="module")
def fault_sim(sim_factory):
    """A private article-issue-1 simulator: faults are injected into it."""
    sim = sim_factory.fresh("article-issue-1")
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def fault_az(sim_factory, fault_sim):
    return sim_factory.az_for(fault_sim)


@pytest.fixture(scope="module")
def baseline(fault_sim, fault_az):
    """The verdict without any fault."""
    run = diagnose_json(fault_az)
    assert run.returncode == EXIT_PROBLEMS, run.summary()
    return run


@pytest.fixture
def quiet(fault_sim, baseline):
    """No leftover fault, an empty request log."""
    fault_sim.faults.clear()
    fault_sim.log.clear()
    yield fault_sim
    fault_sim.faults.clear()


def statuses(sim, service, path, method="GET"):
    return [entry["status"] for entry in sim.requests(service=service, method=method, path_regex=path)]


def assert_same_verdict(run, baseline):
    assert run.returncode == baseline.returncode, run.summary()
    assert comparable(run.findings) == comparable(baseline.findings)


# --------------------------------------------------------------------------- transient: same verdict

def test_throttled_cluster_get_is_retried(quiet, fault_az, baseline):
    quiet.add_fault("throttle", service="arm", method="GET", path=CLUSTER_PATH, count=1, retry_after=1)
    started = time.monotonic()
    run = diagnose_json(fault_az)
    assert_same_verdict(run, baseline)
    assert statuses(quiet, "arm", CLUSTER_PATH)[:2] == [429, 200]
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured


def test_throttled_key_vault_get_is_retried(quiet, fault_az, baseline):
    quiet.add_fault("throttle", service=KV_SERVICE, method="GET", path=ROOT_SECRET_PATH, count=1, retry_after=1)
    run = diagnose_json(fault_az)
    assert_same_verdict(run, baseline)
    seen = statuses(quiet, KV_SERVICE, ROOT_SECRET_PATH)
    assert seen[0] == 429 and seen[-1] == 200, seen


def test_throttled_vault_config_get_is_retried(quiet, fault_az, baseline):
    quiet.add_fault("throttle", service="arm", method="GET", path=VAULT_PATH, count=1, retry_after=1)
    run = diagnose_json(fault_az)
    assert_same_verdict(run, baseline)
    assert statuses(quiet, "arm", VAULT_PATH)[:2] == [429, 200]


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_is_retried(quiet, fault_az, baseline, status):
    quiet.add_fault("error", service="arm", method="GET", path=CLUSTER_PATH, count=1, status=status)
    run = diagnose_json(fault_az)
    assert_same_verdict(run, baseline)
    assert statuses(quiet, "arm", CLUSTER_PATH)[:2] == [status, 200]


def test_reset_connection_to_arm_is_retried(quiet, fault_az, baseline):
    quiet.add_fault("reset", service="arm", method="GET", path=CLUSTER_PATH, count=1)
    run = diagnose_json(fault_az)
    assert_same_verdict(run, baseline)
    assert statuses(quiet, "arm", CLUSTER_PATH)[:2] == [0, 200]  # 0 = dropped without an answer


def test_reset_connection_to_kubernetes_is_retried(quiet, fault_az, baseline):
    quiet.add_fault("reset", service="kube", method="GET", path=EVENTS_PATH, count=1)
    run = diagnose_json(fault_az)
    assert_same_verdict(run, baseline)
    assert statuses(quiet, "kube", EVENTS_PATH)[:2] == [0, 200]


def test_hung_kubernetes_call_is_bounded(quiet, fault_az, baseline):
    """The events list hangs once: the client's read timeout ends it, the retry answers."""
    quiet.add_fault("hang", service="kube", method="GET", path=EVENTS_PATH, count=1, seconds=40)
    started = time.monotonic()
    run = diagnose_json(fault_az)
    elapsed = time.monotonic() - started
    assert_same_verdict(run, baseline)
    assert statuses(quiet, "kube", EVENTS_PATH)[:2] == [0, 200]
    assert elapsed < 40, "diagnose waited for the hang to end instead of timing out ({:.0f}s)".format(elapsed)


# --------------------------------------------------------------------------- lasting: collection findings

def test_lasting_throttling_of_the_vault_is_a_collection_finding(quiet, fault_az, baseline):
    """The vault's configuration cannot be read: MCA902, and the access verdict (MCA401) that
    needs it is withheld rather than guessed; the in-cluster symptoms are still reported."""
    quiet.add_fault("throttle", service="arm", method="GET", path=VAULT_PATH, count=None, retry_after=0)
    run = diagnose_json(fault_az)
    assert run.returncode == EXIT_PROBLEMS, run.summary()
    assert "MCA902" in run.codes("warning"), run.summary()
    assert "429" in run.find("MCA902")["message"] or "Too" in run.find("MCA902")["message"]
    assert {"MCA801", "MCA802"} <= run.codes("error")
    assert "MCA401" not in run.codes()
    assert len(statuses(quiet, "arm", VAULT_PATH)) >= 2  # retried before giving up


def test_lasting_throttling_of_a_secret_is_a_collection_finding(quiet, fault_az, baseline):
    quiet.add_fault("throttle", service=KV_SERVICE, method="GET", path=ROOT_SECRET_PATH, count=None,
                    retry_after=0)
    run = diagnose_json(fault_az)
    assert run.returncode == EXIT_PROBLEMS, run.summary()
    unread = run.find("MCA904")
    assert "test-root-cert" in unread["message"]
    for other in ("test-ca-cert", "test-ca-key", "test-cert-chain"):
        assert other not in unread["message"]
    assert {"MCA401", "MCA801", "MCA802"} <= run.codes("error")


def test_kubernetes_server_error_is_a_collection_finding(quiet, fault_az, baseline):
    """One in-cluster read fails for good: MCA907 names it, everything else is still judged."""
    quiet.add_fault("error", service="kube", method="GET", path=CRONJOB_PATH, count=None, status=500)
    run = diagnose_json(fault_az)
    assert run.returncode == EXIT_PROBLEMS, run.summary()
    gap = run.find("MCA907")
    assert gap["object"] == "cronjobs"
    assert {"MCA401", "MCA801", "MCA802"} <= run.codes("error")
    assert run.result["summary"]["notChecked"] == ["MCA907"]


def test_skip_cluster_makes_no_kubernetes_request(quiet, fault_az):
    run = diagnose_json(fault_az, "--skip-cluster")
    assert "MCA908" in run.codes("info"), run.summary()
    assert not quiet.requests(service="kube")
    assert not any("/listClusterUserCredential" in entry["path"] for entry in quiet.requests(service="arm"))
    assert run.problems() == {"MCA401"}  # the Azure-side cause alone; no in-cluster symptom
    assert run.returncode == EXIT_PROBLEMS


# --------------------------------------------------------------------------- Kubernetes API unreachable

@pytest.mark.parametrize("scenario, exit_status, azure_side", [
    ("healthy", EXIT_INCOMPLETE, {"MCA303", "MCA719"}),
    ("article-issue-1", EXIT_PROBLEMS, {"MCA401", "MCA303"}),
])
def test_kubernetes_api_closed_mid_session(sim_factory, scenario, exit_status, azure_side):
    """make_kube_unreachable(): the API port refuses connections after login; the Azure side is
    reported in full, the cluster side is one MCA905, no traceback."""
    sim = sim_factory.fresh(scenario)
    try:
        az = sim_factory.az_for(sim)
        sim.make_kube_unreachable()
        started = time.monotonic()
        run = diagnose_json(az)
        assert run.returncode == exit_status, run.summary()
        assert azure_side <= run.codes(), run.summary()
        assert "MCA905" in run.codes("warning")
        assert "MCA906" not in run.codes()
        assert not run.codes() & {"MCA801", "MCA802", "MCA813"}
        assert "MCA905" in run.result["summary"]["notChecked"]
        assert time.monotonic() - started < 30
    finally:
        sim.stop()


def test_kube_unreachable_scenario_reports_the_azure_side(sim_factory):
    az = sim_factory.az_for(sim_factory.shared("kube-unreachable"))
    run = diagnose_json(az)
    assert run.returncode == EXIT_INCOMPLETE, run.summary()
    assert run.problems() == {"MCA905"}
    assert "connect" in run.find("MCA905")["message"].lower()
    assert run.result["certificates"], "the Key Vault objects were still read and described"
