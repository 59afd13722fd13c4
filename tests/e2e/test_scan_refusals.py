"""scan --read-secrets against vaults that refuse the operator, through the real az (#25).

A refusal that holds for the whole vault (its firewall, public access off without private
link, an access policy without secrets get: sources/fleet.py refused_vault_wide) costs the
vault one authenticated request, after the challenge; an RBAC refusal may be one secret's
alone (a role at a secret's scope), so an RBAC vault still gets every object asked. Either
way each cluster's verdict, codes and severities are the ones diagnose --skip-cluster gives
it: diagnose reads every object (sources/snapshot_builder.py), so it is the reference.

The scenarios are the single-cluster ones that make Key Vault refuse the operator (the
simulator's texts and codes: sandbox/sim/scenario.py _network_denial, _policy_denial,
_rbac_denial); each vault has the four plug-in objects.
"""

import json

import pytest

pytestmark = pytest.mark.e2e

VAULT = "MyAzureKeyVault"
OBJECTS = 4
# scenario -> (Key Vault's inner error code for the operator's reads, whether it holds vault-wide)
REFUSALS = {
    "kv-firewall": ("ForbiddenByFirewall", True),
    "kv-public-access-disabled": ("ForbiddenByConnection", True),
    "diag-operator-no-secret-access": ("AccessDenied", True),
    "diag-rbac-operator-no-secret-access": ("ForbiddenByRbac", False),
}


def _judged(findings):
    return [(item["code"], item["severity"]) for item in findings if item["code"] != "MCA908"]


@pytest.fixture(scope="module", params=sorted(REFUSALS))
def refused(request, sim_factory):
    """(scenario, scan's one cluster row, diagnose --skip-cluster's result, the vault's requests)."""
    sim = sim_factory.shared(request.param)
    az = sim_factory.az_for(sim)
    seen = len(sim.requests())
    proc = az.run("aks", "mesh", "ca", "scan", "--read-secrets", "-o", "json", cwd=az.config_dir)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    vault_requests = [(entry["principal"] is not None, entry["status"], entry["path"])
                      for entry in sim.requests()[seen:] if entry["service"] == "kv:" + VAULT]
    rows = json.loads(proc.stdout)["clusters"]
    assert len(rows) == 1, proc.stderr[-2000:]
    cluster = sim.world.cluster
    diagnosed = az.run("aks", "mesh", "ca", "diagnose", "-g", cluster["resourceGroup"], "-n", cluster["name"],
                       "--skip-cluster", "-o", "json", cwd=az.config_dir)
    assert "Traceback" not in diagnosed.stderr, diagnosed.stderr[-2000:]
    return request.param, rows[0], json.loads(diagnosed.stdout), vault_requests


def test_a_vault_wide_refusal_costs_one_request_and_rbac_asks_every_object(refused):
    scenario, _, _, requests = refused
    _, vault_wide = REFUSALS[scenario]
    challenge, reads = requests[0], requests[1:]
    assert challenge[:2] == (False, 401), requests          # the challenge, without a token
    assert all(with_token and status == 403 for with_token, status, _ in reads), requests
    if vault_wide:
        assert len(reads) == 1, (scenario, requests)
    else:   # every object asked, once each
        assert len(reads) == len({path for _, _, path in reads}) == OBJECTS, (scenario, requests)


def test_the_verdict_codes_and_severities_are_diagnoses(refused):
    scenario, row, diagnosed, _ = refused
    code, _ = REFUSALS[scenario]
    assert (row["status"], _judged(row["findings"])) == (diagnosed["status"], _judged(diagnosed["findings"]))
    unread = [item for item in row["findings"] if item["code"] == "MCA904"]
    assert len(unread) == 1 and code in unread[0]["message"], row["findings"]
