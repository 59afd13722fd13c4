"""The fleet's own snapshot: what scan learnt about the fleet beyond each cluster.

scan judges each cluster's snapshot, and then the fleet's: the subscriptions it could not
scan (MCA910/MCA911, rules/checks/collection.py) and whether it found any plug-in CA
cluster at all (MCA930, rules/checks/fleet.py). Built here, in sources/, like every
snapshot the one runner judges (rules/runner.py); model/snapshot.py's schema names the slot.
"""

from azext_meshca.model.snapshot import new_snapshot


def fleet_snapshot(warn_days, *, gaps=(), clusters_found=None, scope=None):
    """``fleet``: ``subscriptionsNotScanned`` (scan's gaps), and, when scan found no cluster,
    ``clustersFound: 0`` with the ``scope`` it searched."""
    snapshot = new_snapshot({}, {"warnDays": warn_days})
    fleet = {"subscriptionsNotScanned": list(gaps)}
    if clusters_found is not None:
        fleet.update(clustersFound=clusters_found, scope=scope)
    snapshot["fleet"] = fleet
    return snapshot
