"""Injected faults behave like the real failures, as the real az/SDK experiences them.

429 + Retry-After and 503 are retried by azure-core's retry policy, a reset
connection is retried as a transport error, a hang is bounded and ends when the
simulator stops, and an unreachable Kubernetes API refuses connections.  Also
checks the proxy trap itself: it records and refuses what is sent to it, serves a
vault's CONNECT in place and relays only to a bare listener.
"""

import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from sandbox.sim import proxytrap

RG = "myResourceGroup"
CLUSTER = "myAKSCluster"
CLUSTER_PATH = r"/managedClusters/myAKSCluster$"

pytestmark = pytest.mark.e2e


def aks_show(az):
    return az.run("aks", "show", "-g", RG, "-n", CLUSTER, "--query", "name", "-o", "tsv")


def cluster_gets(sim):
    return [e["status"] for e in sim.requests(service="arm", method="GET", path_regex=CLUSTER_PATH)]


@pytest.fixture
def quiet_sim(sim, az_plain):
    """The shared healthy sim with a clean log and no leftover faults."""
    sim.faults.clear()
    sim.log.clear()
    yield sim
    sim.faults.clear()


def test_429_with_retry_after_is_retried(quiet_sim, az_plain):
    quiet_sim.add_fault("throttle", service="arm", method="GET", path=CLUSTER_PATH, count=1, retry_after=1)
    started = time.monotonic()
    proc = aks_show(az_plain)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == CLUSTER
    assert cluster_gets(quiet_sim) == [429, 200]
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured


@pytest.mark.parametrize("status", [503, 500])
def test_server_error_is_retried(quiet_sim, az_plain, status):
    quiet_sim.add_fault("error", service="arm", method="GET", path=CLUSTER_PATH, count=1, status=status)
    proc = aks_show(az_plain)
    assert proc.returncode == 0, proc.stderr
    assert cluster_gets(quiet_sim) == [status, 200]


def test_connection_reset_is_retried(quiet_sim, az_plain):
    quiet_sim.add_fault("reset", service="arm", method="GET", path=CLUSTER_PATH, count=1)
    proc = aks_show(az_plain)
    assert proc.returncode == 0, proc.stderr
    assert cluster_gets(quiet_sim) == [0, 200]  # 0 = dropped without an answer


def test_persistent_throttling_fails_cleanly(quiet_sim, az_plain):
    quiet_sim.add_fault("throttle", service="arm", method="GET", path=CLUSTER_PATH, count=None, retry_after=0)
    proc = aks_show(az_plain)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert len(cluster_gets(quiet_sim)) >= 2


def test_key_vault_fault_applies_to_the_data_plane(quiet_sim, az_plain):
    quiet_sim.add_fault("throttle", service="kv:MyAzureKeyVault", method="GET", path="/secrets/test-root-cert",
                        count=1, retry_after=1)
    proc = az_plain.run("keyvault", "secret", "show", "--id",
                        quiet_sim.vault_url("MyAzureKeyVault") + "secrets/test-root-cert", "--query", "name")
    assert proc.returncode == 0, proc.stderr
    statuses = [e["status"] for e in quiet_sim.requests(service="kv:MyAzureKeyVault")]
    assert statuses[0] == 429 and statuses[-1] == 200


def _get(sim, path, timeout):
    context = ssl.create_default_context(cafile=sim.pki.ca_file)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
    return opener.open(sim.arm_url + path, timeout=timeout)


def test_latency_delays_the_answer(quiet_sim):
    quiet_sim.add_fault("latency", service="arm", path="^/_nothing$", count=1, ms=600)
    started = time.monotonic()
    with pytest.raises(urllib.error.HTTPError) as raised:  # no token: 401 after the delay
        _get(quiet_sim, "/_nothing", timeout=10)
    assert raised.value.code == 401
    assert time.monotonic() - started >= 0.6


def test_hang_is_bounded_by_stop(sim_factory):
    sim = sim_factory.fresh("healthy")
    sim.add_fault("hang", service="arm", path="^/subscriptions$", count=1, seconds=100)
    started = time.monotonic()
    with pytest.raises((socket.timeout, TimeoutError, urllib.error.URLError)):
        _get(sim, "/subscriptions", timeout=1)
    assert time.monotonic() - started < 5
    stop_started = time.monotonic()
    sim.stop()  # the hanging handler wakes up at once
    assert time.monotonic() - stop_started < 5


