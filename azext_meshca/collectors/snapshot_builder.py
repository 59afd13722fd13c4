"""Build diagnose's snapshot: cluster first, then the vault, role assignments, the
secrets and the in-cluster objects concurrently. Nothing here raises; every failure
is recorded in the snapshot for the collection checks to report."""

from concurrent.futures import ThreadPoolExecutor

from azext_meshca._client_factory import cf_secret_client
from azext_meshca.collectors import azure as azure_collectors
from azext_meshca.collectors.errors import describe_error
from azext_meshca.plugin import OBJECT_FIELDS, PLUGIN_OBJECTS
from azext_meshca.snapshot import collected, collection_error, new_snapshot, ok_data

MAX_WORKERS = 8


def _target(cli_ctx, resource_group, cluster_name):
    from azure.cli.core._profile import Profile
    subscription = Profile(cli_ctx=cli_ctx).get_subscription()
    return {"subscriptionId": subscription["id"], "tenantId": subscription["tenantId"],
            "resourceGroup": resource_group, "cluster": cluster_name}


def _read_secrets(cli_ctx, vault_item, plugin, pool):
    """The four objects, read concurrently with the operator's credentials.

    Returns (secrets, key_facts). ca-key's value becomes key facts here and its bytes
    go out of scope: nothing downstream ever sees them.
    """
    return assemble_secrets(wanted_objects(plugin), read_vault_objects(cli_ctx, vault_item, object_roles([plugin]),
                                                                       pool))


def wanted_objects(plugin):
    """{plug-in object: secret name} for the objects ``plugin`` names."""
    wanted = {name: plugin.get(OBJECT_FIELDS[name]) for name in PLUGIN_OBJECTS}
    return {name: secret_name for name, secret_name in wanted.items() if secret_name}


def object_roles(plugins):
    """{secret name: {plug-in objects it stands for}} over ``plugins`` naming one vault."""
    roles = {}
    for plugin in plugins:
        for name, secret_name in wanted_objects(plugin).items():
            roles.setdefault(secret_name, set()).add(name)
    return roles


def read_vault_objects(cli_ctx, vault_item, roles, pool):
    """Each secret of one vault read once, through one SecretClient (``roles``: see
    object_roles). Returns ({secret name: (item, text, key facts)}, failure): failure is
    None, or (error, objects) when nothing could be read: the vault is unknown (every
    plug-in object gets the error) or no client could be made (the objects named do).

    A value is kept as text only if some plug-in object other than ca-key names it, and
    reduced to key facts only if ca-key does: the same treatment diagnose gives it.
    """
    from azext_meshca.keyfacts import key_facts
    vault = ok_data(vault_item)
    if not vault or not vault.get("vaultUri"):
        reason = "the vault's URI is unknown because the vault could not be read"
        return {}, (collection_error(reason, code="VaultUnknown"), PLUGIN_OBJECTS)
    try:
        client = cf_secret_client(cli_ctx, vault["vaultUri"], vault.get("subscriptionId"))
    except Exception as error:  # pylint: disable=broad-except
        return {}, (describe_error(error), None)
    futures = {secret_name: pool.submit(azure_collectors.read_secret, client, secret_name) for secret_name in roles}
    read = {}
    for secret_name, future in futures.items():
        item, value = future.result()
        text = facts = None
        if item["ok"]:
            if "ca-key" in roles[secret_name]:
                facts = key_facts(value)
            if roles[secret_name] - {"ca-key"}:
                text = value.decode("utf-8", "replace")
        value = None
        read[secret_name] = (item, text, facts)
    return read, None


def assemble_secrets(wanted, answer):
    """(secrets, key_facts) for one plug-in config from read_vault_objects' answer."""
    import copy
    read, failure = answer
    if failure:
        error, names = failure
        return {name: collected(error=dict(error)) for name in (names or wanted)}, None
    secrets, facts = {}, None
    for name, secret_name in wanted.items():
        item, text, key = read[secret_name]
        item = copy.deepcopy(item)
        if item["ok"]:
            if name == "ca-key":
                facts = copy.deepcopy(key)
            else:
                item["data"]["value"] = text
        secrets[name] = item
    return secrets, facts


