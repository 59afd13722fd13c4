"""Custom roles: a role is judged by its data actions, not by its name, so a custom role
that can read secret values is enough, one that cannot is not, and one meshca may not
read is reported as unchecked rather than guessed (never a wrong verdict)."""

import json

import pytest

from tests.e2e.test_fix_access import (SECRETS_USER, addon_assignments, addon_secret_status, fix_json, now,
                                       successful_writes_since, writes_since)

pytestmark = pytest.mark.e2e
CLUSTER_ARGS = ["-g", "myResourceGroup", "-n", "myAKSCluster"]


def _diagnose(az):
    proc = az.run("aks", "mesh", "ca", "diagnose", *CLUSTER_ARGS, "-o", "json")
    assert "Traceback" not in proc.stderr, proc.stderr
    result = json.loads(proc.stdout)
    problems = sorted(item["code"] for item in result["findings"] if item["severity"] in ("error", "warning"))
    return proc.returncode, problems, result


@pytest.mark.scenario("rbac-custom-role")
def test_a_custom_role_with_get_secret_is_enough(az, sim):
    assert addon_secret_status(sim) == 200   # the simulator's Key Vault agrees
    status, problems, _ = _diagnose(az)
    assert (status, problems) == (0, [])


@pytest.mark.scenario("rbac-custom-role-no-secrets")
def test_a_custom_role_whose_not_data_actions_remove_get_secret_is_not(az, sim):
    assert addon_secret_status(sim) == 403
    status, problems, result = _diagnose(az)
    assert (status, problems) == (4, ["MCA402", "MCA801", "MCA803"])
    assert "Vault Lister" in next(item for item in result["findings"] if item["code"] == "MCA402")["message"]


@pytest.mark.scenario("rbac-custom-role-unreadable")
def test_a_role_meshca_may_not_read_is_unchecked_not_guessed(az):
    status, problems, result = _diagnose(az)
    assert (status, problems) == (5, ["MCA909"])
    assert "AuthorizationFailed" in result["findings"][0]["message"]


@pytest.mark.scenario("rbac-custom-role", fresh=True)
def test_fix_access_has_nothing_to_do_for_a_sufficient_custom_role(az, sim):
    since = now(sim)
    result, _ = fix_json(az, "--yes")
    assert result["outcome"] == "unchanged"
    assert "Mesh CA Secret Reader" in result["summary"]
    assert writes_since(sim, since) == []


@pytest.mark.scenario("rbac-custom-role-no-secrets", fresh=True)
def test_fix_access_adds_secrets_user_beside_an_insufficient_custom_role(az, sim):
    since = now(sim)
    result, _ = fix_json(az, "--yes")
    assert result["outcome"] == "applied"
    assert len(successful_writes_since(sim, since)) == 1
    roles = {a["properties"]["roleDefinitionId"].rsplit("/", 1)[-1] for a in addon_assignments(sim)}
    assert SECRETS_USER in roles and "bbbbbbbb-0000-0000-0000-00000000c0de" in roles
    assert addon_secret_status(sim) == 200


@pytest.mark.scenario("rbac-custom-role")
def test_from_snapshot_judges_the_custom_roles_permissions_afresh(az, tmp_path):
    """The exported snapshot keeps the role's permissions as ARM returned them, not a verdict:
    edit them to take getSecret away and --from-snapshot finds the role insufficient."""
    path = tmp_path / "custom.json"
    proc = az.run("aks", "mesh", "ca", "diagnose", *CLUSTER_ARGS, "--export", str(path), "-o", "none",
                  cwd=az.config_dir)
    assert proc.returncode == 0, proc.stderr[-2000:]
    snapshot = json.loads(path.read_text(encoding="utf-8"))
    (assignment,) = snapshot["roleAssignments"]["data"]
    assert "grantsSecretRead" not in assignment
    assert assignment["permissions"][0]["dataActions"] == ["Microsoft.KeyVault/vaults/secrets/getSecret/action"]
    assignment["permissions"][0]["notDataActions"] = ["Microsoft.KeyVault/vaults/secrets/*"]
    path.write_text(json.dumps(snapshot), encoding="utf-8")
    proc = az.run("aks", "mesh", "ca", "diagnose", "--from-snapshot", str(path), "-o", "json", cwd=az.config_dir)
    assert "Traceback" not in proc.stderr, proc.stderr
    result = json.loads(proc.stdout)
    problems = sorted(item["code"] for item in result["findings"] if item["severity"] in ("error", "warning"))
    assert (proc.returncode, problems) == (4, ["MCA402"])
    assert "Mesh CA Secret Reader" in next(item for item in result["findings"] if item["code"] == "MCA402")["message"]