def test_faults_can_be_added_over_the_control_path(quiet_sim, az_plain):
    """Bench scripts in another process add faults with POST /_sim/faults."""
    request = urllib.request.Request(quiet_sim.arm_url + "/_sim/faults", method="POST", data=json.dumps(
        {"kind": "error", "status": 503, "service": "arm", "method": "GET", "path": CLUSTER_PATH, "count": 1}
    ).encode(), headers={"Content-Type": "application/json"})
    context = ssl.create_default_context(cafile=quiet_sim.pki.ca_file)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
    assert opener.open(request, timeout=10).status == 204
    assert aks_show(az_plain).returncode == 0
    assert cluster_gets(quiet_sim) == [503, 200]


@pytest.mark.scenario("kube-unreachable")
def test_unreachable_kubernetes_api_refuses_connections(sim):
    port = int(sim.kube_url.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on PATH")
def test_kube_made_unreachable_at_run_time(sim_factory):
    sim = sim_factory.fresh("healthy")
    kubeconfig = sim.kubeconfig()
    args = ["kubectl", "--kubeconfig", kubeconfig, "--request-timeout", "5s", "get", "ns", "-o", "name"]
    env = dict(os.environ, **sim.env)
    assert subprocess.run(args, capture_output=True, text=True, env=env, timeout=30).returncode == 0
    sim.make_kube_unreachable()
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=30)
    assert proc.returncode != 0 and "refused" in proc.stderr
    sim.stop()


def test_proxy_trap_records_and_refuses():
    """A private trap (not the session one, whose count must stay zero)."""
    trap = proxytrap.ProxyTrap()
    try:
        env = dict(os.environ, HTTPS_PROXY=trap.url, HTTP_PROXY=trap.url, NO_PROXY="127.0.0.1,localhost")
        script = "import urllib.request; urllib.request.urlopen('https://management.azure.com/', timeout=5)"
        proc = subprocess.run(["python3", "-c", script], capture_output=True, text=True, env=env, timeout=30)
        assert proc.returncode != 0
        assert [a["line"].rsplit(" ", 1)[0] for a in trap.attempts()] == ["CONNECT management.azure.com:443"]
    finally:
        trap.close()


def test_session_proxy_trap_saw_nothing_so_far(sim, az_plain):
    assert aks_show(az_plain).returncode == 0
    assert proxytrap.attempts() == []


def _vault_get(sim, vault, path="/secrets/test-ca-cert?api-version=7.4"):
    """(status, headers) of one unauthenticated GET to a vault by name, through the proxy trap."""
    context = ssl.create_default_context(cafile=sim.pki.ca_file)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"https": sim.proxy.url}),
                                         urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(sim.vault_url(vault).rstrip("/") + path, timeout=10) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def test_a_vault_connect_is_served_in_place_without_a_second_connection(quiet_sim):
    """The trap hands a vault's CONNECT to the vault's server on the client's own socket
    (sandbox/sim/proxytrap.py): no second TCP connection, no relay, the same challenge and log."""
    before = dict(quiet_sim.proxy.counters)
    status, headers = _vault_get(quiet_sim, "MyAzureKeyVault")
    assert status == 401 and headers["WWW-Authenticate"].startswith('Bearer authorization="https://127.0.0.1:')
    assert headers["Server"].startswith("meshca-sim/1.0") and headers["Content-Type"].startswith("application/json")
    assert quiet_sim.proxy.counters == {"in_place": before["in_place"] + 1, "relayed": before["relayed"]}
    assert [entry["status"] for entry in quiet_sim.requests(service="kv:MyAzureKeyVault")] == [401]


def test_a_broken_vault_route_is_still_relayed(quiet_sim):
    """A vault broken at the TLS layer is a bare listener (BrokenTlsListener), reached by relay."""
    before = dict(quiet_sim.proxy.counters)
    quiet_sim.break_vault("MyAzureKeyVault", "tls")
    try:
        with pytest.raises(urllib.error.URLError):
            _vault_get(quiet_sim, "MyAzureKeyVault")
    finally:
        quiet_sim.break_vault("MyAzureKeyVault", None)
    assert quiet_sim.proxy.counters == {"in_place": before["in_place"], "relayed": before["relayed"] + 1}
    assert _vault_get(quiet_sim, "MyAzureKeyVault")[0] == 401        # restored: served in place again
    assert [entry["status"] for entry in quiet_sim.requests(service="kv:MyAzureKeyVault")] == [401]
