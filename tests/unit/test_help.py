"""Help is part of the product: every group and command has a summary and examples."""

import re

import yaml

from azext_meshca._help import helps

COMMANDS = ("validate-secrets", "show-cert", "diagnose", "fix-access")


def test_every_group_and_command_has_help_with_examples():
    for name in ("aks mesh ca",) + tuple("aks mesh ca " + command for command in COMMANDS):
        entry = yaml.safe_load(helps[name])
        assert entry["short-summary"], name
        assert entry.get("examples"), "{} has no example".format(name)
        for example in entry["examples"]:
            assert example["text"].startswith("az aks mesh ca "), (name, example)


def _texts(entry):
    yield entry.get("short-summary", "")
    yield entry.get("long-summary", "")
    for example in entry.get("examples", []):
        yield example["name"]


def test_no_angle_bracket_placeholder_outside_backticks():
    """azdev linter's HIGH rule disallowed_html_tag_from_command (azdev/operations/linter/util.py
    has_illegal_html_tag): docs.microsoft.com renders <word> as a tag unless it is in backticks."""
    for name, text in helps.items():
        for part in _texts(yaml.safe_load(text)):
            outside = re.sub(r"`[^`]*`", "", part or "")
            assert not re.search(r"<[A-Za-z/][^>]*>", outside), (name, part)
