"""The snapshot's shape, as data, and the one validator that checks a loaded file against it.

Why as data: ``--from-snapshot`` reads a file anyone can edit. The checks trust the
shape azext_meshca/model/snapshot.py documents, so a file is checked against that shape
before any check sees it, and the first field that does not fit is named
(``kube.istiodPods.data[0].ready: expected true/false, found a string``).

Pure and stdlib only. Dict keys listed in a ``Fields`` are required unless wrapped in
``Optional``; keys not listed are ignored (newer collectors may add some).
"""

import dataclasses
import datetime

from azext_meshca.model import incluster


class ShapeError(ValueError):
    """The first field of a snapshot that does not have the documented shape."""


# The spec markers are records (dataclasses; eq=False keeps identity equality, as before).
@dataclasses.dataclass(init=False, eq=False)
class Fields:
    """A JSON object with these keys (values are specs)."""

    fields: dict

    def __init__(self, **fields):
        self.fields = fields


@dataclasses.dataclass(eq=False)
class MapOf:
    """A JSON object whose keys are any strings and whose values all match ``spec``."""

    spec: object


@dataclasses.dataclass(eq=False)
class ListOf:
    """A JSON list whose items all match ``spec``."""

    spec: object


@dataclasses.dataclass(eq=False)
class Nullable:
    """``spec`` or null."""

    spec: object


@dataclasses.dataclass(eq=False)
class Optional:
    """A key that may be absent (or null), else ``spec``."""

    spec: object


@dataclasses.dataclass(eq=False)
class Collected:
    """A ``collected()`` item: {ok, data, error}; ``data`` matches ``spec`` when ok."""

    spec: object


ANY = object()
TEXT, INT, BOOL, NUMBER, TIMESTAMP = "text", "int", "bool", "number", "timestamp"

_NAMES = {TEXT: "text", INT: "a whole number", BOOL: "true/false", NUMBER: "a number",
          TIMESTAMP: "an ISO 8601 UTC time (2026-11-29T15:00:00Z)"}

OPT_TEXT = Optional(TEXT)
ERROR = Fields(reason=TEXT, status=Optional(INT), code=OPT_TEXT)

_PLUGIN = Fields(keyVaultId=OPT_TEXT, certObjectName=OPT_TEXT, keyObjectName=OPT_TEXT,
                 rootCertObjectName=OPT_TEXT, certChainObjectName=OPT_TEXT)
_IDENTITY = Fields(objectId=OPT_TEXT, clientId=OPT_TEXT, resourceId=OPT_TEXT)
CLUSTER = Fields(
    id=OPT_TEXT, name=OPT_TEXT, location=OPT_TEXT, nodeResourceGroup=OPT_TEXT, meshMode=OPT_TEXT,
    revisions=Optional(ListOf(TEXT)), plugin=Optional(_PLUGIN),
    csiAddon=Optional(Fields(enabled=Optional(BOOL), enableSecretRotation=OPT_TEXT,
                             rotationPollInterval=OPT_TEXT, identity=Optional(_IDENTITY))),
    aad=Optional(Fields(managed=Optional(BOOL), enableAzureRbac=Optional(BOOL))),
    powerState=OPT_TEXT,
    apiServer=Optional(Fields(privateCluster=Optional(BOOL), authorizedIpRanges=Optional(ListOf(TEXT)))))
VAULT = Fields(
    id=OPT_TEXT, name=OPT_TEXT, resourceGroup=OPT_TEXT, subscriptionId=OPT_TEXT, location=OPT_TEXT,
    tenantId=OPT_TEXT, vaultUri=OPT_TEXT, enableRbacAuthorization=Optional(BOOL),
    accessPolicies=Optional(ListOf(Fields(tenantId=OPT_TEXT, objectId=OPT_TEXT, applicationId=OPT_TEXT,
                                          permissions=Optional(Fields(secrets=Optional(ListOf(TEXT))))))),
    publicNetworkAccess=OPT_TEXT,
    networkAcls=Optional(Fields(defaultAction=OPT_TEXT, bypass=OPT_TEXT, ipRules=Optional(ListOf(TEXT)),
                                virtualNetworkRules=Optional(ListOf(TEXT)))),
    privateEndpointCount=Optional(INT))
# A role definition's permission block, as ARM returns it (sources/azure.py PERMISSION_LISTS).
ROLE_PERMISSIONS = ListOf(Fields(actions=Optional(ListOf(TEXT)), notActions=Optional(ListOf(TEXT)),
                                 dataActions=Optional(ListOf(TEXT)), notDataActions=Optional(ListOf(TEXT))))
