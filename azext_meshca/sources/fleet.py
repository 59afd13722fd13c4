"""scan's reads: the fleet from Resource Graph, each cluster's snapshot from its rows, the
Key Vault objects with --read-secrets, and the fleet's own snapshot.

One pass of Resource Graph queries (a constant number of pages, not a number per
cluster) gives the clusters, their vaults and the add-on identities' role assignments
(collect_fleet). Each cluster's rows become a snapshot of exactly the shape diagnose's
collectors build (the same normalisers turn the rows into it), with the in-cluster side
skipped (cluster_snapshot). With ``--read-secrets`` every Key Vault object a cluster names
is read once per vault, concurrently and bounded (one challenge per vault; nothing more
after the vault refuses the caller vault-wide), and shared by every cluster that names it
(read_vault_objects). What could not be read is recorded, never dropped: a subscription
Resource Graph does not show or would not answer is one of the fleet's gaps; a vault or
role list that could not be read is the collection error diagnose records.

The fleet's own snapshot (fleet_snapshot) holds what scan learnt about the fleet beyond
each cluster: the subscriptions it could not scan (MCA910/MCA911, rules/checks/collection.py)
and whether it found any plug-in CA cluster at all (MCA930, rules/checks/fleet.py).
verbs/scan.py judges them all through the one runner (rules/runner.py); built here, in
sources/, like every snapshot; model/snapshot.py's schema names the slots.
"""

import copy
from concurrent.futures import ThreadPoolExecutor

from azext_meshca.model.resource_ids import parse_vault_id
from azext_meshca.model.roles import assignments_for
from azext_meshca.model.snapshot import collected, collection_error, freeze, new_snapshot, ok_data
from azext_meshca.sources import azure as azure_collectors
from azext_meshca.sources import resourcegraph as graph

# Vaults read at once; each vault sees one request at a time (read_one_vault) on a connection
# of its own, closed after its reads. At 1,000 vaults (about 6,400 round trips) 96 readers ended
# scan --read-secrets sooner than 64, and 128 or 192 no sooner: az's one core (the GIL) bounds
# the reads there, and each reader costs about 0.1 MiB. Figures: docs/speed.md, ninth pass.
VAULT_READERS = 96
NOT_VISIBLE_CODE = "SubscriptionNotVisible"


# --------------------------------------------------------------------------- rows -> snapshot parts

def cluster_from_row(row):
    """A managedCluster in REST shape, from the projected Resource Graph row."""
    return {"id": row.get("id"), "name": row.get("name"), "location": row.get("location"),
            "properties": {"nodeResourceGroup": row.get("nodeResourceGroup"),
                           "serviceMeshProfile": row.get("serviceMeshProfile"),
                           "addonProfiles": row.get("addonProfiles"), "aadProfile": row.get("aadProfile")}}


def vault_from_row(row):
    """A vault in REST shape, from the projected Resource Graph row."""
    return {"id": row.get("id"), "name": row.get("name"), "location": row.get("location"),
            "properties": {"tenantId": row.get("vaultTenantId"), "vaultUri": row.get("vaultUri"),
                           "enableRbacAuthorization": row.get("enableRbacAuthorization"),
                           "accessPolicies": row.get("accessPolicies"),
                           "publicNetworkAccess": row.get("publicNetworkAccess"),
                           "networkAcls": row.get("networkAcls"),
                           "privateEndpointConnections": row.get("privateEndpointConnections")}}


def resource_key(resource_id):
    """The one spelling of a resource ID as a key: lower case, no trailing slash (ARM IDs
    are case-insensitive)."""
    return str(resource_id or "").rstrip("/").lower()


class Fleet:  # pylint: disable=too-few-public-methods,too-many-instance-attributes  # a record, read by field
    """What the Resource Graph pass returned, indexed for building snapshots."""

    def __init__(self):
        self.clusters = []              # (row, normalised cluster)
        self.vaults = {}                # lower vault id -> collected vault
        self.vault_subscription_errors = {}   # lower subscription -> collection_error
        self.assignments = None         # [normalised assignment] or None when the query failed
        self.assignments_error = None
        self.assignments_by_principal = None   # see assignments_of
        self.frozen_vaults = {}         # lower vault id -> the collected vault, frozen once (see frozen_vault)
        self.gaps = []                  # subscriptions not scanned (see _subscription_gap)
        self.visible = set()
        self.pages = 0


