"""Cluster checks (MCA8xx): what istiod, kubelet and the CSI provider show.

These are SYMPTOMS: run_checks links each one to the Azure-side cause that explains
it. The mount failures come from kubelet's FailedMount events (on the istiod pods
and deployment) and from the CSI provider's log, both classified by ``logparse``;
one finding per distinct cause and secret, with the exact texts as evidence.
"""

from azext_meshca.rules.registry import rule
from azext_meshca.rules import capath
from azext_meshca.rules import logparse
from azext_meshca.model.plugin import MOUNT_EVENT_REASONS, PLUGIN_OBJECTS
from azext_meshca.rules.checks.common import (
    human_age, kube, kube_item, make, name_list, parse_time, plugin_config, secret_name, vault_name_of)

MAX_EVIDENCE = 3
# logparse cause -> the finding that reports it.
CAUSE_CODES = {
    logparse.ACCESS_POLICY: "MCA802",
    logparse.RBAC: "MCA803",
    logparse.FIREWALL: "MCA804",
    logparse.CONNECTION: "MCA804",
    logparse.SECRET_NOT_FOUND: "MCA805",
    logparse.NETWORK: "MCA806",
    logparse.SECRET_DISABLED: "MCA807",
    logparse.UNKNOWN: "MCA807",
    logparse.TIMEOUT: "MCA807",
    logparse.IDENTITY: "MCA808",
    logparse.IDENTITY_ENDPOINT: "MCA816",
    logparse.TENANT: "MCA817",
    logparse.DRIVER: "MCA809",
    logparse.TOKEN: "MCA830",
    logparse.SPC_NOT_FOUND: "MCA831",
    logparse.PROVIDER_DOWN: "MCA832",
    logparse.NO_IDENTITY: "MCA833",
}
# Failures that are about the node or the mount as a whole, never about one object: every
# provider log entry of these concerns the plug-in CA's mount too.
_NODE_WIDE = (logparse.IDENTITY, logparse.IDENTITY_ENDPOINT, logparse.TOKEN, logparse.DRIVER,
              logparse.PROVIDER_DOWN)
_MOUNT_EVENT_KINDS = ("Pod", "Deployment")
_NOT_STUCK = ("Terminating", "Completed", "Succeeded")


# --------------------------------------------------------------------------- pods

@rule("MCA801", inputs=("kube.istiodPods",))
def check_istiod_pods(snapshot, context):
    """MCA801: istiod pods that are not ready (names, status such as Init:0/2, age)."""
    pods = kube_item(snapshot, "istiodPods")
    if not pods:
        return []
    stuck = [pod for pod in pods if not pod.get("ready")
             and pod.get("status") not in _NOT_STUCK and pod.get("phase") not in _NOT_STUCK]
    if not stuck:
        return []
    described = [_describe_pod(pod, context["now"]) for pod in stuck]
    return [make(context, "MCA801", "istiod", evidence=described[:10], count=len(stuck),
                 pods=name_list(described), istiod_step=capath.istiod_step(snapshot, context))]


def _describe_pod(pod, now):
    created = parse_time(pod.get("createdAt"))
    status = pod.get("status") or pod.get("phase") or "unknown"
    if created is None:
        return f"{pod.get('name')} ({status})"
    return f"{pod.get('name')} ({status}, {human_age((now - created).total_seconds())})"


# --------------------------------------------------------------------------- mount failures

def _plugin_secret_names(snapshot):
    plugin = plugin_config(snapshot)
    return {str(secret_name(plugin, obj)).lower() for obj in PLUGIN_OBJECTS if secret_name(plugin, obj)}


def _event_failures(snapshot):
    """Classified mount events. One pass, and each distinct message is read once
    (logparse.classify_mount_error_cached): kubelet repeats a message per retry and pod."""
    failures = []
    for event in kube_item(snapshot, "events") or ():
        if event.get("reason") not in MOUNT_EVENT_REASONS or event.get("involvedKind") not in _MOUNT_EVENT_KINDS:
            continue
        result = logparse.classify_mount_error_cached(event.get("message"))
        if result is not None:
            failures.append(result)
    return failures


def _provider_failures(snapshot):
    """Provider log failures that concern the plug-in CA (the provider serves every pod)."""
    names = _plugin_secret_names(snapshot)
    vault = (vault_name_of((plugin_config(snapshot) or {}).get("keyVaultId")) or "").lower()
    failures = []
    for log in kube_item(snapshot, "providerLogs") or ():
        for result in logparse.classify_provider_log(log.get("lines")):
            if _concerns_plugin(result, names, vault):
                failures.append(result)
    return failures


