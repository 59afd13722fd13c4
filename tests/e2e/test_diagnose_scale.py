"""diagnose's requests do not depend on the size of the cluster.

The same cluster (the article's issue 1) at 3 nodes, 20 namespaces, 50 events and 20
sidecar pods, and at 1,000 nodes, 5,000 namespaces, 20,000 events and 2,000 sidecar pods:
the simulator's request log must show
the same requests, and the same findings. Speed is measured by bench/diagnose_speed.py
--scale, never asserted here.
"""

import json
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "bench"))

from diagnose_speed import scale_scenario  # noqa: E402  pylint: disable=wrong-import-position,import-error
from tests.e2e.test_diagnose_scenarios import CLUSTER, diagnose  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.e2e
# nodes, namespaces, events, injected (sidecar) pods
SIZES = {"small": (3, 20, 50, 20), "large": (1000, 5000, 20000, 2000)}
# Parts of a request that name generated objects (pod suffixes, job times) or each
# simulator's own ports: not a difference in what was read.
_GENERATED = re.compile(r"(aks-secrets-store-provider-azure|istio-cert-validator-cronjob-asm-1-21)-[0-9a-z-]+")
_PORT = re.compile(r":[0-9]{2,5}\b")


def _shape(entry):
    query = {key: values for key, values in (entry.get("query") or {}).items() if key != "api-version"}
    text = "{} {} {} {}".format(entry["service"], entry["method"], entry["path"], json.dumps(query, sort_keys=True))
    return _PORT.sub(":PORT", _GENERATED.sub(r"\1-*", text))


def _run(sim_factory, tmp_path, size):
    nodes, namespaces, events, sidecars = SIZES[size]
    with sim_factory.fresh(scale_scenario(str(tmp_path), nodes, namespaces, events, sidecars=sidecars)) as sim:
        az = sim.az()
        sim.log.clear()
        proc = diagnose(az, "-o", "json")
        requests = sorted(_shape(entry) for entry in sim.requests())
    result = json.loads(proc.stdout)
    return proc.returncode, sorted(item["code"] for item in result["findings"]), requests


def test_requests_are_the_same_at_3_and_at_1000_nodes(sim_factory, tmp_path):
    with ThreadPoolExecutor(max_workers=2) as pool:
        small, large = pool.map(lambda size: _run(sim_factory, tmp_path, size), SIZES)
    assert small[2] == large[2], "requests differ:\n" + "\n".join(
        sorted(set(small[2]) ^ set(large[2])))
    assert len(small[2]) <= 28  # 25 before the CA-path reads (mount statuses, webhooks, sidecars)
    assert sum("labelSelector" in line and "tlsMode" in line for line in small[2]) == 1  # one sidecar list
    assert small[:2] == large[:2]  # same exit status, same findings
    provider_logs = [line for line in small[2] if "/kube-system/pods/" in line and "/log" in line]
    assert len(provider_logs) == 1  # the node of istiod's pods only


def _hold_until(condition, seconds=10):
    """A simulator hook (sim.before_next) that holds its request until ``condition()`` is
    true or ``seconds`` have passed: an order of events the test can then read."""
    def hold(_request):
        deadline = time.monotonic() + seconds
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)
    return hold


def test_the_user_credential_is_asked_for_beside_the_cluster_read(sim_factory):
    """The in-cluster chain (credential, reads, provider pods, their logs) is diagnose's
    longest, so its head does not wait for the cluster read it does not need.

    The simulator holds the cluster GET until the listClusterUserCredential POST has been
    answered (at most 10 s): if diagnose sent the POST only after the cluster's answer,
    the POST would start after the GET ended. An order of events in the request log,
    not a timing."""
    with sim_factory.fresh("article-issue-1") as sim:
        az = sim.az()
        sim.log.clear()
        sim.before_next("GET", "/managedClusters/" + CLUSTER + "$", _hold_until(lambda: any(
            entry["path"].endswith("/listClusterUserCredential") for entry in sim.requests())))
        proc = diagnose(az, "-o", "none")
        entries = sim.requests()
    assert "Traceback" not in proc.stderr
    cluster_get = next(entry for entry in entries
                       if entry["method"] == "GET" and entry["path"].endswith("/managedClusters/" + CLUSTER))
    credential = next(entry for entry in entries if entry["path"].endswith("/listClusterUserCredential"))
    assert credential["start"] < cluster_get["time"]
    assert min(entry["start"] for entry in entries if entry["service"] == "kube") >= credential["time"]


def _codes(proc):
    return sorted(item["code"] for item in json.loads(proc.stdout)["findings"])


def test_the_vaults_challenge_is_asked_for_beside_its_read(sim_factory):
    """The vault's URI is its name under the cloud's Key Vault suffix, so its authentication
    challenge is asked for beside the vault's ARM read, and the SDK, handed it, does not
    ask again (sources/vaultchallenge.py).

    The simulator holds the vault's ARM GET until the vault has answered a request with
    401 (at most 10 s): if the challenge waited for the ARM read, it would start after it
    ended. The vault answers exactly one 401, and every secret read is then a 200."""
    with sim_factory.fresh("article-issue-1") as sim:
        az = sim.az()
        sim.log.clear()
        sim.before_next("GET", "/vaults/MyAzureKeyVault$", _hold_until(lambda: any(
            entry["status"] == 401 for entry in sim.requests(service="kv:MyAzureKeyVault"))))
        proc = diagnose(az, "-o", "json")
        entries = sim.requests()
    vault_get = next(entry for entry in entries if entry["service"] == "arm" and entry["path"].endswith(
        "/vaults/MyAzureKeyVault"))
    vault_answers = [entry for entry in entries if entry["service"] == "kv:MyAzureKeyVault"]
    assert [entry["status"] for entry in vault_answers].count(401) == 1
    assert next(entry for entry in vault_answers if entry["status"] == 401)["start"] < vault_get["time"]
    assert sorted(entry["status"] for entry in vault_answers) == [200] * 4 + [401]
    assert "MCA401" in _codes(proc)  # the article's issue 1 is still found


def test_a_vault_uri_other_than_its_name_gets_no_secret_read(sim_factory):
    """When ARM reports a vaultUri other than the name's (here the listener's loopback
    address), no secret read goes there (sources/hostpin.py, issue 22): the only request
    the listener sees is the unauthenticated challenge asked at the name's own address, and
    MCA530 says why the secrets were not read."""
    with sim_factory.fresh("article-issue-1") as sim:
        az = sim.az()
        sim.point_vault_at("MyAzureKeyVault", sim.servers["kv:MyAzureKeyVault"].url)
        sim.log.clear()
        proc = diagnose(az, "-o", "json")
        statuses = [entry["status"] for entry in sim.requests(service="kv:MyAzureKeyVault")]
    assert statuses == [401]
    assert "MCA530" in _codes(proc)
