"""Collection checks (MCA9xx): what could not be checked, and why.

Every collector failure is reported once, here, so the other checks can simply
return nothing when their input is missing. Failures that describe the object
itself are not collection gaps: a vault 404 is MCA105, a secret 404 or
SecretDisabled is MCA601 / MCA611. Everything else that Key Vault answered is the
OPERATOR's access and is worded that way (MCA904): it is never reported as the
add-on's access.

Kubernetes access: ``kube.access`` failing means no in-cluster item was read. Its
error ``code`` tells the two cases apart: ``credentials`` (listClusterUserCredential
failed: MCA906); anything else (the API server did not answer: MCA905).
"""

from azext_meshca.checks.common import PLUGIN_OBJECTS, kube, make, plugin_config, secret_name
from azext_meshca.checks.secrets import is_object_state_error

CREDENTIALS_CODE = "credentials"
# kube item -> (what to name in MCA907, the namespace it was read in)
KUBE_ITEMS = {
    "istiodPods": ("pods", "aks-istio-system"),
    "istiodDeployments": ("deployments", "aks-istio-system"),
    "events": ("events", "aks-istio-system"),
    "providerLogs": ("pods/log", "kube-system"),
    "secretProviderClasses": ("secretproviderclasses", "aks-istio-system"),
    "cacerts": ("secrets", "aks-istio-system"),
    "rootConfigMaps": ("configmaps", "all namespaces"),
    "cronjobs": ("cronjobs", "aks-istio-system"),
    "cronjobLogs": ("pods/log", "aks-istio-system"),
    "istiodLogs": ("pods/log", "aks-istio-system"),
}


def _error(item):
    return (item or {}).get("error") or {}


def _failed(item):
    return bool(item) and not item.get("ok")


def check_cluster_read(snapshot, context):
    """MCA901: the managed cluster could not be read; nothing else was checked."""
    item = snapshot.get("cluster")
    if not _failed(item):
        return []
    return [make(context, "MCA901", "cluster", evidence=[_error(item).get("reason")],
                 reason=_error(item).get("reason"))]


def check_vault_read(snapshot, context):
    """MCA902: the vault's configuration could not be read (404 is MCA105)."""
    item = snapshot.get("vault")
    if not _failed(item) or _error(item).get("status") == 404:
        return []
    return [make(context, "MCA902", "vault", evidence=[_error(item).get("reason")],
                 reason=_error(item).get("reason"))]


def check_role_assignments_read(snapshot, context):
    """MCA903: role assignments could not be listed, so RBAC access was not judged."""
    item = snapshot.get("roleAssignments")
    if not _failed(item):
        return []
    return [make(context, "MCA903", "roleAssignments", evidence=[_error(item).get("reason")],
                 reason=_error(item).get("reason"))]


def check_secrets_read(snapshot, context):
    """MCA904: secrets the operator could not read (not 404 / SecretDisabled)."""
    secrets = snapshot.get("secrets") or {}
    plugin = plugin_config(snapshot)
    unread = [(obj, secrets[obj]) for obj in PLUGIN_OBJECTS
              if _failed(secrets.get(obj)) and not is_object_state_error(secrets.get(obj))]
    if not unread:
        return []
    labels = ["{} ({})".format(obj, secret_name(plugin, obj) or obj) for obj, _ in unread]
    reasons = []
    for _, item in unread:
        if _error(item).get("reason") not in reasons:
            reasons.append(_error(item).get("reason"))
    return [make(context, "MCA904", "secrets",
                 evidence=["{}: {}".format(label, _error(item).get("reason"))
                           for label, (_, item) in zip(labels, unread)],
                 objects=", ".join(labels), reason="; ".join(str(reason) for reason in reasons))]


def check_kube_access(snapshot, context):
    """MCA906 (no credentials) or MCA905 (API server unreachable); MCA908 when skipped."""
    if snapshot.get("kube") is None:
        if (snapshot.get("options") or {}).get("skipCluster"):
            return [make(context, "MCA908", "cluster", evidence=["--skip-cluster"])]
        return []
    access = kube(snapshot).get("access")
    if not _failed(access):
        return []
    error = _error(access)
    code = "MCA906" if error.get("code") == CREDENTIALS_CODE else "MCA905"
    return [make(context, code, "cluster", evidence=[error.get("reason")], reason=error.get("reason"))]


def check_kube_items(snapshot, context):
    """MCA907: one per in-cluster item that failed while the API server was reachable."""
    items = kube(snapshot)
    if not items or _failed(items.get("access")):
        return []
    findings = []
    for key, (what, namespace) in KUBE_ITEMS.items():
        item = items.get(key)
        if _failed(item):
            findings.append(make(context, "MCA907", key, evidence=["{}: {}".format(key, _error(item).get("reason"))],
                                 what=what, namespace=namespace, reason=_error(item).get("reason")))
    return findings


CHECKS = [check_cluster_read, check_vault_read, check_role_assignments_read, check_secrets_read,
          check_kube_access, check_kube_items]
