"""Fleet checks (scan): what a whole scan found, beyond each cluster's own verdict.

Only scan's fleet snapshot has ``fleet``; a cluster's snapshot never does, so these
rules say nothing in diagnose.
"""

from azext_meshca.rules.registry import rule
from azext_meshca.rules.checks.common import make


@rule("MCA930")
def check_fleet_found_clusters(snapshot, context):
    """MCA930: the scan found no plug-in CA cluster at all. An empty table that passes
    would keep a nightly pipeline green after a typo in --subscriptions or a lost role."""
    fleet = snapshot.get("fleet") or {}
    if fleet.get("clustersFound") != 0:
        return []
    scope = fleet.get("scope") or "the subscriptions asked for"
    return [make(context, "MCA930", "scan", evidence=[f"scanned: {scope}"], scope=scope)]


CHECKS = [check_fleet_found_clusters]