def _concerns_plugin(result, names, vault):
    """Whether a provider log entry may be about the plug-in CA's mount.

    An entry is set aside only when its own parts say it is about something else: another
    object, another vault, or a pod outside aks-istio-system. One that names none of these
    (a token or network failure, a legacy line without the object) may well be ours, so it
    is kept: dropping it would hide the one text that says why the mount fails.
    """
    if result["cause"] in _NODE_WIDE:
        return True
    if result.get("pod"):
        return result["pod"].lower().startswith("aks-istio-system/")
    if result["secretName"] and names:
        return result["secretName"].lower() in names
    if result.get("vault") and vault:
        return result["vault"].lower() == vault
    return True


def mount_failures(snapshot):
    """Every classified mount failure, events first, then provider log entries."""
    return _event_failures(snapshot) + _provider_failures(snapshot)


@rule("MCA802", "MCA803", "MCA804", "MCA805", "MCA806", "MCA807", "MCA808", "MCA809", "MCA816", "MCA817",
      "MCA830", "MCA831", "MCA832", "MCA833", inputs=("kube.access",))
def check_mount_failures(snapshot, context):
    """MCA802-MCA809, MCA816, MCA817, MCA830-MCA833: one finding per distinct cause and secret."""
    failures = mount_failures(snapshot)
    specific = [item for item in failures if item["cause"] != logparse.TIMEOUT]
    if specific:
        failures = specific  # kubelet's generic timeout adds nothing next to a real cause
    groups = {}
    for item in failures:
        key = (CAUSE_CODES[item["cause"]], item["cause"], item["secretName"] or "")
        groups.setdefault(key, []).append(item)
    return [_mount_finding(context, code, items) for (code, _, _), items in groups.items()]


def _mount_finding(context, code, items):
    first = items[0]
    evidence = _distinct_evidence(items, MAX_EVIDENCE)
    name = first["secretName"]
    return make(context, code, name or "cacerts", evidence=evidence[:MAX_EVIDENCE],
                secret_name=name or "a plug-in CA secret", error_code=first["errorCode"] or first["cause"],
                detail=first["detail"])


def _distinct_evidence(items, limit):
    """The first ``limit`` distinct evidence texts, in order: one pass with a set, so 40,000
    events cost 20 times 2,000 (a list search per event made it quadratic)."""
    seen, evidence = set(), []
    for item in items:
        text = item["evidence"]
        if text not in seen:
            seen.add(text)
            evidence.append(text)
            if len(evidence) == limit:
                break
    return evidence


@rule("MCA834", inputs=("kube.events",))
def check_events_cut(snapshot, context):
    """MCA834: the mount-events list was longer than meshca reads; say how far it went."""
    item = kube(snapshot).get("events") or {}
    cut = item.get("cut") if item.get("ok") else None
    if not cut:
        return []
    read = sum(stop.get("eventsRead") or 0 for stop in cut)
    remaining = [stop.get("remainingItemCount") for stop in cut]
    left = (f"about {sum(remaining)} more" if all(isinstance(count, int) for count in remaining)
            else "an unknown number more")
    evidence = [f"reason={stop.get('reason')}: {stop.get('pages')} page(s), {stop.get('bytes')} bytes, "
                f"{stop.get('eventsRead')} event(s) read, remainingItemCount={stop.get('remainingItemCount')}"
                for stop in cut]
    return [make(context, "MCA834", "events", evidence=evidence, read=read, left=left)]


# --------------------------------------------------------------------------- objects

@rule("MCA810", inputs=("cluster", "kube.secretProviderClasses"))
def check_secret_provider_class(snapshot, context):
    """MCA810: istio-spc-<revision> is missing (the add-on creates it with the plug-in CA)."""
    classes = kube_item(snapshot, "secretProviderClasses")
    if plugin_config(snapshot) is None or not classes:
        return []
    return [make(context, "MCA810", f"istio-spc-{revision}", revision=revision,
                 evidence=[f"secretproviderclass istio-spc-{revision}: not found in aks-istio-system"])
            for revision, found in classes.items() if found is None]


