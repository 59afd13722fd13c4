"""Build diagnose's snapshot as a dependency graph (sources/graph.py).

    cluster ─┬─ vault ─────────────┬─ secrets (4, concurrently)
             ├─ vault's challenge ─┘
             ├─ role assignments
    user     │
    credential ─┴─ kubeconfig ─┬─ /version, istiod pods, deployments, FailedMount events,
                               │  SecretProviderClasses, cacerts, istio-ca-root-cert, cronjobs,
                               │  mount statuses, injector webhooks, injected pods (the CA's path)
                               ├─ istiod pods ── istiod logs
                               ├─ istiod pods + events ── provider pods on their nodes ── logs
                               └─ cronjobs ── last job's pod ── its log

The user credential (listClusterUserCredential) needs only the cluster's name, so it is
asked for beside the cluster read; the kubeconfig client is made once both have answered.
The vault's authentication challenge needs only the vault's name, so it is asked for
beside the vault's read (sources/vaultchallenge.py).

Every read starts the moment what it needs is known, so diagnose takes as long as the
longest chain. Heavy SDK modules are imported on a thread of their own while the
first reads wait on the network. Nothing here raises; every failure is recorded in
the snapshot for the collection checks to report.
"""

import importlib
import threading

from azext_meshca._client_factory import cf_secret_client
from azext_meshca.sources import azure as azure_collectors
from azext_meshca.sources import vaultchallenge
from azext_meshca.sources.errors import describe_error
from azext_meshca.sources.graph import Graph, fan_out
from azext_meshca.model.plugin import OBJECT_FIELDS, PLUGIN_OBJECTS
from azext_meshca.model.resource_ids import parse_vault_id
from azext_meshca.model.snapshot import collected, collection_error, new_snapshot, ok_data

# What the later reads import, loaded on a thread of their own while the first reads
# wait on ARM: the kubeconfig's parser right after the cluster read, the Key Vault
# client and the key reader one round trip later. The vault and role-assignment reads
# (plain ARM GETs, sources/azure.py ``arm_get_json``) and kubehttp's urllib3 use what
# az itself has already loaded.
PRELOADED_KUBE_MODULES = ("yaml",)
PRELOADED_LATER_MODULES = ("azure.keyvault.secrets", "cryptography.x509", "azext_meshca.model.keyfacts")
# The other secret reads wait at most this long for the first to elicit the vault's
# authentication challenge (it ends sooner: read_secret's calls are bounded too).
CHALLENGE_WAIT_SECONDS = 40


def _preload(names):
    """Import the modules later reads need, so their import overlaps network waits."""
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # the read that needs it reports the problem


def _target(cli_ctx, resource_group, cluster_name):
    from azure.cli.core._profile import Profile
    from azure.cli.core.commands.client_factory import get_subscription_id
    subscription = Profile(cli_ctx=cli_ctx).get_subscription(get_subscription_id(cli_ctx))
    return {"subscriptionId": subscription["id"], "tenantId": subscription["tenantId"],
            "resourceGroup": resource_group, "cluster": cluster_name}


def _read_secrets(cli_ctx, vault_item, plugin, challenge=None):
    """The four objects, read concurrently with the operator's credentials.

    Returns (secrets, key_facts). ca-key's value becomes key facts here and its bytes
    go out of scope: nothing downstream ever sees them. ``challenge``: the vault's
    authentication challenge if it was elicited already (sources/vaultchallenge.py).
    """
    return assemble_secrets(wanted_objects(plugin), read_vault_objects(cli_ctx, vault_item, object_roles([plugin]),
                                                                       challenge=challenge))


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


