"""Property tests: every parser and normaliser takes ANY input to a result or one error line.

What "robust" means here, for each entry point of input:

* PEM bundles and keys (azext_meshca/model/certs.py, model/keyfacts.py, rules/validation.py): any bytes
  give certificates or a CertFormatError; a whole plug-in set of any bytes gives findings.
* The snapshot loader (snapshot.from_json): any text gives a snapshot of the documented
  shape or one ValueError line; any snapshot of that shape gives findings (diagnose's
  checks never raise on what the loader accepted).
* The log and event parser (rules/logparse.py): any lines give classifications.
* Resource IDs (model/resource_ids.py): any value parses or is None.
* The ARM and Key Vault normalisers (sources/azure.py): any JSON gives the snapshot's
  shape or an InputError/ShapeError naming the field, which describe_error turns into
  a collection error.

Examples per test: the "ci" profile in tests/conftest.py (CI_EXAMPLES, 150, derandomised)
unless a test says fewer below; MESHCA_HYPOTHESIS_PROFILE=nightly runs 20 times as many.
"""

import base64
import datetime
import json
import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from azext_meshca.model import certs

from azext_meshca.rules import logparse

from azext_meshca.model import resource_ids

from azext_meshca.model import snapshot_schema
from azext_meshca.sources import azure as azure_collectors
from azext_meshca.sources.errors import describe_error
from azext_meshca.model.inputs import InputError
from azext_meshca.model.keyfacts import key_facts
from azext_meshca.model.snapshot import SNAPSHOT_VERSION, from_json, to_json
from azext_meshca.model.snapshot_schema import ShapeError
from azext_meshca.rules.validation import describe_objects, validate_plugin_set
from sandbox import certfactory

NOW = certfactory.ANCHOR_TIME
ONE_LINE = 400  # the longest a one-line error may be


def assert_one_line(error):
    text = str(error)
    assert text and "\n" not in text and len(text) <= ONE_LINE, repr(text)


_SET = {}


def real_set():
    if not _SET:
        _SET.update(certfactory.make_plugin_set())
    return _SET


# --------------------------------------------------------------------------- PEM inputs

LABELS = st.sampled_from([b"CERTIFICATE", b"PRIVATE KEY", b"RSA PRIVATE KEY", b"EC PRIVATE KEY",
                          b"ENCRYPTED PRIVATE KEY", b"X509 CRL", b"PUBLIC KEY", b"CERTIFICATE REQUEST"])


def _pem(label, der, line=64):
    body = base64.b64encode(der)
    lines = b"\n".join(body[i:i + line] for i in range(0, len(body), line))
    return b"-----BEGIN " + label + b"-----\n" + lines + b"\n-----END " + label + b"-----\n"


@st.composite
def mutated_der(draw):
    """A real certificate's or key's DER with a few bytes changed, cut or repeated:
    close enough to valid that the DER and extension parsers are exercised deeply."""
    name = draw(st.sampled_from(["root-cert", "ca-cert", "ca-key", "cert-chain"]))
    blocks = certs.pem_blocks(real_set()[name])
    der = bytearray(draw(st.sampled_from(blocks)).der)
    for _ in range(draw(st.integers(0, 4))):
        where = draw(st.integers(0, len(der) - 1))
        der[where] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(der)))
        der = der[:cut]
    return bytes(der)


@st.composite
def pem_texts(draw):
    """Bundles of PEM blocks (real, mutated, random), with junk around and between them."""
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["real", "mutated", "random", "junk", "broken"]))
        if kind == "real":
            parts.append(real_set()[draw(st.sampled_from(["root-cert", "ca-cert", "cert-chain", "ca-key"]))])
        elif kind == "mutated":
            parts.append(_pem(draw(LABELS), draw(mutated_der()), draw(st.integers(1, 80))))
        elif kind == "random":
            parts.append(_pem(draw(LABELS), draw(st.binary(max_size=300))))
        elif kind == "broken":
            parts.append(_pem(draw(LABELS), draw(st.binary(max_size=80)))[:draw(st.integers(0, 200))])
        else:
            parts.append(draw(st.binary(max_size=200)))
    return b"".join(parts)


ANY_BYTES = st.one_of(st.binary(max_size=2000), pem_texts(), mutated_der(),
                      st.text(max_size=500).map(lambda text: text.encode("utf-8")))


@given(ANY_BYTES)
def test_pem_bundle_parses_or_says_why(data):
    try:
        bundle = certs.parse_pem_bundle(data)
    except certs.CertFormatError as error:
        assert_one_line(error)
        return
    for cert in bundle:
        certs.describe(cert, NOW)