ROLE_ASSIGNMENT = Fields(id=OPT_TEXT, scope=OPT_TEXT, roleDefinitionId=OPT_TEXT, principalId=OPT_TEXT,
                         principalType=OPT_TEXT, roleName=OPT_TEXT, permissions=Optional(ROLE_PERMISSIONS),
                         roleDefinitionError=OPT_TEXT,
                         # what snapshots exported before carry instead of permissions: the old
                         # collector's verdict, read as a fallback (rules/rbac.py reads_secret_values)
                         grantsSecretRead=Optional(BOOL), grantsSecretReadError=OPT_TEXT)
# rotate's ``rotation.operator`` (sources/rotation.py operator_facts): what was read of the signed-in
# principal's grants, facts only; MCA345 judges them (rules/access_model.py operator_write_verdict).
OPERATOR_FACTS = Fields(objectId=Nullable(TEXT), assignments=Nullable(ListOf(ROLE_ASSIGNMENT)), groups=ListOf(TEXT),
                        error=Nullable(TEXT), groupsError=Nullable(TEXT))
SECRET = Fields(name=OPT_TEXT, enabled=Optional(BOOL), notBefore=Optional(TIMESTAMP),
                expires=Optional(TIMESTAMP), contentType=OPT_TEXT, managed=Optional(BOOL), kid=OPT_TEXT,
                value=OPT_TEXT, version=OPT_TEXT, updated=Optional(TIMESTAMP))
KEY_FACTS = Fields(kind=TEXT, format=OPT_TEXT, algorithm=OPT_TEXT, keySize=Optional(INT),
                   publicKeyPem=OPT_TEXT, publicKeySha256=OPT_TEXT, detail=OPT_TEXT, encrypted=Optional(BOOL))
_POD_LINES = ListOf(Fields(pod=TEXT, lines=ListOf(TEXT)))
# How --via-run-command collected the in-cluster items (sources/runcommand.py).
RUN_COMMAND = Fields(commandId=OPT_TEXT, exitCode=Optional(INT), outputBytes=Optional(INT), complete=Optional(BOOL),
                     cut=Optional(ListOf(TEXT)),
                     # cacerts entries whose values stayed in the pod (sources/runcommand.py allowlist)
                     withheld=Optional(ListOf(Fields(key=TEXT, bytes=Optional(INT)))))
# The shape of each in-cluster item's data; which items exist, and in what order, is
# model/incluster.py ITEMS (a snapshot's ``cronjobLogs``, collected before 1.0.0b1, is ignored).
KUBE_ITEM_SHAPES = {
    "istiodPods": ListOf(Fields(
        name=TEXT, revision=OPT_TEXT, phase=OPT_TEXT, status=OPT_TEXT, ready=Optional(BOOL),
        createdAt=Optional(TIMESTAMP), node=OPT_TEXT,
        initContainers=Optional(ListOf(Fields(name=OPT_TEXT, state=OPT_TEXT, reason=OPT_TEXT))))),
    "istiodDeployments": MapOf(Nullable(Fields(
        name=OPT_TEXT, replicas=Optional(INT), readyReplicas=Optional(INT), multiRootMesh=OPT_TEXT))),
    "events": ListOf(Fields(
        involvedKind=OPT_TEXT, involvedName=OPT_TEXT, type=OPT_TEXT, reason=OPT_TEXT, message=OPT_TEXT,
        count=Optional(INT), lastSeen=Optional(TIMESTAMP), node=OPT_TEXT)),
    "providerLogs": ListOf(Fields(pod=TEXT, node=OPT_TEXT, lines=ListOf(TEXT))),
    "secretProviderClasses": MapOf(Nullable(Fields(
        name=OPT_TEXT, objectNames=Optional(ListOf(TEXT)), keyvaultName=OPT_TEXT, tenantId=OPT_TEXT))),
    "cacerts": Nullable(Fields(
        keys=Optional(ListOf(TEXT)), rootFingerprints=Optional(ListOf(TEXT)), caCertFingerprint=OPT_TEXT,
        certChainFingerprints=Optional(ListOf(TEXT)))),
    "rootConfigMaps": ListOf(Fields(namespace=TEXT, rootFingerprints=Optional(ListOf(TEXT)))),
    "cronjobs": MapOf(Nullable(Fields(
        name=TEXT, schedule=OPT_TEXT, suspend=Optional(BOOL), lastScheduleTime=Optional(TIMESTAMP)))),
    "istiodLogs": _POD_LINES,
    "mountStatuses": ListOf(Fields(
        pod=OPT_TEXT, secretProviderClass=OPT_TEXT, mounted=Optional(BOOL),
        objects=Optional(ListOf(Fields(name=OPT_TEXT, version=OPT_TEXT))))),
    "webhooks": ListOf(Fields(
        name=OPT_TEXT, revision=OPT_TEXT, caBundleFingerprints=Optional(ListOf(TEXT)), caBundlePem=OPT_TEXT)),
    "sidecars": Fields(
        pods=ListOf(Fields(namespace=OPT_TEXT, revision=OPT_TEXT, startedAt=Optional(TIMESTAMP),
                           secretTtl=OPT_TEXT)),
        truncated=Optional(BOOL)),
}


