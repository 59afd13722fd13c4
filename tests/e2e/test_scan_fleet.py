"""scan over the generated fleet (sandbox/sim/scenarios/fleet.yaml), through the real az.

200 plug-in CA clusters in 5 subscriptions over 40 vaults, every Azure-side failure
mixed in, one more subscription the operator is listed in but cannot read, and
Resource Graph throttling the first queries that touch fleet-5.

The comparison with diagnose runs ``az aks mesh ca diagnose --skip-cluster`` on every one
of the 200 clusters: the real azure-cli with meshca installed from its wheel, over HTTPS
to the same simulator, invoked in-process (``get_default_cli().invoke``) by two worker
processes, one CLI object each (as az interactive does). That is the code path of the ``az``
executable minus 200 interpreter start-ups (1.7 s each, which would not fit the CI budget
on 2 cores).
"""

import collections
import json
import subprocess
import sys

import pytest

from sandbox.sim import fleet

pytestmark = pytest.mark.e2e

EXIT_PROBLEMS = 4
THROTTLED_SUB = fleet.subscription_id(5)
FORBIDDEN_SUB = fleet.subscription_id(6)
READABLE_SUBS = [fleet.subscription_id(index) for index in range(1, 6)]
RESOURCE_GRAPH = r"^/providers/Microsoft\.ResourceGraph/resources"

