"""scan: every plug-in CA cluster of a tenant, judged by diagnose's own rules.

Options, validation and run, like every verb: the reads and every snapshot are
sources/fleet.py's (one pass of Resource Graph queries; with ``--read-secrets`` each vault's
objects once; each cluster's snapshot of exactly the shape diagnose's collectors build, the
in-cluster side skipped). Here each snapshot is judged by ``diagnose.analyse`` (the one
runner, rules/runner.py, with the certificate memo shared across clusters): one registry of
rules, one verdict per cluster; then the rows, worst first, and the fleet's status.

What could not be read is never dropped: a subscription Resource Graph does not show
or would not answer is a scan-level collection finding; a vault or role list that
could not be read is the collection finding diagnose gives, on the clusters it concerns.
"""

import gc

from azext_meshca.model.resource_ids import parse_vault_id
from azext_meshca.model.snapshot import iso_utc, now_utc
from azext_meshca.rules.access_model import permission_model
from azext_meshca.rules.catalog import ERROR, WARNING
from azext_meshca.sources import fleet as fleet_source
from azext_meshca.sources import resourcegraph as graph

# Certificate judgements kept for sharing (_by_object_set): each holds one set's findings,
# certificate rows and parsed set, a few hundred KiB at most.
SHARED_SETS = 16
STATUS_ORDER = {"failed": 0, "incomplete": 1, "warnings": 2, "passed": 3}


def gap_findings(fleet, warn_days):
    """MCA910/MCA911, and MCA908 once when there are clusters: the collection rules,
    selected, on the fleet's own snapshot (sources/fleet.py)."""
    from azext_meshca.verbs.diagnose import analyse
    snapshot = fleet_source.fleet_snapshot(warn_days, gaps=fleet.gaps)
    select = ("MCA910", "MCA911", "MCA908") if fleet.clusters else ("MCA910", "MCA911")
    return analyse(snapshot, warn_days, select=select)["findings"]


# --------------------------------------------------------------------------- judging and shaping

def first_root_cause(result):
    """The code to show for a cluster: its first error nothing else explains, else its
    first warning (findings come cause-first from the checks)."""
    for severity in (ERROR, WARNING):
        for item in result["findings"]:
            if item["severity"] == severity and not item.get("explainedBy"):
                return item["code"]
    return None


def earliest_expiry(result):
    days = [cert.get("daysLeft") for cert in result.get("certificates") or () if cert.get("daysLeft") is not None]
    return min(days) if days else None


def cluster_row(snapshot, result, read_secrets):
    cluster = snapshot["cluster"]["data"]
    vault = (snapshot.get("vault") or {}).get("data") or {}
    plugin = cluster.get("plugin") or {}
    target = snapshot["target"]
    model = None
    if vault:
        model = permission_model(vault)
    row = {"subscriptionId": target["subscriptionId"], "resourceGroup": target["resourceGroup"],
           "cluster": target["cluster"], "revision": ",".join(cluster.get("revisions") or []) or None,
           "vault": vault.get("name") or (parse_vault_id(plugin.get("keyVaultId")) or {}).get("name"),
           "permissionModel": model,
           "status": result["status"], "rootCause": first_root_cause(result)}
    if read_secrets:
        row["expiresInDays"] = earliest_expiry(result)
    row["findings"] = result["findings"]
    return row


def sort_rows(rows):
    """Worst first; within a status, soonest expiry first."""
    def key(row):
        days = row.get("expiresInDays")
        return (STATUS_ORDER.get(row["status"], 9), days if days is not None else float("inf"),
                row["subscriptionId"] or "", row["resourceGroup"] or "", row["cluster"] or "")
    return sorted(rows, key=key)


def scan_status(rows, gaps):
    """The fleet's status: the worst cluster's, and incomplete when a part was not scanned."""
    from azext_meshca.output.report import overall_status
    statuses = {row["status"] for row in rows}
    for status in ("failed", "incomplete"):
        if status in statuses:
            return status
    if gaps and overall_status(gaps) == "incomplete":
        return "incomplete"
    return "warnings" if "warnings" in statuses else "passed"


def threshold_exit(result, threshold):
    """diagnose's exit status (report.exit_status) over every cluster's findings and the
    scan's own: 4 at or above ``threshold``, 5 when something could not be checked."""
    from azext_meshca.output.report import exit_status
    findings = [item for row in result["clusters"] for item in row["findings"]] + result["findings"]
    return exit_status({"status": result["status"], "findings": findings}, threshold or ERROR)


def _object_set(cluster):
    """(lower vault id, the plug-in's object names): what a cluster's secrets are read from."""
    plugin = cluster.get("plugin") or {}
    names = tuple(sorted((name, str(value)) for name, value in plugin.items()))
    return fleet_source.resource_key(plugin.get("keyVaultId")), names


def _by_object_set(fleet, shared, vault_objects):
    """fleet.clusters grouped by vault and object set (sort_rows orders the rows afterwards),
    so a vault's objects are dropped from ``vault_objects`` after its last cluster, and the
    certificate memo ``shared`` keeps at most SHARED_SETS sets (the oldest go first): memory
    stays flat in sets and vaults. The memo is keyed by the sets' contents
    (checks.ca_set_key), so a set copied into several vaults is judged once."""
    previous = None
    keyed = sorted(((_object_set(cluster), row, cluster) for row, cluster in fleet.clusters), key=lambda item: item[0])
    for (current, _), row, cluster in keyed:
        if current != previous and vault_objects:
            vault_objects.pop(previous, None)
        previous = current
        for oldest in list(shared)[:max(len(shared) - SHARED_SETS, 0)]:
            del shared[oldest]
        yield row, cluster


