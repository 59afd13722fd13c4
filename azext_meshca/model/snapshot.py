"""The snapshot: everything diagnose collected, as plain JSON-able data.

Collectors build it (I/O); checks read it (pure). Checks never see an SDK object, so
they can be tested with hand-written fixtures and re-run offline with
``--from-snapshot``. Every collected item is wrapped by ``collected()``::

    {"ok": true,  "data": <item>, "error": null}
    {"ok": false, "data": null,  "error": {"reason": "403 Forbidden (ForbiddenByRbac)",
                                           "status": 403, "code": "ForbiddenByRbac"}}

Schema (version 1; ``from_json`` checks a loaded file against
azext_meshca/model/snapshot_schema.py, which must follow this text); keys are camelCase,
timestamps ISO 8601 UTC::

    version: 1
    collectedAt: "2026-11-29T15:00:00Z"      # the "now" every expiry check uses
    target: {subscriptionId, resourceGroup, cluster, tenantId}   # tenantId: the subscription's
    options: {revisions: [..] | null, skipCluster: bool, warnDays: int,
              viaRunCommand: true}                # only when --via-run-command was given
    cluster: collected({
        id, name, location, nodeResourceGroup,
        meshMode: "Istio" | "Disabled" | null,
        revisions: ["asm-1-24"],
        plugin: null | {keyVaultId, certObjectName, keyObjectName,
                        rootCertObjectName, certChainObjectName},   # raw, may be partial
        csiAddon: {enabled: bool, enableSecretRotation: "true"|"false"|null,
                   rotationPollInterval: "2m"|null,
                   identity: null | {objectId, clientId, resourceId}},
        aad: {managed: bool, enableAzureRbac: bool} | null })
    vault: null (no plug-in CA / unparsable keyVaultId) | collected({
        id, name, resourceGroup, subscriptionId, location, tenantId, vaultUri,
        enableRbacAuthorization: bool,
        accessPolicies: [{tenantId, objectId, applicationId,   # applicationId: compound identity
                          permissions: {secrets: ["get", ...]}}],
        publicNetworkAccess: "Enabled"|"Disabled"|null,
        networkAcls: null | {defaultAction, bypass, ipRules: [..], virtualNetworkRules: [..]},
        privateEndpointCount: int })               # error.status 404 => vault missing
    roleAssignments: null | collected([{id, scope, roleDefinitionId, principalId,
                                        principalType,    # the add-on identity's: vault scope, parents, secret scopes
                                        roleName, permissions: [{actions, notActions, dataActions,
                                        notDataActions}], roleDefinitionError}])
                                        # the last three only for roles outside roles.KNOWN_ROLES,
                                        # copied from their definitions (custom roles), judged
                                        # by rules/rbac.py; older snapshots: grantsSecretRead(Error)
    secrets: {<object>: collected({                 # object: root-cert|ca-cert|ca-key|cert-chain
        name, enabled, notBefore, expires, contentType, managed: bool, kid,
        version, updated,                           # the current version's id and when it was set
        value: "<PEM text>" })}                     # ca-key: value is NEVER kept; see below
    keyFacts: null | {kind, format, publicKeySha256, publicKeyPem, encrypted}
                                                     # what the checks need of ca-key
    kube: null (skipped) | {
        access: collected({source: "azure"|"kubeconfig"|"runCommand", server,
                           runCommand: {commandId, exitCode, outputBytes, complete, cut: [..]}}),
                                                     # runCommand: only with --via-run-command
        istiodPods: collected([{name, revision, phase, status, ready, createdAt, node,
                                initContainers: [{name, state, reason}]}]),
        istiodDeployments: collected({<revision>: null | {name, replicas, readyReplicas,
                                                          multiRootMesh}}),  # discovery's ISTIO_MULTIROOT_MESH env
                                                                             # value, null when unset
        events: collected([{involvedKind, involvedName, type, reason, message, count, lastSeen,
                            node}]),                 # FailedMount events about istiod only;
                                                     # beside data, cut: [{reason, pages, bytes, eventsRead,
                                                     # remainingItemCount}] when a list stopped at its cap
        providerLogs: collected([{pod, node, lines: [..]}]),  # bounded tail; the nodes of istiod's
                                                     # pods and of its mount events only
        secretProviderClasses: collected({<revision>: null | {name, objectNames: [..],
                                          keyvaultName, tenantId}}),
        cacerts: collected(null | {keys: [..], rootFingerprints: [..],
                                   caCertFingerprint, certChainFingerprints: [..]}),
        rootConfigMaps: collected([{namespace, rootFingerprints: [..]}]),
        cronjobs: collected({<revision>: null | {name, schedule, suspend, lastScheduleTime}}),
        istiodLogs: collected([{pod, lines: [..]}]),        # CA-related lines only
        mountStatuses: collected([{pod, secretProviderClass, mounted,    # SecretProviderClassPodStatus
                                   objects: [{name, version}]}]),       # in aks-istio-system
        webhooks: collected([{name, revision, caBundleFingerprints: [..], caBundlePem}]),
                                                     # sidecar-injector webhooks (app=sidecar-injector)
        sidecars: collected({pods: [{namespace, revision, startedAt, secretTtl}],
                             truncated: bool}) }     # injected pods (one bounded list); istio-proxy's start
    The CA's path model over these (Key Vault -> mounted -> loaded -> distributed -> sidecars)
    is azext_meshca/rules/capath.py.
    fleet: absent, except in scan's own snapshot of the fleet (sources/fleet.py):
        {subscriptionsNotScanned: [{subscriptionId, reason, queryFailed: bool}],
         clustersFound: 0, scope}              # the last two only when scan found no cluster
    source, pluginSet, shown: only in the snapshots of validate-secrets and show-cert, never
        exported (sources/certsets.py): the output's ``source``; a set read from files or the
        cacerts secret {objects, where, unread}; show-cert's named PEM objects {objects, where}.

Private keys: the ca-key value is parsed the moment it is read, reduced to
``keyFacts`` (its public half and format), and dropped. No snapshot, in memory or on
disk, ever holds private-key bytes.
"""

