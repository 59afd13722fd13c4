"""Snapshot fixtures for the check grids: one complete healthy snapshot and mutators.

Why a builder: every check grid needs "healthy, except one thing". ``healthy_snapshot()``
returns a full schema-v1 snapshot (azext_meshca/model/snapshot.py) whose Key Vault values
come from ``sandbox.certfactory.make_plugin_set()`` (keys generated at test time, never
committed) and whose in-cluster state matches them. The mutators each break one thing
and return the snapshot so calls chain.

The ca-key value is never in a snapshot; ``keyFacts`` carries its public half, as the
collectors do.
"""

import copy
import datetime
import json

from azext_meshca.model import certs
from azext_meshca.model.snapshot import collected, collection_error
from sandbox import certfactory

SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "99999999-8888-7777-6666-555555555555"
RESOURCE_GROUP = "rg-mesh"
CLUSTER = "aks-mesh"
VAULT = "kv-mesh"
VAULT_RESOURCE_GROUP = "rg-kv"
VAULT_ID = ("/subscriptions/{}/resourceGroups/{}/providers/Microsoft.KeyVault/vaults/{}"
            .format(SUBSCRIPTION, VAULT_RESOURCE_GROUP, VAULT))
OBJECT_ID = "0b4c8e5a-1f2d-4c3b-9a8e-7d6f5e4c3b2a"
REVISION = "asm-1-24"
# The article's naming: its Issue 3 is the missing "test-cert-chain".
SECRET_NAMES = {"root-cert": "test-root-cert", "ca-cert": "test-ca-cert",
                "ca-key": "test-ca-key", "cert-chain": "test-cert-chain"}
PLUGIN_FIELDS = {"root-cert": "rootCertObjectName", "ca-cert": "certObjectName",
                 "ca-key": "keyObjectName", "cert-chain": "certChainObjectName"}
ISTIOD_PODS = ("istiod-asm-1-24-6fcfd88478-c48f9", "istiod-asm-1-24-6fcfd88478-wl8mw")
PROVIDER_POD = "aks-secrets-store-provider-azure-x7k2p"

SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
KEY_VAULT_READER = "21090545-7ca7-4776-b22c-e363652d74d2"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


NOW = certfactory.ANCHOR_TIME
COLLECTED_AT = iso(NOW)


# --------------------------------------------------------------------------- values

def key_facts(key_pem):
    """What the collector keeps of ca-key (azext_meshca/model/keyfacts.py): never the key itself."""
    from azext_meshca.model.keyfacts import key_facts as facts_of
    return facts_of(key_pem)


def fingerprints(pem):
    return [certs.fingerprint(cert) for cert in certs.parse_pem_bundle(pem)]


def secret_item(obj, value, **attributes):
    """A collected Key Vault secret; ca-key's value is dropped as the collector does."""
    data = {"name": SECRET_NAMES[obj], "enabled": True, "notBefore": None, "expires": None,
            "contentType": None, "managed": False, "kid": None,
            "value": None if obj == "ca-key" else value.decode("ascii")}
    data.update(attributes)
    return collected(data)


_SETS = {}


def plugin_set(**variant):
    """make_plugin_set, memoised: the sets are immutable bytes and signing costs time."""
    key = tuple(sorted(variant.items()))
    if key not in _SETS:
        _SETS[key] = certfactory.make_plugin_set(**variant)
    return _SETS[key]


# --------------------------------------------------------------------------- the healthy snapshot

_HEALTHY = {}


def healthy_snapshot(objects=None):
    """A complete snapshot of a cluster where everything works (access-policy vault).

    ``objects`` replaces the plug-in set everywhere (Key Vault and cluster alike).
    """
    if objects is None:
        if "default" not in _HEALTHY:
            _HEALTHY["default"] = _build_healthy(plugin_set())
        return copy.deepcopy(_HEALTHY["default"])
    return _build_healthy(objects)


