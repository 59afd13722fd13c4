"""Rotation checks (MCA3xx): do changes in Key Vault reach istiod and the workloads?

The path of a change (runbook "General setup process"): the CSI driver re-reads Key
Vault every ``rotationPollInterval`` when ``enableSecretRotation`` is on and rewrites
the cacerts mount (and, on older add-ons, the ``cacerts`` secret). istiod hot-loads a
new intermediate, and a new root only by its revision's rule (capath.root_gate). On the
2023 add-on the ``istio-cert-validator-cronjob-<revision>`` checks every 10 minutes and
restarts istiod when the root changed; today's add-on has no cronjob, and a restart there
loads the mounted root without the rule's check, so whether to restart is capath's call
(capath.restart_is_safe, capath.istiod_step), never this module's.

MCA304 decision (root mismatch). Key Vault's root-cert may hold several roots during
a documented root rotation. We compare SHA-256 fingerprints as sets:

* the configmap shares at least one root with Key Vault -> no MCA304. This covers
  "Key Vault holds old+new, configmap still old" (rotation under way: the mesh still
  trusts the root that signs today's certificates; MCA703 reports the rotation) and
  "configmap holds old+new, Key Vault already new only" (the old root is being
  retired);
* no root in common -> MCA304: the mesh trusts only roots that Key Vault no longer
  holds, so a root change was not picked up.
"""

import datetime
import re

from azext_meshca.rules.registry import rule
from azext_meshca.rules import capath
from azext_meshca.model import certs
from azext_meshca.rules import logparse
from azext_meshca.rules.checks.addon import addon_enabled
from azext_meshca.rules.checks.common import (
    csi_addon, human_age, kube_item, make, name_list, normalize_fingerprint,
    parse_time, plugin_config, short_fingerprint)
from azext_meshca.model.incluster import CERT_VALIDATOR_CRONJOB_PREFIX, ISTIO_NAMESPACE
from azext_meshca.model.snapshot import iso_utc, ok_data

DEFAULT_POLL_INTERVAL = "2m"
LONG_POLL_SECONDS = 10 * 60
_EVERY_N_MINUTES = re.compile(r"^\*/(\d+) \* \* \* \*$")
# One reader of Go durations (rotationPollInterval here, SECRET_TTL in the CA-path model).
parse_go_duration = capath.parse_go_duration


def rotation_enabled(snapshot):
    return str(csi_addon(snapshot).get("enableSecretRotation") or "").lower() == "true"


def poll_interval(snapshot):
    """(text, seconds) of the poll interval; the add-on's default when unset."""
    text = csi_addon(snapshot).get("rotationPollInterval") or DEFAULT_POLL_INTERVAL
    return text, parse_go_duration(text)


# --------------------------------------------------------------------------- restart mechanism

def _cronjob(snapshot, context):
    """(collected?, cronjob or None) for the context's revision."""
    cronjobs = kube_item(snapshot, "cronjobs")
    if cronjobs is None:
        return False, None
    return True, cronjobs.get(context["revision"])