@given(ANY_BYTES)
def test_private_key_parses_or_says_why_and_never_echoes_it(data):
    try:
        certs.parse_private_key(data)
    except certs.CertFormatError as error:
        assert_one_line(error)
        if len(data) >= 16:
            assert data[:16].decode("latin-1") not in str(error)
    facts = key_facts(data)
    assert isinstance(facts, dict) and facts["kind"]


@settings(max_examples=60)  # each example signs and verifies a whole set: 60 keep CI in seconds
@given(st.fixed_dictionaries({name: st.one_of(st.none(), ANY_BYTES, st.just(real_set()[name]))
                              for name in ("root-cert", "ca-cert", "ca-key", "cert-chain")}))
def test_any_plugin_set_gives_findings(objects):
    findings, certificates = validate_plugin_set(objects, NOW)
    assert isinstance(findings, list) and isinstance(certificates, list)
    described, _ = describe_objects({name: data for name, data in objects.items()
                                     if name != "ca-key" and data is not None}, NOW)
    assert isinstance(described, list)


# --------------------------------------------------------------------------- resource IDs

ID_PARTS = st.sampled_from(["subscriptions", "resourceGroups", "providers", "Microsoft.KeyVault", "vaults",
                            "kv-mesh", "", "rg", "00000000-0000-0000-0000-000000000000", "..", "a/b"])
RESOURCE_IDS = st.one_of(st.none(), st.integers(), st.text(max_size=300),
                         st.lists(ID_PARTS, max_size=12).map(lambda parts: "/" + "/".join(parts)))


@given(RESOURCE_IDS, RESOURCE_IDS)
def test_resource_ids_parse_or_are_none(first, second):
    parsed = resource_ids.parse_vault_id(first)
    assert parsed is None or set(parsed) == {"subscriptionId", "resourceGroup", "name"}
    assert resource_ids.scope_covers(first, second) in (True, False)


# --------------------------------------------------------------------------- logs and events

LOG_WORDS = st.sampled_from([
    "StatusCode=403", "RESPONSE 403: 403 Forbidden", 'InnerError={"code":"AccessDenied"}', "objectName: ca-key,",
    "failed to get objectType:", "MountVolume.SetUp failed", "A secret with (name/id) x", "GET https://v/secrets/",
    "I1129 14:00:00.000000", "2026-11-29T14:00:00Z", '{"', "-----", "\t", "\n", "\\n", "\\\"", "Use plugged-in cert at",
    "No plugged-in cert at", "context deadline exceeded", "ForbiddenByRbac", "SecretNotFound", "info", "error"])
LOG_LINES = st.lists(st.one_of(st.text(max_size=200), st.lists(LOG_WORDS, max_size=12).map(" ".join)),
                     max_size=30)


@given(LOG_LINES)
def test_logs_and_events_classify_any_text(lines):
    for result in logparse.classify_provider_log(lines):
        assert result["cause"]
    for line in lines:
        logparse.classify_mount_error(line)
        logparse.log_message(line)
        assert len(logparse.trim_evidence(line)) <= logparse.EVIDENCE_LIMIT + 3
    logparse.istiod_ca_events(lines)
    logparse.istiod_ca_mode(lines)


# --------------------------------------------------------------------------- JSON values

JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                         st.text(max_size=40))
JSON = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=5)), max_leaves=25)


def _with_paths(base, paths):
    """Strategy: ``base`` (a REST body) with some of ``paths`` replaced by any JSON value."""
    @st.composite
    def build(draw):
        body = json.loads(json.dumps(base))
        for path in draw(st.lists(st.sampled_from(paths), max_size=4)):
            node = body
            for key in path[:-1]:
                if not isinstance(node, dict):
                    break
                node = node.setdefault(key, {})
            if isinstance(node, dict):
                node[path[-1]] = draw(JSON)
        return body
    return build()


CLUSTER_BODY = {
    "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks",
    "name": "aks", "location": "eastus",
    "properties": {"nodeResourceGroup": "MC", "serviceMeshProfile": {"mode": "Istio", "istio": {
        "revisions": ["asm-1-24"], "certificateAuthority": {"plugin": {
            "keyVaultId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv",
            "certObjectName": "ca-cert", "keyObjectName": "ca-key", "rootCertObjectName": "root-cert",
            "certChainObjectName": "cert-chain"}}}},
        "addonProfiles": {"azureKeyvaultSecretsProvider": {"enabled": True, "config": {
            "enableSecretRotation": "true", "rotationPollInterval": "2m"},
            "identity": {"objectId": "o", "clientId": "c", "resourceId": "r"}}},
        "aadProfile": {"managed": True, "enableAzureRbac": False},
        "powerState": {"code": "Running"},
        "apiServerAccessProfile": {"enablePrivateCluster": True, "authorizedIPRanges": ["203.0.113.0/24"]}}}
