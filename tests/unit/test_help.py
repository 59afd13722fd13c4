"""Help is part of the product: every group and command has a summary and examples."""

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
