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
