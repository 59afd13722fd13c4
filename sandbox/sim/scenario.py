"""Scenario loader and the mutable in-memory World every simulated service shares.

A scenario YAML (``sandbox/sim/scenarios/<name>.yaml``) describes one Azure
subscription: the operator, one AKS cluster with the Istio plug-in CA config, its
Key Vaults and secrets, role assignments, generated PKI sets and the Kubernetes
objects.  ARM writes (access-policy add, role assignment create) change the
World; Key Vault reads and the Kubernetes mount model evaluate it, so a fix made
through ``az`` turns the cluster healthy on the next read.

Interface used by ``sandbox/sim/kube.py`` (Kubernetes side):
  world.plugin_objects()            -> list of PluginObject(file, object_name, vault_name)
  world.plugin_config()             -> the plugin dict from the cluster (may be {})
  world.addon_identity()            -> dict objectId/clientId/resourceId ({} if none)
  world.principal_can_get_secret(vault, oid) -> None | KvDenial
  world.secret_access(vault, oid, name)      -> None | KvDenial (access + existence + enabled)
  world.pki_part(set_name, part)    -> PEM text
  world.resolve_value(spec)         -> text for a {value|pki,part} spec
  world.kubernetes                  -> the scenario's raw ``kubernetes:`` mapping
  world.key_vault_error_format      -> "legacy" | "azcore"
  world.kube_user_token             -> bearer token listClusterUserCredential hands out
  world.vault_uri(vault_name)       -> the vault's data-plane URL
  world.lock                        -> RLock guarding mutations
"""

import copy
import fnmatch
import datetime
import json
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Optional

import yaml

SCENARIO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios")

PLUGIN_FILES = (
    ("ca-cert.pem", "certObjectName"),
    ("ca-key.pem", "keyObjectName"),
    ("root-cert.pem", "rootCertObjectName"),
    ("cert-chain.pem", "certChainObjectName"),
)
PKI_PARTS = ("root-cert", "ca-cert", "ca-key", "cert-chain")

KV_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
KV_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
KV_ADMINISTRATOR = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
KV_READER = "21090545-7ca7-4776-b22c-e363652d74d2"
GET_SECRET_ACTION = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
READ_METADATA_ACTION = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
SET_SECRET_ACTION = "Microsoft.KeyVault/vaults/secrets/setSecret/action"
_RBAC_ACTIONS = {"get": GET_SECRET_ACTION, "list": READ_METADATA_ACTION, "set": SET_SECRET_ACTION}


def _role_allows(definition, data_action):
    """Azure RBAC's data-action check: a dataActions pattern matches (``*`` wildcards,
    case-insensitive) and no notDataActions pattern does."""
    if definition is None:
        return False

    def matches(pattern):
        return fnmatch.fnmatchcase(data_action.lower(), str(pattern).lower())
    return (any(matches(p) for p in definition["dataActions"])
            and not any(matches(p) for p in definition["notDataActions"]))


# Built-in role definitions the simulator knows (subset, with the data actions that matter).
BUILTIN_ROLES = {
    KV_SECRETS_USER: ("Key Vault Secrets User", [], ["Microsoft.KeyVault/vaults/secrets/getSecret/action",
                                                     "Microsoft.KeyVault/vaults/secrets/readMetadata/action"]),
    KV_SECRETS_OFFICER: ("Key Vault Secrets Officer", ["Microsoft.KeyVault/vaults/*/read"],
                         ["Microsoft.KeyVault/vaults/secrets/*"]),
    KV_ADMINISTRATOR: ("Key Vault Administrator", ["Microsoft.KeyVault/vaults/*/read"],
                       ["Microsoft.KeyVault/vaults/*"]),
    KV_READER: ("Key Vault Reader", ["Microsoft.KeyVault/vaults/*/read"],
                ["Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"]),
    "f25e0fa2-a7c8-4377-a976-54943a77a395": ("Key Vault Contributor", ["Microsoft.KeyVault/*"], []),
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": ("Owner", ["*"], []),
    "b24988ac-6180-42a0-ab88-20f7382dd24c": ("Contributor", ["*"], []),
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": ("Reader", ["*/read"], []),
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": ("User Access Administrator",
                                             ["*/read", "Microsoft.Authorization/*"], []),
}

_pki_cache = {}
_pki_lock = threading.Lock()


class ScenarioError(ValueError):
    """A scenario file is missing or malformed (one-line message)."""


@dataclass(frozen=True)
class KvDenial:
    """Why Key Vault refuses a read: HTTP status, outer code, inner code, message."""

    status: int
    code: str
    message: str
    inner_code: Optional[str] = None

    def body(self):
        error = {"code": self.code, "message": self.message}
        if self.inner_code:
            error["innererror"] = {"code": self.inner_code}
        return {"error": error}

    @property
    def reason(self):
        """The most specific code (inner if present): AccessDenied, ForbiddenByRbac..."""
        return self.inner_code or self.code


@dataclass(frozen=True)
class PluginObject:
    """One of the four plug-in files istiod mounts, and where it comes from."""

    file: str
    object_name: str
    vault_name: str


