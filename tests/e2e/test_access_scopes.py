"""Issue 8's access fixes, through the real az against the simulator: diagnose and
fix-access judge secret-scope role assignments per plug-in object, and a compound-
identity access policy (objectId + applicationId) is not a grant.

The simulator's Key Vault applies the same rules to the add-on's own token
(sandbox/sim/scenario.py ``_rbac_denial`` / ``_policy_denial``), and its ARM lists
secret-scope assignments for ``principalId eq`` as real ARM does ("at, above or below
the scope", azure-rest-api-specs authorization-RoleAssignmentsCalls.json).
"""

import json

import pytest

from tests.e2e.test_fix_access import (ADDON_OID, SECRETS_USER, VAULT_ID, addon_assignments, addon_secret_status,
                                       fix_json, istiod_statuses, now, successful_writes_since,
                                       writes_since)

pytestmark = pytest.mark.e2e
CLUSTER_ARGS = ["-g", "myResourceGroup", "-n", "myAKSCluster"]
PLUGIN_SECRETS = ("test-root-cert", "test-ca-cert", "test-ca-key", "test-cert-chain")


def _diagnose(az):
    proc = az.run("aks", "mesh", "ca", "diagnose", *CLUSTER_ARGS, "-o", "json")
    assert "Traceback" not in proc.stderr, proc.stderr
    result = json.loads(proc.stdout)
    problems = sorted(item["code"] for item in result["findings"] if item["severity"] in ("error", "warning"))
    return proc.returncode, problems, result


@pytest.mark.scenario("rbac-secret-scope")
def test_secrets_user_on_each_secret_is_healthy_and_fix_access_has_nothing_to_do(az, sim):
    assert [addon_secret_status(sim, name) for name in PLUGIN_SECRETS] == [200] * 4
    status, problems, _ = _diagnose(az)
    assert (status, problems) == (0, [])
    since = now(sim)
    result, _ = fix_json(az, "--dry-run")
    assert result["outcome"] == "unchanged" and result["change"] is None
    assert result["current"]["readable"] is True
    objects = result["current"]["objects"]
    assert {obj: objects[obj]["via"]["scope"].lower() for obj in objects} == {
        obj: "{}/secrets/test-{}".format(VAULT_ID, obj).lower()
        for obj in ("root-cert", "ca-cert", "ca-key", "cert-chain")}
    assert writes_since(sim, since) == []


@pytest.mark.scenario("rbac-secret-scope-partial")
def test_three_of_four_secrets_granted_names_the_fourth(az, sim):
    assert addon_secret_status(sim, "test-ca-key") == 403
    assert addon_secret_status(sim, "test-ca-cert") == 200
    status, problems, result = _diagnose(az)
    assert status == 4
    assert "MCA402" in problems
    error = next(item for item in result["findings"] if item["code"] == "MCA402")
    assert "ca-key (secret test-ca-key)" in error["message"] and "root-cert" not in error["message"]


@pytest.mark.scenario("rbac-secret-scope-partial", fresh=True)
def test_fix_access_grants_the_missing_secret_at_its_own_scope(az, sim):
    since = now(sim)
    result, _ = fix_json(az, "--yes")
    assert result["outcome"] == "applied"
    secret_scope = VAULT_ID + "/secrets/test-ca-key"
    assert result["change"]["scope"] == secret_scope
    writes = successful_writes_since(sim, since)
    assert len(writes) == 1 and "/secrets/test-ca-key/providers/Microsoft.Authorization/roleAssignments/" in \
        writes[0]["path"]
    scopes = sorted(a["properties"]["scope"] for a in addon_assignments(sim)
                    if a["properties"]["roleDefinitionId"].endswith(SECRETS_USER))
    assert VAULT_ID not in scopes and secret_scope in scopes and len(scopes) == 4
    assert addon_secret_status(sim, "test-ca-key") == 200
    status, problems, _ = _diagnose(az)
    assert "MCA402" not in problems
    since = now(sim)
    again, _ = fix_json(az, "--yes")
    assert again["outcome"] == "unchanged" and writes_since(sim, since) == []


@pytest.mark.scenario("diag-policy-compound-identity")
def test_a_compound_identity_policy_is_not_a_grant(az, sim):
    assert addon_secret_status(sim) == 403
    status, problems, result = _diagnose(az)
    assert status == 4 and "MCA401" in problems
    error = next(item for item in result["findings"] if item["code"] == "MCA401")
    assert any("compound identity" in line for line in error["evidence"])


@pytest.mark.scenario("diag-policy-compound-identity", fresh=True)
def test_fix_access_adds_a_plain_policy_beside_the_compound_one(az, sim):
    assert any(status.startswith("Init") for status in istiod_statuses(sim))
    result, _ = fix_json(az, "--yes")
    assert result["outcome"] == "applied"
    assert result["change"]["addSecretPermissions"] == ["get"]
    assert any("compound identity" in note for note in result["notes"])
    assert addon_secret_status(sim) == 200
    compound = [p for p in sim.world.find_vault("MyAzureKeyVault")["properties"]["accessPolicies"]
                if p["objectId"] == ADDON_OID and p.get("applicationId")]
    assert len(compound) == 1  # the compound entry is left as it was


@pytest.mark.scenario("rbac-secret-scope")
def test_the_simulated_arm_lists_secret_scope_assignments_as_arm_does(az):
    """az role assignment list --scope uses $filter=atScope(): at or above the scope, so a
    secret's assignment shows at the secret's scope and not at the vault's (azure-cli
    role/custom.py _search_role_assignments); meshca's principalId eq at the vault scope
    returns them (at, above or below), which the diagnose and fix-access tests above use."""
    def listed(scope):
        proc = az.run("role", "assignment", "list", "--scope", scope, "--include-inherited", "-o", "json")
        assert proc.returncode == 0, proc.stderr
        return [item for item in json.loads(proc.stdout) if item["principalId"] == ADDON_OID]
    assert listed(VAULT_ID) == []
    [at_secret] = listed(VAULT_ID + "/secrets/test-ca-key")
    assert at_secret["scope"] == VAULT_ID + "/secrets/test-ca-key"
    assert at_secret["roleDefinitionId"].endswith(SECRETS_USER)