def pause_cycle_collection(cli_ctx):
    """Python's cycle collector off from here to the end of this invocation (az's
    EVENT_CLI_POST_EXECUTE, raised in knack's ``CLI.invoke`` ``finally``), then on again as it was.

    Why: a plain scan of 5,000 clusters (its Resource Graph rows, the judging, az's output of
    the rows: ``todict``, the format) allocates some 600,000 dicts and lists that live to the
    end, and each run of the collector's oldest generation walks every object the process holds
    (az's command table, the fleet, the rows so far): some 0.1 s of its CPU (#25). That work
    makes next to no reference cycles (a few hundred objects at 5,000 clusters), and reference
    counting frees the rest at once. run_scan does not pause it for ``--read-secrets``: its
    thousands of requests and its judging of parsed certificates leave cycles (~1,000 objects
    at 5,000 clusters), and that run's memory is the tighter bound."""
    from azext_meshca.output.report import when_invocation_ends
    if not gc.isenabled():
        return
    gc.disable()
    when_invocation_ends(cli_ctx, gc.enable)


def judge(fleet, warn_days, vault_objects=None):
    """Every cluster's snapshot through diagnose's analyse; the scan result.
    ``vault_objects``: what read_vault_objects read (--read-secrets), else None; each
    vault's answer is dropped from it once its clusters are judged (_by_object_set)."""
    from azext_meshca.verbs.diagnose import analyse
    rows, shared = [], {}
    collected_at = iso_utc(now_utc())    # one moment for the whole fleet
    for row, cluster in _by_object_set(fleet, shared, vault_objects):
        secrets = fleet_source.secrets_for(cluster, vault_objects) if vault_objects is not None else None
        snapshot = fleet_source.cluster_snapshot(fleet, row, cluster, warn_days, secrets, collected_at=collected_at)
        # certificate rules once per distinct object set, shared by its clusters (rules/runner.py run_rules)
        rows.append(cluster_row(snapshot, analyse(snapshot, warn_days, shared=shared), vault_objects is not None))
    rows = sort_rows(rows)
    gaps = gap_findings(fleet, warn_days)
    counts = {status: sum(1 for row in rows if row["status"] == status) for status in STATUS_ORDER}
    return {"status": scan_status(rows, gaps),
            "summary": dict(counts, clusters=len(rows), resourceGraphPages=fleet.pages,
                            subscriptionsNotScanned=[item["subscriptionId"] for item in fleet.gaps]),
            "clusters": rows, "findings": gaps, "certificates": []}


# --------------------------------------------------------------------------- the command

def default_subscriptions(cli_ctx):
    """The global --subscription when given, else every subscription the CLI's login
    knows (az account list), in the current cloud."""
    from azure.cli.core._profile import Profile
    explicit = cli_ctx.data.get("subscription_id")
    if explicit:
        return [explicit]
    return [item["id"] for item in Profile(cli_ctx=cli_ctx).load_cached_subscriptions() if item.get("id")]


def run_scan(cmd, *, subscriptions=None, management_groups=None, read_secrets=False, warn_days=30,
             failure_threshold=None, suppress=None, timeout=None):
    """Query, read (with --read-secrets), judge; print the result, then exit as it calls for.

    One deadline (--timeout) bounds the whole collection, as diagnose's does: the Resource
    Graph pass and every Key Vault read, their retries and Retry-After waits; what it cuts
    is a collection finding on the clusters it concerns. Without it, a vault that never
    answered held its reader for four attempts of READ_SECONDS per object."""
    from azure.cli.core.azclierror import ValidationError
    from azext_meshca._client_factory import cf_resource_graph
    from azext_meshca.sources.deadline import run_within
    from azext_meshca.verbs.diagnose import _progress_reporter
    from azext_meshca.output.report import exit_after_output, hand_over_as_is, skip_global_transforms
    if not management_groups:
        subscriptions = subscriptions or default_subscriptions(cmd.cli_ctx)
        if not subscriptions:
            raise ValidationError("No subscriptions to scan: run az login, or pass --subscriptions or "
                                  "--management-groups.")
    if not read_secrets:
        pause_cycle_collection(cmd.cli_ctx)
    progress = _progress_reporter(cmd.cli_ctx)
    try:
        with run_within(cmd.cli_ctx, timeout) as deadline:
            if progress:
                progress("querying Resource Graph")
            fleet = fleet_source.collect_fleet(graph.ResourceGraph(cf_resource_graph(cmd.cli_ctx), deadline=deadline),
                                               subscriptions, management_groups)
            vault_objects = fleet_source.read_vault_objects(cmd.cli_ctx, fleet, progress) if read_secrets else None
    finally:
        if progress:
            progress.end()
    from azext_meshca.verbs.scan_view import finish_scan
    result = finish_scan(cmd.cli_ctx, judge(fleet, warn_days, vault_objects), subscriptions=subscriptions,
                         management_groups=management_groups, warn_days=warn_days, suppress=suppress)
    exit_after_output(cmd, threshold_exit(result, failure_threshold))
    skip_global_transforms(cmd)   # they find nothing to add to a scan result: two walks of 5,000 rows
    hand_over_as_is(cmd)          # nor does todict's walk: the result is plain JSON
    return result