CLUSTER_PATHS = [("id",), ("name",), ("properties",), ("properties", "serviceMeshProfile"),
                 ("properties", "serviceMeshProfile", "mode"), ("properties", "serviceMeshProfile", "istio"),
                 ("properties", "serviceMeshProfile", "istio", "revisions"),
                 ("properties", "serviceMeshProfile", "istio", "certificateAuthority"),
                 ("properties", "serviceMeshProfile", "istio", "certificateAuthority", "plugin"),
                 ("properties", "serviceMeshProfile", "istio", "certificateAuthority", "plugin", "keyVaultId"),
                 ("properties", "addonProfiles"), ("properties", "addonProfiles", "azureKeyvaultSecretsProvider"),
                 ("properties", "addonProfiles", "azureKeyvaultSecretsProvider", "config"),
                 ("properties", "addonProfiles", "azureKeyvaultSecretsProvider", "identity"),
                 ("properties", "aadProfile"), ("properties", "powerState"), ("properties", "powerState", "code"),
                 ("properties", "apiServerAccessProfile"),
                 ("properties", "apiServerAccessProfile", "authorizedIPRanges")]
VAULT_BODY = {
    "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv", "name": "kv",
    "location": "eastus",
    "properties": {"tenantId": "t", "vaultUri": "https://kv.vault.azure.net/", "enableRbacAuthorization": False,
                   "accessPolicies": [{"tenantId": "t", "objectId": "o", "permissions": {"secrets": ["get"]}}],
                   "publicNetworkAccess": "Enabled",
                   "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices",
                                   "ipRules": [{"value": "1.2.3.4"}], "virtualNetworkRules": [{"id": "x"}]},
                   "privateEndpointConnections": []}}
VAULT_PATHS = [("id",), ("properties",), ("properties", "tenantId"), ("properties", "accessPolicies"),
               ("properties", "networkAcls"), ("properties", "networkAcls", "ipRules"),
               ("properties", "networkAcls", "virtualNetworkRules"), ("properties", "privateEndpointConnections"),
               ("properties", "enableRbacAuthorization"), ("properties", "vaultUri")]


def _normalises_or_names_the_field(normalise, raw, shape):
    try:
        result = normalise(raw)
    except (InputError, ShapeError) as error:
        assert_one_line(error)
        described = describe_error(error)
        assert described["code"] == "MalformedResponse" and "\n" not in described["reason"]
        return
    snapshot_schema.check(result, shape)


@given(st.one_of(JSON, _with_paths(CLUSTER_BODY, CLUSTER_PATHS)))
def test_arm_cluster_body_normalises_or_names_the_field(raw):
    _normalises_or_names_the_field(azure_collectors.normalise_cluster, raw, snapshot_schema.CLUSTER)


@given(st.one_of(JSON, _with_paths(VAULT_BODY, VAULT_PATHS)))
def test_arm_vault_body_normalises_or_names_the_field(raw):
    _normalises_or_names_the_field(azure_collectors.normalise_vault, raw, snapshot_schema.VAULT)


@given(st.one_of(JSON, _with_paths({"id": "x", "properties": {"scope": "/s", "principalId": "p"}},
                                   [("properties",), ("properties", "scope"), ("id",)])))
def test_arm_role_assignment_normalises_or_names_the_field(raw):
    _normalises_or_names_the_field(azure_collectors.normalise_role_assignment, raw,
                                   snapshot_schema.ROLE_ASSIGNMENT)


TIMES = st.one_of(st.none(), st.datetimes(min_value=datetime.datetime(1950, 1, 1),
                                          max_value=datetime.datetime(9000, 1, 1),
                                          timezones=st.sampled_from([None, datetime.timezone.utc])))


@given(st.builds(types.SimpleNamespace, enabled=st.one_of(st.none(), st.booleans(), JSON_SCALARS),
                 not_before=TIMES, expires_on=TIMES, content_type=st.one_of(st.none(), JSON_SCALARS),
                 managed=st.one_of(st.none(), st.booleans()), key_id=st.one_of(st.none(), st.text(max_size=40))),
       st.one_of(st.none(), st.text(max_size=3000), st.binary(max_size=30), st.integers()))
