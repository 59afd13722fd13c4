"""The catalog is the single source of codes and docs."""

import os
import re

from azext_meshca.rules import catalog

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_docs_findings_md_matches_the_catalog():
    with open(os.path.join(REPO, "docs", "findings.md"), encoding="utf-8") as handle:
        on_disk = handle.read()
    assert on_disk == catalog.render_markdown(), (
        "docs/findings.md is stale: run .venv/bin/python -m azext_meshca.rules.catalog > docs/findings.md")


def test_every_entry_is_well_formed():
    for code, entry in catalog.CATALOG.items():
        assert re.fullmatch(r"MCA[1-9]\d\d", code)
        assert entry.severity in catalog.SEVERITIES
        assert entry.area in catalog.AREAS
        assert int(code[3]) == catalog.AREAS.index(entry.area) + 1 or entry.area == "rotation", code
        assert entry.title and "\n" not in entry.title


def test_codes_are_unique():
    codes = [entry.code for entry in catalog._ENTRIES]  # pylint: disable=protected-access
    assert len(codes) == len(set(codes))


def test_finding_fills_templates_and_refuses_missing_parameters():
    item = catalog.finding("MCA709", "ca-key", evidence=["x"], subject="CN=a")
    assert item["code"] == "MCA709" and item["object"] == "ca-key" and "CN=a" in item["message"]
    try:
        catalog.finding("MCA709", "ca-key")
    except KeyError as error:
        assert "subject" in str(error)
    else:
        raise AssertionError("a missing template parameter must fail loudly")