import datetime
import json
import types

SNAPSHOT_VERSION = 1


def iso_utc(moment):
    """The one timestamp format of snapshots and results: ISO 8601, UTC, seconds, 'Z'.
    A naive datetime counts as UTC; None stays None."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def new_snapshot(target, options, collected_at=None):
    """An empty snapshot: every item not collected yet (see the schema above).
    ``collected_at``: its moment (ISO text) when the caller has one, as scan has one for the
    whole fleet; else now."""
    return {"version": SNAPSHOT_VERSION, "collectedAt": collected_at or iso_utc(now_utc()), "target": target,
            "options": options, "cluster": None, "vault": None, "roleAssignments": None, "secrets": {},
            "keyFacts": None, "kube": None}


def collected(data=None, error=None):
    """Wrap one collected item; ``error`` is a dict from ``describe_error``."""
    return {"ok": error is None, "data": data if error is None else None, "error": error}


# Codes of a collection error whose address was refused (sources/hostpin.py makes them;
# the collection and network rules read them): the snapshot's vocabulary, so both sides
# share one spelling without a rule importing a source.
ARM_LINK_CODE = "ForeignArmLink"
VAULT_URI_CODE = "VaultUriForeign"


def collection_error(reason, status=None, code=None):
    return {"reason": reason, "status": status, "code": code}


def freeze(value):
    """A read-only view: checks must not change what they are judging.

    A view freeze made already is kept as it is: only freeze makes them, each over a dict of
    its own, so nothing else can change what it shows. scan freezes what thousands of
    clusters share (a vault) once (sources/fleet.py), not once per cluster."""
    if isinstance(value, types.MappingProxyType):
        return value
    if isinstance(value, dict):
        return types.MappingProxyType({key: item if type(item) in _PLAIN else freeze(item)
                                       for key, item in value.items()})
    if isinstance(value, list):
        return tuple(item if type(item) in _PLAIN else freeze(item) for item in value)
    return value


# Values freeze returns as they are, told apart without a call: most of a snapshot's leaves (#25).
_PLAIN = frozenset((str, int, float, bool, type(None)))


def thaw(value):
    if isinstance(value, (dict, types.MappingProxyType)):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(item) for item in value]
    return value


def to_json(snapshot):
    return json.dumps(thaw(snapshot), indent=2, sort_keys=True)


def check_version(data):
    """Refuse a snapshot of another schema version with a message that says what to do."""
    if not isinstance(data, dict):
        found = "a list" if isinstance(data, list) else "text or a number"
        raise ValueError(f"the file holds JSON {found}, not an object")
    version = data.get("version")
    if "version" not in data:
        raise ValueError("it has no 'version' field")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"version: expected a whole number, found {version!r}"[:120])
    if version < SNAPSHOT_VERSION:
        raise ValueError(f"snapshot version {version} is older than this meshca reads ({SNAPSHOT_VERSION}): "
                         "export it again with az aks mesh ca diagnose --export")
    if version > SNAPSHOT_VERSION:
        raise ValueError(f"snapshot version {version} is newer than this meshca reads ({SNAPSHOT_VERSION}): "
                         "upgrade meshca (az extension update -n meshca)")


def from_json(text):
    """A snapshot from its JSON text; ValueError (one line, naming the first bad field)
    when the text is not JSON, is another version, or does not have the schema above."""
    from azext_meshca.model.snapshot_schema import SNAPSHOT, check
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
    check_version(data)
    check(data, SNAPSHOT)
    return data


def ok_data(item):
    """The data of a collected item, or None when it failed or was not collected."""
    if not item or not item.get("ok"):
        return None
    return item.get("data")