def _subscription_gap(code, subscription, reason):
    """What the fleet snapshot records of a subscription not scanned; the collection rule
    check_fleet_subscriptions turns it into MCA910 (not shown) or MCA911 (query failed)."""
    return {"subscriptionId": subscription, "reason": reason, "queryFailed": code == "MCA911"}


def collect_fleet(rg, subscriptions=None, management_groups=None):
    """Run the Resource Graph pass (see the module docstring); never raises.

    After the subscriptions query, the three fleet-wide queries (clusters; the vaults they
    name; their identities' role assignments, grouped by subscription: _addon_assignments) do
    not depend on one another's rows (the joins run in the service), so they run at once; each
    pages on its own, and an ordered one's later pages go at once too, as many as the quota
    allows (resourcegraph.py). The custom roles' definitions follow the role assignments at
    once, beside the cluster query's later pages (_assignments_with_definitions). Only a vault
    outside the queries' scope costs more: one lookup by ID for all such vaults."""
    fleet = Fleet()
    if management_groups:
        scope = {"management_groups": list(management_groups)}
    else:
        _collect_visible(rg, fleet, subscriptions)
        scope = {"subscriptions": sorted(fleet.visible)}
    with ThreadPoolExecutor(max_workers=2) as pool:
        vaults = pool.submit(_scoped_query, rg, graph.VAULTS, scope)
        roles = pool.submit(_assignments_with_definitions, rg, scope)
        cluster_rows = _cluster_rows(rg, fleet, scope)
        vault_answer, (role_answer, asked_definitions) = vaults.result(), roles.result()
    for row in sorted(cluster_rows, key=lambda item: resource_key(item.get("id"))):
        fleet.clusters.append((row, azure_collectors.normalise_cluster(cluster_from_row(row))))
    covered = set(scope.get("subscriptions") or ()) or {
        str(row.get("subscriptionId") or "").lower() for row, _ in fleet.clusters}
    _collect_vaults(rg, fleet, vault_answer, covered)
    _collect_assignments(rg, fleet, role_answer, covered, scope, asked_definitions=asked_definitions)
    fleet.pages = rg.pages
    return fleet


def _collect_visible(rg, fleet, subscriptions):
    """Which asked subscriptions Resource Graph shows; the others become the fleet's gaps."""
    asked = sorted({str(item).lower() for item in subscriptions or ()})
    visible_rows, failed = rg.query_per_subscription(graph.SUBSCRIPTIONS, asked)
    fleet.visible = {str(row.get("subscriptionId")).lower() for row in visible_rows}
    for subscription in asked:
        if subscription in failed:
            fleet.gaps.append(_subscription_gap("MCA911", subscription, failed[subscription]["reason"]))
        elif subscription not in fleet.visible:
            fleet.gaps.append(_subscription_gap(
                "MCA910", subscription, "not among the subscriptions Resource Graph returns for you"))


def _cluster_rows(rg, fleet, scope):
    if scope.get("management_groups"):
        cluster_rows, failed = _query_or_fail(rg, graph.CLUSTERS, management_groups=scope["management_groups"])
        for group, error in failed.items():
            fleet.gaps.append(_subscription_gap("MCA911", "management group " + group, error["reason"]))
        return cluster_rows
    cluster_rows, failed = rg.query_per_subscription(graph.CLUSTERS, scope["subscriptions"])
    for subscription, error in failed.items():
        fleet.gaps.append(_subscription_gap("MCA911", subscription, error["reason"]))
        fleet.visible.discard(subscription)
    return cluster_rows


def _scoped_query(rg, kql, scope):
    """(rows, None), or (None, error) when the query failed; no query for an empty scope."""
    if not any(scope.values()):
        return [], None
    try:
        return rg.query(kql, **scope), None
    except graph.GraphError as error:
        return None, error.error


def _addon_assignments(rg, scope):
    """The add-on identities' role assignments as _scoped_query answers: grouped by
    subscription in the service (one page however many clusters and assignments), or,
    when that answer was cut (more subscriptions than a page: summarize is not paged,
    resourcegraph.py) or the service refused the grouping itself (400: a KQL function it
    does not take), one row per assignment, paged."""
    if not any(scope.values()):
        return [], None
    try:
        grouped, complete = rg.query_first_page(graph.ROLE_ASSIGNMENTS_BY_SUBSCRIPTION, **scope)
    except graph.GraphError as error:
        if error.error.get("status") != 400:
            return None, error.error
        grouped, complete = None, False
    try:
        if complete:
            return graph.grouped_assignments(grouped), None
        return rg.query(graph.ROLE_ASSIGNMENTS, **scope), None
    except graph.GraphError as error:
        return None, error.error


