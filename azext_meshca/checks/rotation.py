"""Rotation checks (MCA3xx): do changes in Key Vault reach istiod and the workloads?

The path of a change (runbook "General setup process"): the CSI driver re-reads Key
Vault every ``rotationPollInterval`` when ``enableSecretRotation`` is on and rewrites
the cacerts mount (and, on older add-ons, the ``cacerts`` secret). istiod hot-loads a
new intermediate; a new ROOT needs istiod restarted, which the
``istio-cert-validator-cronjob-<revision>`` does every 10 minutes where it exists
(newer add-ons may not have it: then a manual restart is needed).

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

from azext_meshca.rules import rule
from azext_meshca import certs, logparse
from azext_meshca.checks.addon import addon_enabled
from azext_meshca.checks.common import (
    ISTIO_NAMESPACE, csi_addon, kube_item, make, name_list, normalize_fingerprint,
    parse_time, plugin_config, short_fingerprint)
from azext_meshca.snapshot import iso_utc, ok_data

DEFAULT_POLL_INTERVAL = "2m"
LONG_POLL_SECONDS = 10 * 60
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_EVERY_N_MINUTES = re.compile(r"^\*/(\d+) \* \* \* \*$")


def parse_go_duration(text):
    """Seconds in a Go duration such as ``2m``, ``1h30m``, ``120s``; None if it is not one."""
    value = str(text or "").strip()
    if not value:
        return None
    if value == "0":
        return 0.0
    parts = _GO_DURATION_PART.findall(value)
    if not parts or "".join(number + unit for number, unit in parts) != value:
        return None
    return sum(float(number) * _GO_UNIT_SECONDS[unit] for number, unit in parts)


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
        return (f"No istio-cert-validator-cronjob-{revision} exists, so istiod loads a new root only when it "
                "is restarted by hand.")
    name = cronjob.get("name") or "istio-cert-validator-cronjob-" + revision
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
    """The MCA302/303 tail: intermediates arrive with the poll, roots need a restart."""
    collected, cronjob = _cronjob(snapshot, context)
    if collected and cronjob is not None and not cronjob.get("suspend"):
        name = cronjob.get("name") or "istio-cert-validator-cronjob-" + context["revision"]
        how = f"cronjob {name} restarts istiod every 10 minutes"
    elif collected:
        how = ("no restart cronjob is active, so restart istiod by hand (kubectl rollout restart "
               f"deployment/istiod-{context['revision']} -n aks-istio-system)")
    else:
        how = "istiod must also be restarted (by the add-on's cronjob, where it exists)"
    return f" for an intermediate, and a root change once istiod loads it again: {how}"


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


@rule("MCA302", "MCA303", inputs=("cluster",))
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


@rule("MCA304", inputs=("cluster", "secrets.root-cert", "kube.rootConfigMaps"))
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


@rule("MCA305", inputs=("cluster", "kube.cacerts"))
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


@rule("MCA306", inputs=("cluster", "kube.rootConfigMaps"))
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
    return [make(context, "MCA306", "istio-ca-root-cert",
                 evidence=[f"{namespace}: {', '.join(short_fingerprint(fp) for fp in configmaps[namespace])}"
                           for namespace in stale[:10]]
                 + [f"{ISTIO_NAMESPACE}: {', '.join(short_fingerprint(fp) for fp in reference)}"],
                 count=len(stale), namespaces=name_list(stale))]


CHECKS = [check_rotation_enabled, check_poll_interval, check_root_picked_up, check_cacerts_current,
          check_namespace_roots]