def read_vault_objects(cli_ctx, vault_item, roles, challenge=None, client=None):
    """Each secret of one vault read once, through one SecretClient (``roles``: see
    object_roles). Returns ({secret name: (item, text, key facts)}, failure): failure is
    None, or (error, objects) when nothing could be read: the vault is unknown (every
    plug-in object gets the error) or no client could be made (the objects named do).

    A value is kept as text only if some plug-in object other than ca-key names it, and
    reduced to key facts only if ca-key does: the same treatment diagnose gives it.
    ``challenge``: elicited beside the vault's read (vaultchallenge.elicit), given to the
    SDK if it is this vault's, so the first read need not elicit it again. ``client``: a
    SecretClient of this vault made by the caller (cf_secret_client), for a caller that
    reads one vault's objects in several calls: building one costs more CPU than a request.
    """
    from azext_meshca.model.keyfacts import key_facts
    vault = ok_data(vault_item)
    if not vault or not vault.get("vaultUri"):
        reason = "the vault's URI is unknown because the vault could not be read"
        return {}, (collection_error(reason, code="VaultUnknown"), PLUGIN_OBJECTS)
    if challenge:
        vaultchallenge.seed(vault["vaultUri"], challenge)
    challenged = threading.Event()
    try:
        client = client or cf_secret_client(cli_ctx, vault, vault.get("subscriptionId"), on_token=challenged.set)
    except Exception as error:  # pylint: disable=broad-except
        return {}, (describe_error(error), None)

    def read(index_and_name):
        # Key Vault answers a client's first request with an authentication challenge,
        # which the SDK caches per vault (azure-keyvault-secrets,
        # _shared/challenge_auth_policy.py). The first read elicits it; the others start
        # once it is cached (the first read then asks for a token) or that read ended,
        # so the vault sees one unauthenticated request, not four.
        index, secret_name = index_and_name
        if index:
            challenged.wait(CHALLENGE_WAIT_SECONDS)
        try:
            return azure_collectors.read_secret(client, secret_name)
        finally:
            challenged.set()

    secret_names = list(roles)
    read_items = {}
    for secret_name, (item, value) in zip(secret_names, fan_out(read, enumerate(secret_names))):
        text = facts = None
        if item["ok"]:
            if "ca-key" in roles[secret_name]:
                facts = key_facts(value)
            if roles[secret_name] - {"ca-key"}:
                text = value.decode("utf-8", "replace")
        value = None
        read_items[secret_name] = (item, text, facts)
    return read_items, None


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
        item = _own_item(item)
        if item["ok"]:
            if name == "ca-key":
                facts = copy.deepcopy(key)
            else:
                item["data"]["value"] = text
        secrets[name] = item
    return secrets, facts


def _own_item(item):
    """A copy of one read item that this plug-in object may change (its value is added
    below) without touching another object's or another cluster's. A read secret's
    metadata holds only scalars (azure_collectors.normalise_secret), so two levels are
    the whole item: scan assembles this for every cluster, where a deepcopy per object
    was a visible share of judging 5,000 clusters (bench/scan_speed.py)."""
    import copy
    if item["ok"] and isinstance(item.get("data"), dict):
        return dict(item, data=dict(item["data"]))
    return copy.deepcopy(item)


def read_vault_and_secrets(cli_ctx, vault_id, plugin):
    """(vault item, {object: secret item}, ca-key's key facts): the objects ``plugin``
    names. diagnose and the Key Vault source of validate-secrets/show-cert read them so."""
    vault = azure_collectors.read_vault(cli_ctx, vault_id)
    secrets, facts = _read_secrets(cli_ctx, vault, plugin)
    return vault, secrets, facts


def collect_snapshot(cli_ctx, resource_group, cluster_name, *, revisions=None, skip_cluster=False,
                     kubeconfig=None, context=None, warn_days=30, progress=None, via_run_command=False):
    """Everything diagnose judges, as a plain dict (see azext_meshca/model/snapshot.py)."""
    progress = progress or (lambda message: None)
    snapshot = new_snapshot(_target(cli_ctx, resource_group, cluster_name),
                            {"revisions": revisions, "skipCluster": bool(skip_cluster), "warnDays": warn_days})
    if via_run_command:
        snapshot["options"]["viaRunCommand"] = True
    progress(f"reading cluster {cluster_name}, then the vault, role assignments, secrets and in-cluster objects")
    graph = Graph()
    # --via-run-command reads the cluster through ARM, with neither a kubeconfig nor kubehttp.
    direct_kube = not skip_cluster and not via_run_command
    graph.add("preload", lambda: _preload((PRELOADED_KUBE_MODULES if direct_kube else ()) + PRELOADED_LATER_MODULES))
    graph.add("cluster", lambda: azure_collectors.read_cluster(cli_ctx, resource_group, cluster_name))
    graph.add("plan", lambda item: _plan(item, revisions), needs=("cluster",))
    # The vault's ARM read and its authentication challenge go side by side; the secrets
    # wait for both (sources/vaultchallenge.py).
    graph.add("vault.read", lambda plan: _vault_read_node(cli_ctx, plan), needs=("plan",))
    graph.add("vault.challenge", lambda plan: _challenge_node(cli_ctx, plan), needs=("plan",))
    graph.add("vault", lambda plan, vault, challenge: _secrets_node(cli_ctx, plan, vault, challenge),
              needs=("plan", "vault.read", "vault.challenge"))
    graph.add("roleAssignments", lambda plan: _roles_node(cli_ctx, plan), needs=("plan",))
    kube_node = None
    if not skip_cluster:
        from azext_meshca.sources import cluster as kube_collectors
        # The user credential is asked for beside the cluster read, not after it: it needs
        # only the cluster's name, and it heads the longest chain (kubeconfig, in-cluster
        # reads, provider pods on istiod's nodes, their logs). If the cluster cannot be
        # read, the answer is not used. None when --kubeconfig or run-command stands in.
        wants_credential = direct_kube and not kubeconfig
        graph.add("kube.credentials", lambda: kube_collectors.read_user_kubeconfig(
            cli_ctx, resource_group, cluster_name) if wants_credential else None)
        graph.add("kube.client", lambda plan, user_kubeconfig: _kube_client_node(
            cli_ctx, snapshot["target"], plan, kubeconfig, context, via_run_command=via_run_command,
            user_kubeconfig=user_kubeconfig), needs=("plan", "kube.credentials"))
        kube_node = kube_collectors.add_cluster_nodes(graph, "kube.client")
    from azext_meshca.sources.deadline import deadline_of
    results = graph.run(deadline_of(cli_ctx))
    snapshot["cluster"] = results["cluster"]
    if results["plan"] is None:
        return snapshot
    if results["vault"] is not None:
        snapshot["vault"], snapshot["secrets"], snapshot["keyFacts"] = _shaped(
            results["vault"], lambda failed: (failed, {}, None))
    if results["roleAssignments"] is not None:
        snapshot["roleAssignments"] = results["roleAssignments"]
    if kube_node is not None:
        snapshot["kube"] = _shaped(results[kube_node], lambda failed: {"access": failed})
        if via_run_command:
            _record_run_command(snapshot["kube"], results.get("kube.client"))
    return snapshot