def next_cron_run(schedule, now):
    """The next run of a ``*/N * * * *`` schedule after ``now``, or None for other schedules."""
    match = _EVERY_N_MINUTES.match(str(schedule or "").strip())
    if not match or int(match.group(1)) <= 0:
        return None
    step = int(match.group(1))
    base = now.replace(second=0, microsecond=0)
    minute = (base.minute // step + 1) * step
    return base.replace(minute=0) + datetime.timedelta(minutes=minute)


def restart_sentence(snapshot, context):
    """One sentence on what will restart istiod to load a new root, and when."""
    collected, cronjob = _cronjob(snapshot, context)
    revision = context["revision"]
    if not collected:
        return "Whether a restart cronjob exists could not be checked."
    if cronjob is None:
        return (f"No {CERT_VALIDATOR_CRONJOB_PREFIX}{revision} exists: istiod hot-reloads a new root only when "
                "root-cert also holds the roots it trusts now, and a restart loads it without that check.")
    name = cronjob.get("name") or CERT_VALIDATOR_CRONJOB_PREFIX + revision
    if cronjob.get("suspend"):
        return f"Cronjob {name} is suspended, so nothing restarts istiod on its own."
    last = parse_time(cronjob.get("lastScheduleTime"))
    upcoming = next_cron_run(cronjob.get("schedule"), context["now"])
    parts = [f"Cronjob {name} (schedule '{cronjob.get('schedule')}') restarts istiod when it sees a new root"]
    if last is not None:
        parts.append(f"it last ran at {iso_utc(last)}")
    if upcoming is not None:
        parts.append(f"its next run is at about {iso_utc(upcoming)}")
    return "; ".join(parts) + "."


def _restart_note(snapshot, context):
    """The MCA302/303 tail: what loads a change once it is mounted.

    The restart wording holds only where a cronjob restarts istiod (the 2023 add-on). Where
    none exists, istiod hot-reloads the mounted files (the watch is always on since Istio
    1.19, istio/istio pilot/pkg/bootstrap/istio_ca.go) and a new root goes through only by
    the revision's rule (capath.root_gate): a restart is not the way to load it.
    """
    collected, cronjob = _cronjob(snapshot, context)
    if collected and cronjob is not None and not cronjob.get("suspend"):
        name = cronjob.get("name") or CERT_VALIDATOR_CRONJOB_PREFIX + context["revision"]
        # the runbook: the cronjob runs every 10 minutes and restarts istiod only when the root changed
        return (f" for an intermediate; a root change once istiod loads it again: cronjob {name} checks every "
                "10 minutes and restarts istiod when it sees a new root")
    path = capath.root_rule(snapshot, context["revision"])
    if path["multiRoot"] is False:
        root = "a new root is refused while ISTIO_MULTIROOT_MESH is off"
    elif path["rule"]:
        root = (f"a new root only when root-cert also holds the roots it trusts now ({path['rule']}, "
                f"Istio {'.'.join(map(str, path['istio']))})")
    else:
        root = "a new root only when root-cert also holds the roots it trusts now"
    return f"; istiod hot-reloads it: an intermediate at once, {root}"


# --------------------------------------------------------------------------- poll settings

@rule("MCA301", inputs=("cluster",))
def check_rotation_enabled(snapshot, context):
    """MCA301: rotation is off, so Key Vault changes never reach istiod on their own."""
    if plugin_config(snapshot) is None or not addon_enabled(snapshot) or rotation_enabled(snapshot):
        return []
    value = csi_addon(snapshot).get("enableSecretRotation")
    return [make(context, "MCA301", "azureKeyvaultSecretsProvider",
                 evidence=[f"enableSecretRotation: {value if value is not None else 'not set'}"],
                 value=value if value is not None else "false (not set)")]


@rule("MCA302", "MCA303", inputs=("cluster",), optional=("kube.istiodDeployments", "kube.cronjobs"))
def check_poll_interval(snapshot, context):
    """MCA302 (poll interval over 10 minutes) or MCA303 (info: how long a change takes)."""
    if plugin_config(snapshot) is None or not addon_enabled(snapshot) or not rotation_enabled(snapshot):
        return []
    text, seconds = poll_interval(snapshot)
    configured = csi_addon(snapshot).get("rotationPollInterval") or f"not set (default {DEFAULT_POLL_INTERVAL})"
    evidence = [f"rotationPollInterval: {configured}"]
    note = _restart_note(snapshot, context)
    if seconds is not None and seconds > LONG_POLL_SECONDS:
        return [make(context, "MCA302", "azureKeyvaultSecretsProvider", evidence=evidence,
                     interval=text, restart_note=note)]
    return [make(context, "MCA303", "azureKeyvaultSecretsProvider", evidence=evidence,
                 interval=text, restart_note=note)]


# --------------------------------------------------------------------------- what the cluster holds

def key_vault_fingerprints(snapshot, obj):
    """SHA-256 fingerprints of the certificates in a Key Vault object's value, or None."""
    item = (snapshot.get("secrets") or {}).get(obj)
    data = ok_data(item)
    if not data or not data.get("value"):
        return None
    try:
        return [normalize_fingerprint(value) for value in certs.bundle_fingerprints(data.get("value"))]
    except certs.CertFormatError:
        return None  # the certificate checks report the format problem


def _configmap_roots(snapshot):
    """{namespace: [fingerprints]} of every istio-ca-root-cert collected."""
    configmaps = kube_item(snapshot, "rootConfigMaps")
    if configmaps is None:
        return None
    return {item.get("namespace"): [normalize_fingerprint(fp) for fp in item.get("rootFingerprints") or ()]
            for item in configmaps}


@rule("MCA304", inputs=("cluster", "secrets.root-cert", "kube.rootConfigMaps"),
      optional=capath.INPUTS + ("kube.cronjobs",))
def check_root_picked_up(snapshot, context):
    """MCA304: the mesh trusts no root that Key Vault's root-cert holds (see module doc)."""
    if plugin_config(snapshot) is None:
        return []
    vault_roots = key_vault_fingerprints(snapshot, "root-cert")
    configmaps = _configmap_roots(snapshot)
    cluster_roots = (configmaps or {}).get(ISTIO_NAMESPACE)
    if not vault_roots or not cluster_roots or set(vault_roots) & set(cluster_roots):
        return []
    evidence = [f"istio-ca-root-cert ({ISTIO_NAMESPACE}) roots: {', '.join(cluster_roots)}",
                f"Key Vault root-cert roots: {', '.join(vault_roots)}"]
    evidence += _multi_root_lines(snapshot)
    return [make(context, "MCA304", "istio-ca-root-cert", evidence=evidence,
                 istiod_step=capath.istiod_step(snapshot, context),
                 cluster_root=", ".join(short_fingerprint(fp) for fp in cluster_roots),
                 vault_root=", ".join(short_fingerprint(fp) for fp in vault_roots),
                 restart_note=restart_sentence(snapshot, context))]


def _multi_root_lines(snapshot):
    """istiod's own word that it saw the new root but did not load it."""
    lines = []
    for log in kube_item(snapshot, "istiodLogs") or ():
        for event in logparse.istiod_ca_events(log.get("lines")):
            if event["kind"] == logparse.ROOT_REJECTED:
                lines.append(f"{log.get('pod')}: {event['line']}")
    return lines[:3]


@rule("MCA305", inputs=("cluster", "kube.cacerts"),
      optional=("secrets.root-cert", "secrets.ca-cert", "secrets.cert-chain"))
def check_cacerts_current(snapshot, context):
    """MCA305: the cacerts secret (older add-ons) does not hold what Key Vault holds."""
    if plugin_config(snapshot) is None:
        return []
    cacerts = kube_item(snapshot, "cacerts")
    if not cacerts:
        return []
    differing, evidence = [], []
    for obj, cluster_value in (("root-cert", cacerts.get("rootFingerprints")),
                               ("ca-cert", [cacerts.get("caCertFingerprint")] if cacerts.get("caCertFingerprint")
                                else None),
                               ("cert-chain", cacerts.get("certChainFingerprints"))):
        vault_value = key_vault_fingerprints(snapshot, obj)
        if vault_value is None or cluster_value is None:
            continue
        cluster_value = [normalize_fingerprint(fp) for fp in cluster_value]
        if obj == "ca-cert":
            vault_value = vault_value[:1]
        if cluster_value != vault_value:
            differing.append(obj)
            evidence.append(f"{obj}: cacerts {', '.join(short_fingerprint(fp) for fp in cluster_value)} / "
                            f"Key Vault {', '.join(short_fingerprint(fp) for fp in vault_value)}")
    if not differing:
        return []
    return [make(context, "MCA305", "cacerts", evidence=evidence, objects=", ".join(differing),
                 lag_note=_lag_note(snapshot))]


def _lag_note(snapshot):
    if not addon_enabled(snapshot):
        return "The secrets provider add-on is disabled, so nothing refreshes it."
    if not rotation_enabled(snapshot):
        return ("Secret rotation is disabled, so it is refreshed only when istiod's pods are "
                "recreated.")
    text, _ = poll_interval(snapshot)
    return f"Rotation polls every {text}, so it should catch up within about {text}."


@rule("MCA306", inputs=("cluster", "kube.rootConfigMaps"), optional=capath.INPUTS)
def check_namespace_roots(snapshot, context):
    """MCA306: workload namespaces whose istio-ca-root-cert differs from aks-istio-system's."""
    if not (snapshot.get("cluster") or {}).get("ok"):
        return []
    configmaps = _configmap_roots(snapshot)
    reference = (configmaps or {}).get(ISTIO_NAMESPACE)
    if not reference:
        return []
    stale = sorted(namespace for namespace, roots in configmaps.items()
                   if namespace != ISTIO_NAMESPACE and set(roots) != set(reference))
    if not stale:
        return []
    return [make(context, "MCA306", "istio-ca-root-cert", istiod_step=capath.istiod_step(snapshot, context),
                 evidence=[f"{namespace}: {', '.join(short_fingerprint(fp) for fp in configmaps[namespace])}"
                           for namespace in stale[:10]]
                 + [f"{ISTIO_NAMESPACE}: {', '.join(short_fingerprint(fp) for fp in reference)}"],
                 count=len(stale), namespaces=name_list(stale))]


# --------------------------------------------------------------------------- the CA's path per revision

_GATE_REASONS = {
    capath.REFUSED_MULTI_ROOT_OFF: "ISTIO_MULTIROOT_MESH is off, so istiod refuses any root change",
    capath.REFUSED_NOT_SUBSET: "neither the old nor the new root bundle contains the other",
    capath.REFUSED_BYTES: "the old bundle's bytes are not inside the new one's",
}
_PATH_INPUTS = ("cluster", "secrets.root-cert", "kube.istiodDeployments", "kube.mountStatuses", "kube.webhooks")


def _revision_paths(snapshot):
    if plugin_config(snapshot) is None:
        return {}
    return capath.ca_path(snapshot)["revisions"]


def _istio(path):
    return ".".join(map(str, path["istio"])) if path["istio"] else "?"


def _roots(fingerprints):
    return ", ".join(short_fingerprint(fp) for fp in fingerprints or ()) or "none"


def _refusal(path):
    """(code, reason) when the revision's istiod refused the mounted root, else (None, None)."""
    gate, rejected = path["gate"], path["loaded"]["rejected"]
    if gate == capath.REFUSED_BYTES:
        return "MCA309", _GATE_REASONS[gate]
    if gate in capath.REFUSED:
        return "MCA307", _GATE_REASONS[gate]
    if gate is None and rejected:
        return "MCA307", "istiod logged that it does not load the new root"
    return None, None


@rule("MCA307", "MCA308", "MCA309", inputs=_PATH_INPUTS, optional=capath.INPUTS)
def check_root_gate(snapshot, context):
    """MCA307/MCA309: istiod refused the mounted root (by its revision's rule); MCA308: the
    mounted set differs from what istiod loaded in a way a restart turns into an outage."""
    findings = []
    for revision, path in _revision_paths(snapshot).items():
        step = capath.istiod_step(snapshot, context, revision)
        evidence = [f"istiod-{revision} trusts: {_roots(path['loadedRoots'])}",
                    f"mounted root-cert: {_roots(path['mountedRoots'])}",
                    f"ISTIO_MULTIROOT_MESH: {'on' if path['multiRoot'] else 'off'}"]
        if path["loaded"]["rejected"]:
            evidence.append(f"istiod log: {path['loaded']['rejected']}")
        code, reason = _refusal(path)
        params = {"revision": revision, "istio": _istio(path), "rule": path["rule"] or "?", "istiod_step": step}
        if code:
            findings.append(make(context, code, "root-cert", evidence=evidence, reason=reason, **params))
        if path["rootDiffers"] and path["restartBreaksTrust"]:
            findings.append(make(context, "MCA308", "root-cert", evidence=evidence,
                                 loaded_roots=_roots(path["loadedRoots"]),
                                 mounted_roots=_roots(path["mountedRoots"]), **params))
    return findings


def _mount_lag_why(snapshot, since, now):
    """Why a newer Key Vault version is not mounted, and what to do."""
    if not addon_enabled(snapshot):
        return "the secrets provider add-on is disabled.", "Enable the azure-keyvault-secrets-provider add-on."
    if not rotation_enabled(snapshot):
        return ("secret rotation is off, so the driver mounts a new version only when istiod's pods are "
                "recreated.", "az aks addon update -g {resource_group} -n {cluster} --addon "
                "azure-keyvault-secrets-provider --enable-secret-rotation --rotation-poll-interval 2m")
    text, _ = poll_interval(snapshot)
    waited = f" ({human_age((now - since).total_seconds())} ago)" if since and now else ""
    return (f"rotation polls every {text}; the new version appeared{waited}, so a poll has failed: read "
            "the CSI provider's log on istiod's nodes.",
            "kubectl logs -n kube-system -l app=secrets-store-provider-azure --tail 100")


@rule("MCA310", inputs=("cluster", "kube.mountStatuses"), optional=capath.INPUTS)
def check_mounted_versions(snapshot, context):
    """MCA310: Key Vault's current versions have not reached the revision's mount (within a
    poll interval of the change this is normal and not reported)."""
    model = capath.ca_path(snapshot) if plugin_config(snapshot) is not None else {"revisions": {}}
    findings = []
    for revision, path in model["revisions"].items():
        if not path["behind"]:
            continue
        since = max((parse_time(model["vault"][obj]["updated"]) for obj in path["behind"]
                     if model["vault"][obj]["updated"]), default=None)
        _, seconds = poll_interval(snapshot)
        if rotation_enabled(snapshot) and since and seconds is not None and \
                (context["now"] - since).total_seconds() <= 2 * max(seconds, 60):
            continue
        why, fix = _mount_lag_why(snapshot, since, context["now"])
        pods = sorted(pod for pod, versions in (path["mountedPods"] or {}).items()
                      if any(versions.get(obj) != model["vault"][obj]["version"] for obj in path["behind"]))
        evidence = [f"{obj}: Key Vault {model['vault'][obj]['version']}, mounted "
                    f"{', '.join(sorted({(path['mountedPods'][pod].get(obj) or '?') for pod in pods}))}"
                    for obj in path["behind"]]
        findings.append(make(context, "MCA310", "cacerts", evidence=evidence, revision=revision,
                             objects=", ".join(path["behind"]), since=iso_utc(since) if since else "unknown",
                             pods=name_list(pods), why=why,
                             fix=fix.format(resource_group=context.get("resource_group"),
                                            cluster=context.get("cluster"))))
    return findings


def _vault_signing_serial(snapshot):
    """Key Vault ca-cert's serial, as istiod logs it (lower-case hex, %x), of the certificate
    istiod signs with: ca-cert's first block Go's pem.Decode yields (rules/consumers/istiod.py)."""
    from azext_meshca.rules.consumers import istiod
    data = ok_data((snapshot.get("secrets") or {}).get("ca-cert")) or {}
    if not data.get("value"):
        return None
    try:
        first = istiod.parse_first_certificate(data["value"], "ca-cert")
    except istiod.Refusal:
        return None
    return format(first.serial_number, "x")


@rule("MCA311", inputs=("cluster", "secrets.ca-cert", "kube.mountStatuses", "kube.istiodLogs"), optional=capath.INPUTS)
def check_mounted_loaded(snapshot, context):
    """MCA311: the mount is current but istiod signs with another intermediate, and no
    refused root explains it (MCA307/MCA309 do)."""
    serial = _vault_signing_serial(snapshot)
    findings = []
    for revision, path in _revision_paths(snapshot).items():
        signing = path["loaded"]["signing"]
        if not path["mountedPods"] or path["behind"] or not signing or not serial or signing["serial"] == serial:
            continue
        if _refusal(path)[0]:
            continue
        failed = path["loaded"]["updateFailed"]
        why = (f"its last reload failed ({failed})" if failed else
               "no reload of the new files is logged (istiod watches them and reloads within a second)")
        fix = ("Run az aks mesh ca validate-secrets -g {resource_group} -n {cluster} and fix what it reports"
               if failed else "Read istiod's log for 'Update Istiod cacerts'")
        findings.append(make(context, "MCA311", "ca-cert", revision=revision,
                             evidence=[f"istiod signs with SN {signing['serial']} ({signing['subject']})",
                                       f"Key Vault ca-cert SN {serial}"],
                             loaded=f"SN {signing['serial']} issued by {signing['issuer']}", why=why,
                             fix=fix.format(resource_group=context.get("resource_group"),
                                            cluster=context.get("cluster"))))
    return findings


@rule("MCA312", inputs=("cluster", "kube.istiodLogs", "kube.sidecars"), optional=capath.INPUTS)
def check_stale_sidecars(snapshot, context):
    """MCA312: sidecars that surely still hold a leaf (and trust bundle) from before istiod's
    last accepted change, counted per namespace from one pods list."""
    findings = []
    for revision, path in _revision_paths(snapshot).items():
        changed_at = path["loaded"]["intermediateChangedAt"]
        if not changed_at:
            continue
        counts, deadline = capath.stale_sidecars(snapshot, revision, changed_at, context["now"])
        if not counts:
            continue
        root_changed = (path["loaded"]["rootChangedAt"] or "") >= changed_at[:16]
        what = ("a leaf from the old CA and a trust bundle without the new root" if root_changed
                else "a leaf signed by the intermediate istiod no longer uses")
        namespaces = sorted(counts, key=lambda namespace, seen=counts: (-seen[namespace], namespace))
        findings.append(make(context, "MCA312", "sidecars", revision=revision, changed_at=changed_at,
                             evidence=[f"{namespace}: {counts[namespace]}" for namespace in namespaces[:10]],
                             count=sum(counts.values()), namespace_count=len(counts),
                             namespaces=name_list([f"{ns} ({counts[ns]})" for ns in namespaces]),
                             what=what, renew_by=iso_utc(deadline)))
    return findings


CHECKS = [check_rotation_enabled, check_poll_interval, check_root_picked_up, check_cacerts_current,
          check_namespace_roots, check_root_gate, check_mounted_versions, check_mounted_loaded, check_stale_sidecars]