_DIAGNOSE_WORKER = r"""
import io, json, sys
from azure.cli.core import get_default_cli
results = []
cli = get_default_cli()
for subscription, group, name in json.loads(sys.stdin.read()):
    out = io.StringIO()
    try:
        code = cli.invoke(["aks", "mesh", "ca", "diagnose", "-g", group, "-n", name,
                                         "--skip-cluster", "--subscription", subscription, "-o", "json"],
                                        out_file=out)
    except SystemExit as exit_:
        code = exit_.code
    results.append({"target": [subscription, group, name], "exit": code, "result": json.loads(out.getvalue())})
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def fleet_sim(sim_factory):
    sim = sim_factory.fresh("fleet")
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def fleet_az(sim_factory, fleet_sim):
    return sim_factory.az_for(fleet_sim)


@pytest.fixture(scope="module")
def scanned(fleet_sim, fleet_az):
    """One scan --read-secrets, with the requests it made."""
    fleet_sim.log.clear()
    graph = fleet_sim.servers["arm"].service.resource_graph
    graph.queries.clear()
    proc = fleet_az.run("aks", "mesh", "ca", "scan", "--read-secrets", "-o", "json")
    return proc, json.loads(proc.stdout or "null"), fleet_sim.requests(), list(graph.queries)


def _codes(findings):
    return [item["code"] for item in findings]


def test_every_cluster_is_scanned_and_the_unreadable_subscription_is_reported(scanned):
    proc, result, _, _ = scanned
    assert proc.returncode == EXIT_PROBLEMS, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(result["clusters"]) == 200
    assert {row["subscriptionId"] for row in result["clusters"]} == set(READABLE_SUBS)
    # the scan's own findings: the subscription it could not read, and, once for the fleet, that
    # scan reads no cluster's API server (MCA908, not on each of the 200 rows)
    assert [(item["code"], item.get("subscriptionId")) for item in result["findings"]] == [
        ("MCA910", FORBIDDEN_SUB), ("MCA908", None)]
    assert not [row for row in result["clusters"] if "MCA908" in _codes(row["findings"])]
    statuses = collections.Counter(row["status"] for row in result["clusters"])
    assert statuses["failed"] and statuses["passed"] and statuses["warnings"]
    assert all(row["expiresInDays"] is not None for row in result["clusters"]
               if row["status"] == "passed")


def test_requests_are_a_constant_number_of_pages_and_one_read_per_vault_object(scanned, fleet_sim):
    _, result, requests, queries = scanned
    answered = [query for query in queries if query[2] == 200]
    # subscriptions, clusters (2 pages of 100), the vaults joined to them, the role assignments
    # joined to their identities (2 pages), role definitions: the same five queries whatever
    # the number of clusters (tests/e2e/test_scan_scale.py); plus the two 429s.
    assert len(answered) <= 8, [query[0][:60] for query in answered]
    assert [query[2] for query in queries].count(429) == 2
    assert result["summary"]["resourceGraphPages"] == len(queries)
    arm_reads = [entry["path"] for entry in requests if entry["service"] == "arm"
                 and entry["method"] == "GET" and entry["path"].lower() != "/subscriptions"]
    assert arm_reads == []       # no per-cluster (or any) ARM GET
    secret_reads = collections.Counter(
        (entry["service"], entry["path"].split("/")[2]) for entry in requests
        if entry["service"].startswith("kv:") and entry["status"] != 401)
    assert secret_reads and set(secret_reads.values()) == {1}, secret_reads.most_common(3)
    # and one challenge (the request without a token) per vault read: #25's "+ 1 challenge per vault"
    challenges = collections.Counter(entry["service"] for entry in requests
                                     if entry["service"].startswith("kv:") and entry["principal"] is None)
    refused = {"kv:" + name for name in _refusing_vaults(fleet_sim)}
    assert set(challenges) == {service for service, _ in secret_reads} | refused
    assert set(challenges.values()) == {1}, challenges.most_common(3)
    wanted = {}
    refusing = set(_refusing_vaults(fleet_sim))
    for cluster in fleet_sim.world.clusters:
        plugin = cluster["properties"]["serviceMeshProfile"]["istio"]["certificateAuthority"]["plugin"]
        vault = plugin["keyVaultId"].rsplit("/", 1)[-1]
        if cluster["subscription"] != FORBIDDEN_SUB and fleet_sim.world.find_vault(vault) and vault not in refusing:
            for field in ("certObjectName", "keyObjectName", "rootCertObjectName", "certChainObjectName"):
                if plugin.get(field):
                    wanted.setdefault("kv:" + vault, set()).add(plugin[field])
    # a vault whose network refuses the operator (firewall, public access off) is asked its
    # first object only: the refusal holds for every object (sources/fleet.py refused_vault_wide)
    closed = {"kv:" + name for name in _network_refusing_vaults(fleet_sim)}
    assert closed and closed <= set(wanted)
    for service in closed:
        wanted[service] = {min(wanted[service])}
    assert set(secret_reads) == {(service, name) for service, names in wanted.items() for name in names}


def _refusing_vaults(sim):
    """The readable subscriptions' vaults of another tenant: they refuse the operator's token."""
    return sorted(vault["name"] for vault in sim.world.vaults.values()
                  if vault["properties"]["tenantId"] == fleet.OTHER_TENANT and FORBIDDEN_SUB not in vault["id"])


def _network_refusing_vaults(sim):
    """The readable subscriptions' vaults whose firewall or closed public access refuses the
    operator's address: the simulator's own judgement (sandbox/sim/scenario.py _network_denial,
    which knows its caller is 127.0.0.1), not a copy of it."""
    denial = sim.world._network_denial  # pylint: disable=protected-access  # the one judgement, not a copy
    return sorted(vault["name"] for vault in sim.world.vaults.values()
                  if FORBIDDEN_SUB not in vault["id"] and denial(vault["properties"], "operator", vault["name"]))


def test_a_vault_refusing_the_token_gets_no_request_after_the_refusal(scanned, fleet_sim):
    """One challenge, one request with the token, refused (401 AKV10032); then nothing:
    not the SDK's second try, not the vault's other objects."""
    _, result, requests, _ = scanned
    refusing = _refusing_vaults(fleet_sim)
    assert len(refusing) == len(READABLE_SUBS)
    for name in refusing:
        seen = [(entry["principal"] is not None, entry["status"]) for entry in requests
                if entry["service"] == "kv:" + name]
        assert seen == [(False, 401), (True, 401)], (name, seen)
    # every cluster of such a vault still says, for each object, why it could not be read
    rows = [row for row in result["clusters"] if row["vault"] in refusing]
    assert rows and all(row["status"] == "failed" for row in rows)
    for row in rows:
        unread = [item for item in row["findings"] if "AKV10032" in item["message"]]
        assert unread, [item["code"] for item in row["findings"]]


def test_one_key_vault_token_serves_every_subscription_of_the_login(scanned):
    """The vaults of five subscriptions, one account: at most one Key Vault token request per
    tenant the vaults' challenges name (the operator's, and the other tenant's vaults refuse
    it; az's managed-identity credential may answer the second from its own cache), not one
    per subscription (_client_factory.shared_login keys its credential by account)."""
    _, _, requests, _ = scanned
    resources = [entry["query"].get("resource", [""])[0] for entry in requests
                 if entry["service"] == "msi" and entry["path"].rstrip("/") == "/msi/token"]
    vault_tokens = [resource for resource in resources if "vault" in resource]
    assert 1 <= len(vault_tokens) <= 2, resources


def _diagnose_all(az, targets, workers=2):
    """diagnose --skip-cluster on every target: ``workers`` processes, in-process az in each."""
    shares = [targets[index::workers] for index in range(workers)]
    procs = [subprocess.Popen([sys.executable, "-c", _DIAGNOSE_WORKER], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=az.env, cwd="/")
             for _ in shares]
    results = []
    for proc, share in zip(procs, shares):
        out, err = proc.communicate(json.dumps(share), timeout=600)
        assert proc.returncode == 0, err[-3000:]
        assert "Traceback" not in err
        results.extend(json.loads(out.strip().splitlines()[-1]))
    return results


def test_each_cluster_gets_the_verdict_and_codes_diagnose_gives_it(scanned, fleet_az):
    _, result, _, _ = scanned
    rows = {(row["subscriptionId"], row["resourceGroup"].lower(), row["cluster"]): row for row in result["clusters"]}
    targets = [[sub, group, name] for sub, group, name in sorted(rows)]
    diagnosed = _diagnose_all(fleet_az, targets)
    assert len(diagnosed) == 200
    mismatches = []
    for item in diagnosed:
        row = rows[tuple(item["target"])]
        # diagnose --skip-cluster's MCA908 is the scan's own finding, once (test above)
        theirs = (item["result"]["status"], [code for code in _codes(item["result"]["findings"]) if code != "MCA908"])
        ours = (row["status"], _codes(row["findings"]))
        if theirs != ours:
            mismatches.append((item["target"][2], ours, theirs))
    assert mismatches == []
    # and the fleet really mixes the failures diagnose knows (every Azure-side area)
    areas = {finding["area"] for row in result["clusters"] for finding in row["findings"]}
    assert {"config", "addon", "access", "network", "rotation", "secret", "certificate"} <= areas


def test_a_subscription_throttled_past_the_deadline_gives_partial_results(fleet_sim, fleet_az):
    throttled = fleet_sim.world.resource_graph["throttled"]
    saved = dict(throttled[THROTTLED_SUB])
    throttled[THROTTLED_SUB].update(times=10 ** 6, retryAfter=600)
    try:
        proc = fleet_az.run("aks", "mesh", "ca", "scan", "-o", "json", timeout=120)
    finally:
        throttled[THROTTLED_SUB] = saved
    assert proc.returncode == EXIT_PROBLEMS, proc.stderr
    assert "Traceback" not in proc.stderr
    result = json.loads(proc.stdout)
    assert {row["subscriptionId"] for row in result["clusters"]} == set(READABLE_SUBS) - {THROTTLED_SUB}
    assert len(result["clusters"]) == 160
    gaps = {(item["code"], item.get("subscriptionId")) for item in result["findings"]}
    assert gaps == {("MCA910", FORBIDDEN_SUB), ("MCA911", THROTTLED_SUB), ("MCA908", None)}
    assert "429" in next(item["message"] for item in result["findings"] if item["code"] == "MCA911")
    assert "expiresInDays" not in result["clusters"][0]


def test_table_is_sorted_by_status_then_expiry_and_query_works(fleet_az):
    proc = fleet_az.run("aks", "mesh", "ca", "scan", "--subscriptions", fleet.subscription_id(2),
                        "--read-secrets", "-o", "json")
    rows = json.loads(proc.stdout)["clusters"]
    order = {"failed": 0, "incomplete": 1, "warnings": 2, "passed": 3}
    keys = [(order[row["status"]], row["expiresInDays"] if row["expiresInDays"] is not None else 10 ** 9)
            for row in rows]
    assert keys == sorted(keys) and len(rows) == 40
    table = fleet_az.run("aks", "mesh", "ca", "scan", "--subscriptions", fleet.subscription_id(2),
                         "--read-secrets", "-o", "table")
    lines = table.stdout.splitlines()
    assert lines[0].split()[:8] == ["Subscription", "ResourceGroup", "Cluster", "Revision", "Vault",
                                    "Permissions", "Status", "RootCause"]
    assert [line.split()[2] for line in lines[2:]] == [row["cluster"] for row in rows]
    queried = fleet_az.run("aks", "mesh", "ca", "scan", "--subscription", fleet.subscription_id(2),  # az's own
                           "--query", "clusters[?status=='passed'].cluster", "-o", "tsv")
    assert queried.stdout.split() and set(queried.stdout.split()) <= {row["cluster"] for row in rows}
    warned = fleet_az.run("aks", "mesh", "ca", "scan", "--subscriptions", fleet.subscription_id(1),
                          "--failure-threshold", "warning", "-o", "none")
    assert warned.returncode == EXIT_PROBLEMS


def test_a_management_group_scans_the_subscriptions_under_it(fleet_az):
    proc = fleet_az.run("aks", "mesh", "ca", "scan", "--management-groups", "fleet-mg", "-o", "json")
    result = json.loads(proc.stdout)
    assert proc.returncode == EXIT_PROBLEMS, proc.stderr
    assert len(result["clusters"]) == 200 and _codes(result["findings"]) == ["MCA908"]