def _build_healthy(objects):
    last_run = NOW - datetime.timedelta(minutes=4)
    return {
        "version": 1,
        "collectedAt": COLLECTED_AT,
        "target": {"subscriptionId": SUBSCRIPTION, "resourceGroup": RESOURCE_GROUP, "cluster": CLUSTER,
                   "tenantId": TENANT},
        "options": {"revisions": None, "skipCluster": False, "warnDays": 30},
        "cluster": collected(_cluster()),
        "vault": collected(_vault()),
        "roleAssignments": collected([]),
        "secrets": {obj: secret_item(obj, objects[obj]) for obj in SECRET_NAMES},
        "keyFacts": key_facts(objects["ca-key"]),
        "kube": {
            "access": collected({"source": "azure", "server": "https://127.0.0.1:6443"}),
            "istiodPods": collected([_pod(name, "Running", True, minutes=14 * 60) for name in ISTIOD_PODS]),
            "istiodDeployments": collected({REVISION: {"name": "istiod-" + REVISION, "replicas": 2,
                                                       "readyReplicas": 2}}),
            "events": collected([]),
            "providerLogs": collected([{"pod": PROVIDER_POD, "lines": [
                'I1129 14:00:00.000000       1 main.go:96] "Starting Azure Key Vault Provider" version="v1.5.6"',
                # a successful mount logs nothing at default verbosity (tests/upstream/templates.yaml)
                'I1129 14:00:00.000100       1 main.go:138] "Listening for connections" address="/provider/azure.sock"']}]),
            "secretProviderClasses": collected({REVISION: {
                "name": "istio-spc-" + REVISION, "objectNames": [SECRET_NAMES[obj] for obj in SECRET_NAMES],
                "keyvaultName": VAULT, "tenantId": TENANT}}),
            "cacerts": collected(_cacerts(objects)),
            "rootConfigMaps": collected([
                {"namespace": "aks-istio-system", "rootFingerprints": fingerprints(objects["root-cert"])},
                {"namespace": "default", "rootFingerprints": fingerprints(objects["root-cert"])},
                {"namespace": "shop", "rootFingerprints": fingerprints(objects["root-cert"])}]),
            "cronjobs": collected({REVISION: {"name": "istio-cert-validator-cronjob-" + REVISION,
                                              "schedule": "*/10 * * * *", "suspend": False,
                                              "lastScheduleTime": iso(last_run)}}),
            "cronjobLogs": collected(["Root certificate update not detected."]),
            "istiodLogs": collected([{"pod": name, "lines": istiod_lines(plugin=True)} for name in ISTIOD_PODS]),
        },
    }


def _cluster():
    return {
        "id": "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerService/managedClusters/{}"
              .format(SUBSCRIPTION, RESOURCE_GROUP, CLUSTER),
        "name": CLUSTER, "location": "eastus", "nodeResourceGroup": "MC_{}_{}_eastus".format(RESOURCE_GROUP, CLUSTER),
        "meshMode": "Istio",
        "revisions": [REVISION],
        "plugin": dict({"keyVaultId": VAULT_ID},
                       **{PLUGIN_FIELDS[obj]: SECRET_NAMES[obj] for obj in SECRET_NAMES}),
        "csiAddon": {"enabled": True, "enableSecretRotation": "true", "rotationPollInterval": "2m",
                     "identity": {"objectId": OBJECT_ID, "clientId": "c1d2e3f4-0000-1111-2222-333344445555",
                                  "resourceId": "/subscriptions/{}/resourceGroups/MC_x/providers/"
                                                "Microsoft.ManagedIdentity/userAssignedIdentities/"
                                                "azurekeyvaultsecretsprovider-{}".format(SUBSCRIPTION, CLUSTER)}},
        "aad": {"managed": True, "enableAzureRbac": False},
    }