@rule("MCA815", inputs=("cluster", "kube.secretProviderClasses"))
def check_secret_provider_class_matches(snapshot, context):
    """MCA815: istio-spc-<revision> names other objects (or another vault) than the plug-in
    config, e.g. after the config changed and the add-on did not rewrite it, or a hand edit."""
    plugin = plugin_config(snapshot)
    classes = kube_item(snapshot, "secretProviderClasses")
    if plugin is None or not classes:
        return []
    configured = sorted(filter(None, (secret_name(plugin, obj) for obj in PLUGIN_OBJECTS)))
    vault_name = vault_name_of(plugin.get("keyVaultId"))
    findings = []
    for revision, spc in classes.items():
        if not spc or not spc.get("objectNames"):
            continue  # missing: MCA810; objects unreadable: nothing to compare
        mounted = sorted(spc["objectNames"])
        same_objects = [name.lower() for name in mounted] == [name.lower() for name in configured]
        spc_vault = spc.get("keyvaultName") or ""
        same_vault = not (spc_vault and vault_name) or spc_vault.lower() == vault_name.lower()
        if same_objects and same_vault:
            continue
        findings.append(make(
            context, "MCA815", f"istio-spc-{revision}", revision=revision,
            spc_objects=", ".join(mounted), spc_vault=spc_vault or "?", configured_objects=", ".join(configured),
            evidence=[f"istio-spc-{revision} objects: {', '.join(mounted)} (vault {spc_vault or '?'})",
                      f"plug-in config objects: {', '.join(configured)} (vault {vault_name})"]))
    return findings


@rule("MCA814", inputs=("kube.istiodDeployments",))
def check_istiod_deployment(snapshot, context):
    """MCA814: deployment istiod-<revision> is missing."""
    deployments = kube_item(snapshot, "istiodDeployments")
    if not deployments:
        return []
    return [make(context, "MCA814", f"istiod-{revision}", revision=revision,
                 evidence=[f"deployment istiod-{revision}: not found in aks-istio-system"])
            for revision, found in deployments.items() if found is None]


# --------------------------------------------------------------------------- istiod's CA

def _istiod_pod_states(snapshot):
    """[(pod, mode, mode_line, rejections)] from each istiod log."""
    states = []
    for log in kube_item(snapshot, "istiodLogs") or ():
        events = logparse.istiod_ca_events(log.get("lines"))
        mode, mode_line = logparse.istiod_ca_mode(log.get("lines"))
        states.append((log.get("pod"), mode, mode_line, _open_rejections(events)))
    return states


def _open_rejections(events):
    """Rejections not followed by a successful load (a later good reload clears them)."""
    open_lines = []
    for event in events:
        if event["kind"] in (logparse.REJECTED, logparse.UPDATE_FAILED):
            open_lines.append(event["line"])
        elif event["kind"] in (logparse.PLUGIN, logparse.INTERMEDIATE_UPDATED, logparse.ROOT_UPDATED):
            open_lines = []
    return open_lines


@rule("MCA811", "MCA812", "MCA813", inputs=("cluster", "kube.istiodLogs"))
def check_istiod_ca(snapshot, context):
    """MCA811 self-signed despite a plug-in CA, MCA812 rejected, MCA813 plug-in confirmed."""
    if plugin_config(snapshot) is None:
        return []
    states = _istiod_pod_states(snapshot)
    findings = []
    self_signed = [(pod, line) for pod, mode, line, _ in states if mode == logparse.SELF_SIGNED]
    rejected = [(pod, line) for pod, _, _, lines in states for line in lines]
    if self_signed:
        findings.append(_log_finding(context, "MCA811", self_signed, istiod_step=capath.istiod_step(snapshot, context)))
    if rejected:
        findings.append(_log_finding(context, "MCA812", rejected))
    plugin = [(pod, line) for pod, mode, line, _ in states if mode == logparse.PLUGIN]
    if plugin and not self_signed and not rejected:
        findings.append(_log_finding(context, "MCA813", plugin))
    return findings


def _log_finding(context, code, pod_lines, **params):
    evidence = [f"{pod}: {line}" for pod, line in pod_lines[:MAX_EVIDENCE]]
    return make(context, code, "istiod", evidence=evidence, log_line=logparse.log_message(pod_lines[0][1]), **params)


CHECKS = [check_istiod_deployment, check_secret_provider_class, check_secret_provider_class_matches,
          check_istiod_pods, check_mount_failures, check_events_cut,
          check_istiod_ca]