def kube_fields(items=incluster.ITEMS):
    """The snapshot's ``kube``: how the cluster was reached, then each item of the table."""
    return Fields(access=Collected(Fields(source=OPT_TEXT, server=OPT_TEXT, runCommand=Optional(RUN_COMMAND))),
                  **{item.name: Optional(Collected(KUBE_ITEM_SHAPES[item.name])) for item in items})


KUBE = kube_fields()
SNAPSHOT = Fields(
    version=INT, collectedAt=TIMESTAMP,
    target=Fields(subscriptionId=OPT_TEXT, resourceGroup=OPT_TEXT, cluster=OPT_TEXT, tenantId=OPT_TEXT),
    options=Optional(Fields(revisions=Optional(ListOf(TEXT)), skipCluster=Optional(BOOL), viaRunCommand=Optional(BOOL),
                            warnDays=Optional(INT))),
    cluster=Nullable(Collected(CLUSTER)),
    vault=Optional(Collected(VAULT)),
    roleAssignments=Optional(Collected(ListOf(ROLE_ASSIGNMENT))),
    secrets=Optional(MapOf(Collected(SECRET))),
    keyFacts=Optional(KEY_FACTS),
    kube=Optional(KUBE))

# Bounds on what a snapshot may hold, so a crafted file cannot make the checks slow.
MAX_LIST_ITEMS = 100000


# What a value found is called, tested in this order (bool before int: True is an int).
_FOUND = ((type(None), "null"), (bool, "true/false"), ((int, float), "a number"), (str, "text"),
          (list, "a list"), (dict, "an object"))


def _found(value):
    return next((name for kind, name in _FOUND if isinstance(value, kind)), type(value).__name__)


def _fail(where, expected, value):
    raise ShapeError(f"{where or 'the file'}: expected {expected}, found {_found(value)}")


def _is_timestamp(value):
    if not isinstance(value, str) or not value.endswith("Z"):
        return False
    try:
        datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return False
    return True


_SCALARS = {
    TEXT: lambda value: isinstance(value, str),
    INT: lambda value: isinstance(value, int) and not isinstance(value, bool),
    BOOL: lambda value: isinstance(value, bool),
    NUMBER: lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
    TIMESTAMP: _is_timestamp,
}


def check(value, spec, where=""):
    """Raise ShapeError naming the first field of ``value`` that does not match ``spec``."""
    if spec is ANY:
        return
    if isinstance(spec, str):
        if not _SCALARS[spec](value):
            _fail(where, _NAMES[spec], value)
        return
    if isinstance(spec, (Nullable, Optional)):
        if value is not None:
            check(value, spec.spec, where)
        return
    if isinstance(spec, Collected):
        _check_collected(value, spec, where)
    elif isinstance(spec, Fields):
        _check_fields(value, spec, where)
    elif isinstance(spec, MapOf):
        if not isinstance(value, dict):
            _fail(where, "an object", value)
        for key, item in value.items():
            check(item, spec.spec, f"{where}.{key}" if where else key)
    elif isinstance(spec, ListOf):
        if not isinstance(value, list):
            _fail(where, "a list", value)
        if len(value) > MAX_LIST_ITEMS:
            raise ShapeError(f"{where}: more than {MAX_LIST_ITEMS} items")
        for index, item in enumerate(value):
            check(item, spec.spec, f"{where}[{index}]")


def _check_fields(value, spec, where):
    if not isinstance(value, dict):
        _fail(where, "an object", value)
    for key, field_spec in spec.fields.items():
        if key not in value:
            if isinstance(field_spec, Optional):
                continue
            raise ShapeError(f"{where}.{key}: missing" if where else f"{key}: missing")
        item = value[key]
        if not _plainly_fits(item, field_spec):
            check(item, field_spec, f"{where}.{key}" if where else key)


def _plainly_fits(value, spec):
    """True when ``value`` fits a scalar field's spec (or is the null an Optional or Nullable
    allows), told without building the field's path: most fields are such, and scan checks
    every one of 5,000 clusters (sources/azure.py normalise_cluster). False sends the field
    through ``check``, which names it when it does not fit."""
    if isinstance(spec, (Optional, Nullable)):
        if value is None:
            return True
        spec = spec.spec
    return isinstance(spec, str) and _SCALARS[spec](value)


def _check_collected(value, spec, where):
    if not isinstance(value, dict):
        _fail(where, "a collected item ({ok, data, error})", value)
    prefix = where + "." if where else ""
    if not isinstance(value.get("ok"), bool):
        _fail(prefix + "ok", "true/false", value.get("ok"))
    if value["ok"]:
        check(value.get("data"), spec.spec, prefix + "data")
    else:
        check(value.get("error"), ERROR, prefix + "error")