def _assignments_with_definitions(rg, scope):
    """(_addon_assignments' answer, _role_definitions' answer for the custom roles its rows name,
    in the same scope, or None when there were no rows).

    Why here and not after the clusters: a definition depends on nothing but its GUID, so it is
    asked while the cluster query's later pages are, not in a round trip of its own after them.
    _annotate asks again only for the GUIDs this did not ask (assignments found by ID)."""
    answer = _addon_assignments(rg, scope)
    rows, error = answer
    if error or not rows:
        return answer, None
    from azext_meshca.model import roles
    guids = {roles.role_guid(row.get("roleDefinitionId")) for row in rows} - roles.KNOWN_ROLES
    return answer, (frozenset(guids), _role_definitions(rg, guids, scope))


def _query_or_fail(rg, kql, management_groups):
    try:
        return rg.query(kql, management_groups=management_groups), {}
    except graph.GraphError as error:
        return [], {group: error.error for group in management_groups}


def _vault_ids(fleet):
    ids = set()
    for _, cluster in fleet.clusters:
        parsed = parse_vault_id((cluster.get("plugin") or {}).get("keyVaultId"))
        if parsed:
            ids.add(resource_key(cluster["plugin"]["keyVaultId"]))
    return ids


def _subscription_of(resource_id):
    return (parse_vault_id(resource_id) or {}).get("subscriptionId", "").lower()


def _ensure_visible(rg, fleet, subscriptions):
    """Subscriptions holding vaults that were not asked about: ask Resource Graph whether
    it shows them (one more query, only when there are any)."""
    unknown = sorted(set(subscriptions) - fleet.visible - set(fleet.vault_subscription_errors))
    if not unknown:
        return
    rows, failed = rg.query_per_subscription(graph.SUBSCRIPTIONS, unknown)
    fleet.visible |= {str(row.get("subscriptionId")).lower() for row in rows}
    for subscription in unknown:
        if subscription in failed:
            fleet.vault_subscription_errors[subscription] = failed[subscription]
        elif subscription not in fleet.visible:
            fleet.vault_subscription_errors[subscription] = collection_error(
                f"Resource Graph does not show subscription {subscription} to you, so its vaults could not be read",
                403, NOT_VISIBLE_CODE)


def _collect_vaults(rg, fleet, answer, covered):
    """Index the vaults the joined query returned; look up by ID only the vaults it could
    not have returned (outside its scope), or all of them when it failed."""
    ids = _vault_ids(fleet)
    rows, error = answer
    found = {}
    for row in rows or ():
        found[resource_key(row.get("id"))] = collected(azure_collectors.normalise_vault(vault_from_row(row)))
    lookup = ids - set(found) if error else {vault_id for vault_id in ids - set(found)
                                             if _subscription_of(vault_id) not in covered}
    found.update(_vaults_by_id(rg, fleet, lookup))
    for vault_id in ids:
        sub_error = fleet.vault_subscription_errors.get(_subscription_of(vault_id))
        if vault_id in found:
            fleet.vaults[vault_id] = found[vault_id]
        elif sub_error:
            fleet.vaults[vault_id] = collected(error=sub_error)
        else:  # the subscription is readable and holds no such vault: what ARM's 404 says
            fleet.vaults[vault_id] = collected(error=collection_error(
                f"404 Not Found (ResourceNotFound): Resource Graph holds no vault {vault_id}",
                404, "ResourceNotFound"))


def _vaults_by_id(rg, fleet, ids):
    """{lower vault id: collected vault} for ``ids``, named in the query (IDS_PER_QUERY a query)."""
    if not ids:
        return {}
    subscriptions = {_subscription_of(vault_id) for vault_id in ids}
    _ensure_visible(rg, fleet, subscriptions)
    readable = sorted(subscriptions & fleet.visible)
    found = {}
    for batch in graph.chunks(vault_id for vault_id in ids if _subscription_of(vault_id) in fleet.visible):
        rows, failed = rg.query_per_subscription(graph.VAULTS_BY_ID.format(ids=graph.kql_list(batch)), readable)
        for subscription, error in failed.items():
            fleet.vault_subscription_errors.setdefault(subscription, error)
        for row in rows:
            found[resource_key(row.get("id"))] = collected(azure_collectors.normalise_vault(vault_from_row(row)))
    return found


