"""The one way into the rules: ``run_rules(snapshot, select=...)``.

Every command builds a snapshot from its source (azext_meshca/sources/) and calls this
runner: diagnose and scan with every rule, validate-secrets, show-cert, fix-access's
preconditions and scan's subscription gaps with a selection. Nothing else calls a rule
body (tests/unit/test_one_entry.py holds every module to that).

The registry is ``azext_meshca.rules.checks.ALL_CHECKS`` (root causes before symptoms).
The runner skips a rule whose inputs were not collected and reports each missing input
once; the collection rules (MCA9xx) say why it is missing. Nothing is caught here: a rule
that raises is a bug and must show.

After the rules, in this order and nowhere else:

1. each certificate finding gets ``breaks`` (its catalog entry's, ``catalog.annotate``);
2. the certificate findings agree with istiod's start-up path (validation.reconcile_with_startup);
3. a set read from files or the cluster gets the remedies that fit it (catalog.refit_remedy);
4. a finding about a Key Vault secret is about the plug-in object it stands for
   (``name_objects_by_role``), and remedies get the names the snapshot knows (``fill_remedies``);
5. symptoms are linked to causes (``link_findings``) and ordered cause-first.
"""

import copy
import datetime
import functools
import json
from collections import namedtuple

from azext_meshca.model.plugin import PLUGIN_OBJECTS, secret_names, secret_source
from azext_meshca.model.resource_ids import parse_vault_id
from azext_meshca.model.snapshot import freeze
from azext_meshca.rules import catalog
from azext_meshca.rules.checks import ALL_CHECKS, secrets
from azext_meshca.rules.checks.common import addon_object_id, cluster_data, parse_time, plugin_config, vault_data
from azext_meshca.rules.consumers.istiod import NEWEST_GO, go_for_revision
from azext_meshca.rules.registry import CA_SET, SHOWN, SNAPSHOT
from azext_meshca.rules.registry import run_rules as _run_declared
from azext_meshca.rules.validation import ShownSet, reconcile_with_startup

# Output order: causes first, then symptoms (cluster), then what could not be checked.
# report.build_result sorts by severity stably, so this order holds within a severity.
AREA_ORDER = ("config", "addon", "access", "network", "secret", "certificate", "rotation",
              "cluster", "collection")

Run = namedtuple("Run", "findings certificates not_run")


# --------------------------------------------------------------------------- selection

def selected(select=None):
    """The registered rules ``select`` asks for, in registry order; every rule when None.

    ``select`` holds rule names (``mesh-mode``), codes (``MCA910``), areas (``network``,
    the catalog's area of a code the rule emits), subjects (``caSet``: every certificate
    rule) or rule functions (tests)."""
    if select is None:
        return ALL_CHECKS
    wanted = set(select)
    return tuple(function for function in ALL_CHECKS if _matches(function.rule, wanted))


def _matches(declared, wanted):
    if declared.function in wanted or declared.name in wanted or declared.subject in wanted:
        return True
    return any(code in wanted or catalog.CATALOG[code].area in wanted for code in declared.codes)


# --------------------------------------------------------------------------- context

def build_context(snapshot, warn_days=30):
    """``now`` and the names remedies use, derived once from the snapshot."""
    managed_cluster = cluster_data(snapshot) or {}
    revisions = managed_cluster.get("revisions") or (snapshot.get("options") or {}).get("revisions") or []
    now = parse_time(snapshot.get("collectedAt")) or datetime.datetime.now(datetime.timezone.utc)
    plugin = managed_cluster.get("plugin") or {}
    target, vault = snapshot.get("target") or {}, vault_data(snapshot) or {}
    # the configured vault ID's parts stand in for a vault that was not read
    parsed = {} if vault.get("name") and vault.get("resourceGroup") else parse_vault_id(plugin.get("keyVaultId")) or {}
    context = {
        "now": now,
        "warn_days": warn_days,
        "resource_group": target.get("resourceGroup") or "<resource-group>",
        "cluster": target.get("cluster") or managed_cluster.get("name") or "<cluster>",
        "vault_name": vault.get("name") or parsed.get("name") or "<vault>",
        "vault_resource_group": vault.get("resourceGroup") or parsed.get("resourceGroup") or "<vault-resource-group>",
        "vault_id": vault.get("id") or plugin.get("keyVaultId") or "<vault-id>",
        "object_id": addon_object_id(snapshot) or "<add-on-identity-object-id>",
        "revision": revisions[0] if revisions else "<revision>",
    }
    # istiod's start-up is judged by the Go of the newest revision running (the strictest one).
    context["go"] = max((go_for_revision(revision) for revision in revisions), default=NEWEST_GO)
    return context


