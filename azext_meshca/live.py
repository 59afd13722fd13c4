"""Live sources for validate-secrets and show-cert: Key Vault and the cluster.

These reuse diagnose's collectors and checks, so a Key Vault object is judged the
same way whichever command reads it: a 404 is "missing", SecretDisabled is
"disabled", and any other refusal is the operator's own access (could not check),
never a verdict on the set.
"""

from azure.cli.core.azclierror import (AzureResponseError, ResourceNotFoundError, ValidationError)

from azext_meshca.collectors import azure as azure_collectors
from azext_meshca.collectors.errors import raise_for_failed_read
from azext_meshca.plugin import OBJECT_FIELDS, PLUGIN_OBJECTS, file_name
from azext_meshca.snapshot import now_utc as _now

CACERTS = "aks-istio-system/cacerts"
ROOT_CONFIGMAP = "aks-istio-system/istio-ca-root-cert"


def _cacerts_source(obj):
    return "secret {}, key {}".format(CACERTS, file_name(obj))


def cluster_info(cli_ctx, resource_group, name):
    item = azure_collectors.read_cluster(cli_ctx, resource_group, name)
    if not item["ok"]:
        raise_for_failed_read(item, "cluster {}/{}".format(resource_group, name))
    return item["data"]


def plugin_from_cluster(cluster, resource_group, name):
    plugin = cluster.get("plugin")
    if not plugin or not azure_collectors.parse_vault_id(plugin.get("keyVaultId")):
        raise ValidationError("Cluster {}/{} has no usable plug-in CA configuration; run "
                              "az aks mesh ca diagnose -g {} -n {} for details.".format(
                                  resource_group, name, resource_group, name))
    return plugin


def plugin_from_vault(cli_ctx, key_vault_id, vault_name, object_names):
    """A plug-in config for a vault named on the command line."""
    if vault_name:
        key_vault_id = find_vault_id(cli_ctx, vault_name)
    if not azure_collectors.parse_vault_id(key_vault_id):
        raise ValidationError("--key-vault-id '{}' is not a Key Vault resource ID "
                              "(/subscriptions/<id>/resourceGroups/<rg>/providers/"
                              "Microsoft.KeyVault/vaults/<name>).".format(key_vault_id))
    plugin = {"keyVaultId": key_vault_id}
    for obj, field in OBJECT_FIELDS.items():
        plugin[field] = object_names.get(obj) or obj
    return plugin


def find_vault_id(cli_ctx, vault_name):
    from azext_meshca._client_factory import ARM_CALL_OPTIONS, cf_vaults
    from azext_meshca.collectors.errors import describe_error
    try:
        for vault in cf_vaults(cli_ctx).list_by_subscription(**ARM_CALL_OPTIONS):
            if (vault.name or "").lower() == vault_name.lower():
                return vault.id
    except Exception as error:  # pylint: disable=broad-except
        raise AzureResponseError("Could not list vaults: {}".format(describe_error(error)["reason"])) from None
    raise ResourceNotFoundError("No vault named {} in the current subscription.".format(vault_name))


def judge_key_vault_objects(snapshot, warn_days, certificate_rules=True):
    """Key Vault object state, what could not be read and, unless ``certificate_rules``
    is off (show-cert describes instead of judging), the certificate rules."""
    from azext_meshca.checks import collection, config, run_rules, secrets
    from azext_meshca.validation import CERTIFICATE_RULES
    rules = [config.check_vault_exists, collection.check_vault_read, collection.check_secrets_read,
             secrets.check_secret_state] + (list(CERTIFICATE_RULES) if certificate_rules else [])
    run = run_rules(snapshot, warn_days, functions=rules)
    return run.findings, run.certificates if certificate_rules else []


def key_vault_source(plugin):
    parsed = azure_collectors.parse_vault_id(plugin["keyVaultId"])
    return {"kind": "keyVault", "vault": parsed["name"], "keyVaultId": plugin["keyVaultId"],
            "objects": {obj: plugin[field] for obj, field in OBJECT_FIELDS.items()}}


def open_cluster_api(cli_ctx, resource_group, name):
    from azext_meshca.collectors.cluster import open_kube
    cluster = cluster_info(cli_ctx, resource_group, name)
    api, access = open_kube(cli_ctx, resource_group, name, cluster)
    if api is None or not access["ok"]:
        raise AzureResponseError("Could not reach the cluster's API server: {}".format(
            (access["error"] or {}).get("reason")))
    return api