def _vault():
    return {"id": VAULT_ID, "name": VAULT, "resourceGroup": VAULT_RESOURCE_GROUP, "subscriptionId": SUBSCRIPTION,
            "location": "eastus", "tenantId": TENANT, "vaultUri": "https://{}.vault.azure.net/".format(VAULT),
            "enableRbacAuthorization": False,
            "accessPolicies": [{"tenantId": TENANT, "objectId": OBJECT_ID,
                                "permissions": {"secrets": ["get", "list"]}}],
            "publicNetworkAccess": "Enabled", "networkAcls": None, "privateEndpointCount": 0}


def _pod(name, status, ready, minutes):
    created = NOW - datetime.timedelta(minutes=minutes)
    phase = "Running" if status == "Running" else "Pending"
    init = [{"name": "init-a", "state": "waiting" if not ready else "terminated", "reason": None},
            {"name": "init-b", "state": "waiting" if not ready else "terminated", "reason": None}]
    return {"name": name, "revision": REVISION, "phase": phase, "status": status, "ready": ready,
            "createdAt": iso(created), "initContainers": init}


def _cacerts(objects):
    return {"keys": ["ca-cert.pem", "ca-key.pem", "cert-chain.pem", "root-cert.pem"],
            "rootFingerprints": fingerprints(objects["root-cert"]),
            "caCertFingerprint": fingerprints(objects["ca-cert"])[0],
            "certChainFingerprints": fingerprints(objects["cert-chain"])}


def istiod_lines(plugin=True, mode_line=None):
    """istiod's CA start-up lines (1.18 wording, as in the article)."""
    line = mode_line or ("Use plugged-in cert at etc/cacerts/ca-key.pem" if plugin
                         else "No plugged-in cert at etc/cacerts/ca-key.pem; self-signed cert is used")
    return ["2026-11-29T14:00:00.000000Z\tinfo\tUsing istiod file format for signing ca files",
            "2026-11-29T14:00:00.000010Z\tinfo\t" + line,
            "2026-11-29T14:00:00.000020Z\tinfo\tIstiod certificates are reloaded"]


# --------------------------------------------------------------------------- mutators

def clone(snapshot):
    return copy.deepcopy(snapshot)


def cluster(snapshot):
    """The cluster data dict, for edits in place."""
    return snapshot["cluster"]["data"]


def addon(snapshot):
    return cluster(snapshot)["csiAddon"]


def vault(snapshot):
    return snapshot["vault"]["data"]


def kube_data(snapshot, key):
    return snapshot["kube"][key]["data"]


def fail(snapshot, path, reason, status=None, code=None):
    """Replace the collected item at ``path`` (e.g. ``("secrets", "ca-key")``) with a failure."""
    parent = snapshot
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = collected(error=collection_error(reason, status, code))
    return snapshot


def secret_missing(snapshot, obj):
    """Key Vault answered 404 SecretNotFound for this object."""
    return fail(snapshot, ("secrets", obj),
                "404 Not Found (SecretNotFound): A secret with (name/id) {} was not found in this key vault."
                .format(SECRET_NAMES[obj]), 404, "SecretNotFound")


def operator_forbidden(snapshot, objects=("root-cert", "ca-cert", "ca-key", "cert-chain")):
    """The OPERATOR got 403 reading the secrets (says nothing about the add-on)."""
    for obj in objects:
        fail(snapshot, ("secrets", obj), "403 Forbidden (ForbiddenByRbac): Caller is not authorized",
             403, "ForbiddenByRbac")
    return snapshot


# What the collector learns from the definitions of roles outside rbac.KNOWN_ROLES:
# guid -> (roleName, grantsSecretRead); None means the definition could not be read.
CUSTOM_SECRET_READER = "aaaaaaaa-0000-0000-0000-00000000c0de"
CUSTOM_METADATA_ONLY = "bbbbbbbb-0000-0000-0000-00000000c0de"
UNREADABLE_ROLE = "cccccccc-0000-0000-0000-00000000c0de"
ROLE_DEFINITIONS = {
    CONTRIBUTOR: ("Contributor", False),
    CUSTOM_SECRET_READER: ("Mesh CA Reader", True),
    CUSTOM_METADATA_ONLY: ("Vault Lister", False),
    UNREADABLE_ROLE: (None, None),
}


