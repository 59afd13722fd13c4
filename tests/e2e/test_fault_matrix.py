"""The fault matrix: every service diagnose talks to, crossed with every way it can fail.

Services: ARM, Key Vault, the Kubernetes API and the token endpoint (managed identity).
Faults: 429 with Retry-After, 503, a reset connection, a hang longer than the run's
--timeout (lasting, so retries cannot help), a TLS handshake failure, and a name that
does not resolve; plus a transient cell (2 failures in a row) per service.

What every cell asserts, through the real az against the simulator (article issue 1,
so the verdict has findings from every area to lose):

* partial cells: exit 4 or 5, the collection finding that names the service and the
  fault, and the findings of the areas the other services feed still present;
* where nothing else can be read (ARM for the cluster itself, or every token): one error
  line naming the failing service, exit 1;
* transient cells: exactly the fault-free findings and exit status.

Cost: one simulator and one az per service; the four services' cells run concurrently
(the hang cells mostly wait), so the module takes about as long as its slowest column.
The subprocess timeout (az.run's) is the only clock: no timed assertions.
"""

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from sandbox.azcli import AzCli
from tests.e2e.test_diagnose_scenarios import EXIT_PROBLEMS, Diagnosis, comparable, diagnose

pytestmark = pytest.mark.e2e

SCENARIO = "article-issue-1"
HANG_TIMEOUT = 20        # --timeout of the hang cells: short, yet far above a normal run's reads
HANG_SECONDS = 90        # the simulated hang outlasts it by far
CLUSTER_PATH = r"/managedClusters/myAKSCluster$"
VAULT_PATH = r"/providers/Microsoft\.KeyVault/vaults/MyAzureKeyVault$"
VAULT = "MyAzureKeyVault"
KV_SERVICE = "kv:" + VAULT
SECRETS_PATH = r"^/secrets/"
CRONJOB_PATH = r"^/apis/batch/v1/namespaces/aks-istio-system/cronjobs/"
EVENTS_PATH = r"^/api/v1/namespaces/aks-istio-system/events$"
KV_TOKEN = r"resource=https%3A%2F%2Fvault\.loop\.test"  # the vaults' challenge resource (sim/keyvault.py)

FAULTS = ("429", "503", "reset", "hang", "tls", "dns")
SERVICES = ("arm", "keyvault", "kube", "token")

# What the cut-off service feeds, and what the others must still show.
KUBE_SIDE = {"MCA801", "MCA802"}       # the failed mount, from events and the provider log
ACCESS_SIDE = {"MCA401"}               # the missing access policy, from ARM's vault read


def request_fault(kind):
    """Fault fields for the per-request kinds (sandbox/sim/server.py Fault)."""
    return {"429": {"kind": "throttle", "retry_after": 1}, "503": {"kind": "error", "status": 503},
            "reset": {"kind": "reset"}, "hang": {"kind": "hang", "seconds": HANG_SECONDS}}[kind]


class Cell:
    """One run: how to break the service, what to expect."""

    def __init__(self, service, fault):
        self.service, self.fault = service, fault
        self.run = None
        self.error = None


# --------------------------------------------------------------------------- how each service breaks

def _arm_az_at(sim, az, url, tmpdir):
    """A copy of ``az``'s logged-in config whose cloud sends ARM requests to ``url`` (tokens
    are still asked for the simulator's ARM audience, so only ARM itself fails)."""
    config_dir = os.path.join(tmpdir, "arm-broken-%d" % len(os.listdir(tmpdir)))
    shutil.copytree(az.config_dir, config_dir)
    path = os.path.join(config_dir, "clouds.config")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    text = text.replace("endpoint_resource_manager = " + sim.arm_url + "/", "endpoint_resource_manager = " + url + "/")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return AzCli(config_dir, az.extension_dir, sim.env)


def run_cell(cell, sim, az, tmpdir):
    """Break one service as ``cell`` says, run diagnose, restore the service."""
    sim.faults.clear()
    args, env, runner = [], None, az
    if cell.fault == "hang":
        args = ["--timeout", str(HANG_TIMEOUT)]
    connection_fault = cell.fault in ("tls", "dns")
    count = 2 if cell.fault == "transient" else None
    fault = request_fault("503" if cell.fault == "transient" else cell.fault) if not connection_fault else None
    try:
        if cell.service == "arm":
            if connection_fault:
                runner = _arm_az_at(sim, az, sim.broken_url(cell.fault, "management"), tmpdir)
            else:
                path = CLUSTER_PATH if count else VAULT_PATH
                sim.add_fault(service="arm", method="GET", path=path, count=count, **fault)
        elif cell.service == "keyvault":
            if connection_fault:
                # At the vault's own address: meshca sends nothing to a vaultUri elsewhere.
                sim.break_vault(VAULT, cell.fault)
            else:
                sim.add_fault(service=KV_SERVICE, method="GET", path=SECRETS_PATH, count=count, **fault)
        elif cell.service == "kube":
            if connection_fault:
                sim.point_kube_at(sim.broken_url(cell.fault, "kube"))
            else:
                sim.add_fault(service="kube", method="GET", path=EVENTS_PATH if count else CRONJOB_PATH,
                              count=count, **fault)
        elif cell.service == "token":
            if connection_fault:
                env = {"IDENTITY_ENDPOINT": sim.broken_url(cell.fault, "identity") + "/msi/token"}
            else:
                sim.add_fault(service="msi", method="GET", path="^/msi/token", query="" if count else KV_TOKEN,
                              count=count, **fault)
        proc = diagnose(runner, *args, "-o", "json", env=env, timeout=HANG_TIMEOUT * 6)
        cell.run = Diagnosis(proc)
    except Exception as error:  # pylint: disable=broad-except  # reported by the cell's test
        cell.error = "{}: {}".format(type(error).__name__, error)
    finally:
        sim.faults.clear()
        sim.point_kube_at(None)
        sim.point_vault_at(VAULT, None)
        sim.break_vault(VAULT, None)


