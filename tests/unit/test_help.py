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


def _argument_settings():
    """Every registered argument's settings, loaded the way az loads them for each command."""
    import argparse
    import types
    from azure.cli.core.mock import DummyCli
    from azext_meshca import MeshcaCommandsLoader
    cli = DummyCli()
    loader = MeshcaCommandsLoader(cli)
    for name in loader.load_command_table(None):
        # What knack's argument contexts read from the invocation: the command being loaded,
        # and the parser's action registry (a deprecated option wraps its action).
        cli.invocation = types.SimpleNamespace(data={"command_string": name}, parser=argparse.ArgumentParser())
        loader.command_name = name
        loader.load_arguments(name)
    for scope, arguments in loader.argument_registry.arguments.items():
        for dest, argument in arguments.items():
            yield scope, dest, argument.settings


def test_help_reads_the_same_after_knacks_capitalisation():
    """knack upper-cases the first letter of every summary and parameter help
    (knack/help.py HelpObject._normalize_text): 'ca-cert.pem: ...' would read 'Ca-cert.pem: ...'."""
    texts = [(scope, dest, settings["help"]) for scope, dest, settings in _argument_settings() if "help" in settings]
    for name, text in helps.items():
        entry = yaml.safe_load(text)
        texts += [(name, "summary", entry.get("short-summary", "")), (name, "long", entry.get("long-summary", ""))]
    for scope, dest, text in texts:
        text = (text or "").strip()
        assert not text or text[0] == text[0].upper(), (scope, dest, text)


def test_wait_is_a_deprecated_alias_of_wait_for_istiod():
    """fix-access waits for istiod, not for a long-running operation: --wait-for-istiod, with
    --wait kept as azure-cli's deprecated (hidden) alias."""
    settings = next(settings for scope, dest, settings in _argument_settings()
                    if scope == "aks mesh ca fix-access" and dest == "wait_for_istiod")
    options = settings["options_list"]
    assert options[0] == "--wait-for-istiod"
    deprecated = [option for option in options if not isinstance(option, str)]
    assert [(item.target, item.redirect, item.hide) for item in deprecated] == [("--wait", "--wait-for-istiod", True)]
