"""Collection checks (MCA9xx): what could not be checked, and why.

Every collector failure is reported once, here, so the other checks can simply
return nothing when their input is missing. Failures that describe the object
itself are not collection gaps: a vault 404 is MCA105, a secret 404 or
SecretDisabled is MCA601 / MCA611. Everything else that Key Vault answered is the
OPERATOR's access and is worded that way (MCA904): it is never reported as the
add-on's access.

Kubernetes access: ``kube.access`` failing means no in-cluster item was read. Its
error tells the two cases apart: the API server did not answer or refused us (codes
``CannotConnect``, ``NoResponse``, ``Timeout``, ``Kubernetes<status>``: MCA905), or
getting credentials from ARM failed (an HTTP status with an ARM code, or the code
``credentials``: MCA906). Items read only after another one (istiod's logs after its
pods, the provider's log on their nodes: model/incluster.py ``needs``) are not reported
again when that one failed.
Secrets that were not even tried because the vault could not be read (``VaultUnknown``)
are covered by MCA902 / MCA105.
"""

from azext_meshca.model import incluster
from azext_meshca.rules.registry import rule
from azext_meshca.rules.catalog import RUN_COMMAND_ERROR, code_for
from azext_meshca.rules.checks.common import kube, make, plugin_config, secret_name
from azext_meshca.model.plugin import PLUGIN_OBJECTS
from azext_meshca.rules.checks.secrets import is_object_state_error
# A vaultUri that is not the vault's own address: MCA530 reports it, not MCA904.
from azext_meshca.model.snapshot import VAULT_URI_CODE

CREDENTIALS_CODE = "credentials"
KUBE_SIDE_CODES = ("CannotConnect", "NoResponse", "Timeout")
VAULT_UNKNOWN_CODE = "VaultUnknown"
RUN_COMMAND_OUTPUT_CODE = "RunCommandOutput"
# item -> the item it is read after; its failure is reported once, on the first.
KUBE_DEPENDS_ON = incluster.depends_on()
# kube item -> (what to name in MCA907, the namespace it was read in), in the table's order
KUBE_ITEMS = incluster.failure_subjects()


def _error(item):
    return (item or {}).get("error") or {}


def _failed(item):
    return bool(item) and not item.get("ok")


@rule("MCA901")
def check_cluster_read(snapshot, context):
    """MCA901: the managed cluster could not be read; nothing else was checked."""
    item = snapshot.get("cluster")
    if not _failed(item):
        return []
    return [make(context, "MCA901", "cluster", evidence=[_error(item).get("reason")],
                 reason=_error(item).get("reason"))]


@rule("MCA902")
def check_vault_read(snapshot, context):
    """MCA902: the vault's configuration could not be read (404 is MCA105)."""
    return vault_unread(context, snapshot.get("vault"))


def vault_unread(context, item):
    """MCA902 for a vault read (``collected`` item)."""
    if not _failed(item) or _error(item).get("status") == 404:
        return []
    return [make(context, "MCA902", "vault", evidence=[_error(item).get("reason")],
                 reason=_error(item).get("reason"))]


@rule("MCA903")
def check_role_assignments_read(snapshot, context):
    """MCA903: role assignments could not be listed, so RBAC access was not judged."""
    item = snapshot.get("roleAssignments")
    if not _failed(item):
        return []
    return [make(context, "MCA903", "roleAssignments", evidence=[_error(item).get("reason")],
                 reason=_error(item).get("reason"))]


@rule("MCA904", optional=("cluster",))
def check_secrets_read(snapshot, context):
    """MCA904: secrets the operator could not read (not 404 / SecretDisabled)."""
    return secrets_unread(context, plugin_config(snapshot), snapshot.get("secrets") or {})


