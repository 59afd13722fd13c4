"""diagnose's checks: pure functions from a snapshot to findings.

Every check is ``check_<name>(snapshot, context) -> list[finding]``. It reads only
the snapshot (snapshot.py), never raises on missing data (input that was not
collected gives no finding: the collection checks report the gap once), and puts
the exact values it saw in each finding's ``evidence``.

``ALL_CHECKS`` is the one registry, root causes before symptoms. ``run_checks``
runs them all, links symptoms to causes (``explainedBy`` / ``explains``) and
returns ``(findings, certificates)``. Nothing is caught here: a check that raises
is a bug and must show.
"""

import datetime

from azext_meshca.checks import access, addon, cluster, collection, config, network, rotation, secrets
from azext_meshca.checks.common import addon_object_id, cluster_data, parse_time, vault_data
from azext_meshca.resource_ids import parse_vault_id
from azext_meshca.snapshot import freeze

ALL_CHECKS = (config.CHECKS + addon.CHECKS + access.CHECKS + network.CHECKS + secrets.CHECKS
              + rotation.CHECKS + cluster.CHECKS + collection.CHECKS)

# Output order: causes first, then symptoms (cluster), then what could not be checked.
# report.build_result sorts by severity stably, so this order holds within a severity.
AREA_ORDER = ("config", "addon", "access", "network", "secret", "certificate", "rotation",
              "cluster", "collection")

# The causes a failed cacerts mount can have (MCA801 may be explained by any of them).
# A secret's exp/nbf dates (MCA612) are informational: Key Vault still serves the value,
# so they never explain a failed mount.
MOUNT_CAUSES = ("MCA103", "MCA104", "MCA105", "MCA201", "MCA202", "MCA401", "MCA402", "MCA403", "MCA406",
                "MCA501", "MCA502", "MCA601", "MCA611", "MCA613")
# symptom -> the causes that produce exactly that symptom.
SYMPTOM_CAUSES = {
    "MCA802": ("MCA401", "MCA406", "MCA202"),                 # 403 AccessDenied
    "MCA803": ("MCA402", "MCA403", "MCA406", "MCA202"),       # 403 ForbiddenByRbac
    "MCA804": ("MCA501", "MCA502"),                           # ForbiddenByFirewall / ByConnection
    "MCA805": ("MCA601", "MCA105", "MCA103"),                 # 404 SecretNotFound (or an empty object name)
    "MCA806": ("MCA105", "MCA104", "MCA501", "MCA502"),       # cannot reach the vault (or no valid vault ID)
    "MCA807": MOUNT_CAUSES,                                   # unattributed mount failure
    "MCA808": ("MCA202", "MCA201"),                           # Identity not found
    "MCA809": ("MCA201",),                                    # CSI driver not registered
    "MCA801": MOUNT_CAUSES,
}
MOUNT_SYMPTOMS = ("MCA802", "MCA803", "MCA804", "MCA805", "MCA806", "MCA807", "MCA808", "MCA809")


def build_context(snapshot, warn_days=30):
    """``now`` and the names remedies use, derived once from the snapshot."""
    target = snapshot.get("target") or {}
    cluster = cluster_data(snapshot) or {}
    plugin = cluster.get("plugin") or {}
    vault = vault_data(snapshot) or {}
    parsed = parse_vault_id(plugin.get("keyVaultId")) or {}
    revisions = cluster.get("revisions") or (snapshot.get("options") or {}).get("revisions") or []
    now = parse_time(snapshot.get("collectedAt")) or datetime.datetime.now(datetime.timezone.utc)
    return {
        "now": now,
        "warn_days": warn_days,
        "resource_group": target.get("resourceGroup") or "<resource-group>",
        "cluster": target.get("cluster") or cluster.get("name") or "<cluster>",
        "vault_name": vault.get("name") or parsed.get("name") or "<vault>",
        "vault_resource_group": vault.get("resourceGroup") or parsed.get("resourceGroup") or "<vault-resource-group>",
        "vault_id": vault.get("id") or plugin.get("keyVaultId") or "<vault-id>",
        "object_id": addon_object_id(snapshot) or "<add-on-identity-object-id>",
        "revision": revisions[0] if revisions else "<revision>",
        "certificates": [],
    }


def run_checks(snapshot, warn_days=30):
    """Every check on one snapshot: (findings ordered cause-first, certificate descriptions)."""
    frozen = freeze(snapshot)
    context = build_context(frozen, warn_days)
    findings = []
    for check in ALL_CHECKS:
        findings.extend(check(frozen, context))
    link_findings(findings)
    return order_findings(findings), context["certificates"]


def _certificate_errors(codes_present):
    return [code for code in codes_present if code[:4] in ("MCA6", "MCA7")]


def causes_for(code, codes_present, error_codes):
    """The codes present that explain symptom ``code`` (see SYMPTOM_CAUSES)."""
    if code in ("MCA811", "MCA812"):
        return [item for item in _certificate_errors(error_codes)]
    if code not in SYMPTOM_CAUSES:
        return []
    causes = [item for item in SYMPTOM_CAUSES[code] if item in codes_present]
    if code == "MCA801" and not causes:
        causes = [item for item in MOUNT_SYMPTOMS + ("MCA812",) if item in codes_present]
    return causes


def link_findings(findings):
    """Set ``explainedBy`` on symptoms and ``explains`` on causes, in place."""
    codes_present = _unique(item["code"] for item in findings)
    error_codes = _unique(item["code"] for item in findings if item["severity"] == "error")
    explains = {}
    for item in findings:
        causes = causes_for(item["code"], codes_present, error_codes)
        if not causes:
            continue
        item["explainedBy"] = causes
        for cause in causes:
            explains.setdefault(cause, [])
            if item["code"] not in explains[cause]:
                explains[cause].append(item["code"])
    for item in findings:
        if item["code"] in explains:
            item["explains"] = list(explains[item["code"]])
    return findings


def _unique(codes):
    seen = []
    for code in codes:
        if code not in seen:
            seen.append(code)
    return seen


def order_findings(findings):
    """Stable sort by area: causes, then symptoms, then collection gaps."""
    rank = {area: position for position, area in enumerate(AREA_ORDER)}
    return sorted(findings, key=lambda item: rank.get(item["area"], len(AREA_ORDER)))
