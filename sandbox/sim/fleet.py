"""A fleet scenario: many subscriptions, vaults and clusters, generated, never hand-written.

A scenario with a ``fleet:`` mapping is expanded here into the ordinary World keys
(``subscriptions``, ``vaults``, ``clusters``, ``roleAssignments``, ``customRoles``, ``pki``)
before the World is built, so every simulated service (ARM, Key Vault, Resource Graph)
serves all of it::

    fleet:
      subscriptions: 5          # readable subscriptions
      clustersPerSubscription: 40
      vaultsPerSubscription: 8
      forbiddenClusters: 8      # in one more subscription the operator is listed in but cannot read
      checkTokenTenant: true    # vaults of another tenant refuse the operator's token (the default)

Every Azure-side failure diagnose knows appears, by construction: a vault's kind
(``VAULT_KINDS``) applies to every cluster that uses it, a cluster's kind
(``CLUSTER_KINDS``) to that cluster alone, and the object sets vary the certificates.
The names follow the index, so a test can recompute which cluster has what.
"""

TENANT = "00000000-0000-0000-0000-0000000000aa"
OTHER_TENANT = "99999999-9999-9999-9999-999999999999"
OPERATOR = "11111111-1111-1111-1111-111111111111"
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
KEY_VAULT_READER = "21090545-7ca7-4776-b22c-e363652d74d2"
ADMINISTRATOR = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
CUSTOM_READER = "f1ee7000-0000-0000-0000-00000000c0de"
CUSTOM_METADATA = "f1ee7000-0000-0000-0000-00000000beef"

# How a vault is set up; every cluster using it inherits the outcome.
VAULT_KINDS = ("policy", "rbac", "policy-firewall", "rbac-public-disabled", "rbac-reader-only",
               "policy-role-ignored", "rbac-custom-role", "policy-other-tenant")
# What is wrong with one cluster, whatever its vault.
CLUSTER_KINDS = ("ok", "ok", "secret-missing", "addon-disabled", "rotation-off", "poll-long",
                 "plugin-incomplete", "no-grant", "vault-missing", "no-identity")
# The certificate sets a vault's second object set cycles through (the first is always sound).
PKI_VARIANTS = {"good": {}, "expiring": {"days_left": 20}, "expired": {"expired": True},
                "mismatched": {"mismatched_key": True}}


def subscription_id(index):
    return "f1ee7000-0000-0000-0000-%012d" % index


def identity_id(subscription_index, cluster_index):
    return "a0000000-0000-0000-%04d-%012d" % (subscription_index, cluster_index)


def vault_name(subscription_index, vault_index):
    return "fleetkv-%d-%02d" % (subscription_index, vault_index)


def _vault(subscription_index, vault_index, kind, variant):
    sets = {"a": "good", "b": variant}
    secrets = {}
    for prefix, pki in sets.items():
        for part in ("root-cert", "ca-cert", "ca-key", "cert-chain"):
            secrets["%s-%s" % (prefix, part)] = {"pki": pki, "part": part}
    vault = {"name": vault_name(subscription_index, vault_index), "resourceGroup": "fleet-kv-rg",
             "subscription": subscription_id(subscription_index), "location": "eastus",
             "enableRbacAuthorization": kind.startswith("rbac"), "accessPolicies": [], "secrets": secrets}
    if not kind.startswith("rbac"):
        vault["accessPolicies"].append({"objectId": OPERATOR, "permissions": {"secrets": ["get", "list"]}})
    if kind == "policy-firewall":
        vault["networkAcls"] = {"defaultAction": "Deny", "bypass": "AzureServices",
                                "ipRules": [{"value": "203.0.113.7/32"}]}
    if kind == "rbac-public-disabled":
        vault["publicNetworkAccess"] = "Disabled"
    if kind == "policy-other-tenant":
        vault["tenantId"] = OTHER_TENANT
    return vault


def _grant(vault, kind, object_id, cluster_index):
    """The add-on identity's access as the vault's kind gives it: (policies, assignments)."""
    scope = "vault:" + vault["name"]

    def role(guid):
        return {"scope": scope, "principalId": object_id, "roleDefinitionGuid": guid,
                "principalType": "ServicePrincipal"}
    if kind in ("policy", "policy-firewall", "policy-other-tenant"):
        return [{"objectId": object_id, "permissions": {"secrets": ["get"]}}], []
    if kind == "policy-role-ignored":
        return [], [role(SECRETS_USER)]
    if kind == "rbac-reader-only":
        return [], [role(KEY_VAULT_READER)]
    if kind == "rbac-custom-role":
        return [], [role(CUSTOM_READER if cluster_index % 2 == 0 else CUSTOM_METADATA)]
    return [], [role(SECRETS_USER)]