def secrets_unread(context, plugin, secrets):
    """MCA904 for the secrets read (``{object: collected item}``): one finding naming every
    object that could not be read, with each distinct error said once, beside the objects
    that got it. A vault that refuses the caller vault-wide gives all four the same error
    (scan copies the first one's: sources/fleet.py read_one_vault), and its long text four
    times over was most of a fleet's findings."""
    unread = [(obj, secrets[obj]) for obj in PLUGIN_OBJECTS
              if _failed(secrets.get(obj)) and not is_object_state_error(secrets.get(obj))
              and _error(secrets.get(obj)).get("code") not in (VAULT_UNKNOWN_CODE, VAULT_URI_CODE)]
    if not unread:
        return []
    labels = [f"{obj} ({secret_name(plugin, obj) or obj})" for obj, _ in unread]
    by_reason = {}      # reason -> the labels of the objects that got it, in PLUGIN_OBJECTS order
    for label, (_, item) in zip(labels, unread):
        by_reason.setdefault(str(_error(item).get("reason")), []).append(label)
    return [make(context, "MCA904", "secrets",
                 evidence=[f"{', '.join(named)}: {reason}" for reason, named in by_reason.items()],
                 objects=", ".join(labels), reason="; ".join(by_reason))]


# What MCA908 says on scan's own findings: scan reads Azure's side only (verbs/scan.py).
SCAN_SKIPS_CLUSTERS = "scan reads no cluster's API server"


@rule("MCA905", "MCA906", "MCA908", "MCA912", optional=("cluster",))
def check_kube_access(snapshot, context):  # pylint: disable=too-many-return-statements  # one per finding
    """MCA906 (no credentials) or MCA905 (API server unreachable); MCA912 instead of
    MCA905 when the cluster's API server is private or IP-restricted, which explains
    why it could not be reached; MCA908 when skipped: by --skip-cluster, or by scan, which
    says so once for the fleet (its fleet snapshot) rather than on each of thousands of rows."""
    if snapshot.get("kube") is None:
        if snapshot.get("fleet") is not None:   # scan: said once for the fleet, not on each cluster's row
            return [make(context, "MCA908", "cluster", evidence=[SCAN_SKIPS_CLUSTERS], skipped_by=SCAN_SKIPS_CLUSTERS)]
        if (snapshot.get("options") or {}).get("skipCluster"):
            return [make(context, "MCA908", "cluster", evidence=["--skip-cluster"],
                         skipped_by="--skip-cluster was given")]
        return []
    access = kube(snapshot).get("access")
    if not _failed(access):
        return []
    error = _error(access)
    if code_for(RUN_COMMAND_ERROR, str(error.get("code") or "")) or error.get("code") == RUN_COMMAND_OUTPUT_CODE:
        return []  # check_run_command reports it
    if _is_credentials_failure(error):
        return [make(context, "MCA906", "cluster", evidence=[error.get("reason")], reason=error.get("reason"))]
    restriction = api_server_restriction(snapshot)
    if restriction and str(error.get("code") or "") in KUBE_SIDE_CODES:
        return [make(context, "MCA912", "cluster", evidence=[restriction, error.get("reason")],
                     restriction=restriction, reason=error.get("reason"))]
    return [make(context, "MCA905", "cluster", evidence=[error.get("reason")], reason=error.get("reason"))]


def api_server_restriction(snapshot):
    """How the managed cluster limits who reaches its API server, in words, or None.

    enablePrivateCluster puts the API server on a private endpoint in the cluster's
    virtual network; authorizedIPRanges lets only those addresses in (learn.microsoft.com
    /azure/aks/private-clusters, /azure/aks/api-server-authorized-ip-ranges)."""
    access = ((snapshot.get("cluster") or {}).get("data") or {}).get("apiServer") or {}
    if access.get("privateCluster"):
        return "is private (apiServerAccessProfile.enablePrivateCluster)"
    ranges = access.get("authorizedIpRanges") or []
    if ranges:
        shown = ", ".join(ranges[:5]) + (f" and {len(ranges) - 5} more" if len(ranges) > 5 else "")
        return f"allows only authorised IP ranges ({shown})"
    return None


