"""diagnose's rules: pure functions from a snapshot (or the parsed CA set) to findings.

Every rule declares itself with ``@rule`` (azext_meshca/rules/registry.py): its codes and the
inputs it needs. ``ALL_CHECKS`` is the one registry, root causes before symptoms,
holding the certificate rules too (validation.CERTIFICATE_RULES, run over the CA
set parsed once from the Key Vault values). ``run_rules`` skips a rule whose inputs
were not collected and reports each missing input once; the collection rules
(MCA9xx) say why it is missing. Rules put the exact values they saw in each
finding's ``evidence``. Nothing is caught here: a rule that raises is a bug and
must show.

After the rules, ``link_findings`` connects symptoms to causes (``explainedBy`` /
``explains``) from the links the catalog holds as data (``explained_by``).
"""

import copy
import datetime
import json
from collections import namedtuple

from azext_meshca.rules import catalog
from azext_meshca.rules.checks import access, addon, cluster, collection, config, fleet, network, rotation, secrets
from azext_meshca.rules.checks.common import (addon_object_id, cluster_data, parse_time, plugin_config, secret_source,
                                              vault_data)
from azext_meshca.rules.consumers.istiod import NEWEST_GO, go_for_revision
from azext_meshca.model.plugin import PLUGIN_OBJECTS
from azext_meshca.model.resource_ids import parse_vault_id
from azext_meshca.rules.registry import CA_SET, SNAPSHOT
from azext_meshca.rules.registry import run_rules as _run_declared
from azext_meshca.model.snapshot import freeze
from azext_meshca.rules.validation import CERTIFICATE_RULES, reconcile_with_startup

ALL_CHECKS = tuple(config.CHECKS + addon.CHECKS + access.CHECKS + network.CHECKS + secrets.CHECKS
                   + list(CERTIFICATE_RULES) + rotation.CHECKS + cluster.CHECKS + collection.CHECKS + fleet.CHECKS)
ALL_RULES = tuple(check.rule for check in ALL_CHECKS)

# Output order: causes first, then symptoms (cluster), then what could not be checked.
# report.build_result sorts by severity stably, so this order holds within a severity.
AREA_ORDER = ("config", "addon", "access", "network", "secret", "certificate", "rotation",
              "cluster", "collection")

Run = namedtuple("Run", "findings certificates not_run")


def build_context(snapshot, warn_days=30):
    """``now`` and the names remedies use, derived once from the snapshot."""
    managed_cluster = cluster_data(snapshot) or {}
    revisions = managed_cluster.get("revisions") or (snapshot.get("options") or {}).get("revisions") or []
    now = parse_time(snapshot.get("collectedAt")) or datetime.datetime.now(datetime.timezone.utc)
    context = names_context(now, warn_days, target=snapshot.get("target") or {}, managed_cluster=managed_cluster,
                            plugin=managed_cluster.get("plugin") or {}, vault=vault_data(snapshot) or {},
                            object_id=addon_object_id(snapshot), revisions=revisions)
    # istiod's start-up is judged by the Go of the newest revision running (the strictest one).
    context["go"] = max((go_for_revision(revision) for revision in revisions), default=NEWEST_GO)
    return context


def names_context(now, warn_days, *, target, managed_cluster, plugin, vault, object_id=None, revisions=()):
    """The context findings are made in, from what is known (each part may be {}):
    validate-secrets' Key Vault source has a plug-in config and a vault, no cluster."""
    parsed = parse_vault_id(plugin.get("keyVaultId")) or {}
    return {
        "now": now,
        "warn_days": warn_days,
        "resource_group": target.get("resourceGroup") or "<resource-group>",
        "cluster": target.get("cluster") or managed_cluster.get("name") or "<cluster>",
        "vault_name": vault.get("name") or parsed.get("name") or "<vault>",
        "vault_resource_group": vault.get("resourceGroup") or parsed.get("resourceGroup") or "<vault-resource-group>",
        "vault_id": vault.get("id") or plugin.get("keyVaultId") or "<vault-id>",
        "object_id": object_id or "<add-on-identity-object-id>",
        "revision": revisions[0] if revisions else "<revision>",
    }


def input_states(snapshot):
    """{snapshot input (rules.SNAPSHOT): read successfully?} for every slot attempted."""
    slots = {name: snapshot.get(name) for name in ("cluster", "vault", "roleAssignments")}
    slots.update(("secrets." + obj, item) for obj, item in (snapshot.get("secrets") or {}).items())
    slots.update(("kube." + key, item) for key, item in (snapshot.get("kube") or {}).items())
    states = {name: bool(item.get("ok")) for name, item in slots.items() if item}
    if snapshot.get("keyFacts") is not None:
        states["keyFacts"] = True
    return states


def run_rules(snapshot, warn_days=30, functions=ALL_CHECKS, shared=None):
    """Declared rules on one snapshot: Run(findings ordered cause-first, certificate
    descriptions, not_run = [{input, rules}] for each input that failed to be read).

    ``shared``: a dict the caller keeps across snapshots (scan's clusters). The certificate
    rules then run once per plug-in CA set (ca_set_key) and moment, and every snapshot
    holding that set gets copies of their findings: they read only the set, ``now`` and
    ``warn_days`` (validation.CERTIFICATE_RULES), so the findings are the same."""
    frozen = freeze(snapshot)
    context = build_context(frozen, warn_days)
    states = input_states(frozen)
    collected = {name for name, ok in states.items() if ok}
    memo = _shared_ca_set_findings(functions, frozen, context, shared) if shared is not None else None
    if memo is None:
        ca_set = secrets.plugin_ca_set(frozen)
        findings, skipped = _run_declared(
            functions, {SNAPSHOT: frozen, CA_SET: ca_set},
            {SNAPSHOT: collected, CA_SET: ca_set.parsed if ca_set else ()}, context)
        certificates = ca_set.certificates(context["now"]) if ca_set else []
    else:   # memo: (the rules around the CA_SET block, the block's shared answer)
        findings, skipped = _around_shared(memo[0], {SNAPSHOT: frozen}, {SNAPSHOT: collected}, context, memo[1])
        certificates = copy.deepcopy(memo[1][2])
        ca_set = memo[1][3]
    findings = reconcile_with_startup(findings, ca_set)  # the certificate findings agree with istiod's start-up path
    link_findings(findings)
    not_run = [{"input": name, "rules": rules} for name, rules in skipped.items() if states.get(name) is False]
    return Run(order_findings(findings), certificates, not_run)


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
    for part in (_run_declared(split[0], subjects, available, context), copy.deepcopy(entry[:2]),
                 _run_declared(split[2], subjects, available, context)):
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
                                       context)
        entry = shared[memo_key] = (found, skipped, ca_set.certificates(context["now"]) if ca_set else [], ca_set)
    return split, entry


def run_checks(snapshot, warn_days=30):
    """Every rule on one snapshot: (findings ordered cause-first, certificate descriptions)."""
    run = run_rules(snapshot, warn_days)
    return run.findings, run.certificates


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
