"""The rule registry: every rule declares itself, is registered once, and every catalog
code leads (by grep) to the rule that emits it. The runner skips rules whose inputs
were not collected and names each gap once."""

import inspect
import os
import re

import pytest

from azext_meshca.rules import catalog

from azext_meshca.rules import checks, runner

from azext_meshca.rules import validation
from azext_meshca.rules.checks import (access, addon, cluster, collection, config, fleet, network, rotate, rotation,
                                       secrets)
from azext_meshca.model import incluster
from azext_meshca.model.plugin import PLUGIN_OBJECTS
from azext_meshca.rules.registry import CA_SET, SHOWN, SNAPSHOT, run_rules as run_declared
from tests.oracles import declaration
from tests.unit import snapshots as s

RULE_MODULES = (config, addon, access, network, secrets, validation, rotation, rotate, cluster, collection, fleet)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SNAPSHOT_INPUTS = ({"cluster", "vault", "roleAssignments", "keyFacts"} | {"secrets." + obj for obj in PLUGIN_OBJECTS}
                   | incluster.snapshot_inputs() | {"rotation"})
LIVE_CODES = [code for code in catalog.CATALOG if code not in catalog.RETIRED]


def _declaring_rules(code):
    return [rule for rule in checks.ALL_RULES if code in rule.codes]


@pytest.mark.parametrize("code", LIVE_CODES)
def test_grep_for_a_code_lands_on_the_rule_that_emits_it(code):
    """`grep -rn MCAnnn azext_meshca` finds the code's literal in exactly one rule
    module (never only in the catalog or a lookup table elsewhere), on the rule's own
    declaration. (MCA601 has two: Key Vault's 404, and an absent file.)"""
    literal = '"{}"'.format(code)
    modules = [module for module in RULE_MODULES if literal in inspect.getsource(module)]
    declaring = _declaring_rules(code)
    assert declaring, "no rule declares " + code
    for rule in declaring:
        assert literal in inspect.getsource(rule.function), (code, rule.name)
        assert inspect.getmodule(rule.function) in modules


def test_every_registered_function_is_declared_and_registered_once():
    assert all(declaration(function) is not None for function in checks.ALL_CHECKS)
    names = [rule.name for rule in checks.ALL_RULES]
    assert len(names) == len(set(names)), names
    functions = [rule.function for rule in checks.ALL_RULES]
    assert len(functions) == len(set(functions))


def test_every_rule_in_a_rule_module_is_registered():
    """A check_* function that is not in the registry never runs: refuse it."""
    registered = set(checks.ALL_CHECKS)
    for module in RULE_MODULES:
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if inspect.getmodule(function) is not module:
                continue
            if name.startswith("check_") or declaration(function) is not None:
                assert declaration(function) is not None, "{}.{} is not declared".format(module.__name__, name)
                assert function in registered, "{}.{} is not registered".format(module.__name__, name)


def test_declarations_name_known_codes_and_inputs():
    for rule in checks.ALL_RULES:
        assert rule.codes, rule.name
        assert set(rule.codes) <= set(catalog.CATALOG), rule.name
        if rule.subject == SNAPSHOT:
            assert set(rule.inputs) | set(rule.optional) <= SNAPSHOT_INPUTS, (rule.name, rule.inputs, rule.optional)
        elif rule.subject == SHOWN:
            assert not rule.inputs, rule.name
        else:
            assert rule.subject == CA_SET and set(rule.inputs) <= set(PLUGIN_OBJECTS), (rule.name, rule.inputs)
            assert not rule.optional, rule.name  # a CA set has no optional parts: its rules read only it


def test_the_certificate_rules_are_in_the_one_registry():
    assert set(validation.CERTIFICATE_RULES) | set(validation.SHOWN_RULES) <= set(checks.ALL_CHECKS)
    assert {rule.subject for rule in checks.ALL_RULES} == {SNAPSHOT, CA_SET, SHOWN}


def test_catalog_is_in_code_order_and_codes_are_unique():
    codes = [entry.code for entry in catalog._ENTRIES]  # pylint: disable=protected-access
    assert codes == sorted(codes)
    assert len(codes) == len(set(codes))