def input_states(snapshot):
    """{snapshot input (rules.SNAPSHOT): read successfully?} for every slot attempted."""
    slots = {name: snapshot.get(name) for name in ("cluster", "vault", "roleAssignments")}
    slots.update(("secrets." + obj, item) for obj, item in (snapshot.get("secrets") or {}).items())
    slots.update(("kube." + key, item) for key, item in (snapshot.get("kube") or {}).items())
    states = {name: bool(item.get("ok")) for name, item in slots.items() if item}
    if snapshot.get("keyFacts") is not None:
        states["keyFacts"] = True
    if snapshot.get("rotation") is not None:  # only az aks mesh ca rotate collects it (checks/rotate.py)
        states["rotation"] = True
    return states


# --------------------------------------------------------------------------- the run

def run_rules(snapshot, *, select=None, warn_days=30, shared=None):
    """The selected rules on one snapshot: Run(findings ordered cause-first, certificate
    descriptions, not_run = [{input, rules}] for each input that failed to be read).

    ``shared``: a dict the caller keeps across snapshots (scan's clusters). The certificate
    rules then run once per plug-in CA set (ca_set_key) and moment, and every snapshot
    holding that set gets copies of their findings: they read only the set, ``now`` and
    ``warn_days`` (validation.CERTIFICATE_RULES), so the findings are the same."""
    frozen = freeze(snapshot)
    context = build_context(frozen, warn_days)
    states = input_states(frozen)
    available = {SNAPSHOT: {name for name, ok in states.items() if ok}}
    functions = selected(select)
    memo = _shared_ca_set_findings(functions, frozen, context, shared) if shared is not None else None
    if memo is None:
        subjects = _subjects(functions, frozen)
        available.update({subject: item.parsed for subject, item in subjects.items() if item is not None})
        subjects[SNAPSHOT] = frozen
        findings, skipped = _run_declared(functions, subjects, available, context, finish=_annotated)
        ca_set = subjects.get(CA_SET)
        certificates = [row for subject in (CA_SET, SHOWN) if subjects.get(subject) is not None
                        for row in subjects[subject].certificates(context["now"])]
    else:   # memo: (the rules around the CA_SET block, the block's shared answer)
        findings, skipped = _around_shared(memo[0], {SNAPSHOT: frozen}, available, context, memo[1])
        certificates = fresh_copy(memo[1][2])
        ca_set = memo[1][3]
    findings = reconcile_with_startup(findings, ca_set)  # the certificate findings agree with istiod's start-up path
    _refit_for_source(findings, frozen)
    name_objects_by_role(findings, frozen)
    fill_remedies(findings, frozen, context)
    link_findings(findings)
    not_run = [{"input": name, "rules": list(rules)} for name, rules in skipped.items() if states.get(name) is False]
    return Run(order_findings(findings), certificates, not_run)


def _annotated(declared, findings):
    """Certificate findings carry the consumer they break (the catalog entry's ``breaks``,
    catalog.annotate); snapshot rules' do not."""
    return findings if declared.subject == SNAPSHOT else [catalog.annotate(item) for item in findings]


def _subjects(functions, frozen):
    """What the selected rules of each parsed subject receive (None: nothing to judge)."""
    wanted = _subjects_of(tuple(functions))
    subjects = {}
    if CA_SET in wanted:
        subjects[CA_SET] = secrets.plugin_ca_set(frozen)
    if SHOWN in wanted:
        subjects[SHOWN] = ShownSet.from_snapshot(frozen)
    return subjects


@functools.lru_cache(maxsize=16)
def _subjects_of(functions):
    """The subjects the rules ``functions`` judge: the same for every snapshot of a selection
    (scan asks it once per cluster)."""
    return frozenset(function.rule.subject for function in functions)


def _refit_for_source(findings, frozen):
    """A set read from files or the cluster's secret: remedies that fit it (never
    ``az keyvault secret set`` for a local file)."""
    kind = (frozen.get("source") or {}).get("kind")
    if kind:
        findings[:] = [catalog.refit_remedy(item, kind) for item in findings]


def ca_set_key(snapshot):
    """What a snapshot's plug-in CA set is parsed from (each object's source and value,
    ca-key as its key facts), as a dict key; None when there is no set."""
    plugin = plugin_config(snapshot)
    objects = secrets.read_objects(snapshot) if plugin is not None else None
    if not objects:
        return None
    return tuple((obj, secret_source(plugin, obj),
                  json.dumps(objects[obj], sort_keys=True, default=str) if isinstance(objects.get(obj), dict)
                  else objects.get(obj)) for obj in PLUGIN_OBJECTS)


def _around_ca_set_rules(functions):
    """(rules before, the CA_SET rules, rules after) when the CA_SET rules are one block."""
    places = [index for index, function in enumerate(functions) if function.rule.subject == CA_SET]
    if not places or places[-1] - places[0] + 1 != len(places):
        return None
    return functions[:places[0]], functions[places[0]:places[-1] + 1], functions[places[-1] + 1:]


