"""Grid for the network checks (MCA501, MCA502)."""

import pytest

from azext_meshca.rules.checks import network
from tests.unit import snapshots as s


def _vault(**values):
    return lambda snapshot: s.vault(snapshot).update(values)


DENY = {"defaultAction": "Deny", "bypass": "AzureServices", "ipRules": [{"value": "1.2.3.4"}],
        "virtualNetworkRules": []}

GRID = [
    ("healthy", [], []),
    ("public access disabled, no private endpoint", [_vault(publicNetworkAccess="Disabled")], ["MCA501"]),
    ("public access disabled (case)", [_vault(publicNetworkAccess="disabled")], ["MCA501"]),
    ("public access disabled, private endpoint", [_vault(publicNetworkAccess="Disabled", privateEndpointCount=1)],
     []),
    ("firewall denies", [_vault(networkAcls=DENY)], ["MCA502"]),
    ("firewall allows", [_vault(networkAcls=dict(DENY, defaultAction="Allow"))], []),
    ("firewall denies, public access off: MCA501 only",
     [_vault(networkAcls=DENY, publicNetworkAccess="Disabled")], ["MCA501"]),
    ("firewall denies, private endpoint", [_vault(networkAcls=DENY, privateEndpointCount=2)], []),
    ("public access unset", [_vault(publicNetworkAccess=None)], []),
    ("no plug-in CA", [_vault(publicNetworkAccess="Disabled"), lambda snap: s.cluster(snap).update(plugin=None)],
     []),
    ("vault unreadable", [lambda snap: s.fail(snap, ("vault",), "403", 403)], []),
]


@pytest.mark.parametrize("mutators, expected", [case[1:] for case in GRID], ids=[case[0] for case in GRID])
def test_network_grid(mutators, expected):
    assert s.codes(s.run_module(network.CHECKS, s.applied(*mutators))) == expected


def test_firewall_counts_rules():
    acls = dict(DENY, virtualNetworkRules=[{"id": "subnet-1"}, {"id": "subnet-2"}])
    [found] = s.run_module(network.CHECKS, s.applied(_vault(networkAcls=acls)))
    assert "with 1 IP rule(s) and 2 VNet rule(s)" in found["message"]
    assert "networkAcls.defaultAction: Deny" in found["evidence"]