def _cluster(subscription_index, cluster_index, vault, kind, object_set):
    name = "fleet-%d-%03d" % (subscription_index, cluster_index)
    plugin = {"keyVaultId": None, "certObjectName": object_set + "-ca-cert", "keyObjectName": object_set + "-ca-key",
              "rootCertObjectName": object_set + "-root-cert", "certChainObjectName": object_set + "-cert-chain"}
    addon = {"enabled": True, "config": {"enableSecretRotation": "true", "rotationPollInterval": "2m"},
             "identity": {"objectId": identity_id(subscription_index, cluster_index),
                          "clientId": "c" + identity_id(subscription_index, cluster_index)[1:]}}
    if kind == "secret-missing":
        plugin["certObjectName"] = object_set + "-ca-cert-gone"
    elif kind == "addon-disabled":
        addon["enabled"] = False
    elif kind == "rotation-off":
        addon["config"]["enableSecretRotation"] = "false"
    elif kind == "poll-long":
        addon["config"]["rotationPollInterval"] = "30m"
    elif kind == "plugin-incomplete":
        plugin["certChainObjectName"] = None
    elif kind == "no-identity":
        addon["identity"] = {"objectId": "", "clientId": "", "resourceId": ""}
    if kind == "vault-missing":
        plugin["keyVaultId"] = ("/subscriptions/%s/resourceGroups/fleet-kv-rg/providers/Microsoft.KeyVault/vaults/"
                                "fleetkv-gone-%d" % (subscription_id(subscription_index), subscription_index))
    else:
        plugin["keyVault"] = vault["name"]
    del_none = {key: value for key, value in plugin.items() if value is not None}
    return {"name": name, "resourceGroup": "fleet-rg-%d" % (cluster_index % 4), "location": "eastus",
            "subscription": subscription_id(subscription_index),
            "properties": {"nodeResourceGroup": "MC_fleet-rg-%d_%s_eastus" % (cluster_index % 4, name),
                           "serviceMeshProfile": {"mode": "Istio", "istio": {
                               "revisions": ["asm-1-23" if cluster_index % 3 else "asm-1-24"],
                               "certificateAuthority": {"plugin": del_none}}},
                           "addonProfiles": {"azureKeyvaultSecretsProvider": addon}}}


def _subscription(data, index, vaults_per, clusters_per, forbidden=False):
    """Vaults, clusters and assignments of one subscription, appended to ``data``."""
    variants = list(PKI_VARIANTS)
    vaults = []
    for vault_index in range(vaults_per):
        kind = VAULT_KINDS[vault_index % len(VAULT_KINDS)]
        variant = variants[(index + vault_index) % len(variants)]
        vaults.append((_vault(index, vault_index, kind, variant), kind))
    for cluster_index in range(clusters_per):
        vault, vault_kind = vaults[cluster_index % len(vaults)]
        kind = CLUSTER_KINDS[(cluster_index // len(vaults) + cluster_index) % len(CLUSTER_KINDS)]
        object_set = "a" if (cluster_index // len(vaults)) % 2 == 0 else "b"
        data["clusters"].append(_cluster(index, cluster_index, vault, kind, object_set))
        if kind not in ("no-grant", "no-identity"):
            policies, roles = _grant(vault, vault_kind, identity_id(index, cluster_index), cluster_index)
            vault["accessPolicies"].extend(policies)
            data["roleAssignments"].extend(roles)
    data["vaults"].extend(vault for vault, _ in vaults)
    data["subscriptions"].append({"id": subscription_id(index), "name": "fleet-%d" % index,
                                  "forbidden": forbidden, "managementGroup": None if forbidden else "fleet-mg"})
    # The operator reads every vault's secrets (access policies above, this role on RBAC vaults).
    data["roleAssignments"].append({"scope": "sub:" + subscription_id(index), "principalId": OPERATOR,
                                    "roleDefinitionGuid": ADMINISTRATOR, "principalType": "User"})


def expand(data):
    """The World keys for a scenario with a ``fleet:`` mapping (see the module docstring)."""
    spec = dict(data.get("fleet") or {})
    out = {key: value for key, value in data.items() if key != "fleet"}
    out.update(subscription=subscription_id(1), tenant=TENANT, subscriptions=[], vaults=[], clusters=[],
               roleAssignments=[], pki={name: dict(variant, cluster="fleet") for name, variant in PKI_VARIANTS.items()},
               customRoles=[
                   {"guid": CUSTOM_READER, "roleName": "Fleet Mesh CA Secret Reader",
                    "dataActions": ["Microsoft.KeyVault/vaults/secrets/getSecret/action"]},
                   {"guid": CUSTOM_METADATA, "roleName": "Fleet Mesh CA Metadata Reader",
                    "dataActions": ["Microsoft.KeyVault/vaults/secrets/readMetadata/action"]}])
    count = int(spec.get("subscriptions", 5))
    for index in range(1, count + 1):
        _subscription(out, index, int(spec.get("vaultsPerSubscription", 8)),
                      int(spec.get("clustersPerSubscription", 40)))
    if int(spec.get("forbiddenClusters", 0)):
        _subscription(out, count + 1, 2, int(spec["forbiddenClusters"]), forbidden=True)
    out.setdefault("operator", {"objectId": OPERATOR})
    # The policy-other-tenant vaults refuse the operator's token, as Key Vault does (401
    # AKV10032: sandbox/sim/keyvault.py); a fleet scenario may turn this off.
    out.setdefault("keyVaultChecksTokenTenant", bool(spec.get("checkTokenTenant", True)))
    return out