def _plan(cluster_item, revisions):
    """What the reads after the cluster need to know of it; None when it was not read
    (then nothing else is read)."""
    cluster = ok_data(cluster_item)
    if cluster is None:
        return None
    plugin = cluster.get("plugin") or {}
    vault_id = plugin.get("keyVaultId")
    identity = (cluster.get("csiAddon") or {}).get("identity") or {}
    return {"cluster": cluster, "plugin": plugin, "vaultId": vault_id,
            "hasVault": bool(azure_collectors.parse_vault_id(vault_id)),
            "identityObjectId": identity.get("objectId"),
            "revisions": revisions or cluster.get("revisions") or []}


def _vault_read_node(cli_ctx, plan):
    if not plan or not plan["hasVault"]:
        return None
    return azure_collectors.read_vault(cli_ctx, plan["vaultId"])


def _challenge_node(cli_ctx, plan):
    """The vault's challenge, asked at the URI its name gives, for the first object the
    plug-in names (the request the SDK would make first); None when nothing to ask."""
    if not plan or not plan["hasVault"]:
        return None
    secret_names = list(wanted_objects(plan["plugin"]).values())
    vault_name = parse_vault_id(plan["vaultId"])["name"]
    vault_uri = vaultchallenge.predicted_vault_uri(cli_ctx, vault_name)
    if not vault_uri or not secret_names:
        return None
    return vaultchallenge.elicit(cli_ctx, vault_uri, secret_names[0])


def _secrets_node(cli_ctx, plan, vault_item, challenge):
    """(vault item, secrets, key facts), the shape read_vault_and_secrets gives."""
    if not plan or not plan["hasVault"]:
        return None
    secrets, facts = _read_secrets(cli_ctx, vault_item, plan["plugin"], challenge)
    return vault_item, secrets, facts


def _roles_node(cli_ctx, plan):
    if not plan or not plan["hasVault"] or not plan["identityObjectId"]:
        return None
    return azure_collectors.read_role_assignments(cli_ctx, plan["vaultId"], plan["identityObjectId"])


def _kube_client_node(cli_ctx, target, plan, kubeconfig, context, *, via_run_command=False, user_kubeconfig=None):
    """(api, source, failed, revisions) for the in-cluster reads; api None when the
    cluster was not read or no credentials came. ``user_kubeconfig``: the answer of the
    kube.credentials node, when there is one."""
    from azext_meshca.sources import cluster as kube_collectors
    if not plan:
        return None, None, collected(error=collection_error("the cluster was not read")), []
    if via_run_command:
        from azext_meshca.sources.runcommand import run_client
        return run_client(cli_ctx, target, plan)
    api, source, failed = kube_collectors.kube_client(cli_ctx, target["resourceGroup"], target["cluster"],
                                                      plan["cluster"], kubeconfig=kubeconfig, context=context,
                                                      user_kubeconfig=user_kubeconfig)
    return api, source, failed, plan["revisions"]


def _shaped(result, shaped_as):
    """Collectors do not raise; if one does anyway, the graph records its error as a
    failed item: put it in the shape its place in the snapshot has (``shaped_as``
    builds that from the failed item), rather than leave a mis-shaped entry for the
    checks to misread."""
    if isinstance(result, dict) and set(result) == {"ok", "data", "error"} and not result["ok"]:
        return shaped_as(result)
    return result


def _record_run_command(kube, client_result):
    """How the in-cluster items were collected: the run-command's id, exit code, output
    size, and what was cut to stay under its output cap (kube.access.data.runCommand)."""
    access = (kube or {}).get("access") or {}
    api = client_result[0] if isinstance(client_result, tuple) and client_result else None
    facts = getattr(api, "facts", None)
    if access.get("ok") and isinstance(access.get("data"), dict) and facts:
        access["data"]["runCommand"] = dict(facts)
