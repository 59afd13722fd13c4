"""Grid for the config checks (MCA101-MCA105): snapshot in, exact codes out."""

import pytest

from azext_meshca.rules.checks import config
from tests.unit import snapshots as s


def _mesh(mode, plugin=None):
    def mutate(snapshot):
        s.cluster(snapshot)["meshMode"] = mode
        s.cluster(snapshot)["plugin"] = plugin
    return mutate


def _plugin_field(field, value):
    def mutate(snapshot):
        s.cluster(snapshot)["plugin"][field] = value
    return mutate


GRID = [
    ("healthy", [], []),
    ("mesh disabled", [_mesh("Disabled")], ["MCA101"]),
    ("mesh mode unset", [_mesh(None)], ["MCA101"]),
    ("no plug-in CA", [_mesh("Istio", None)], ["MCA102"]),
    ("empty plug-in block", [_mesh("Istio", {"keyVaultId": None})], ["MCA102"]),
    ("cert-chain name missing", [_plugin_field("certChainObjectName", "")], ["MCA103"]),
    ("two names missing", [_plugin_field("certChainObjectName", None), _plugin_field("keyObjectName", None)],
     ["MCA103"]),
    ("keyVaultId missing", [_plugin_field("keyVaultId", None)], ["MCA103"]),
    ("keyVaultId is a name", [_plugin_field("keyVaultId", "kv-mesh")], ["MCA104"]),
    ("keyVaultId of another provider",
     [_plugin_field("keyVaultId", s.VAULT_ID.replace("Microsoft.KeyVault/vaults", "Microsoft.Storage/accounts"))],
     ["MCA104"]),
    ("keyVaultId other case", [_plugin_field("keyVaultId", s.VAULT_ID.lower())], []),
    ("vault 404", [lambda snap: s.fail(snap, ("vault",), "404 Not Found (ResourceNotFound)", 404, "ResourceNotFound")],
     ["MCA105"]),
    ("vault 403 is a collection gap",
     [lambda snap: s.fail(snap, ("vault",), "403 Forbidden", 403, "AuthorizationFailed")],
     []),
    ("cluster unreadable", [lambda snap: s.fail(snap, ("cluster",), "403 Forbidden", 403)], []),
]


@pytest.mark.parametrize("mutators, expected", [case[1:] for case in GRID], ids=[case[0] for case in GRID])
def test_config_grid(mutators, expected):
    assert s.codes(s.run_module(config.CHECKS, s.applied(*mutators))) == expected


def test_missing_fields_are_named():
    snapshot = s.applied(_plugin_field("certChainObjectName", None), _plugin_field("keyObjectName", ""))
    [found] = s.run_module(config.CHECKS, snapshot)
    assert "keyObjectName, certChainObjectName" in found["message"]
    assert found["evidence"] == ["keyObjectName: not set", "certChainObjectName: not set"]


def test_vault_404_names_the_vault_in_the_remedy():
    snapshot = s.applied(lambda snap: s.fail(snap, ("vault",), "404 Not Found", 404))
    [found] = s.run_module(config.CHECKS, snapshot)
    assert s.VAULT_ID in found["message"]
    assert "az keyvault recover -n kv-mesh" in found["remedy"]
