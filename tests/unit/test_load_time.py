"""Loading meshca's command table must not import heavy SDKs: ``az aks mesh ca -h``
stays as fast as ``az aks mesh -h``."""

import json
import subprocess
import sys

HEAVY_PREFIXES = ("cryptography", "kubernetes", "azure.mgmt", "azure.keyvault", "azure.identity",
                  "azext_meshca.model.certs", "azext_meshca.rules.validation", "azext_meshca.custom",
                  "azext_meshca.verbs.scan", "azext_meshca.rules.catalog")

_PROBE = r"""
import argparse, json, sys
from azure.cli.core import get_default_cli
cli = get_default_cli()
before = set(sys.modules)
from azext_meshca import MeshcaCommandsLoader
loader = MeshcaCommandsLoader(cli_ctx=cli)
table = loader.load_command_table(None)
for name in table:
    # the invocation's parts argument contexts read: the command, and the parser's action
    # registry (a deprecated option such as fix-access --wait wraps its action)
    cli.invocation = type("Invocation", (), {"data": {"command_string": name}, "parser": argparse.ArgumentParser()})()
    loader.command_name = name
    loader.load_arguments(name)
print(json.dumps({"commands": sorted(table), "new": sorted(set(sys.modules) - before)}))
"""


def test_loading_the_command_table_imports_no_heavy_module():
    proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          check=True, cwd=__file__.rsplit("/tests/", 1)[0])
    probe = json.loads(proc.stdout.strip().splitlines()[-1])
    assert sorted(probe["commands"]) == ["aks mesh ca diagnose", "aks mesh ca explain", "aks mesh ca fix-access",
                                         "aks mesh ca list-checks", "aks mesh ca rotate advance",
                                         "aks mesh ca rotate plan", "aks mesh ca rotate status", "aks mesh ca scan",
                                         "aks mesh ca show-cert", "aks mesh ca validate-secrets"]
    heavy = [name for name in probe["new"] if name.startswith(HEAVY_PREFIXES)]
    assert heavy == []