def test_key_vault_secret_normalises_or_names_the_field(properties, value):
    try:
        item, data = azure_collectors.normalise_secret("ca-cert", properties, value)
    except (InputError, ShapeError) as error:
        assert_one_line(error)
        return
    snapshot_schema.check(item["data"], snapshot_schema.SECRET)
    assert isinstance(data, bytes) and len(data) <= certs.MAX_OBJECT_BYTES + 1


# --------------------------------------------------------------------------- snapshots

def _strategy(spec, depth=0):
    """Any value of the snapshot shape ``spec`` (azext_meshca/model/snapshot_schema.py)."""
    if isinstance(spec, str):
        return {
            snapshot_schema.TEXT: st.one_of(st.text(max_size=30), st.sampled_from(
                ["Istio", "Disabled", "Running", "Pending", "true", "false", "2m", "1h", "asm-1-24", "get",
                 "Enabled", "Deny", "ok", "azure", "empty", "Use plugged-in cert at etc/cacerts/ca-key.pem"])),
            snapshot_schema.INT: st.integers(-5, 10**6),
            snapshot_schema.BOOL: st.booleans(),
            snapshot_schema.NUMBER: st.floats(allow_nan=False, allow_infinity=False),
            snapshot_schema.TIMESTAMP: st.datetimes(min_value=datetime.datetime(1970, 1, 1),
                                                    max_value=datetime.datetime(9000, 1, 1)).map(
                lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ")),
        }[spec]
    if isinstance(spec, (snapshot_schema.Nullable, snapshot_schema.Optional)):
        return st.one_of(st.none(), _strategy(spec.spec, depth))
    if isinstance(spec, snapshot_schema.Collected):
        return st.one_of(
            st.fixed_dictionaries({"ok": st.just(True), "data": _strategy(spec.spec, depth + 1),
                                   "error": st.none()}),
            st.fixed_dictionaries({"ok": st.just(False), "data": st.none(),
                                   "error": _strategy(snapshot_schema.ERROR, depth + 1)}))
    if isinstance(spec, snapshot_schema.Fields):
        required = {key: _strategy(value, depth + 1) for key, value in spec.fields.items()
                    if not isinstance(value, snapshot_schema.Optional)}
        optional = {key: _strategy(value.spec, depth + 1) for key, value in spec.fields.items()
                    if isinstance(value, snapshot_schema.Optional)}
        return st.fixed_dictionaries(required, optional=optional)
    if isinstance(spec, snapshot_schema.MapOf):
        keys = st.sampled_from(["asm-1-24", "asm-1-25", "root-cert", "ca-cert", "ca-key", "cert-chain", "x"])
        return st.dictionaries(keys, _strategy(spec.spec, depth + 1), max_size=3)
    if isinstance(spec, snapshot_schema.ListOf):
        return st.lists(_strategy(spec.spec, depth + 1), max_size=3)
    return JSON


SNAPSHOTS = _strategy(snapshot_schema.SNAPSHOT).map(lambda data: dict(data, version=SNAPSHOT_VERSION))


@given(SNAPSHOTS)
def test_any_snapshot_the_loader_accepts_gives_findings(snapshot):
    from azext_meshca.verbs.diagnose import analyse
    loaded = from_json(to_json(snapshot))
    result = analyse(loaded, 30)
    assert result["status"] in ("passed", "warnings", "failed", "incomplete")


@given(st.one_of(st.text(max_size=300), JSON.map(json.dumps),
                 SNAPSHOTS.flatmap(lambda snapshot: _with_paths(snapshot, [
                     ("version",), ("collectedAt",), ("cluster",), ("cluster", "ok"), ("cluster", "data"),
                     ("secrets",), ("kube",), ("kube", "access"), ("vault",), ("keyFacts",), ("target",),
                 ])).map(json.dumps)))
def test_snapshot_loader_loads_or_names_the_problem(text):
    try:
        snapshot = from_json(text)
    except ValueError as error:
        assert_one_line(str(error).splitlines()[0])
        return
    snapshot_schema.check(snapshot, snapshot_schema.SNAPSHOT)


@pytest.mark.parametrize("depth", [10000])
def test_deeply_nested_snapshot_is_one_error(depth):
    with pytest.raises(ValueError) as raised:
        from_json("[" * depth + "]" * depth)
    assert_one_line(raised.value)