def _vault_and_secrets(cli_ctx, vault_id, plugin, pool):
    vault = azure_collectors.read_vault(cli_ctx, vault_id)
    secrets, facts = _read_secrets(cli_ctx, vault, plugin, pool)
    return vault, secrets, facts


def collect_key_vault(cli_ctx, plugin, target):
    """A snapshot of just the vault and the objects ``plugin`` names: what the secret
    checks need (validate-secrets and show-cert read Key Vault this way)."""
    snapshot = new_snapshot(target, {})
    snapshot["cluster"] = collected({"plugin": plugin, "meshMode": "Istio"})
    with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:
        snapshot["vault"], snapshot["secrets"], snapshot["keyFacts"] = _vault_and_secrets(
            cli_ctx, plugin["keyVaultId"], plugin, pool)
    return snapshot


def _cluster_side(cli_ctx, target, cluster, revisions, kubeconfig, context, pool):
    from azext_meshca.collectors import cluster as kube_collectors
    api, access = kube_collectors.open_kube(cli_ctx, target["resourceGroup"], target["cluster"], cluster,
                                            kubeconfig=kubeconfig, context=context)
    return kube_collectors.collect_cluster(api, access, revisions, pool)


def collect_snapshot(cli_ctx, resource_group, cluster_name, revisions=None, skip_cluster=False,
                     kubeconfig=None, context=None, warn_days=30, progress=None):
    """Everything diagnose judges, as a plain dict (see azext_meshca/snapshot.py)."""
    progress = progress or (lambda message: None)
    snapshot = new_snapshot(_target(cli_ctx, resource_group, cluster_name),
                            {"revisions": revisions, "skipCluster": bool(skip_cluster), "warnDays": warn_days})
    progress("reading cluster {}".format(cluster_name))
    snapshot["cluster"] = azure_collectors.read_cluster(cli_ctx, resource_group, cluster_name)
    cluster = ok_data(snapshot["cluster"])
    if cluster is None:
        return snapshot
    plugin = cluster.get("plugin") or {}
    vault_id = plugin.get("keyVaultId")
    has_vault = bool(azure_collectors.parse_vault_id(vault_id))
    identity = (cluster.get("csiAddon") or {}).get("identity") or {}
    revisions = revisions or cluster.get("revisions") or []

    progress("reading the vault, role assignments, secrets and in-cluster objects")
    with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:
        # Nested work (the four secrets, the kube reads) runs on a second pool so the
        # outer tasks never wait on their own pool's threads.
        with ThreadPoolExecutor(max_workers=MAX_WORKERS) as inner:
            vault_future = (pool.submit(_vault_and_secrets, cli_ctx, vault_id, plugin, inner)
                            if has_vault else None)
            roles_future = (pool.submit(azure_collectors.read_role_assignments, cli_ctx, vault_id,
                                        identity["objectId"])
                            if has_vault and identity.get("objectId") else None)
            kube_future = (None if skip_cluster else
                           pool.submit(_cluster_side, cli_ctx, snapshot["target"], cluster, revisions,
                                       kubeconfig, context, inner))
            if vault_future:
                snapshot["vault"], snapshot["secrets"], snapshot["keyFacts"] = _result(
                    vault_future, lambda failed: (failed, {}, None))
            if roles_future:
                snapshot["roleAssignments"] = _result(roles_future, lambda failed: failed)
            if kube_future:
                snapshot["kube"] = _result(kube_future, lambda failed: {"access": failed})
    return snapshot


def _result(future, shaped_as):
    """Collectors do not raise; if one does anyway, record the error in the shape its
    place in the snapshot has (``shaped_as`` builds it from the failed item), rather
    than crash or leave a mis-shaped entry for the checks to misread."""
    try:
        return future.result()
    except Exception as error:  # pylint: disable=broad-except
        return shaped_as(collected(error=describe_error(error)))
