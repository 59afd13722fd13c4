"""The repository's layout: the product, the sandbox, the bench and scripts/demo never
import anything from tests/ (tests/ holds only tests; the sandbox lives in sandbox/)."""

import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NON_TEST_ROOTS = ("azext_meshca", "sandbox", "bench", "scripts")
IMPORTS_TESTS = re.compile(r"^\s*(from\s+tests[\s.]|import\s+tests\b)|-m\s+tests\.", re.MULTILINE)


def _non_test_files():
    for root in NON_TEST_ROOTS:
        for folder, _dirs, files in os.walk(os.path.join(REPO, root)):
            for name in files:
                if name.endswith((".py", ".sh")) or folder.endswith("scripts"):
                    yield os.path.join(folder, name)


def test_no_product_bench_or_demo_code_imports_tests():
    offenders = []
    for path in _non_test_files():
        with open(path, encoding="utf-8", errors="replace") as handle:
            if IMPORTS_TESTS.search(handle.read()):
                offenders.append(os.path.relpath(path, REPO))
    assert not offenders, "these import from tests/: {}".format(offenders)


def test_sandbox_is_not_in_the_wheel():
    with open(os.path.join(REPO, "setup.py"), encoding="utf-8") as handle:
        setup_py = handle.read()
    assert "include=['azext_meshca', 'azext_meshca.*']" in setup_py


def test_tests_install_the_kubernetes_range_the_extension_declares():
    """setup.py pins kubernetes to the range the tests run against; requirements-dev.txt
    (the test venv) must ask for the same range (scripts/setup downloads setup.py's own)."""
    with open(os.path.join(REPO, "setup.py"), encoding="utf-8") as handle:
        declared = re.search(r"'(kubernetes[^']*)'", handle.read()).group(1)
    with open(os.path.join(REPO, "requirements-dev.txt"), encoding="utf-8") as handle:
        tested = re.search(r"^(kubernetes\S*)", handle.read(), re.MULTILINE).group(1)
    assert declared == tested
    assert "<" in declared, "kubernetes needs an upper bound: the tests never ran the next generation"


# Files allowed to cite a file outside the repository: none.
CITATIONS_PENDING = set()


def test_no_comment_cites_a_file_outside_the_repository():
    """Comments cite upstream sources anyone can open, never FACTS.md (outside the repo)."""
    offenders = []
    for root in NON_TEST_ROOTS + ("tests",):
        for folder, _dirs, files in os.walk(os.path.join(REPO, root)):
            for name in files:
                path = os.path.join(folder, name)
                relative = os.path.relpath(path, REPO)
                if not name.endswith((".py", ".sh", ".md", ".yaml")) or relative in CITATIONS_PENDING:
                    continue
                if relative == "tests/unit/test_layout.py":
                    continue
                with open(path, encoding="utf-8", errors="replace") as handle:
                    if re.search(r"\bFACTS\b", handle.read()):
                        offenders.append(relative)
    assert not offenders, offenders


# The package's layers (README "Development"). A module may import its own layer and the
# layers listed for it; the azure-cli entry points on top (``__init__``, ``_params``,
# ``_help``, ``commands``, ``custom``, ``_validators``) may import any layer, and
# ``_client_factory`` (where azdev expects it) counts as a source.
LAYERS = ("model", "sources", "rules", "output", "verbs")
MAY_IMPORT = {
    "model": {"model"},
    "sources": {"model", "sources"},
    "rules": {"model", "rules"},
    "output": {"model", "rules", "output"},
    "verbs": {"model", "sources", "rules", "output", "verbs", "entry"},
    "entry": {"model", "sources", "rules", "output", "verbs", "entry"},
}
# Crossings still to remove (issue #19): each names the importer and the imported module.
PENDING_CROSSINGS = {
    ("azext_meshca.sources.azure", "azext_meshca.rules.access_model"),
    ("azext_meshca.sources.azure", "azext_meshca.rules.rbac"),
    ("azext_meshca.sources.live", "azext_meshca.rules.checks"),
    ("azext_meshca.sources.live", "azext_meshca.rules.checks.collection"),
    ("azext_meshca.sources.live", "azext_meshca.rules.checks.common"),
    ("azext_meshca.sources.live", "azext_meshca.rules.checks.config"),
    ("azext_meshca.sources.live", "azext_meshca.rules.checks.network"),
    ("azext_meshca.sources.live", "azext_meshca.rules.checks.secrets"),
}


def layer_of(module):
    """The layer a dotted module name belongs to ("entry" for the azure-cli entry points)."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    return "sources" if parts[1:2] == ["_client_factory"] else "entry"


def imports_of(path):
    """Every azext_meshca module a file imports, at module level or inside a function."""
    import ast
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "azext_meshca":
            if node.module == "azext_meshca":
                yield from ("azext_meshca." + alias.name for alias in node.names)
            else:
                yield from (f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES
                            else node.module for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.split(".")[0] == "azext_meshca")


def _product_modules():
    found = {}
    for folder, _dirs, files in os.walk(os.path.join(REPO, "azext_meshca")):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                module = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".").replace(".__init__", "")
                found[module] = path
    return found


MODULES = _product_modules()


def layer_crossings(modules):
    """(importer, imported) pairs that import against the direction of the layers."""
    crossings = set()
    for module, path in modules.items():
        for imported in imports_of(path):
            if layer_of(imported) not in MAY_IMPORT[layer_of(module)]:
                crossings.add((module, imported))
    return crossings


def test_imports_follow_the_layers():
    crossings = layer_crossings(MODULES)
    assert crossings <= PENDING_CROSSINGS, sorted(crossings - PENDING_CROSSINGS)
    assert not PENDING_CROSSINGS - crossings, f"gone, remove from PENDING_CROSSINGS: {PENDING_CROSSINGS - crossings}"


def test_the_layer_test_catches_a_planted_crossing(tmp_path):
    """A rule that imports a source is caught (the test above would fail on it)."""
    planted = tmp_path / "planted.py"
    planted.write_text("from azext_meshca.sources import hostpin\n", encoding="utf-8")
    assert layer_crossings({"azext_meshca.rules.checks.planted": str(planted)}) == {
        ("azext_meshca.rules.checks.planted", "azext_meshca.sources.hostpin")}


def test_no_module_is_left_outside_the_layers():
    """Only the azure-cli entry points sit at the package's top."""
    top = {module.split(".")[1] for module in MODULES if module.count(".") == 1} - set(LAYERS)
    assert top == {"_params", "_help", "_validators", "commands", "custom", "_client_factory"}, sorted(top)
