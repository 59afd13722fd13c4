"""How a rule declares itself, and the loop that runs declared rules.

A rule is a pure function. ``@rule(...)`` states, next to its body, the codes it may
emit and the inputs it needs, so ``grep -rn MCA710 azext_meshca`` lands on the rule
that emits MCA710, and a runner can skip a rule whose inputs were not collected
instead of each rule guarding against them (the way istio/istio
``pkg/config/analysis`` analyzers declare their ``Metadata.Inputs``).

Two subjects exist:

* ``SNAPSHOT`` rules are ``fn(snapshot, context)``; their inputs name snapshot
  slots (``cluster``, ``vault``, ``roleAssignments``, ``secrets.root-cert``,
  ``keyFacts``, ``kube.access``, ``kube.<item>``): the slot was read successfully.
* ``CA_SET`` rules are ``fn(ca_set, context)`` over a parsed plug-in CA set
  (``validation.CaSet``); their inputs name the objects that must have parsed
  (``root-cert``, ``ca-cert``, ``ca-key``, ``cert-chain``).
* ``SHOWN`` rules are ``fn(shown, context)`` over the certificates show-cert was given
  (``validation.ShownSet``: any named PEM objects, not a plug-in set).

``optional`` names the snapshot inputs a rule also reads when they were collected but can
judge without (a sentence of evidence, the CA path's restart advice): they gate nothing.
Declared inputs are what rules read: tests/unit/test_golden.py records every input each
rule reads over the golden grid and fails on a read that is neither in ``inputs`` nor in
``optional`` (istio's ``CheckMetadataInputs`` in pkg/config/analysis/analyzers/analyzers_test.go).

The registry itself is ``azext_meshca.rules.checks.ALL_CHECKS``: one ordered tuple
holding every rule, the certificate rules included; the one runner over it is
``azext_meshca.rules.runner.run_rules``. Standard library only.
"""

import functools
from collections import namedtuple

SNAPSHOT = "snapshot"
CA_SET = "caSet"
SHOWN = "shown"

Rule = namedtuple("Rule", "name codes inputs subject function optional")


def rule(*codes, inputs=(), subject=SNAPSHOT, optional=()):
    """Declare a rule: ``@rule("MCA101", inputs=("cluster",))`` above its function.

    The function is returned unchanged, with its declaration in ``.rule``; ``optional``
    keeps only the names that are not ``inputs`` already.
    """
    def declare(function):
        extra = tuple(name for name in dict.fromkeys(optional) if name not in inputs)
        function.rule = Rule(rule_name(function.__name__), tuple(codes), tuple(inputs), subject, function, extra)
        return function
    return declare


def rule_name(function_name):
    """check_mesh_mode -> mesh-mode: the name list-checks shows."""
    name = function_name
    for prefix in ("check_", "rule_"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name.strip("_").replace("_", "-")


def run_rules(functions, subjects, available, context, finish=None):
    """Run each declared rule whose inputs are all available (the loop inside
    rules/runner.py, the one entry every command uses).

    ``subjects`` maps a subject (SNAPSHOT, CA_SET) to what its rules receive; a
    subject that is None skips its rules. ``available`` maps a subject to the set of
    inputs collected for it (a set, or empty). ``finish(rule, findings)``, when given, is applied to each
    rule's findings (the runner's annotation). Returns (findings, skipped) where ``skipped`` is
    ``{input: (rule names)}``, each missing input once, in first-seen order.
    """
    have = tuple((subject, frozenset(available.get(subject) or ())) for subject, value in subjects.items()
                 if value is not None)
    runnable, skipped = _plan(tuple(functions), have)
    findings = []
    for function, subject, declared in runnable:
        found = function(subjects[subject], context)
        if found:   # most rules find nothing on most snapshots: scan runs them 5,000 times each
            findings.extend(finish(declared, found) if finish else found)
    return findings, dict(skipped)


@functools.lru_cache(maxsize=64)
def _plan(functions, have):
    """(the rules to run, each as (function, subject, declaration); ((missing input, (rule
    names)), ...)) for the rules ``functions`` and the inputs each subject present ``have``s
    ((subject, inputs), ...).

    Why a memo: which rules run depends only on the declarations and on which inputs were
    collected, and scan asks the same question for each of 5,000 clusters, whose snapshots
    hold one of a few sets of inputs; the rules themselves still run on every snapshot. Keys
    are rule functions and input names, so the memo stays small (at most 64 plans)."""
    inputs = dict(have)
    runnable, skipped = [], {}
    for function in functions:
        declared = function.rule
        if declared.subject not in inputs:
            continue
        collected = inputs[declared.subject]
        if not collected.issuperset(declared.inputs):
            for name in declared.inputs:
                if name not in collected:
                    skipped.setdefault(name, []).append(declared.name)
            continue
        runnable.append((function, declared.subject, declared))
    return tuple(runnable), tuple((name, tuple(rules)) for name, rules in skipped.items())