# --------------------------------------------------------------------------- helpers

def now_epoch():
    return int(time.time())


def parse_time(value):
    """Epoch seconds from an int, an ISO date, or a relative "+30d"/"-2h"/"now"."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, datetime.datetime):
        return int(value.replace(tzinfo=value.tzinfo or datetime.timezone.utc).timestamp())
    if isinstance(value, datetime.date):
        return int(datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.timezone.utc).timestamp())
    text = str(value).strip()
    if text == "now":
        return now_epoch()
    match = re.fullmatch(r"(?:now)?([+-]\d+)([smhd])", text)
    if match:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        return now_epoch() + int(match.group(1)) * unit
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ScenarioError("bad time value %r (use epoch, ISO 8601, or +30d/-1h)" % value) from None
    return parse_time(parsed)


def scenario_path(name):
    """Path of a scenario by name (or a path given directly)."""
    if os.path.sep in name or name.endswith(".yaml"):
        return name
    return os.path.join(SCENARIO_DIR, name + ".yaml")


def list_scenarios():
    return sorted(f[:-5] for f in os.listdir(SCENARIO_DIR) if f.endswith(".yaml"))


def _pki_set_to_parts(result):
    """Normalise whatever make_plugin_set returns into {part: PEM text}."""
    parts = {}
    for part in PKI_PARTS:
        value = None
        if isinstance(result, dict):
            for key in (part, part + ".pem", part.replace("-", "_")):
                if key in result:
                    value = result[key]
                    break
        else:
            value = getattr(result, part.replace("-", "_"), None)
        if value is None:
            raise ScenarioError("certfactory set has no %r part" % part)
        parts[part] = value.decode("ascii") if isinstance(value, bytes) else str(value)
    return parts


def make_pki_set(variant):
    """Generate (once per process per variant) a plug-in CA set via sandbox.certfactory."""
    key = json.dumps(variant or {}, sort_keys=True, default=str)
    with _pki_lock:
        if key not in _pki_cache:
            from sandbox import certfactory  # imported late: another engineer owns it
            _pki_cache[key] = _pki_set_to_parts(certfactory.make_plugin_set(**(variant or {})))
        return _pki_cache[key]


# --------------------------------------------------------------------------- world

class World:
    """All mutable simulated state, shared by the services of one simulator."""

    def __init__(self, data, name="scenario"):
        self.name = name
        self.lock = threading.RLock()
        self.raw = data
        self.subscription = str(data.get("subscription") or "00000000-0000-0000-0000-000000000001")
        self.subscription_name = data.get("subscriptionName", "Simulated Subscription")
        self.tenant = str(data.get("tenant") or "00000000-0000-0000-0000-0000000000aa")
        self.operator = dict(data.get("operator") or {})
        self.operator.setdefault("objectId", "11111111-1111-1111-1111-111111111111")
        self.operator.setdefault("clientId", "11111111-aaaa-1111-aaaa-111111111111")
        self.operator.setdefault("name", "operator")
        self.operator_arm = dict(data.get("operatorArm") or {})
        self.key_vault_error_format = data.get("keyVaultErrorFormat", "legacy")
        if self.key_vault_error_format not in ("legacy", "azcore"):
            raise ScenarioError("keyVaultErrorFormat must be legacy or azcore")
        self.kubernetes = data.get("kubernetes") or {}
        self.kube_user_token = data.get("clusterUserToken", "sim-cluster-user-token")
        self.service_principals = list(data.get("servicePrincipals") or [])
        self.faults = list(data.get("faults") or [])
        self.endpoints = {}
        self.pki = {}
        for set_name, variant in (data.get("pki") or {}).items():
            self.pki[set_name] = make_pki_set(variant or {})
        # A fleet (sandbox/sim/fleet.py) has several subscriptions and clusters; a plain
        # scenario has one of each, and ``self.cluster`` is always the first cluster.
        self.subscriptions = [dict(item, id=str(item["id"])) for item in data.get("subscriptions") or []] or [
            {"id": self.subscription, "name": self.subscription_name}]
        self.resource_graph = dict(data.get("resourceGraph") or {})
        self.vaults = {}
        for vault_spec in data.get("vaults") or []:
            vault = self._build_vault(vault_spec)
            self.vaults[vault["name"].lower()] = vault
        self.clusters = [self._build_cluster(spec) for spec in data.get("clusters") or [data.get("cluster") or {}]]
        self.cluster = self.clusters[0]
        self.custom_roles = {str(spec["guid"]).lower(): spec for spec in data.get("customRoles") or []}
        self.role_assignments = [self._build_assignment(spec) for spec in data.get("roleAssignments") or []]
        self._assignment_index = None   # _assignments_of
        self.identities = self._collect_identities(data)
        # Entra ID groups: ``groups: [{objectId, name, members: [object ids, group ids], securityEnabled}]``.
        # Key Vault honours a group's access policy or role assignment for its members, transitively
        # (learn.microsoft.com/azure/key-vault/general/rbac-guide; assign-access-policy), and Graph
        # lists them (sandbox/sim/arm.py graph_member_objects).
        self.groups = {str(group["objectId"]).lower(): dict(group, objectId=str(group["objectId"]))
                       for group in data.get("groups") or []}

    # ------------------------------------------------------------------ ids

    def rg_id(self, resource_group, subscription=None):
        return "/subscriptions/%s/resourceGroups/%s" % (subscription or self.subscription, resource_group)

    def vault_id(self, resource_group, name, subscription=None):
        return "%s/providers/Microsoft.KeyVault/vaults/%s" % (self.rg_id(resource_group, subscription), name)

    def has_subscription(self, subscription):
        return any(item["id"].lower() == str(subscription).lower() for item in self.subscriptions)

    def subscription_forbidden(self, subscription):
        """The operator is listed in it (az login shows it) but may read nothing in it."""
        return any(item["id"].lower() == str(subscription).lower() and item.get("forbidden")
                   for item in self.subscriptions)

    def find_cluster(self, subscription, resource_group, name):
        for cluster in self.clusters:
            if (cluster["subscription"].lower() == str(subscription).lower()
                    and cluster["resourceGroup"].lower() == resource_group.lower()
                    and cluster["name"].lower() == name.lower()):
                return cluster
        return None

    def role_definition_id(self, guid):
        return "/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s" % (self.subscription, guid)

    def role_definition(self, guid):
        """{roleName, type, actions, dataActions, notDataActions} of a built-in or scenario
        custom role (``customRoles: [{guid, roleName, actions, dataActions, notDataActions}]``)."""
        guid = str(guid).lower()
        if guid in BUILTIN_ROLES:
            name, actions, data_actions = BUILTIN_ROLES[guid]
            return {"roleName": name, "type": "BuiltInRole", "actions": actions, "dataActions": data_actions,
                    "notDataActions": []}
        spec = self.custom_roles.get(guid)
        if spec is None:
            return None
        return {"roleName": spec["roleName"], "type": "CustomRole", "actions": spec.get("actions") or [],
                "dataActions": spec.get("dataActions") or [], "notDataActions": spec.get("notDataActions") or []}

    def role_definition_guids(self):
        return list(BUILTIN_ROLES) + list(self.custom_roles)

    # ------------------------------------------------------------------ builders

    def _build_vault(self, spec):
        name = spec["name"]
        resource_group = spec.get("resourceGroup", "myResourceGroup")
        subscription = str(spec.get("subscription") or self.subscription)
        properties = {
            "tenantId": str(spec.get("tenantId", self.tenant)),
            "sku": {"family": "A", "name": spec.get("sku", "standard")},
            "accessPolicies": [self._policy(p) for p in spec.get("accessPolicies") or []],
            "enableRbacAuthorization": bool(spec.get("enableRbacAuthorization", False)),
            "enableSoftDelete": True,
            "softDeleteRetentionInDays": 90,
            "enabledForDeployment": False,
            "enabledForDiskEncryption": False,
            "enabledForTemplateDeployment": False,
            "vaultUri": spec.get("vaultUri", "https://%s.vault.loop.test/" % name),
            "provisioningState": "Succeeded",
            "publicNetworkAccess": spec.get("publicNetworkAccess", "Enabled"),
        }
        if spec.get("privateEndpointConnections"):
            # vault.properties.privateEndpointConnections items as ARM returns them
            # (azure-rest-api-specs keyvault PrivateEndpointConnectionItem); a scenario names the status.
            properties["privateEndpointConnections"] = [{
                "id": "%s/privateEndpointConnections/pec-%d" % (name, index),
                "properties": {
                    "provisioningState": "Succeeded",
                    "privateEndpoint": {"id": "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/"
                                              "privateEndpoints/pe-%d" % (self.subscription, resource_group, index)},
                    "privateLinkServiceConnectionState": {"status": item.get("status", "Approved"),
                                                          "description": item.get("description", ""),
                                                          "actionsRequired": "None"}}}
                for index, item in enumerate(spec["privateEndpointConnections"])]
        if spec.get("networkAcls") is not None:
            acls = dict(spec["networkAcls"])
            acls.setdefault("bypass", "AzureServices")
            acls.setdefault("ipRules", [])
            acls.setdefault("virtualNetworkRules", [])
            properties["networkAcls"] = acls
        secrets = {}
        for secret_name, secret_spec in (spec.get("secrets") or {}).items():
            secrets[secret_name] = self._build_secret_versions(secret_spec)
        return {
            "id": self.vault_id(resource_group, name, subscription),
            "name": name,
            "type": "Microsoft.KeyVault/vaults",
            "location": spec.get("location", "eastus"),
            "tags": dict(spec.get("tags") or {}),
            "properties": properties,
            "resourceGroup": resource_group,
            "secrets": secrets,
        }

    def _policy(self, spec):
        permissions = spec.get("permissions") or {}
        if isinstance(permissions, list):  # shorthand: list of secret permissions
            permissions = {"secrets": permissions}
        policy = {
            "tenantId": str(spec.get("tenantId", self.tenant)),
            "objectId": str(spec["objectId"]),
            "permissions": {kind: list(permissions.get(kind) or [])
                            for kind in ("keys", "secrets", "certificates", "storage")},
        }
        if spec.get("applicationId"):  # compound identity (AccessPolicyEntry.applicationId)
            policy["applicationId"] = str(spec["applicationId"])
        return policy

    def _build_secret_versions(self, spec):
        """Versions oldest first; the last one is current."""
        if not isinstance(spec, dict):
            spec = {"value": spec}
        older = spec.get("versions") or []
        versions = [self._build_secret_version(dict(v), index) for index, v in enumerate(older)]
        current = {k: v for k, v in spec.items() if k != "versions"}
        versions.append(self._build_secret_version(current, len(older)))
        return versions

    def _build_secret_version(self, spec, index):
        created = parse_time(spec.get("created")) or now_epoch() - 86400 * (30 - min(index, 29))
        kind = spec.get("kind", "secret")
        if kind not in ("secret", "certificate", "key"):
            raise ScenarioError("secret kind must be secret, certificate or key")
        return {
            "version": spec.get("version") or uuid.uuid5(uuid.NAMESPACE_URL, "%s/%d" % (json.dumps(
                spec, sort_keys=True, default=str), index)).hex,
            "valueSpec": spec,
            "enabled": bool(spec.get("enabled", True)),
            "exp": parse_time(spec.get("exp")),
            "nbf": parse_time(spec.get("nbf")),
            "contentType": spec.get("contentType", "application/x-pem-file" if kind == "certificate" else None),
            "kind": kind,
            "tags": dict(spec.get("tags") or {}),
            "created": created,
            "updated": parse_time(spec.get("updated")) or created,
        }

    def _build_cluster(self, spec):
        spec = copy.deepcopy(spec)
        name = spec.get("name", "myAKSCluster")
        resource_group = spec.get("resourceGroup", "myResourceGroup")
        subscription = str(spec.get("subscription") or self.subscription)
        properties = spec.get("properties") or {}
        properties.setdefault("provisioningState", "Succeeded")
        properties.setdefault("powerState", {"code": "Running"})
        properties.setdefault("kubernetesVersion", "1.30.6")
        properties.setdefault("currentKubernetesVersion", properties["kubernetesVersion"])
        properties.setdefault("dnsPrefix", name + "-dns")
        properties.setdefault("fqdn", "%s-dns-sim.hcp.eastus.azmk8s.io" % name.lower())
        properties.setdefault("nodeResourceGroup", "MC_%s_%s_%s" % (resource_group, name, spec.get("location", "eastus")))
        plugin = (((properties.get("serviceMeshProfile") or {}).get("istio") or {})
                  .get("certificateAuthority") or {}).get("plugin")
        if plugin and "keyVault" in plugin:  # shorthand: vault name instead of full id
            vault = self.vaults.get(str(plugin.pop("keyVault")).lower())
            if vault is None:
                raise ScenarioError("cluster plugin keyVault names an unknown vault")
            plugin["keyVaultId"] = vault["id"]
        addon = (properties.get("addonProfiles") or {}).get("azureKeyvaultSecretsProvider")
        if addon is not None:
            identity = addon.setdefault("identity", {})
            identity.setdefault("objectId", "22222222-2222-2222-2222-222222222222")
            identity.setdefault("clientId", "22222222-bbbb-2222-bbbb-222222222222")
            identity.setdefault("resourceId", "/subscriptions/%s/resourcegroups/%s/providers/"
                                "Microsoft.ManagedIdentity/userAssignedIdentities/azurekeyvaultsecretsprovider-%s"
                                % (subscription, properties["nodeResourceGroup"], name))
            config = addon.setdefault("config", {})
            for key, value in list(config.items()):  # ARM returns these as strings
                config[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return {
            "id": "/subscriptions/%s/resourcegroups/%s/providers/Microsoft.ContainerService/managedClusters/%s"
                  % (subscription, resource_group, name),
            "name": name,
            "type": "Microsoft.ContainerService/ManagedClusters",
            "location": spec.get("location", "eastus"),
            "tags": spec.get("tags"),
            "sku": spec.get("sku", {"name": "Base", "tier": "Free"}),
            "identity": spec.get("identity", {"type": "SystemAssigned",
                                              "principalId": "33333333-3333-3333-3333-333333333333",
                                              "tenantId": self.tenant}),
            "properties": properties,
            "resourceGroup": resource_group,
            "subscription": subscription,
        }

    def _build_assignment(self, spec):
        scope = self._expand_scope(spec.get("scope", "/subscriptions/%s" % self.subscription))
        role = str(spec.get("roleDefinitionGuid") or spec.get("role") or "")
        role_guid = role if role in BUILTIN_ROLES else self._role_guid_by_name(role) or role
        name = str(spec.get("name") or uuid.uuid5(uuid.NAMESPACE_URL, scope + spec["principalId"] + role_guid))
        return self.make_assignment(scope, name, role_guid, str(spec["principalId"]),
                                    spec.get("principalType", "ServicePrincipal"))

    def _expand_scope(self, scope):
        """Allow ``vault:<name>``, ``vault:<name>/secrets/<secret>`` (a secret scope) and
        ``rg:<name>`` shorthands in scenario scopes."""
        if scope.startswith("vault:"):
            name, _, secret = scope[6:].partition("/secrets/")
            vault = self.vaults.get(name.lower())
            if vault is None:
                raise ScenarioError("role assignment scope names an unknown vault")
            return vault["id"] + ("/secrets/" + secret if secret else "")
        if scope.startswith("rg:"):
            return self.rg_id(scope[3:])
        if scope.startswith("sub:"):
            return "/subscriptions/" + scope[4:]
        return scope

    def _role_guid_by_name(self, role_name):
        for guid, (name, _, _) in BUILTIN_ROLES.items():
            if name.lower() == role_name.lower():
                return guid
        return None

    def make_assignment(self, scope, name, role_guid, principal_id, principal_type):
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return {
            "id": "%s/providers/Microsoft.Authorization/roleAssignments/%s" % (scope.rstrip("/"), name),
            "name": name,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {
                "roleDefinitionId": self.role_definition_id(role_guid),
                "principalId": principal_id,
                "principalType": principal_type,
                "scope": scope,
                "condition": None,
                "conditionVersion": None,
                "createdOn": stamp,
                "updatedOn": stamp,
                "createdBy": None,
                "updatedBy": None,
                "delegatedManagedIdentityResourceId": None,
                "description": None,
            },
        }

    def _collect_identities(self, data):
        """oid -> identity (clientId, name, resourceId) for token issuing and error texts."""
        identities = {}
        op = self.operator
        identities[op["objectId"]] = {"objectId": op["objectId"], "clientId": op["clientId"],
                                      "name": op["name"], "resourceId": op.get("resourceId")}
        for cluster in self.clusters:
            addon = self.addon_identity(cluster)
            if addon:
                identities[addon["objectId"]] = {"objectId": addon["objectId"], "clientId": addon["clientId"],
                                                 "name": "azurekeyvaultsecretsprovider-" + cluster["name"],
                                                 "resourceId": addon.get("resourceId")}
        for extra in data.get("identities") or []:
            identities[str(extra["objectId"])] = {"objectId": str(extra["objectId"]),
                                                  "clientId": str(extra.get("clientId", extra["objectId"])),
                                                  "name": extra.get("name", "identity"),
                                                  "resourceId": extra.get("resourceId")}
        for sp in self.service_principals:
            identities[str(sp["objectId"])] = {"objectId": str(sp["objectId"]), "clientId": str(sp["clientId"]),
                                               "name": sp.get("name", "service-principal"), "resourceId": None}
        return identities

    # ------------------------------------------------------------------ queries

    def identity_by(self, client_id=None, object_id=None, resource_id=None):
        """Find a known identity by any of its ids (case-insensitive), or None."""
        for identity in self.identities.values():
            if object_id and identity["objectId"].lower() == object_id.lower():
                return identity
            if client_id and identity["clientId"].lower() == client_id.lower():
                return identity
            if resource_id and (identity.get("resourceId") or "").lower() == resource_id.lower():
                return identity
        return None

    def addon_identity(self, cluster=None):
        cluster = cluster or self.cluster
        addon = ((cluster["properties"].get("addonProfiles") or {}).get("azureKeyvaultSecretsProvider") or {})
        return dict(addon.get("identity") or {})

    def plugin_config(self):
        istio = (self.cluster["properties"].get("serviceMeshProfile") or {}).get("istio") or {}
        return dict((istio.get("certificateAuthority") or {}).get("plugin") or {})

    def plugin_objects(self):
        """The four plug-in objects the CSI provider fetches, with the vault name."""
        plugin = self.plugin_config()
        vault_name = (plugin.get("keyVaultId") or "").rstrip("/").split("/")[-1]
        return [PluginObject(file, plugin.get(field, ""), vault_name) for file, field in PLUGIN_FILES]

    def find_vault(self, vault):
        """Vault by name, by ARM id, or the vault dict itself."""
        if isinstance(vault, dict):
            return vault
        key = str(vault).rstrip("/").split("/")[-1].lower()
        return self.vaults.get(key)

    def vault_uri(self, vault):
        found = self.find_vault(vault)
        return found["properties"]["vaultUri"] if found else None

    def pki_part(self, set_name, part):
        try:
            return self.pki[set_name][part]
        except KeyError:
            raise ScenarioError("unknown pki set/part %s/%s" % (set_name, part)) from None

    def resolve_value(self, spec):
        """Text of a {value} / {pki, part} spec (plain strings pass through)."""
        if spec is None:
            return ""
        if isinstance(spec, str):
            return spec
        if "pki" in spec and spec.get("kind") == "certificate":
            # A Key Vault certificate's backing secret (PEM content type) holds the private
            # key, then the certificate; the CSI provider mounts it as it is for objectType
            # secret: "The contents of the file will be the private key and certificate in PEM
            # format" (Azure/secrets-store-csi-driver-provider-azure
            # website/content/en/configurations/getting-certs-and-keys.md, commit 20741b4).
            # The certificate object stands for ca-cert imported with ca-key.
            return self.pki_part(spec["pki"], "ca-key") + self.pki_part(spec["pki"], "ca-cert")
        if "pki" in spec:
            return self.pki_part(spec["pki"], spec.get("part", "root-cert"))
        return str(spec.get("value", ""))

    def _caller_text(self, oid):
        identity = self.identities.get(oid) or {}
        app_id = identity.get("clientId", oid)
        return "appid=%s;oid=%s;iss=https://sts.windows.net/%s/" % (app_id, oid, self.tenant)

    def principal_can_get_secret(self, vault, oid, secret_name=None):
        """None if ``oid`` may GET secret ``secret_name`` (any secret when None: only
        vault-wide grants count) of ``vault``, else the KvDenial Key Vault sends.

        Order mirrors Key Vault: network first, then the access model.
        """
        return self.principal_secret_denial(vault, oid, "get", secret_name)

    def principal_can_list_secrets(self, vault, oid):
        """None if ``oid`` may list secrets / versions of ``vault``, else the KvDenial."""
        return self.principal_secret_denial(vault, oid, "list")

    def principal_secret_denial(self, vault, oid, permission, secret_name=None):
        """Network check, then access policy (``permission`` or all) or RBAC role."""
        with self.lock:
            found = self.find_vault(vault)
            if found is None:
                return KvDenial(404, "VaultNotFound", "The vault was not found.")
            props = found["properties"]
            where = "%s;location=%s" % (found["name"], found["location"])
            caller = self._caller_text(oid)
            denial = self._network_denial(props, caller, where)
            if denial:
                return denial
            if props.get("enableRbacAuthorization"):
                return self._rbac_denial(found, oid, caller, where, permission, secret_name)
            return self._policy_denial(props, oid, caller, where, permission)

    def _network_denial(self, props, caller, where):
        if str(props.get("publicNetworkAccess", "Enabled")).lower() == "disabled":
            return KvDenial(403, "Forbidden", "Public network access is disabled and request is not from a "
                            "trusted service nor via an approved private link.\r\nCaller: %s\r\nVault: %s"
                            % (caller, where), "ForbiddenByConnection")
        acls = props.get("networkAcls") or {}
        if str(acls.get("defaultAction", "Allow")).lower() == "deny":
            rules = [str(rule.get("value", "")) for rule in acls.get("ipRules") or []]
            if not any(rule in ("127.0.0.1", "127.0.0.1/32", "127.0.0.0/8") for rule in rules):
                return KvDenial(403, "Forbidden", "Client address is not authorized and caller is not a trusted "
                                "service.\r\nClient address: 127.0.0.1\r\nCaller: %s\r\nVault: %s"
                                % (caller, where), "ForbiddenByFirewall")
        return None

    def _policy_denial(self, props, oid, caller, where, permission="get"):
        principals = self._principal_ids(oid)
        for policy in props.get("accessPolicies") or []:
            if str(policy.get("objectId", "")).lower() not in principals:
                continue
            if policy.get("applicationId"):
                # A compound identity applies only to that application acting for the
                # principal; the caller's own token (no on-behalf-of) never matches it.
                continue
            granted = [p.lower() for p in (policy.get("permissions") or {}).get("secrets") or []]
            if permission in granted or "all" in granted:
                return None
        return KvDenial(403, "Forbidden", "The user, group or application '%s' does not have secrets %s "
                        "permission on key vault '%s'. For help resolving this issue, please see "
                        "https://go.microsoft.com/fwlink/?linkid=2125287" % (caller, permission, where),
                        "AccessDenied")

    def _assignments_of(self, principals):
        """The role assignments whose principal is one of ``principals`` (the caller and its
        security groups), from an index by principal rebuilt whenever an assignment is added,
        removed or replaced (the key is the ids of the list's items; the index holds every
        item, so no id is reused while it stands). Callers still compare the principal, so
        Key Vault's decision is the whole list's, only without walking every assignment of
        the fleet per request (a 5,000-cluster fleet has 2,400, each read walked them all
        under the world's lock, #25)."""
        key = tuple(map(id, self.role_assignments))
        if self._assignment_index is None or self._assignment_index[0] != key:
            index = {}
            for assignment in self.role_assignments:
                index.setdefault(str(assignment["properties"]["principalId"]).lower(), []).append(assignment)
            self._assignment_index = (key, index)
        index = self._assignment_index[1]
        return [assignment for principal in sorted(principals) for assignment in index.get(principal, ())]

    def _rbac_denial(self, vault, oid, caller, where, permission="get", secret_name=None):
        """An assignment counts when its scope is the vault, a parent, or (GET of one
        secret) that secret's own scope ``<vault-id>/secrets/<name>``."""
        vault_id = vault["id"].lower()
        resource = "%s/secrets/%s" % (vault_id, secret_name.lower()) if secret_name else vault_id
        principals = self._principal_ids(oid)
        for assignment in self._assignments_of(principals):
            props = assignment["properties"]
            if str(props["principalId"]).lower() not in principals:
                continue
            scope = props["scope"].rstrip("/").lower()
            if not (resource == scope or resource.startswith(scope + "/")):
                continue
            role_guid = props["roleDefinitionId"].rstrip("/").split("/")[-1].lower()
            action = _RBAC_ACTIONS[permission]
            if _role_allows(self.role_definition(role_guid), action):
                return None
        message = ("Caller is not authorized to perform action on resource.\r\nIf role assignments, deny "
                   "assignments or role definitions were changed recently, please observe propagation time.\r\n"
                   "Caller: %s\r\nAction: '%s'\r\nResource: '%s'\r\nAssignment: (not found)\r\n"
                   "DenyAssignmentId: null\r\nDecisionReason: null \r\nVault: %s\r\n"
                   % (caller, _RBAC_ACTIONS[permission], vault_id, where))
        return KvDenial(403, "Forbidden", message, "ForbiddenByRbac")

    def secret_versions(self, vault, name):
        found = self.find_vault(vault)
        if found is None:
            return None
        for secret_name, versions in found["secrets"].items():
            if secret_name.lower() == name.lower():
                return versions
        return None

    def secret_access(self, vault, oid, name, version=None):
        """None if ``oid`` can read secret ``name`` (current or given version), else the KvDenial."""
        with self.lock:
            denial = self.principal_can_get_secret(vault, oid, name)
            if denial:
                return denial
            found = self._find_version(vault, name, version)
            if found is None:
                return KvDenial(404, "SecretNotFound", "A secret with (name/id) %s%s was not found in this key "
                                "vault. If you recently deleted this secret you may be able to recover it using "
                                "the correct recovery command. For help resolving this issue, please see "
                                "https://go.microsoft.com/fwlink/?linkid=2125182"
                                % (name, "/" + version if version else ""))
            if not found["enabled"]:
                return KvDenial(403, "Forbidden", "Operation get is not allowed on a disabled secret.",
                                "SecretDisabled")
            return None

    def _find_version(self, vault, name, version=None):
        versions = self.secret_versions(vault, name)
        if not versions:
            return None
        if not version:
            return versions[-1]
        for candidate in versions:
            if candidate["version"].lower() == version.lower():
                return candidate
        return None

    def secret_value(self, vault, name, version=None):
        """(version record, value text) of a secret, or (None, None)."""
        with self.lock:
            found = self._find_version(vault, name, version)
            if found is None:
                return None, None
            return found, self.resolve_value(found["valueSpec"])

    # ------------------------------------------------------------------ mutations used by tests

    def set_secret(self, vault, name, value_spec, **attributes):
        """Add a new current version of a secret (tests use this to 'upload' a set)."""
        with self.lock:
            found = self.find_vault(vault)
            spec = dict(attributes)
            spec.update(value_spec if isinstance(value_spec, dict) else {"value": value_spec})
            versions = self.secret_versions(found, name)
            if versions is None:
                versions = found["secrets"].setdefault(name, [])
            spec.setdefault("created", now_epoch())
            versions.append(self._build_secret_version(spec, len(versions)))

    def add_secret_version(self, vault, name, value, *, content_type=None, tags=None, attributes=None):
        """A new current version written through Key Vault's SetSecret (sandbox/sim/keyvault.py):
        a random 32-hex version id as Key Vault gives, created = updated = now. Returns its record."""
        attributes = attributes or {}
        spec = {"value": value, "version": uuid.uuid4().hex, "created": now_epoch(), "tags": dict(tags or {}),
                "enabled": attributes.get("enabled", True) is not False}
        if content_type:
            spec["contentType"] = str(content_type)
        for key in ("exp", "nbf"):
            if isinstance(attributes.get(key), (int, float)):
                spec[key] = int(attributes[key])
        with self.lock:
            found = self.find_vault(vault)
            versions = self.secret_versions(found, name)
            if versions is None:
                versions = found["secrets"].setdefault(name, [])
            record = self._build_secret_version(spec, len(versions))
            record["writtenAt"] = time.time()  # sub-second, for the rotation world's poll (kube_rotation.py)
            versions.append(record)
            return record

    def add_access_policy(self, vault, object_id, secrets=("get",)):
        """Append a policy directly (simulates a concurrent writer)."""
        with self.lock:
            found = self.find_vault(vault)
            found["properties"]["accessPolicies"].append(
                self._policy({"objectId": object_id, "permissions": {"secrets": list(secrets)}}))

    def member_groups(self, oid, security_enabled_only=False):
        """Object ids of every group ``oid`` belongs to, directly or through other groups."""
        found, frontier = [], [str(oid).lower()]
        while frontier:
            member = frontier.pop()
            for group_id, group in self.groups.items():
                if group_id not in found and member in {str(m).lower() for m in group.get("members") or []}:
                    found.append(group_id)
                    frontier.append(group_id)
        return [self.groups[group_id]["objectId"] for group_id in found
                if not security_enabled_only or self.groups[group_id].get("securityEnabled", True)]

    def _principal_ids(self, oid):
        """The caller and its security groups, as Key Vault matches policies and assignments:
        an access policy's objectId is "a user, service principal or security group"
        (azure-rest-api-specs, Microsoft.KeyVault vaults AccessPolicyEntry.objectId)."""
        return {str(oid).lower()} | {group.lower() for group in self.member_groups(oid, security_enabled_only=True)}

    def operator_may(self, capability):
        """Scenario switch for operator ARM rights, e.g. canWritePolicies (default True)."""
        return bool(self.operator_arm.get(capability, True))


def merge_scenario(base, override):
    """Deep-merge ``override`` onto ``base`` (``base:`` key in a scenario file).

    Mappings merge recursively and a null value deletes the key; ``vaults`` merge
    by vault name; every other list is replaced whole.
    """
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif key == "vaults" and isinstance(value, list):
            merged[key] = _merge_vaults(merged.get(key) or [], value)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_scenario(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _merge_vaults(base_vaults, override_vaults):
    by_name = {v["name"].lower(): v for v in base_vaults}
    result = list(base_vaults)
    for vault in override_vaults:
        existing = by_name.get(vault["name"].lower())
        if existing is None:
            result.append(copy.deepcopy(vault))
        else:
            result[result.index(existing)] = merge_scenario(existing, vault)
    return result


def _read_file(path, loader=yaml.SafeLoader):
    """One scenario file's own mapping, ``base:`` and ``expect:`` included."""
    with open(path, encoding="utf-8") as handle:
        try:
            data = yaml.load(handle, Loader=loader) or {}  # nosec B506: a safe loader
        except yaml.YAMLError as exc:
            raise ScenarioError("scenario %s is not valid YAML: %s" % (path, str(exc).splitlines()[0])) from None
    if not isinstance(data, dict):
        raise ScenarioError("scenario %s is not a mapping" % path)
    return data


EXPECT_KEYS = ("errors", "warnings", "infos", "exit")


def expectations(name):
    """The scenario file's own ``expect:`` block, or None: what diagnose finds there, the one
    table both grids read (tests/unit/test_golden.py over the golden snapshot,
    tests/e2e/test_diagnose_scenarios.py live), as tests/upstream's templates carry theirs.

    {errors: [codes], warnings: [codes]} are exact, {infos: [codes]} must be there (infos carry
    times and counts), {exit: diagnose's exit status}. A block is never inherited through
    ``base:``: each verdict is stated where its scenario is."""
    # libyaml's safe loader when there is one: the unit grid reads every scenario at import
    expect = _read_file(scenario_path(name), getattr(yaml, "CSafeLoader", yaml.SafeLoader)).get("expect")
    if expect is None:
        return None
    if not isinstance(expect, dict) or set(expect) != set(EXPECT_KEYS):
        raise ScenarioError("scenario %s: expect: needs exactly %s" % (name, ", ".join(EXPECT_KEYS)))
    return {key: expect[key] if key == "exit" else tuple(expect[key] or ()) for key in EXPECT_KEYS}


def disagreements(expect, findings, exit_status):
    """Where a diagnose result (its findings and exit status) disagrees with an ``expect`` block:
    one line per difference, [] when it agrees. Both grids judge by this one function."""
    found = {severity: {item["code"] for item in findings if item["severity"] == severity}
             for severity in ("error", "warning", "info")}
    lines = []
    for key, severity in (("errors", "error"), ("warnings", "warning")):
        if found[severity] != set(expect[key]):
            lines.append("%s: expected %s, found %s" % (key, sorted(expect[key]), sorted(found[severity])))
    missing = set(expect["infos"]) - found["info"]
    if missing:
        lines.append("infos: %s missing (found %s)" % (sorted(missing), sorted(found["info"])))
    if exit_status != expect["exit"]:
        lines.append("exit: expected %s, found %s" % (expect["exit"], exit_status))
    return lines


def read_scenario(name_or_path, _seen=()):
    """The scenario mapping, with any ``base:`` chain resolved; ``expect:`` is the tests'
    (``expectations``), so the simulator never sees it."""
    path = scenario_path(name_or_path)
    if not os.path.exists(path):
        raise ScenarioError("no scenario %r (known: %s)" % (name_or_path, ", ".join(list_scenarios())))
    if path in _seen:
        raise ScenarioError("scenario base loop at %s" % path)
    data = _read_file(path)
    data.pop("expect", None)
    base = data.pop("base", None)
    if base:
        data = merge_scenario(read_scenario(base, _seen + (path,)), data)
    return data


def load_world(name_or_path):
    """Load a scenario YAML into a fresh World (PKI sets cached per process)."""
    data = read_scenario(name_or_path)
    if data.get("fleet"):
        from sandbox.sim import fleet
        data = fleet.expand(data)
    return World(data, name=os.path.basename(scenario_path(name_or_path))[:-5])
