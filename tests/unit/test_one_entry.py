"""One way into the rules (issue #19 item 1): every command builds a snapshot from its
source (azext_meshca/sources/) and calls rules/runner.py ``run_rules(snapshot, select=...)``.

Read from the source text (AST), so a new side door fails here before it can disagree:
- a call to a function registered with ``@rule`` anywhere but the runner, or a reference to one
  outside the module that declares it and the registry (a tuple of rule bodies run by hand);
- a call to the registry's loop (``registry.run_rules``) anywhere but the runner;
- a snapshot built outside sources/: a call to ``new_snapshot`` or ``from_json``
  (model/snapshot.py), a dict literal holding a snapshot's slots, or a slot written into a
  ``snapshot`` or ``state``.
"""

import ast
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = os.path.join(REPO, "azext_meshca")
RUNNER = {"azext_meshca/rules/runner.py", "azext_meshca/rules/registry.py"}
REGISTRY = "azext_meshca/rules/checks/__init__.py"   # ALL_CHECKS: lists the rule modules' CHECKS
SNAPSHOT_SLOTS = {"collectedAt", "roleAssignments", "keyFacts", "kube", "secrets", "vault", "cluster"}
WRITTEN_SLOTS = SNAPSHOT_SLOTS | {"fleet", "pluginSet", "shown", "source", "rotation"}
SNAPSHOT_NAMES = {"snapshot", "state"}
CONSTRUCTOR = "new_snapshot"
CONSTRUCTORS = {CONSTRUCTOR, "from_json"}
# Where a snapshot may be built: the sources, and the constructor's own definition.
BUILDERS = ("azext_meshca/sources/", "azext_meshca/model/snapshot.py")
# Still to remove, each with its owner: (file, what it calls).
PENDING = set()


def _files():
    for folder, _dirs, names in os.walk(PACKAGE):
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                yield os.path.relpath(path, REPO).replace(os.sep, "/"), path


def _called_name(node):
    function = node.func
    if isinstance(function, ast.Name):
        return function.id
    if isinstance(function, ast.Attribute):
        return function.attr
    return None


def _is_rule_decorator(decorator):
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return _called_name(ast.Call(func=target, args=[], keywords=[])) == "rule"


def rule_functions(files):
    """{name: the file declaring it} of the functions declared with ``@rule`` in ``files``
    ({relative path: path})."""
    names = {}
    for relative, path in files.items():
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and any(_is_rule_decorator(item) for item in node.decorator_list):
                names[node.name] = relative
    return names