def _assignment(index, guid, scope):
    from azext_meshca.rules import rbac
    item = {"id": "{}/providers/Microsoft.Authorization/roleAssignments/ra-{}".format(scope, index), "scope": scope,
            "roleDefinitionId": "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{}"
                                .format(SUBSCRIPTION, guid),
            "principalId": OBJECT_ID, "principalType": "ServicePrincipal"}
    if guid not in rbac.KNOWN_ROLES:  # annotated as sources/azure.py does
        name, grants = ROLE_DEFINITIONS.get(guid, (None, False))
        item.update(roleName=name, grantsSecretRead=grants)
        if grants is None:
            item["grantsSecretReadError"] = "403 Forbidden (AuthorizationFailed): no roleDefinitions/read"
    return item


def set_rbac(snapshot, role_guids=(SECRETS_USER,), scope=VAULT_ID, keep_policies=False):
    """Make the vault an RBAC vault with these roles for the add-on at ``scope``."""
    vault(snapshot)["enableRbacAuthorization"] = True
    if not keep_policies:
        vault(snapshot)["accessPolicies"] = []
    snapshot["roleAssignments"] = collected([_assignment(index, guid, scope)
                                             for index, guid in enumerate(role_guids)])
    return snapshot


def istiod_stuck(snapshot):
    """istiod pods in Init:0/2 (the article's symptom)."""
    kube_data(snapshot, "istiodPods")[:] = [_pod(name, "Init:0/2", False, minutes=1) for name in ISTIOD_PODS]
    kube_data(snapshot, "istiodDeployments")[REVISION]["readyReplicas"] = 0
    kube_data(snapshot, "istiodLogs")[:] = []
    kube_data(snapshot, "providerLogs")[0]["lines"] = kube_data(snapshot, "providerLogs")[0]["lines"][:1]
    return snapshot


def add_event(snapshot, message, kind="Pod", name=ISTIOD_PODS[0], reason="FailedMount"):
    kube_data(snapshot, "events").append({"involvedKind": kind, "involvedName": name, "type": "Warning",
                                          "reason": reason, "message": message, "count": 9,
                                          "lastSeen": COLLECTED_AT})
    return snapshot


def add_provider_line(snapshot, line):
    kube_data(snapshot, "providerLogs")[0]["lines"].append(line)
    return snapshot


# --------------------------------------------------------------------------- CSI provider texts

KV_MESSAGES = {
    "AccessDenied": ("The user, group or application 'appid=c1d2;oid={};iss=https://sts.windows.net/{}/' does not "
                     "have secrets get permission on key vault '{};location=eastus'. For help resolving this issue, "
                     "please see https://go.microsoft.com/fwlink/?linkid=2125287".format(OBJECT_ID, TENANT, VAULT)),
    "ForbiddenByRbac": "Caller is not authorized to perform action on resource.",
    "ForbiddenByFirewall": "Client address is not authorized and caller is not a trusted service.",
    "ForbiddenByConnection": ("Public network access is disabled and request is not from a trusted service nor "
                              "via an approved private link."),
    "SecretNotFound": ("A secret with (name/id) {name} was not found in this key vault. If you recently deleted "
                       "this secret you may be able to recover it using the correct recovery command. For help "
                       "resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"),
}


