"""Live sources of a plug-in CA set (model/plugin_set.py): Key Vault and the cacerts secret.

Each returns a snapshot for the one runner (rules/runner.py). Key Vault's is built from
diagnose's collectors in diagnose's slots, so the rules judge an object the same way
whichever command reads it: a 404 is "missing", SecretDisabled is "disabled", and any
other refusal is the operator's own access (could not check), never a verdict on the set.
"""

from azure.cli.core.azclierror import (AzureResponseError, ResourceNotFoundError, ValidationError)

from azext_meshca.sources import azure as azure_collectors
from azext_meshca.sources.errors import raise_for_failed_read
from azext_meshca.model.incluster import CACERTS_REF, ROOT_CONFIGMAP, ROOT_CONFIGMAP_REF
from azext_meshca.model.plugin import CERTIFICATE_OBJECTS, OBJECT_FIELDS, PLUGIN_OBJECTS, file_name, secret_source


def _cacerts_source(obj):
    return f"secret {CACERTS_REF}, key {file_name(obj)}"


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
    return new_set(CLUSTER, {"kind": "cluster", "secret": CACERTS_REF}, cacerts_objects(api),
                   {obj: _cacerts_source(obj) for obj in PLUGIN_OBJECTS})


def cluster_root_objects(api):
    """The istio-ca-root-cert configmap's root in aks-istio-system, as PEM bytes ({name: PEM})."""
    from azext_meshca.sources.cluster import read_root_configmap_pem
    from azext_meshca.sources.errors import describe_error
    try:
        pem = read_root_configmap_pem(api)
    except Exception as error:  # pylint: disable=broad-except
        raise AzureResponseError(
            f"Could not read configmap {ROOT_CONFIGMAP_REF}: {describe_error(error)['reason']}") from None
    return {} if pem is None else {ROOT_CONFIGMAP: pem}


def key_vault_snapshot(cli_ctx, plugin, warn_days, resource_group=None, cluster_name=None, *, show=False):
    """The Key Vault source, as the snapshot the one runner judges: the objects ``plugin``
    names (an object without a name is not read: show-cert never reads ca-key), with what
    Key Vault said about each, in diagnose's own slots (``vault``, ``secrets``, ``keyFacts``).

    The findings about the objects themselves are then diagnose's rules, selected: the
    vault missing (MCA105) or unreadable (MCA902), a secret the operator may not read
    (MCA904), missing, disabled, out of its dates or not a plain secret (MCA601/611/612/613).
    ``cluster`` holds what this source knows of the cluster: the plug-in config the objects
    were read by (the cluster's own, or the one named on the command line), for an Istio
    mesh, so the rules name each secret as diagnose does. ``show``: the certificates read
    go to show-cert's ``shown`` slot too (sources/certsets.py).
    """
    from azext_meshca.sources.certsets import add_shown, source_snapshot
    from azext_meshca.sources.snapshot_builder import read_vault_and_secrets
    from azext_meshca.model.snapshot import collected
    vault_item, items, facts = read_vault_and_secrets(cli_ctx, plugin["keyVaultId"], plugin)
    snapshot = source_snapshot(key_vault_source(plugin), warn_days,
                               target={"resourceGroup": resource_group, "cluster": cluster_name})
    snapshot.update(cluster=collected({"meshMode": "Istio", "plugin": dict(plugin)}), vault=vault_item,
                    secrets=dict(items), keyFacts=facts)
    if show:
        values = {obj: _value(items.get(obj)) for obj in CERTIFICATE_OBJECTS}
        add_shown(snapshot, {obj: value for obj, value in values.items() if value is not None},
                  {obj: secret_source(plugin, obj) for obj in CERTIFICATE_OBJECTS})
    return snapshot


def _value(item):
    """A secret item's value as bytes, or None when it was not read."""
    data = (item or {}).get("data") if (item or {}).get("ok") else None
    value = (data or {}).get("value")
    return value.encode("utf-8") if isinstance(value, str) else value


def _object_names(root_cert_object_name, ca_cert_object_name, ca_key_object_name, cert_chain_object_name):
    return {"root-cert": root_cert_object_name, "ca-cert": ca_cert_object_name,
            "ca-key": ca_key_object_name, "cert-chain": cert_chain_object_name}


def _plugin(cli_ctx, resource_group, name, *, key_vault_id, vault_name, object_names):
    if key_vault_id or vault_name:
        return plugin_from_vault(cli_ctx, key_vault_id, vault_name, object_names)
    return plugin_from_cluster(cluster_info(cli_ctx, resource_group, name), resource_group, name)


def read_live_snapshot(cli_ctx, warn_days, *, resource_group=None, name=None, in_cluster=False, key_vault_id=None,
                       vault_name=None, show=False, **object_names):
    """The snapshot of validate-secrets' and show-cert's live forms (``show``: show-cert,
    which never reads the key and also reads the cluster's trusted root)."""
    from azext_meshca.sources.certsets import set_certificates, set_snapshot, shown_snapshot
    if in_cluster:
        api = open_cluster_api(cli_ctx, resource_group, name)
        found = cacerts_set(api)
        if not show:
            return set_snapshot(found, warn_days)
        # the cluster: istiod's trusted root beside cacerts
        objects = dict(set_certificates(found), **cluster_root_objects(api))
        where = dict(found["where"], **{ROOT_CONFIGMAP: "configmap " + ROOT_CONFIGMAP_REF})
        return shown_snapshot(dict(found["source"], configMap=ROOT_CONFIGMAP_REF), objects, where, warn_days)
    plugin = _plugin(cli_ctx, resource_group, name, key_vault_id=key_vault_id, vault_name=vault_name,
                     object_names=_object_names(**object_names))
    if show:
        plugin = dict(plugin, keyObjectName=None)  # show-cert never reads the key
    return key_vault_snapshot(cli_ctx, plugin, warn_days, resource_group, name, show=show)