def _referenced_name(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def side_doors(files, rules):
    """{(file, what)}: rule bodies or the registry's loop called, or snapshots built, in the wrong place."""
    found = set()
    for relative, path in files.items():
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and relative not in RUNNER:
                name = _called_name(node)
                if name in rules or name == "run_rules" and _is_registry_loop(tree):
                    found.add((relative, name))
            name = _referenced_name(node)
            if name in rules and relative not in RUNNER | {REGISTRY, rules[name]}:
                found.add((relative, name))
            if relative.startswith(BUILDERS):
                continue
            if isinstance(node, ast.Call) and _called_name(node) in CONSTRUCTORS:
                found.add((relative, _called_name(node)))
            if isinstance(node, (ast.Assign, ast.AugAssign)) and _writes_a_slot(node):
                found.add((relative, "a snapshot slot written"))
            if isinstance(node, ast.Dict):
                keys = {key.value for key in node.keys if isinstance(key, ast.Constant)}
                if len(keys & SNAPSHOT_SLOTS) >= 3:
                    found.add((relative, "a snapshot literal"))
    return found


def _writes_a_slot(node):
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    flat = [item for target in targets for item in (target.elts if isinstance(target, ast.Tuple) else [target])]
    return any(isinstance(item, ast.Subscript) and isinstance(item.value, ast.Name) and item.value.id in SNAPSHOT_NAMES
               and isinstance(item.slice, ast.Constant) and item.slice.value in WRITTEN_SLOTS for item in flat)


def _is_registry_loop(tree):
    """Whether this module's ``run_rules`` is the registry's loop (imported from rules/registry.py)."""
    return any(isinstance(node, ast.ImportFrom) and node.module == "azext_meshca.rules.registry"
               and any(alias.name == "run_rules" for alias in node.names) for node in ast.walk(tree))


def test_nothing_calls_a_rule_body_or_builds_a_snapshot_outside_its_place():
    files = dict(_files())
    found = side_doors(files, rule_functions(files))
    assert found <= PENDING, sorted(found - PENDING)
    assert not PENDING - found, f"gone, remove from PENDING: {PENDING - found}"


def test_the_rules_are_found():
    """The AST sees the registry: every registered rule's name is a declared function."""
    from azext_meshca.rules.checks import ALL_CHECKS
    assert {function.__name__ for function in ALL_CHECKS} == set(rule_functions(dict(_files())))


def test_a_planted_side_door_is_caught(tmp_path):
    """A verb that calls a rule body, one that lists rule bodies to run by hand, a verb that
    forges a snapshot, and a source that runs the registry's loop by hand are each caught."""
    planted = {
        "azext_meshca/verbs/planted.py": (
            "from azext_meshca.rules.checks import config\n"
            "from azext_meshca.model.snapshot import new_snapshot\n"
            "def go(snapshot, context):\n"
            "    fake = {'collectedAt': 1, 'cluster': None, 'vault': None}\n"
            "    snapshot['vault'] = fake\n"
            "    return config.check_mesh_mode(new_snapshot({}, {}), context), fake\n"),
        "azext_meshca/verbs/planted_tuple.py": (
            "from azext_meshca.rules.checks import config\n"
            "PRECONDITIONS = (config.check_mesh_mode,)\n"),
        "azext_meshca/sources/planted_loop.py": (
            "from azext_meshca.rules.registry import run_rules\n"
            "def go(functions, subjects):\n"
            "    return run_rules(functions, subjects, {}, {})\n"),
    }
    files = {}
    for relative, text in planted.items():
        path = tmp_path / relative.replace("/", "_")
        path.write_text(text, encoding="utf-8")
        files[relative] = str(path)
    rules = {"check_mesh_mode": "azext_meshca/rules/checks/config.py"}
    assert side_doors(files, rules) == {
        ("azext_meshca/verbs/planted_tuple.py", "check_mesh_mode"),
        ("azext_meshca/verbs/planted.py", "check_mesh_mode"), ("azext_meshca/verbs/planted.py", CONSTRUCTOR),
        ("azext_meshca/verbs/planted.py", "a snapshot literal"), ("azext_meshca/verbs/planted.py", "a snapshot slot written"),
        ("azext_meshca/sources/planted_loop.py", "run_rules")}


def test_a_selection_names_rules_by_name_code_area_or_subject():
    """run_rules(select=...): what fix-access, validate-secrets, show-cert and scan's gaps ask for."""
    from azext_meshca.rules.registry import CA_SET, SHOWN
    from azext_meshca.rules.runner import selected
    from azext_meshca.rules.validation import CERTIFICATE_RULES, SHOWN_RULES
    from azext_meshca.verbs import show_cert, validate_secrets
    from azext_meshca.verbs.fixaccess.plan import CLUSTER_PRECONDITIONS, NETWORK_NOTES

    def names(select):
        return [function.rule.name for function in selected(select)]
    assert names(CLUSTER_PRECONDITIONS) == list(CLUSTER_PRECONDITIONS)     # registry order is the asked order
    assert names(NETWORK_NOTES) == ["public-access", "firewall", "vault-address"]
    assert names(("MCA910", "MCA911")) == ["fleet-subscriptions"]
    assert selected((CA_SET,)) == CERTIFICATE_RULES and selected((SHOWN,)) == SHOWN_RULES
    assert not set(selected(show_cert.SELECT)) & set(CERTIFICATE_RULES)   # show-cert never judges a CA set
    assert set(CERTIFICATE_RULES) <= set(selected(validate_secrets.SELECT))


# The operator's write verdict is MCA345's (rules/checks/rotate.py): outside rules/ only the
# question "do its own grants suffice" (access_model.own_write_grant) may be asked, so a
# snapshot's ``rotation.operator`` holds facts and no verb can store an answer in it.
WRITE_VERDICTS = {"secret_write_verdict", "operator_write_verdict"}


def verdict_calls(files):
    """{(file, name)}: a write verdict called outside rules/."""
    found = set()
    for relative, path in files.items():
        if relative.startswith("azext_meshca/rules/"):
            continue
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called_name(node) in WRITE_VERDICTS:
                found.add((relative, _called_name(node)))
    return found


def test_the_operators_write_verdict_is_judged_only_in_the_rules(tmp_path):
    assert not verdict_calls(dict(_files()))
    planted = tmp_path / "planted.py"
    planted.write_text("from azext_meshca.rules.access_model import secret_write_verdict\n"
                       "def gather(vault, facts):\n"
                       "    return secret_write_verdict(vault, facts['assignments'], facts['objectId'])\n",
                       encoding="utf-8")
    assert verdict_calls({"azext_meshca/verbs/rotate/run.py": str(planted)}) == {
        ("azext_meshca/verbs/rotate/run.py", "secret_write_verdict")}
