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

The registry itself is ``azext_meshca.rules.checks.ALL_CHECKS``: one ordered tuple
holding every rule, the certificate rules included. Standard library only.
"""

from collections import namedtuple

SNAPSHOT = "snapshot"
CA_SET = "caSet"

Rule = namedtuple("Rule", "name codes inputs subject function")


def rule(*codes, inputs=(), subject=SNAPSHOT):
    """Declare a rule: ``@rule("MCA101", inputs=("cluster",))`` above its function.

    The function is returned unchanged, with its declaration in ``.rule``.
    """
    def declare(function):
        function.rule = Rule(rule_name(function.__name__), tuple(codes), tuple(inputs), subject, function)
        return function
    return declare


def rule_name(function_name):
    """check_mesh_mode -> mesh-mode: the name list-checks shows."""
    name = function_name
    for prefix in ("check_", "rule_"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name.strip("_").replace("_", "-")


def declaration(function):
    """The Rule a function declared, or None for an undeclared function."""
    return getattr(function, "rule", None)


def run_rules(functions, subjects, available, context):
    """Run each declared rule whose inputs are all available.

    ``subjects`` maps a subject (SNAPSHOT, CA_SET) to what its rules receive; a
    subject that is None skips its rules. ``available`` maps a subject to the set of
    inputs collected for it. Returns (findings, skipped) where ``skipped`` is
    ``{input: [rule names]}``, each missing input once, in first-seen order.
    """
    findings, skipped = [], {}
    for function in functions:
        declared = function.rule
        subject = subjects.get(declared.subject)
        if subject is None:
            continue
        have = available.get(declared.subject) or ()
        missing = [name for name in declared.inputs if name not in have]
        if missing:
            for name in missing:
                skipped.setdefault(name, []).append(declared.name)
            continue
        findings.extend(function(subject, context))
    return findings, skipped