def cacerts_objects(api):
    """The cacerts secret's four entries: certificates as PEM bytes, the key as key facts."""
    from azext_meshca.collectors.cluster import read_cacerts_values
    from azext_meshca.collectors.errors import describe_error
    try:
        values = read_cacerts_values(api)
    except Exception as error:  # pylint: disable=broad-except
        raise AzureResponseError("Could not read secret aks-istio-system/cacerts: {}".format(
            describe_error(error)["reason"])) from None
    if values is None:
        raise ResourceNotFoundError(
            "There is no cacerts secret in aks-istio-system (newer add-on versions mount Key Vault "
            "directly): check the Key Vault objects with -g/-n instead of --in-cluster.")
    return values


def cluster_root_objects(api):
    """The istio-ca-root-cert configmap's root in aks-istio-system, as PEM bytes."""
    from azext_meshca.collectors.cluster import read_root_configmap_pem
    from azext_meshca.collectors.errors import describe_error
    try:
        pem = read_root_configmap_pem(api)
    except Exception as error:  # pylint: disable=broad-except
        raise AzureResponseError("Could not read configmap aks-istio-system/istio-ca-root-cert: {}".format(
            describe_error(error)["reason"])) from None
    return {} if pem is None else {"istio-ca-root-cert": pem}


def _object_names(root_cert_object_name, ca_cert_object_name, ca_key_object_name, cert_chain_object_name):
    return {"root-cert": root_cert_object_name, "ca-cert": ca_cert_object_name,
            "ca-key": ca_key_object_name, "cert-chain": cert_chain_object_name}


def _plugin(cli_ctx, resource_group, name, key_vault_id, vault_name, object_names):
    if key_vault_id or vault_name:
        return plugin_from_vault(cli_ctx, key_vault_id, vault_name, object_names)
    return plugin_from_cluster(cluster_info(cli_ctx, resource_group, name), resource_group, name)


def validate_live(cli_ctx, warn_days, resource_group=None, name=None, in_cluster=False, key_vault_id=None,
                  vault_name=None, **object_names):
    """(findings, certificates, source) for validate-secrets' live forms."""
    if in_cluster:
        from azext_meshca.validation import validate_plugin_set
        objects = cacerts_objects(open_cluster_api(cli_ctx, resource_group, name))
        sources = {obj: _cacerts_source(obj) for obj in PLUGIN_OBJECTS}
        findings, certificates = validate_plugin_set(objects, _now(), warn_days=warn_days, sources=sources)
        return findings, certificates, {"kind": "cluster", "secret": CACERTS}
    plugin = _plugin(cli_ctx, resource_group, name, key_vault_id, vault_name, _object_names(**object_names))
    snapshot = _key_vault_snapshot(cli_ctx, plugin, resource_group, name)
    findings, certificates = judge_key_vault_objects(snapshot, warn_days)
    return findings, certificates, key_vault_source(plugin)


def show_live(cli_ctx, warn_days, resource_group=None, name=None, in_cluster=False, key_vault_id=None,
              vault_name=None, **object_names):
    """(findings, certificates, source) for show-cert's live forms. ca-key is never read."""
    from azext_meshca.validation import describe_objects
    if in_cluster:
        api = open_cluster_api(cli_ctx, resource_group, name)
        objects = {obj: value for obj, value in cacerts_objects(api).items()
                   if obj != "ca-key" and value is not None}
        sources = {obj: _cacerts_source(obj) for obj in objects}
        objects.update(cluster_root_objects(api))
        sources["istio-ca-root-cert"] = "configmap " + ROOT_CONFIGMAP
        findings, certificates = describe_objects(objects, _now(), sources=sources, warn_days=warn_days)
        return findings, certificates, {"kind": "cluster", "secret": CACERTS, "configMap": ROOT_CONFIGMAP}
    from azext_meshca.checks.common import secret_source
    from azext_meshca.checks.secrets import read_objects
    plugin = _plugin(cli_ctx, resource_group, name, key_vault_id, vault_name, _object_names(**object_names))
    plugin = dict(plugin, keyObjectName=None)  # show-cert never reads the key
    snapshot = _key_vault_snapshot(cli_ctx, plugin, resource_group, name)
    problems, _ = judge_key_vault_objects(snapshot, warn_days, certificate_rules=False)
    objects = read_objects(snapshot)
    described, certificates = describe_objects(objects, _now(), warn_days=warn_days,
                                               sources={obj: secret_source(plugin, obj) for obj in objects})
    return problems + described, certificates, key_vault_source(plugin)


def _key_vault_snapshot(cli_ctx, plugin, resource_group, cluster_name):
    from azext_meshca.collectors.snapshot_builder import collect_key_vault
    return collect_key_vault(cli_ctx, plugin, {"resourceGroup": resource_group, "cluster": cluster_name})
