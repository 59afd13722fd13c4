"""Two scans in a row, through the real az, inside one Resource Graph quota window.

Resource Graph allows a user 15 queries per window and says what is left in every
answer's ``x-ms-user-quota-remaining`` (sandbox/sim/resourcegraph.py). The fleet below
costs each scan 8 POSTs (subscriptions, four cluster pages of 50, vaults, role assignments,
custom roles), so the second scan finds fewer left than it needs and must wait for the
window to reset rather than be answered 429. The window is stretched to 20 s (the
simulator's ``quotaWindowSeconds``) so that both scans fall into one window however slowly
az starts on a loaded machine.
"""

import json

import pytest

pytestmark = pytest.mark.e2e

RESOURCE_GRAPH = r"^/providers/Microsoft\.ResourceGraph/resources"
QUOTA = 15
WINDOW_SECONDS = 20


@pytest.fixture(scope="module")
def two_scans(sim_factory, tmp_path_factory):
    """(first, second): each (az process, result, the Resource Graph requests it made)."""
    path = tmp_path_factory.mktemp("quota") / "fleet.yaml"
    path.write_text("fleet:\n  subscriptions: 5\n  clustersPerSubscription: 40\n  vaultsPerSubscription: 8\n"
                    f"resourceGraph:\n  maxPageSize: 50\n  quota: {QUOTA}\n  quotaWindowSeconds: {WINDOW_SECONDS}\n",
                    encoding="utf-8")
    sim = sim_factory.fresh(str(path))
    try:
        az = sim_factory.az_for(sim)
        scans, seen = [], 0
        for _ in range(2):
            proc = az.run("aks", "mesh", "ca", "scan", "-o", "json", timeout=300)
            requests = sim.requests(method="POST", path_regex=RESOURCE_GRAPH)
            scans.append((proc, json.loads(proc.stdout or "null"), requests[seen:]))
            seen = len(requests)
        return scans
    finally:
        sim.stop()


def test_back_to_back_scans_wait_for_the_quota_instead_of_being_throttled(two_scans):
    (_, first, first_posts), (proc, second, second_posts) = two_scans
    assert "Traceback" not in proc.stderr
    # The second scan began inside the first one's window and both together need more than the quota...
    assert second_posts[0]["time"] - first_posts[0]["time"] < WINDOW_SECONDS
    assert len(first_posts) + len(second_posts) > QUOTA
    # ...yet nothing was answered 429: the second waited for the reset, and asked exactly as much.
    assert [entry["status"] for entry in first_posts + second_posts] == [200] * (len(first_posts) + len(second_posts))
    assert len(second_posts) == len(first_posts) == first["summary"]["resourceGraphPages"]
    assert second["summary"] == first["summary"] and len(second["clusters"]) == len(first["clusters"]) == 200