def _collect_assignments(rg, fleet, answer, covered, scope, *, asked_definitions=None):
    """The joined query's assignments, plus (by principal ID) those in vault subscriptions
    outside its scope; all by principal ID when it failed. ``asked_definitions``: what
    _assignments_with_definitions already asked, or None."""
    principals = {identity_object_id(cluster) for _, cluster in fleet.clusters} - {None}
    vault_subscriptions = {_subscription_of(vault_id) for vault_id in fleet.vaults}
    if not principals or not vault_subscriptions:
        fleet.assignments = []
        return
    rows, error = answer
    outside = (vault_subscriptions if error else vault_subscriptions - covered) & fleet.visible
    try:
        if error and not outside:
            raise graph.GraphError(error)
        rows = list(rows or ()) + _assignments_by_id(rg, principals, outside)
    except graph.GraphError as failure:
        fleet.assignments_error = failure.error
        return
    unique = {str(row.get("id") or "").lower(): row for row in reversed(rows)}
    assignments = [azure_collectors.normalise_role_assignment(row) for row in unique.values()]
    definitions_scope = scope if scope.get("management_groups") else {
        "subscriptions": sorted((vault_subscriptions | set(scope["subscriptions"])) & fleet.visible)}
    _annotate(rg, assignments, definitions_scope, asked_definitions)
    fleet.assignments = assignments


def _assignments_by_id(rg, principals, subscriptions):
    """Role-assignment rows of ``principals`` in ``subscriptions`` (none asked when empty)."""
    rows = []
    for batch in graph.chunks(principal.lower() for principal in principals) if subscriptions else ():
        rows.extend(rg.query(graph.ROLE_ASSIGNMENTS_BY_ID.format(ids=graph.kql_list(batch)), sorted(subscriptions)))
    return rows


def _role_definitions(rg, guids, scope):
    """({lower GUID: definition row}, the reason a query failed or None) for custom roles
    ``guids``, from authorizationresources (once per role)."""
    definitions = {}
    try:
        for batch in graph.chunks(guids):
            for row in rg.query(graph.ROLE_DEFINITIONS.format(ids=graph.kql_list(batch)), **scope):
                definitions[str(row.get("name")).lower()] = row
    except graph.GraphError as error:
        return definitions, error.error["reason"]
    return definitions, None


def _annotate(rg, assignments, scope, asked=None):
    """Custom roles' definitions, from authorizationresources too (once per role).
    ``asked``: (GUIDs, _role_definitions' answer for them) already asked in scan's own scope,
    or None. Only GUIDs it did not ask are asked again (all of them when it failed): that scope
    covers ``scope`` (every visible subscription, or the same management groups:
    _collect_assignments), so a GUID it asked and did not find is in no definition here."""
    from azext_meshca.model import roles
    guids = {roles.role_guid(item["roleDefinitionId"]) for item in assignments} - roles.KNOWN_ROLES
    definitions, failure, missing = {}, None, guids
    if asked is not None:
        asked_guids, (found, asked_failure) = asked
        if asked_failure is None:
            definitions, missing = dict(found), guids - asked_guids
    if missing:
        more, failure = _role_definitions(rg, missing, scope)
        definitions.update(more)

    def read_definition(role_id):
        from azext_meshca.model.inputs import InputError
        row = definitions.get(roles.role_guid(role_id))
        if row is None:
            return azure_collectors.unknown_role_definition(
                failure or f"Resource Graph holds no role definition {role_id}")
        try:
            return azure_collectors.role_definition_facts(row)
        except InputError as error:
            return azure_collectors.unknown_role_definition(str(error))
    azure_collectors.annotate_unknown_roles(assignments, read_definition)


def identity_object_id(cluster):
    identity = (cluster.get("csiAddon") or {}).get("identity") or {}
    return identity.get("objectId") or None


# --------------------------------------------------------------------------- snapshots

