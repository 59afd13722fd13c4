"""Live sources of a plug-in CA set (model/plugin_set.py): Key Vault and the cacerts secret.

Each returns the same set shape as the local files do. They reuse diagnose's
collectors and its rules on a Key Vault object's state, so an object is judged the
same way whichever command reads it: a 404 is "missing", SecretDisabled is
"disabled", and any other refusal is the operator's own access (could not check),
never a verdict on the set.
"""

from azure.cli.core.azclierror import (AzureResponseError, ResourceNotFoundError, ValidationError)

from azext_meshca.sources import azure as azure_collectors
from azext_meshca.sources.errors import raise_for_failed_read
from azext_meshca.model.plugin import OBJECT_FIELDS, PLUGIN_OBJECTS, file_name
from azext_meshca.model.snapshot import now_utc as _now

CACERTS = "aks-istio-system/cacerts"
ROOT_CONFIGMAP = "aks-istio-system/istio-ca-root-cert"


def _cacerts_source(obj):
    return f"secret {CACERTS}, key {file_name(obj)}"


def cluster_info(cli_ctx, resource_group, name):
    item = azure_collectors.read_cluster(cli_ctx, resource_group, name)
    if not item["ok"]:
        raise_for_failed_read(item, f"cluster {resource_group}/{name}")
    return item["data"]


def plugin_from_cluster(cluster, resource_group, name):
    plugin = cluster.get("plugin")
    if not plugin or not azure_collectors.parse_vault_id(plugin.get("keyVaultId")):
        raise ValidationError(f"Cluster {resource_group}/{name} has no usable plug-in CA configuration; run "
                              f"az aks mesh ca diagnose -g {resource_group} -n {name} for details.")
    return plugin


def plugin_from_vault(cli_ctx, key_vault_id, vault_name, object_names):
    """A plug-in config for a vault named on the command line."""
    if vault_name:
        key_vault_id = find_vault_id(cli_ctx, vault_name)
    if not azure_collectors.parse_vault_id(key_vault_id):
        raise ValidationError(f"--key-vault-id '{key_vault_id}' is not a Key Vault resource ID "
                              "(/subscriptions/<id>/resourceGroups/<rg>/providers/"
                              "Microsoft.KeyVault/vaults/<name>).")
    plugin = {"keyVaultId": key_vault_id}
    for obj, field in OBJECT_FIELDS.items():
        plugin[field] = object_names.get(obj) or obj
    return plugin


def find_vault_id(cli_ctx, vault_name):
    from azext_meshca._client_factory import ARM_CALL_OPTIONS, cf_vaults
    from azext_meshca.sources.errors import describe_error
    try:
        for vault in cf_vaults(cli_ctx).list_by_subscription(**ARM_CALL_OPTIONS):
            if (vault.name or "").lower() == vault_name.lower():
                return vault.id
    except Exception as error:  # pylint: disable=broad-except
        raise AzureResponseError(f"Could not list vaults: {describe_error(error)['reason']}") from None
    raise ResourceNotFoundError(f"No vault named {vault_name} in the current subscription.")


def key_vault_source(plugin):
    parsed = azure_collectors.parse_vault_id(plugin["keyVaultId"])
    return {"kind": "keyVault", "vault": parsed["name"], "keyVaultId": plugin["keyVaultId"],
            "objects": {obj: plugin[field] for obj, field in OBJECT_FIELDS.items()}}


def open_cluster_api(cli_ctx, resource_group, name):
    from azext_meshca.sources.cluster import open_kube
    cluster = cluster_info(cli_ctx, resource_group, name)
    api, access = open_kube(cli_ctx, resource_group, name, cluster)
    if api is None or not access["ok"]:
        raise AzureResponseError(f"Could not reach the cluster's API server: {(access['error'] or {}).get('reason')}")
    return api


def cacerts_objects(api):
    """The cacerts secret's four entries: certificates as PEM bytes, the key as key facts."""
    from azext_meshca.sources.cluster import read_cacerts_values
    from azext_meshca.sources.errors import describe_error
    try:
        values = read_cacerts_values(api)
    except Exception as error:  # pylint: disable=broad-except
        raise AzureResponseError(
            f"Could not read secret aks-istio-system/cacerts: {describe_error(error)['reason']}") from None
    if values is None:
        raise ResourceNotFoundError(
            "There is no cacerts secret in aks-istio-system (newer add-on versions mount Key Vault "
            "directly): check the Key Vault objects with -g/-n instead of --in-cluster.")
    return values