def _around_shared(split, subjects, available, context, entry):
    """(findings, skipped) of the rules before and after the CA_SET block around copies of
    the block's shared ones: the order and skips one pass over every rule gives."""
    findings, skipped = [], {}
    for part in (_run_declared(split[0], subjects, available, context, finish=_annotated), fresh_copy(entry[:2]),
                 _run_declared(split[2], subjects, available, context, finish=_annotated)):
        findings.extend(part[0])
        for name, rules in part[1].items():
            skipped.setdefault(name, []).extend(rules)
    return findings, skipped


def _shared_ca_set_findings(functions, frozen, context, shared):
    """((rules before, CA_SET rules, rules after), (findings, skipped, certificates, parsed set)
    of the CA_SET rules on ``frozen``'s set), from ``shared`` when that set was judged at that
    moment by that Go release already; None when there is no set or the CA_SET rules are not one block."""
    key = ca_set_key(frozen)
    split = _around_ca_set_rules(functions) if key is not None else None
    if split is None:
        return None
    memo_key = (key, context["now"], context["warn_days"], context["go"])
    entry = shared.get(memo_key)
    if entry is None:
        ca_set = secrets.plugin_ca_set(frozen)
        found, skipped = _run_declared(split[1], {CA_SET: ca_set}, {CA_SET: ca_set.parsed if ca_set else ()},
                                       context, finish=_annotated)
        entry = shared[memo_key] = (found, skipped, ca_set.certificates(context["now"]) if ca_set else [], ca_set)
    return split, entry


_IMMUTABLE = (str, int, float, bool, type(None))


def fresh_copy(value):
    """A copy of the memo's JSON-shaped findings and certificate rows that the snapshot's
    own passes may change (link_findings, fill_remedies) without touching the memo:
    dicts, lists and tuples rebuilt, scalars shared, anything else deep-copied.
    copy.deepcopy did the same with a memo of every object it met, a visible share of
    judging 5,000 clusters (bench/scan_speed.py)."""
    if isinstance(value, dict):
        return {key: fresh_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [fresh_copy(item) for item in value]
    if isinstance(value, tuple):
        return tuple(fresh_copy(item) for item in value)
    return value if isinstance(value, _IMMUTABLE) else copy.deepcopy(value)


# --------------------------------------------------------------------------- after the rules

def name_objects_by_role(findings, snapshot):
    """One object, one name: a finding about a Key Vault secret the plug-in config names
    (MCA802's ``test-ca-cert``, from the provider's log) is about the plug-in object it
    stands for (``ca-cert``), as the certificate findings are; the secret's own name stays
    in ``secretName`` (and in the message). --suppress MCA802=ca-cert then means what it says.
    A secret that stands for two objects keeps its own name."""
    plugin = (cluster_data(snapshot) or {}).get("plugin") or {}
    roles = {}
    for obj, name in secret_names(plugin).items():
        if name:
            roles.setdefault(name, []).append(obj)
    for item in findings:
        found = roles.get(item.get("object"))
        if found and len(found) == 1 and found[0] != item["object"]:
            item["secretName"] = item["object"]
            item["object"] = found[0]
    return findings


def fill_remedies(findings, snapshot, context):
    """Remedies with the names the snapshot knows (the cluster's, the vault's, each
    object's secret): the certificate engine builds findings before it knows them."""
    names = {key: value for key, value in context.items() if isinstance(value, str) and not value.startswith("<")}
    secret_of = secret_names((cluster_data(snapshot) or {}).get("plugin"))
    for item in findings:
        known = dict(names, secret_name=item.get("secretName") or secret_of.get(item.get("object")) or "")
        if item.get("secretName"):  # renamed by name_objects_by_role: its file is the object's
            catalog.render_remedy(item, dict(known, object=item["object"]))
        else:
            catalog.fill_remedy(item, known)
    return findings


def causes_for(code, codes_present):
    """The codes present that explain symptom ``code`` (the catalog's explained_by)."""
    causes, fallback = catalog.causes_of(code)
    found = [item for item in causes if item in codes_present]
    return found or [item for item in fallback if item in codes_present]


def link_findings(findings):
    """Set ``explainedBy`` on symptoms and ``explains`` on causes, in place."""
    codes_present = _unique(item["code"] for item in findings)
    explains = {}
    for item in findings:
        causes = causes_for(item["code"], codes_present)
        if not causes:
            continue
        item["explainedBy"] = causes
        for cause in causes:
            explains.setdefault(cause, [])
            if item["code"] not in explains[cause]:
                explains[cause].append(item["code"])
    for item in findings:
        if item["code"] in explains:
            item["explains"] = list(explains[item["code"]])
    return findings


def _unique(codes):
    seen = []
    for code in codes:
        if code not in seen:
            seen.append(code)
    return seen


def order_findings(findings):
    """Stable sort by area: causes, then symptoms, then collection gaps."""
    rank = {area: position for position, area in enumerate(AREA_ORDER)}
    return sorted(findings, key=lambda item: rank.get(item["area"], len(AREA_ORDER)))
