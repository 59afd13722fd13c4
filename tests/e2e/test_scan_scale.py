"""scan at 1,000 and at 5,000 clusters (sandbox/sim/fleet.py, 100 clusters and 20 vaults in
each of 10 and 50 subscriptions), through the real az, at Resource Graph's own page size.

What grows with the fleet is pages, never queries: the simulator's log of Resource Graph
requests holds the same queries, word for word, at both sizes; only the clusters' later
pages ($skip) differ, and the total stays within ceil(clusters / 1,000) + 8 (#25). The role
assignments (5,000 at the large size) come grouped by subscription in one page at both sizes,
and so do the vaults (1,000 at the large size).
"""

import collections
import json
import math
import threading

import pytest

pytestmark = pytest.mark.e2e

SIZES = {1000: 10, 5000: 50}     # clusters: subscriptions of 100 clusters and 20 vaults


@pytest.fixture(scope="module")
def runs(sim_factory, tmp_path_factory):
    """(scans' answer, vault_reads' answer): every simulated fleet is started once."""
    directory = tmp_path_factory.mktemp("fleets")
    found, reads = {}, None
    for clusters, subscriptions in SIZES.items():
        path = directory / f"fleet-{clusters}.yaml"
        path.write_text(f"fleet:\n  subscriptions: {subscriptions}\n  clustersPerSubscription: 100\n"
                        "  vaultsPerSubscription: 20\n", encoding="utf-8")
        threads = threading.active_count()
        sim = sim_factory.fresh(str(path))
        threads = threading.active_count() - threads
        try:
            az = sim_factory.az_for(sim)
            graph = sim.servers["arm"].service.resource_graph
            graph.queries.clear()
            proc = az.run("aks", "mesh", "ca", "scan", "-o", "json", timeout=600)
            found[clusters] = (proc, json.loads(proc.stdout or "null"), list(graph.queries), threads)
            if clusters == max(SIZES):
                sim.log.clear()
                proc = az.run("aks", "mesh", "ca", "scan", "--read-secrets", "-o", "none", timeout=600)
                reads = (proc, [entry for entry in sim.requests() if entry["service"].startswith("kv:")],
                         len(sim.world.vaults))
        finally:
            sim.stop()
    return found, reads


@pytest.fixture(scope="module")
def scans(runs):
    """{clusters: (az process, result, Resource Graph queries as the simulator logged them,
    threads the simulator's start added)}."""
    return runs[0]


@pytest.fixture(scope="module")
def vault_reads(runs):
    """(az process, the Key Vault requests the simulator logged, vaults in the fleet) of scan
    --read-secrets at the larger size."""
    return runs[1]


def test_every_cluster_is_judged_at_both_sizes(scans):
    for clusters, (proc, result, _, _) in scans.items():
        assert "Traceback" not in proc.stderr
        assert len(result["clusters"]) == clusters, proc.stderr[-2000:]
        assert [item["code"] for item in result["findings"]] == ["MCA908"]   # once, not per row


def test_resource_graph_queries_do_not_grow_with_the_fleet_only_their_pages(scans):
    first_pages = {clusters: collections.Counter(text for text, _, status, continued in queries if not continued)
                   for clusters, (_, _, queries, _) in scans.items()}
    assert first_pages[1000] == first_pages[5000]
    assert sum(first_pages[5000].values()) <= 6
    for clusters, (_, result, queries, _) in scans.items():
        assert all(status == 200 for _, _, status, _ in queries)
        assert len(queries) <= math.ceil(clusters / 1000) + 8, [text[:40] for text, *_ in queries]
        assert result["summary"]["resourceGraphPages"] == len(queries)
    pages = {clusters: len(queries) for clusters, (_, _, queries, _) in scans.items()}
    assert pages[5000] > pages[1000]      # the clusters come in more pages


def test_only_the_clusters_page_role_assignments_and_vaults_do_not(scans):
    from azext_meshca.sources import resourcegraph as graph
    for clusters, (_, _, queries, _) in scans.items():
        later = collections.Counter(text for text, _, _, continued in queries if continued)
        assert set(later) <= {graph.CLUSTERS}, clusters
        assert later[graph.CLUSTERS] == math.ceil(clusters / 1000) - 1
        roles = [continued for text, _, _, continued in queries if text.startswith("authorizationresources")
                 and "roleassignments" in text]
        assert roles == [False], clusters          # one POST for every assignment of the fleet


def test_a_thousand_vaults_start_no_thread_each(scans):
    """The simulator's vaults are served through its proxy trap, in place, and its listeners
    by one acceptor (sandbox/sim/server.py): its start adds a few threads at 200 vaults and
    at 1,000 alike, not one per vault polling for connections."""
    added = {clusters: threads for clusters, (_, _, _, threads) in scans.items()}
    assert max(added.values()) < 20, added


def _most_at_once(spans):
    """The largest number of (start, end) spans open at one moment."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])   # an end before a start
    open_now = most = 0
    for _, step in edges:
        open_now += step
        most = max(most, open_now)
    return most


def test_a_thousand_vaults_are_read_no_more_than_vault_readers_at_once(vault_reads):
    """Each vault's span on the simulator (its first request's arrival to its last answer) lies
    within the reader's hold on it, so no more spans overlap than the reader has vaults in
    flight: VAULT_READERS (sources/fleet.py), well under the fleet's vaults, and more than one."""
    from azext_meshca.sources.fleet import VAULT_READERS
    proc, requests, vaults = vault_reads
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    spans = {}
    for entry in requests:
        arrived = entry["start"] or entry["time"]
        start, end = spans.get(entry["service"], (arrived, entry["time"]))
        spans[entry["service"]] = (min(start, arrived), max(end, entry["time"]))
    assert len(spans) > 2 * VAULT_READERS and len(spans) <= vaults, (len(spans), vaults)
    most = _most_at_once(spans.values())
    assert 1 < most <= VAULT_READERS, most