def cluster_snapshot(fleet, row, cluster, warn_days, secrets=None, *, collected_at=None):
    """The snapshot diagnose --skip-cluster would build for this cluster, from the fleet's rows,
    but for its options (below).

    ``secrets`` is (secrets, keyFacts) read for this cluster's object set, or None when
    the objects were not read (then no secret or certificate rule has input).
    ``collected_at``: the scan's one moment for the whole fleet, else now.
    """
    target = {"subscriptionId": row.get("subscriptionId"), "tenantId": row.get("tenantId"),
              "resourceGroup": row.get("resourceGroup"), "cluster": row.get("name")}
    # skipCluster false: scan was not asked to skip anything, and it says once, on the fleet
    # snapshot (MCA908), that it reads no cluster, rather than on each of thousands of rows.
    snapshot = new_snapshot(target, {"revisions": None, "skipCluster": False, "warnDays": warn_days},
                            collected_at=collected_at)
    # Shared, not copied: the rules judge a frozen copy (rules/runner.py run_rules), so one cluster's
    # judging cannot change what the next one reads, and no vault is copied per cluster.
    snapshot["cluster"] = collected(cluster)
    plugin = cluster.get("plugin") or {}
    vault_id = plugin.get("keyVaultId")
    if not parse_vault_id(vault_id):
        return snapshot
    snapshot["vault"] = frozen_vault(fleet, resource_key(vault_id))
    principal = identity_object_id(cluster)
    if principal:
        if fleet.assignments is None:
            snapshot["roleAssignments"] = collected(error=fleet.assignments_error)
        else:
            snapshot["roleAssignments"] = collected(
                assignments_for(assignments_of(fleet, principal), principal, vault_id))
    if secrets is not None:
        snapshot["secrets"], snapshot["keyFacts"] = secrets
    return snapshot


def frozen_vault(fleet, key):
    """The fleet's collected vault ``key`` (or None), frozen once for every cluster that names
    it: the runner's freeze keeps a frozen part as it is (model/snapshot.py)."""
    if key not in fleet.frozen_vaults:
        item = fleet.vaults.get(key)
        fleet.frozen_vaults[key] = None if item is None else freeze(item)
    return fleet.frozen_vaults[key]


def assignments_of(fleet, principal):
    """The fleet's role assignments of ``principal``, from an index built once per fleet, so
    each cluster costs its own assignments, not the whole fleet's."""
    if fleet.assignments_by_principal is None:
        fleet.assignments_by_principal = {}
        for item in fleet.assignments or ():
            fleet.assignments_by_principal.setdefault((item.get("principalId") or "").lower(), []).append(item)
    return fleet.assignments_by_principal.get(principal.lower(), ())


def read_vault_objects(cli_ctx, fleet, progress=None):
    """{lower vault id: read_vault_objects' answer}: every object any cluster names read
    once per vault, VAULT_READERS vaults at a time (see read_one_vault)."""
    plugins = {}
    for _, cluster in fleet.clusters:
        vault_id = (cluster.get("plugin") or {}).get("keyVaultId")
        if parse_vault_id(vault_id):
            plugins.setdefault(resource_key(vault_id), []).append(cluster["plugin"])
    if progress:
        progress(f"reading the Key Vault objects of {len(plugins)} vaults")
    if not plugins:
        return {}
    from azext_meshca.sources.snapshot_builder import object_roles
    with ThreadPoolExecutor(max_workers=min(VAULT_READERS, len(plugins))) as pool:
        futures = {vault_id: pool.submit(read_one_vault, cli_ctx, fleet.vaults.get(vault_id), object_roles(found))
                   for vault_id, found in plugins.items()}
        return {vault_id: future.result() for vault_id, future in futures.items()}


# Key Vault's inner error codes of a 403 that refuses the caller for every secret of the vault
# alike, so the first object's answer is every object's (refused_vault_wide). Key Vault checks the
# network before the access model (learn.microsoft.com/azure/key-vault/general/network-security):
# - ForbiddenByFirewall: the vault's network rules (networkAcls) refuse the caller's address, for
#   its whole data plane;
# - ForbiddenByConnection: public network access is off and the request came through no approved
#   private link, for its whole data plane;
# - AccessDenied: an access-policy vault gives the caller no secrets ``get``; an access policy
#   grants a principal permissions per object TYPE at the vault's level, never per secret
#   (learn.microsoft.com/azure/key-vault/general/rbac-access-policy), so every secret is refused alike;
# - ForbiddenByPolicy: the caller's only access policy is a compound identity's, which grants
#   on-behalf-of callers only (verbatim answers in tests/upstream/provider/*forbiddenbypolicy.yaml).
# The simulator answers the first three with these codes (sandbox/sim/scenario.py
# _network_denial, _policy_denial). Not ForbiddenByRbac: a role may be assigned at one secret's
# own scope (learn.microsoft.com/azure/key-vault/general/rbac-guide, "Secret scope role
# assignment"), so one object's refusal says nothing of the next; nor SecretDisabled (one object).
VAULT_WIDE_REFUSALS = frozenset({"ForbiddenByFirewall", "ForbiddenByConnection", "AccessDenied", "ForbiddenByPolicy"})