def kv_error(error_format, kv_code, name):
    """Key Vault's error as the CSI provider prints it: 'legacy' (autorest) or 'azcore' (v1.5+)."""
    status = 404 if kv_code == "SecretNotFound" else 403
    code = kv_code if status == 404 else "Forbidden"
    message = KV_MESSAGES[kv_code].format(name=name)
    if error_format == "legacy":
        text = ('keyvault.BaseClient#GetSecret: Failure responding to request: StatusCode={0} -- Original Error: '
                'autorest/azure: Service returned an error. Status={0} Code="{1}" Message="{2}"'
                .format(status, code, message))
        return text + ('' if status == 404 else ' InnerError={{"code":"{}"}}'.format(kv_code))
    error = {"code": code, "message": message}
    if status != 404:
        error["innererror"] = {"code": kv_code}
    dashes = "-" * 80
    return "\n".join(["GET https://{}.vault.azure.net/secrets/{}/".format(VAULT, name), dashes,
                      "RESPONSE {0}: {0} {1}".format(status, "Not Found" if status == 404 else "Forbidden"),
                      "ERROR CODE: {}".format(code), dashes, json.dumps({"error": error}, indent=2), dashes, ""])


def provider_error(error_format, kv_code, name):
    return "failed to get objectType:secret, objectName:{}, objectVersion:: {}".format(
        name, kv_error(error_format, kv_code, name))


def mount_event(error_format, kv_code, name, pod=ISTIOD_PODS[0]):
    return ('MountVolume.SetUp failed for volume "cacerts" : rpc error: code = Unknown desc = failed to mount '
            'secrets store objects for pod aks-istio-system/{}, err: rpc error: code = Unknown desc = failed to '
            'mount objects, error: {}'.format(pod, provider_error(error_format, kv_code, name)))


def provider_log_line(error_format, kv_code, name):
    return 'E1129 14:58:01.123456       1 server.go:234] "failed to process mount request" err={}'.format(
        json.dumps(provider_error(error_format, kv_code, name)))


def mount_fails(snapshot, error_format, kv_code, obj="root-cert"):
    """istiod stuck, with the FailedMount event and provider log line for this Key Vault error."""
    name = SECRET_NAMES[obj]
    istiod_stuck(snapshot)
    add_event(snapshot, mount_event(error_format, kv_code, name))
    add_event(snapshot, mount_event(error_format, kv_code, name), kind="Deployment", name="istiod-" + REVISION)
    add_provider_line(snapshot, provider_log_line(error_format, kv_code, name))
    return snapshot


MOUNT_TIMEOUT = ("Unable to attach or mount volumes: unmounted volumes=[cacerts], unattached volumes=[], failed "
                 "to process volumes=[]: timed out waiting for the condition")
DRIVER_MISSING = ('MountVolume.SetUp failed for volume "cacerts" : kubernetes.io/csi: mounter.SetUpAt failed to get '
                  'CSI client: driver name secrets-store.csi.k8s.io not found in the list of registered CSI drivers')


# --------------------------------------------------------------------------- running checks

def run_module(checks, snapshot, warn_days=30):
    """Findings of some rules on a snapshot, run as run_checks runs them (frozen input,
    inputs checked, certificate rules over the parsed CA set), before linking."""
    from azext_meshca.rules.checks import run_rules
    return run_rules(snapshot, warn_days, functions=checks).findings


def codes(findings):
    """Sorted codes, duplicates kept: a grid must see 'one finding', not 'at least one'."""
    return sorted(item["code"] for item in findings)


def applied(*mutators):
    """A healthy snapshot with mutators applied in order (each takes and returns a snapshot)."""
    snapshot = healthy_snapshot()
    for mutate in mutators:
        result = mutate(snapshot)
        snapshot = result if result is not None else snapshot
    return snapshot


def key_vault_holds(**variant):
    """A mutator: Key Vault now holds the set ``make_plugin_set(**variant)`` makes, while
    whatever the cluster holds stays as it was."""
    def mutate(snapshot):
        objects = plugin_set(**variant)
        for obj in ("root-cert", "ca-cert", "cert-chain"):
            snapshot["secrets"][obj]["data"]["value"] = objects[obj].decode("ascii")
        snapshot["keyFacts"] = key_facts(objects["ca-key"])
    return mutate