def cacerts_set(api):
    """The cluster source: the plug-in set in the cacerts secret."""
    from azext_meshca.model.plugin_set import CLUSTER, new_set
    return new_set(CLUSTER, {"kind": "cluster", "secret": CACERTS}, cacerts_objects(api),
                   {obj: _cacerts_source(obj) for obj in PLUGIN_OBJECTS})


def cluster_root_objects(api):
    """The istio-ca-root-cert configmap's root in aks-istio-system, as PEM bytes."""
    from azext_meshca.sources.cluster import read_root_configmap_pem
    from azext_meshca.sources.errors import describe_error
    try:
        pem = read_root_configmap_pem(api)
    except Exception as error:  # pylint: disable=broad-except
        raise AzureResponseError(
            f"Could not read configmap aks-istio-system/istio-ca-root-cert: {describe_error(error)['reason']}") \
            from None
    return {} if pem is None else {"istio-ca-root-cert": pem}


def key_vault_set(cli_ctx, plugin, warn_days, resource_group=None, cluster_name=None):
    """The Key Vault source: the objects ``plugin`` names (an object without a name is
    not read: show-cert never reads ca-key), with what Key Vault said about each.

    The findings about the objects themselves are diagnose's rules, called on what was
    read: the vault missing (MCA105) or unreadable (MCA902), a secret the operator may
    not read (MCA904), missing, disabled, out of its dates or not a plain secret
    (MCA601/611/612/613).
    """
    from azext_meshca.rules.checks import collection, config, names_context, network, secrets
    from azext_meshca.rules.checks.common import secret_source
    from azext_meshca.sources.snapshot_builder import read_vault_and_secrets
    from azext_meshca.model.plugin_set import KEY_VAULT, new_set
    from azext_meshca.model.snapshot import ok_data
    vault_item, items, facts = read_vault_and_secrets(cli_ctx, plugin["keyVaultId"], plugin)
    context = names_context(_now(), warn_days, target={"resourceGroup": resource_group, "cluster": cluster_name},
                            managed_cluster={}, plugin=plugin, vault=ok_data(vault_item) or {})
    findings = (config.vault_missing(context, vault_item) + secrets.secrets_state(context, plugin, items)
                + collection.vault_unread(context, vault_item) + collection.secrets_unread(context, plugin, items)
                + network.vault_address_refused(context, items))
    values = secrets.secret_values(items, facts)
    return new_set(KEY_VAULT, key_vault_source(plugin), {obj: values.get(obj) for obj in PLUGIN_OBJECTS},
                   {obj: secret_source(plugin, obj) for obj in PLUGIN_OBJECTS}, findings=findings,
                   unread=[obj for obj in PLUGIN_OBJECTS if obj not in values])


def _object_names(root_cert_object_name, ca_cert_object_name, ca_key_object_name, cert_chain_object_name):
    return {"root-cert": root_cert_object_name, "ca-cert": ca_cert_object_name,
            "ca-key": ca_key_object_name, "cert-chain": cert_chain_object_name}


def _plugin(cli_ctx, resource_group, name, *, key_vault_id, vault_name, object_names):
    if key_vault_id or vault_name:
        return plugin_from_vault(cli_ctx, key_vault_id, vault_name, object_names)
    return plugin_from_cluster(cluster_info(cli_ctx, resource_group, name), resource_group, name)


def read_live_set(cli_ctx, warn_days, *, resource_group=None, name=None, in_cluster=False, key_vault_id=None,
                  vault_name=None, read_key=True, **object_names):
    """The plug-in set of validate-secrets' and show-cert's live forms, and the API
    client when it came from the cluster (show-cert also reads the trusted root there)."""
    if in_cluster:
        api = open_cluster_api(cli_ctx, resource_group, name)
        return cacerts_set(api), api
    plugin = _plugin(cli_ctx, resource_group, name, key_vault_id=key_vault_id, vault_name=vault_name,
                     object_names=_object_names(**object_names))
    if not read_key:
        plugin = dict(plugin, keyObjectName=None)  # show-cert never reads the key
    return key_vault_set(cli_ctx, plugin, warn_days, resource_group, name), None