def _is_credentials_failure(error):
    code = str(error.get("code") or "")
    if code == CREDENTIALS_CODE:
        return True
    if code in KUBE_SIDE_CODES or code.startswith("Kubernetes"):
        return False
    return error.get("status") is not None  # an ARM answer to listClusterUserCredential


@rule("MCA907")
def check_kube_items(snapshot, context):
    """MCA907: one per in-cluster item that failed while the API server was reachable."""
    items = kube(snapshot)
    if not items or _failed(items.get("access")):
        return []
    findings = []
    for key, (what, namespace) in KUBE_ITEMS.items():
        item = items.get(key)
        if (_failed(item) and not _failed(items.get(KUBE_DEPENDS_ON.get(key)))
                and _error(item).get("code") != RUN_COMMAND_OUTPUT_CODE):
            findings.append(make(context, "MCA907", key, evidence=[f"{key}: {_error(item).get('reason')}"],
                                 what=what, namespace=namespace, reason=_error(item).get("reason")))
    return findings


@rule("MCA910", "MCA911")
def check_fleet_subscriptions(snapshot, context):
    """MCA910 / MCA911: a subscription scan asked about that Resource Graph does not show
    (it leaves unreadable ones out without an error) or whose queries failed. Only scan's
    fleet snapshot has ``fleet``; a cluster's snapshot never does."""
    findings = []
    for item in (snapshot.get("fleet") or {}).get("subscriptionsNotScanned") or ():
        code = "MCA911" if item.get("queryFailed") else "MCA910"
        finding_ = make(context, code, "subscription", evidence=[item.get("reason")],
                        subscription=item.get("subscriptionId"), reason=item.get("reason"))
        finding_["subscriptionId"] = item.get("subscriptionId")
        findings.append(finding_)
    return findings


@rule("MCA913", "MCA914", "MCA915", "MCA916", optional=("kube.access",))
def check_run_command(snapshot, context):
    """MCA913-MCA915: --via-run-command could not run (no runCommand/action, the command
    failed or timed out, the cluster is stopped); MCA916: items left out or cut to keep
    its output under AKS's 512 KB cap (reported here, not as MCA907)."""
    access = kube(snapshot).get("access")
    if _failed(access) and _error(access).get("code") == RUN_COMMAND_OUTPUT_CODE:
        return [make(context, "MCA916", "runCommand", evidence=[_error(access).get("reason")],
                     what="the in-cluster objects (from /version on)", were="were",
                     them="them", how="not even the first answer came back whole")]
    if _failed(access):
        error = _error(access)
        code = code_for(RUN_COMMAND_ERROR, str(error.get("code") or ""))  # kube.access's code of --via-run-command
        if not code:
            return []
        return [make(context, code, "cluster", evidence=[error.get("reason")], reason=error.get("reason"))]
    facts = ((access or {}).get("data") or {}).get("runCommand") or {}
    items = kube(snapshot)
    lost = [key for key in KUBE_ITEMS if _failed(items.get(key))
            and _error(items.get(key)).get("code") == RUN_COMMAND_OUTPUT_CODE]
    cut = list(facts.get("cut") or [])
    if not lost and not cut:
        return []
    evidence = [f"{key}: {_error(items.get(key)).get('reason')}" for key in lost] + [f"cut: {path}" for path in cut]
    if not facts.get("complete", True):
        evidence.append("the output ended before the script's last line")
    what = ", ".join(lost) or f"{len(cut)} answer(s)"
    plural = len(lost) != 1 or not lost
    how = ("the output stopped short (AKS cuts it at 512 KB)" if not facts.get("complete", True)
           else "left out or shortened to stay under AKS's 512 KB output cap")
    return [make(context, "MCA916", "runCommand", evidence=evidence, what=what, how=how,
                 were="were" if plural else "was", them="them" if plural else "it")]


CHECKS = [check_cluster_read, check_vault_read, check_role_assignments_read, check_secrets_read,
          check_kube_access, check_kube_items, check_fleet_subscriptions, check_run_command]
