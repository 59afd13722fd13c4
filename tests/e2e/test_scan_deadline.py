"""scan's --timeout bounds the whole collection, through the real az (#25).

A vault that accepts the connection and never answers (the simulator's ``hang`` fault on its
secrets: sandbox/sim/server.py Fault) held a scan --read-secrets reader for four attempts of
READ_SECONDS per object (sources/deadline.py), minutes per vault, when scan had no run
deadline. With one, the reads it cuts are collection findings (MCA904, naming Key Vault and
the --timeout) on that vault's clusters only, and every other cluster's row is what a scan
without the fault gives. The subprocess timeout is the only clock: no timed assertions.
"""

import json

import pytest

pytestmark = pytest.mark.e2e

TIMEOUT = 15            # the scan's --timeout: far above this fleet's normal reads (about 2 s)
HANG_SECONDS = 90       # the vault's silence outlasts it by far


@pytest.fixture(scope="module")
def fleet_sim(sim_factory):
    sim = sim_factory.fresh("fleet")
    yield sim
    sim.stop()


def _read_vault(rows):
    """A vault whose clusters' objects were all read in the fault-free scan (no MCA904)."""
    for row in rows.values():
        if row["vault"] and not any(item["code"] == "MCA904" for item in row["findings"]):
            return row["vault"]
    raise AssertionError("no cluster of the fleet had its objects read")


def _scan(az):
    proc = az.run("aks", "mesh", "ca", "scan", "--read-secrets", "--timeout", str(TIMEOUT), "-o", "json",
                  timeout=TIMEOUT * 6)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.returncode in (4, 5), (proc.returncode, proc.stderr[-2000:])
    return json.loads(proc.stdout)


def _by_cluster(result):
    return {(row["subscriptionId"], row["resourceGroup"], row["cluster"]): row for row in result["clusters"]}


def test_a_silent_vault_is_cut_at_the_timeout_and_only_its_clusters_say_so(sim_factory, fleet_sim):
    az = sim_factory.az_for(fleet_sim)
    expected = _by_cluster(_scan(az))
    vault = _read_vault(expected)
    fleet_sim.add_fault("hang", service="kv:" + vault, method="GET", path=r"^/secrets/", count=None,
                        seconds=HANG_SECONDS)
    try:
        got = _by_cluster(_scan(az))
    finally:
        fleet_sim.faults.clear()
    assert set(got) == set(expected)
    cut = {key for key, row in got.items() if row["vault"] == vault}
    assert cut
    for key in cut:
        unread = [item for item in got[key]["findings"] if item["code"] == "MCA904"]
        assert unread and "--timeout of 15 s" in unread[0]["message"] and "Key Vault" in unread[0]["message"], \
            got[key]["findings"]
        assert got[key]["status"] in ("failed", "incomplete")
    for key in set(got) - cut:
        assert got[key] == expected[key], key