def refused_vault_wide(item):
    """Whether a secret read failed in a way that refuses the caller for every object of the
    vault alike, decided on the error's structure (sources/errors.py describe_error keeps the
    status and Key Vault's inner error code), never on its wording:

    - a 401 to a request that carried a token (the SDK sends one once it holds the vault's
      challenge): the vault refused the token itself, e.g. AKV10032 "Invalid issuer" for
      another tenant's (Key Vault's REST error codes,
      learn.microsoft.com/azure/key-vault/general/rest-error-codes);
    - a 403 whose inner code is one of VAULT_WIDE_REFUSALS.

    No other object of that vault can then be read by the same caller."""
    error = (item or {}).get("error") or {}
    status = error.get("status")
    return status == 401 or (status == 403 and error.get("code") in VAULT_WIDE_REFUSALS)


def read_one_vault(cli_ctx, vault_item, roles):
    """One vault's objects (``roles``: object_roles), as snapshot_builder.read_vault_objects
    answers: the first object alone, then the others one at a time.

    The first read elicits the vault's challenge and sends the token (one challenge per
    vault: the SDK caches it per vault host for the second client). Only when the vault
    accepted the token are the others asked; after a refusal that holds for the whole vault
    (refused_vault_wide: the token, the firewall, private link only, an access policy) each
    of them carries the first one's error and the vault sees no further request, where the
    SDK would otherwise ask every object (twice after a 401: azure-core
    BearerTokenCredentialPolicy.send retries a 401 that carries a challenge once). An RBAC
    refusal may be one secret's alone, so then the others are still asked.

    One at a time, so a vault holds one kept-alive connection: opening one (a TLS handshake,
    through a proxy where there is one) costs more than a round trip on an open one. The
    width is across vaults (VAULT_READERS)."""
    from azext_meshca.sources.snapshot_builder import read_vault_objects as read
    names = sorted(roles)
    first, rest = names[:1], names[1:]
    client = _vault_client(cli_ctx, vault_item)
    try:
        answer, failure = read(cli_ctx, vault_item, {name: roles[name] for name in first}, client=client)
        if failure or not rest:
            return answer, failure
        item = answer[first[0]][0]
        if refused_vault_wide(item):
            return dict(answer, **{name: (copy.deepcopy(item), None, None) for name in rest}), None
        for name in rest:     # one after another, on the connection the first read left open
            got, failure = read(cli_ctx, vault_item, {name: roles[name]}, client=client)
            if failure:
                return {}, failure
            answer.update(got)
        return answer, None
    finally:
        if client is not None:
            client.close()    # the vault is not read again: its connection goes now, not at exit


def _vault_client(cli_ctx, vault_item):
    """One reader for all of a vault's reads: the lean one (_client_factory.cf_vault_reader,
    sources/keyvault.py), since scan's CPU goes on thousands of them; or None: then the
    first read builds the SDK's client and reports why it could not
    (snapshot_builder.read_vault_objects)."""
    from azext_meshca._client_factory import cf_vault_reader
    vault = ok_data(vault_item)
    if not vault or not vault.get("vaultUri"):
        return None
    try:
        return cf_vault_reader(cli_ctx, vault, vault.get("subscriptionId"))
    except Exception:  # pylint: disable=broad-except  # the first read reports it (describe_error)
        return None


def secrets_for(cluster, vault_objects):
    """(secrets, keyFacts) of one cluster from what read_vault_objects read, or None."""
    from azext_meshca.sources.snapshot_builder import assemble_secrets, wanted_objects
    plugin = cluster.get("plugin") or {}
    answer = vault_objects.get(resource_key(plugin.get("keyVaultId")))
    return None if answer is None else assemble_secrets(wanted_objects(plugin), answer)


# --------------------------------------------------------------------------- the fleet's own snapshot

def fleet_snapshot(warn_days, *, gaps=(), clusters_found=None, scope=None):
    """``fleet``: ``subscriptionsNotScanned`` (scan's gaps), and, when scan found no cluster,
    ``clustersFound: 0`` with the ``scope`` it searched."""
    snapshot = new_snapshot({}, {"warnDays": warn_days})
    fleet = {"subscriptionsNotScanned": list(gaps)}
    if clusters_found is not None:
        fleet.update(clustersFound=clusters_found, scope=scope)
    snapshot["fleet"] = fleet
    return snapshot