def test_a_retired_code_is_never_reused():
    """Retired codes stay out of the catalog and out of every rule module."""
    for code in catalog.RETIRED:
        assert code not in catalog.CATALOG, code
        for module in RULE_MODULES:
            assert '"{}"'.format(code) not in inspect.getsource(module), (code, module.__name__)
    assert all(re.fullmatch(r"MCA[1-9]\d\d", code) for code in catalog.RETIRED)


def test_every_code_is_documented():
    with open(os.path.join(REPO, "docs", "findings.md"), encoding="utf-8") as handle:
        text = handle.read()
    for code in LIVE_CODES:
        assert "\n## {}\n".format(code) in text, code


def test_links_name_catalog_codes_only():
    for code in catalog.CATALOG:
        causes, fallback = catalog.causes_of(code)
        assert set(causes) | set(fallback) <= set(catalog.CATALOG), code


# --------------------------------------------------------------------------- the runner

def test_a_failed_input_skips_its_rules_and_is_named_once():
    """The vault could not be read: every rule that needs it is skipped, the gap is one
    entry in not_run, and MCA902 is the one finding about it."""
    snapshot = s.fail(s.healthy_snapshot(), ("vault",), "403 Forbidden", 403)
    run = runner.run_rules(snapshot)
    [gap] = [item for item in run.not_run if item["input"] == "vault"]
    assert {"tenant", "access-policy", "rbac", "public-access", "firewall"} <= set(gap["rules"])
    assert [item["input"] for item in run.not_run].count("vault") == 1
    assert [item["code"] for item in run.findings if item["area"] == "collection"] == ["MCA902"]


def test_inputs_that_were_never_attempted_are_not_gaps():
    """--skip-cluster: no kube input was attempted, so none is a gap (MCA908 says so)."""
    snapshot = s.healthy_snapshot()
    snapshot["kube"] = None
    snapshot["options"]["skipCluster"] = True
    run = runner.run_rules(snapshot)
    assert run.not_run == []
    assert "MCA908" in {item["code"] for item in run.findings}


def test_certificate_rules_skip_objects_that_did_not_parse():
    """ca-cert is not PEM: the rules that need ca-cert do not run; the format finding says why."""
    ca_set = validation.CaSet(dict(s.plugin_set(), **{"ca-cert": b"not pem"}))
    context = {"now": s.NOW, "warn_days": 30}
    findings, skipped = run_declared(validation.CERTIFICATE_RULES, {CA_SET: ca_set}, {CA_SET: ca_set.parsed}, context)
    assert "ca-cert" not in ca_set.parsed
    assert {"ca-cert-signs", "key-matches", "chains-to-root"} <= set(skipped["ca-cert"])
    assert [item["code"] for item in findings if item["object"] == "ca-cert"] == ["MCA604"]


# --------------------------------------------------------------------------- pages per code

def test_every_code_has_a_page_and_a_hand_written_explanation():
    from azext_meshca.output import pages
    written = catalog.explanations()
    assert set(written) == set(LIVE_CODES), sorted(set(LIVE_CODES) ^ set(written))
    for code in LIVE_CODES:
        path = os.path.join(REPO, "docs", "findings", code + ".md")
        assert os.path.exists(path), code
        with open(path, encoding="utf-8") as handle:
            assert handle.read() == pages.render_page(code), (
                "docs/findings is stale: run .venv/bin/python -m azext_meshca.output.pages docs/findings")


def test_every_finding_points_at_its_page_and_its_detail_uses_its_own_fields():
    for code, entry in catalog.CATALOG.items():
        own = catalog.template_fields(entry.message) | catalog.template_fields(entry.remedy) | {"object"}
        assert catalog.template_fields(entry.detail) <= own, code
        assert catalog.docs_url(code) == f"az aks mesh ca explain {code}"
    item = catalog.finding("MCA718", "ca-cert", index=1, subject="CN=x", not_after="2027-01-01T00:00:00Z",
                           days_left=12, warn_days=30)
    assert (item["detail"], item["docs"]) == ("12 day(s) left", catalog.docs_url("MCA718"))