@pytest.fixture(scope="module")
def matrix(sim_factory, tmp_path_factory):
    """{(service, fault): Cell} and the fault-free baseline, each service's column on its own
    simulator, the four columns concurrently."""
    tmpdir = str(tmp_path_factory.mktemp("fault-matrix"))
    sims = {service: sim_factory.fresh(SCENARIO) for service in SERVICES}
    azs = {service: sim_factory.az_for(sim) for service, sim in sims.items()}
    baseline = Diagnosis(diagnose(azs[SERVICES[0]], "-o", "json"))
    assert baseline.returncode == EXIT_PROBLEMS, baseline.summary()
    cells = {(service, fault): Cell(service, fault) for service in SERVICES for fault in FAULTS + ("transient",)}

    def column(service):
        for fault in FAULTS + ("transient",):
            run_cell(cells[(service, fault)], sims[service], azs[service], tmpdir)

    with ThreadPoolExecutor(max_workers=len(SERVICES)) as pool:
        list(pool.map(column, SERVICES))
    yield cells, baseline
    for sim in sims.values():
        sim.stop()


def finished(matrix, service, fault):
    cells, _ = matrix
    cell = cells[(service, fault)]
    assert cell.error is None, cell.error
    assert "Traceback" not in cell.run.stderr, cell.run.stderr
    return cell.run


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip() and "is in preview" not in line]


def assert_partial(run, gap_code, gap_words, still_present):
    """Exit 4/5, the gap named by its collection finding, the other areas still judged."""
    assert run.result is not None, run.stderr[-2000:]
    assert run.returncode in (4, 5), run.summary()
    gaps = [item for item in run.findings if item["code"] == gap_code]
    assert gaps, "no {} in {}".format(gap_code, run.summary())
    text = " ".join(item["message"] for item in gaps)
    assert any(word.lower() in text.lower() for word in gap_words), (gap_words, text)
    assert gap_code in run.result["summary"]["notChecked"]
    assert still_present <= run.codes(), (still_present, run.summary())


def assert_one_line_error(run, *words):
    assert run.returncode == 1, (run.returncode, run.stderr[-2000:])
    lines = error_lines(run.stderr)
    assert len(lines) == 1 and lines[0].startswith("ERROR:"), run.stderr[-2000:]
    for word in words:
        assert word.lower() in lines[0].lower(), (word, lines[0])
    assert run.stdout.strip() == ""


# What each partial cell's gap finding must say, by fault.
FAULT_WORDS = {"429": ["429"], "503": ["503"], "reset": ["connect", "reset", "response", "aborted"],
               "hang": ["--timeout"], "tls": ["ssl", "tls", "wrong version", "handshake"],
               "dns": ["resolve", "name", "invalid", "nodename"]}


@pytest.mark.parametrize("fault", FAULTS)
def test_arm(matrix, fault):
    run = finished(matrix, "arm", fault)
    if fault in ("tls", "dns"):
        # Every ARM read fails, the cluster's first: nothing else can be judged.
        assert_one_line_error(run, "Could not read cluster myResourceGroup/myAKSCluster from ARM")
        return
    # The vault's ARM read fails: access model, network, tenant and the secrets' URI are unknown.
    assert_partial(run, "MCA902", FAULT_WORDS[fault], KUBE_SIDE)
    assert "MCA401" not in run.codes(), "an access verdict without the vault's configuration"


@pytest.mark.parametrize("fault", FAULTS)
def test_key_vault(matrix, fault):
    run = finished(matrix, "keyvault", fault)
    assert_partial(run, "MCA904", FAULT_WORDS[fault], KUBE_SIDE | ACCESS_SIDE)


@pytest.mark.parametrize("fault", FAULTS)
def test_kubernetes_api(matrix, fault):
    run = finished(matrix, "kube", fault)
    if fault in ("tls", "dns"):
        assert_partial(run, "MCA905", FAULT_WORDS[fault], ACCESS_SIDE)
        assert not run.codes() & KUBE_SIDE
        return
    assert_partial(run, "MCA907", FAULT_WORDS[fault], KUBE_SIDE | ACCESS_SIDE)
    assert run.find("MCA907")["object"] == "cronjobs"


@pytest.mark.parametrize("fault", FAULTS)
def test_token_endpoint(matrix, fault):
    run = finished(matrix, "token", fault)
    if fault in ("tls", "dns"):
        # No token at all: said as a failed token request, not as a failed cluster read.
        assert_one_line_error(run, "Could not get a token", "token request for ARM failed")
        return
    # Only the Key Vault token fails: the secrets are unread, and said to be so by the token.
    assert_partial(run, "MCA904", ["token request for Key Vault"], KUBE_SIDE | ACCESS_SIDE)


@pytest.mark.parametrize("service", SERVICES)
def test_two_failures_in_a_row_give_the_fault_free_verdict(matrix, service):
    run = finished(matrix, service, "transient")
    _, baseline = matrix
    assert run.returncode == baseline.returncode, run.summary()
    assert comparable(run.findings) == comparable(baseline.findings)


def test_matrix_made_no_outbound_attempt(matrix):
    """The .invalid names and broken listeners stayed on loopback (the proxy trap saw nothing)."""
    from sandbox.sim import proxytrap
    assert proxytrap.attempts() == [], json.dumps(proxytrap.attempts())[:2000]
