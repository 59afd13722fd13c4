"""Grid for the add-on checks (MCA201, MCA202)."""

import pytest

from azext_meshca.rules.checks import addon
from tests.unit import snapshots as s


def _addon(**values):
    def mutate(snapshot):
        s.addon(snapshot).update(values)
    return mutate


def _no_plugin(snapshot):
    s.cluster(snapshot)["plugin"] = None


GRID = [
    ("healthy", [], []),
    ("add-on disabled", [_addon(enabled=False)], ["MCA201"]),
    ("add-on block absent", [lambda snap: s.cluster(snap).update(csiAddon=None)], ["MCA201"]),
    ("no identity", [_addon(identity=None)], ["MCA202"]),
    ("identity without objectId", [_addon(identity={"clientId": "x", "objectId": None})], ["MCA202"]),
    ("disabled and no identity: MCA201 only", [_addon(enabled=False, identity=None)], ["MCA201"]),
    ("disabled without a plug-in CA is fine", [_addon(enabled=False), _no_plugin], []),
    ("mesh off", [_addon(enabled=False), lambda snap: s.cluster(snap).update(meshMode="Disabled")], []),
]


@pytest.mark.parametrize("mutators, expected", [case[1:] for case in GRID], ids=[case[0] for case in GRID])
def test_addon_grid(mutators, expected):
    assert s.codes(s.run_module(addon.CHECKS, s.applied(*mutators))) == expected


def test_disabled_remedy_names_the_cluster():
    [found] = s.run_module(addon.CHECKS, s.applied(_addon(enabled=False)))
    assert "-g rg-mesh -n aks-mesh" in found["remedy"]
    assert found["evidence"] == ["addonProfiles.azureKeyvaultSecretsProvider.enabled: false"]
