"""Every fact about a code lives in its catalog entry (issue #19 item 5).

Severity, area, title, remedy, the causes that explain it, the consumer it breaks, the words
its producers report it by and (in data/explanations.md, which the catalog reads) how to
confirm it: no module of the extension keeps a table of codes of its own. Rules name the
codes they emit (``@rule("MCA802", ...)``) and make findings from them; they do not map
anything to them.
"""

import ast
import os
import re

import pytest

from azext_meshca.model import certs
from azext_meshca.rules import catalog, logparse
from azext_meshca.rules.consumers import istiod
from azext_meshca.sources import runcommand

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = os.path.join(REPO, "azext_meshca")
CATALOG_FILE = os.path.join(PACKAGE, "rules", "catalog.py")
CODE = re.compile(r"MCA\d{3}")


def _is_code(node):
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.fullmatch(node.value)


def code_tables(path):
    """(line, text) of each dict in ``path`` that has a finding code as a key or a value:
    a fact about codes kept outside the catalog."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            parts = [part for part in list(node.keys) + list(node.values) if part is not None]
        elif isinstance(node, ast.DictComp):
            parts = [node.key, node.value]
        else:
            continue
        if any(_is_code(part) for part in parts):
            found.append((node.lineno, ast.unparse(node)[:80]))
    return found


def _package_files():
    for folder, _dirs, files in os.walk(PACKAGE):
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def test_no_code_facts_outside_the_catalog():
    offenders = {os.path.relpath(path, REPO): tables for path in _package_files()
                 if path != CATALOG_FILE for tables in [code_tables(path)] if tables}
    assert not offenders, f"tables keyed by or mapping to finding codes belong in rules/catalog.py: {offenders}"


@pytest.mark.parametrize("planted", [
    'BREAKS = {"MCA610": "both"}\n',
    'CAUSE_CODES = {"rbac": "MCA803"}\n',
    'def code(kind):\n    return {"empty": "MCA602"}.get(kind)\n',
    'CODES = {kind: "MCA724" for kind in ("pem",)}\n',
])
def test_the_meta_test_catches_a_planted_table(tmp_path, planted):
    path = tmp_path / "planted.py"
    path.write_text(planted, encoding="utf-8")
    assert code_tables(str(path))


def test_a_finding_list_is_not_a_table(tmp_path):
    """Naming codes (a rule's declaration, a comparison) is not keeping facts about them."""
    path = tmp_path / "rule.py"
    path.write_text('@rule("MCA802", "MCA803")\ndef check(s, c):\n    return c in ("MCA735", "MCA736")\n',
                    encoding="utf-8")
    assert not code_tables(str(path))


# --------------------------------------------------------------------------- kinds: each family is its producer's

def _raised_kinds(module, exception):
    """The first argument of every ``exception("...")`` call in ``module``'s source."""
    with open(module.__file__, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == exception
            and node.args and isinstance(node.args[0], ast.Constant)}


def _claimed(family):
    return {word for entry in catalog.CATALOG.values() for fam, word in entry.kinds if fam == family}


MOUNT_CAUSES = {logparse.ACCESS_POLICY, logparse.RBAC, logparse.FIREWALL, logparse.CONNECTION,
                logparse.SECRET_NOT_FOUND, logparse.SECRET_DISABLED, logparse.NETWORK, logparse.IDENTITY,
                logparse.IDENTITY_ENDPOINT, logparse.TOKEN, logparse.TENANT, logparse.DRIVER, logparse.SPC_NOT_FOUND,
                logparse.PROVIDER_DOWN, logparse.NO_IDENTITY, logparse.TIMEOUT, logparse.UNKNOWN}


def test_every_mount_cause_has_its_code():
    """check_mount_failures reports each logparse cause under the code whose entry claims it."""
    assert _claimed(catalog.MOUNT_FAILURE) == MOUNT_CAUSES


def test_format_kinds_are_the_parsers():
    """Each kind model/certs.py raises has its code: for a certificate object, every kind but
    the key loader's own (no-key, encrypted, pem-framing); for ca-key, every kind but the
    certificate parser's own (no-certificate, duplicate-extension)."""
    raised = _raised_kinds(certs, "CertFormatError")
    assert _claimed(catalog.CERT_FORMAT) == raised - {"no-key", "encrypted", "pem-framing"}
    assert _claimed(catalog.KEY_FORMAT) == raised - {"no-certificate", "duplicate-extension"}


def test_startup_refusals_are_istiods():
    """Every refusal class of rules/consumers/istiod.py but OTHER has a code (OTHER: MCA735/MCA736)."""
    classes = {istiod.PEM, istiod.UNHANDLED_CRITICAL, istiod.KEY_TYPE, istiod.SERIAL, istiod.NAME_CONSTRAINTS,
               istiod.POLICY, istiod.ROOT_KEY_USAGE, istiod.CHAIN_HEAD, istiod.EMPTY_CHAIN, istiod.RSA_SMALL}
    assert _claimed(catalog.STARTUP_REFUSAL) == classes
    assert catalog.code_for(catalog.STARTUP_REFUSAL, istiod.OTHER) is None


def test_run_command_errors_are_the_sources():
    assert _claimed(catalog.RUN_COMMAND_ERROR) == {runcommand.FORBIDDEN_CODE, runcommand.FAILED_CODE,
                                                   runcommand.STOPPED_CODE}


def test_a_word_means_one_code_per_family():
    pairs = [kind for entry in catalog.CATALOG.values() for kind in entry.kinds]
    assert len(pairs) == len(set(pairs))
    assert {family for family, _ in pairs} == {catalog.MOUNT_FAILURE, catalog.CERT_FORMAT, catalog.KEY_FORMAT,
                                               catalog.STARTUP_REFUSAL, catalog.RUN_COMMAND_ERROR}


# --------------------------------------------------------------------------- breaks

def test_annotate_sets_the_entrys_breaks_and_keeps_a_rules_own():
    assert catalog.annotate({"code": "MCA705"})["breaks"] == catalog.ENVOY
    assert catalog.annotate({"code": "MCA706", "breaks": catalog.ISTIOD})["breaks"] == catalog.ISTIOD
    assert "breaks" not in catalog.annotate({"code": "MCA711"})
    assert "breaks" not in catalog.annotate({"code": "MCA401"})


def test_breaks_names_a_consumer_and_only_secret_and_certificate_codes_have_one():
    for code, entry in catalog.CATALOG.items():
        assert entry.breaks in (None, catalog.ISTIOD, catalog.ENVOY, catalog.BOTH), code
        assert entry.breaks is None or entry.area in ("secret", "certificate"), code
