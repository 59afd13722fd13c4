"""scan's argument and report layer: subscriptions by name or ID, --suppress, a scan
that finds nothing, worst first. The reads are sources/fleet.py's, the judging verbs/scan.py's.

``az --subscription fleet-4`` works because azure-cli looks the name up in the
subscriptions ``az login`` cached (azure/cli/core/_profile.py ``Profile.get_subscription``:
the ID or the name, case-insensitively; an unknown or ambiguous name is an error). scan
does the same, with no Azure call: a name resolves from that cache, and a name that is
not there is an argument error, never MCA910 ("subscriptions you cannot read"), whose
remedy is a role assignment for a permission problem that does not exist. An ID passes
as it is: Resource Graph may show a subscription your login did not cache, and MCA910
says so when it does not.
"""

from azext_meshca.model.resource_ids import is_guid


def resolve_subscriptions(cli_ctx, values):
    """Subscription IDs for ``values`` (names or IDs), in the order given, without repeats."""
    from azure.cli.core._profile import Profile
    from azure.cli.core.azclierror import InvalidArgumentValueError
    from knack.util import CLIError
    from azext_meshca._validators import usage_error
    profile = Profile(cli_ctx=cli_ctx)
    resolved = []
    for value in values:
        text = str(value).strip()
        if is_guid(text):
            found = text.lower()
        else:
            try:
                found = profile.get_subscription(subscription=text)["id"].lower()
            except CLIError as error:
                usage_error(InvalidArgumentValueError(f"--subscriptions: {error}"))
        if found not in resolved:
            resolved.append(found)
    return resolved


def subscription_names(cli_ctx):
    """{lower subscription ID: name} from az login's cache (no Azure call)."""
    from azure.cli.core._profile import Profile
    try:
        cached = Profile(cli_ctx=cli_ctx).load_cached_subscriptions()
    except Exception:  # pylint: disable=broad-except  # a name is a nicety; the ID stays
        return {}
    return {str(item.get("id")).lower(): item.get("name") for item in cached if item.get("id")}


def _scope(subscriptions, management_groups, names):
    if management_groups:
        return "management group(s) " + ", ".join(management_groups)
    shown = [names.get(str(item).lower()) or str(item) for item in subscriptions or ()]
    return "subscription(s) " + ", ".join(shown) if shown else "the subscriptions asked for"


def _suppress_row(row, suppress):
    """One cluster's row with --suppress applied, judged again on what is left."""
    from azext_meshca.output.report import overall_status, split_suppressed
    from azext_meshca.verbs.scan import first_root_cause
    kept, gone = split_suppressed(row["findings"], suppress)
    if not gone:
        return []
    row["findings"] = kept
    row["status"] = overall_status(kept)
    row["rootCause"] = first_root_cause({"findings": kept})
    return [dict(item, cluster=row.get("cluster"), subscriptionId=row.get("subscriptionId")) for item in gone]


def finish_scan(cli_ctx, result, *, subscriptions=None, management_groups=None, warn_days=30, suppress=None):
    """The scan result as the user sees it: --suppress applied per cluster and to the
    scan's own findings, MCA930 when no cluster was found, subscription names beside
    their IDs, clusters worst first, and the status and counts judged on what is left."""
    from azext_meshca.verbs.diagnose import analyse
    from azext_meshca.output.report import split_suppressed
    from azext_meshca.verbs.scan import STATUS_ORDER, scan_status, sort_rows
    from azext_meshca.sources.fleet import fleet_snapshot
    names = subscription_names(cli_ctx)
    findings = list(result.get("findings") or [])
    if not result.get("clusters"):
        snapshot = fleet_snapshot(warn_days, clusters_found=0, scope=_scope(subscriptions, management_groups, names))
        findings += analyse(snapshot, warn_days, select=("MCA930",))["findings"]
    suppressed = []
    for row in result.get("clusters") or []:
        suppressed += _suppress_row(row, suppress) if suppress else []
    findings, gone = split_suppressed(findings, suppress)
    rows = sort_rows(result.get("clusters") or [])
    for item in rows + findings:
        name = names.get(str(item.get("subscriptionId") or "").lower())
        if name:
            item["subscriptionName"] = name
    summary = dict(result.get("summary") or {})
    summary.update({status: sum(1 for row in rows if row["status"] == status) for status in STATUS_ORDER})
    summary["suppressed"] = gone + suppressed
    return dict(result, status=scan_status(rows, findings), summary=summary, clusters=rows, findings=findings)
