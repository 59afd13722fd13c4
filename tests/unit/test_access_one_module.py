"""One access module (issue #19, item 3): the snapshot keeps a custom role's permissions as
ARM returns them and rules/rbac.py judges them, so diagnose, --from-snapshot, fix-access and
scan judge a custom role alike; one role-assignment filter (model/roles.py assignments_for)
serves the collector, scan and the checks; one spelling of the permission model."""

import copy
import json

import pytest

from azext_meshca import _params
from azext_meshca.model import roles
from azext_meshca.model.snapshot import collected, from_json
from azext_meshca.rules import access_model
from azext_meshca.sources import azure as azure_collectors
from azext_meshca.sources import fleet as fleet_source
from azext_meshca.verbs import scan
from azext_meshca.verbs.diagnose import analyse
from azext_meshca.verbs.fixaccess import plan as planning
from sandbox import golden

GET_SECRET = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
PROBLEMS = ("error", "warning")


def _problems(result):
    return sorted(item["code"] for item in result["findings"] if item["severity"] in PROBLEMS)


def _custom_role_snapshot(**assignment_fields):
    """The rbac-custom-role golden snapshot (a custom role granting getSecret at the vault),
    its assignment's role fields replaced by ``assignment_fields``, loaded as
    ``--from-snapshot`` loads a file."""
    snapshot = golden.load("rbac-custom-role")
    item = snapshot["roleAssignments"]["data"][0]
    for key in ("permissions", "roleDefinitionError", "grantsSecretRead", "grantsSecretReadError"):
        item.pop(key, None)
    item.update(assignment_fields)
    return from_json(json.dumps(snapshot))


def _fix_access_readable(snapshot):
    plan = planning.plan_fix(copy.deepcopy(snapshot), planning.resolve_mode("auto", snapshot["vault"]["data"]),
                             ["get"])
    return plan["current"]["readable"], plan["change"] is not None


@pytest.mark.parametrize("permissions, problems, readable", [
    ([{"dataActions": [GET_SECRET]}], [], True),
    ([{"dataActions": ["Microsoft.KeyVault/vaults/secrets/*"], "notDataActions": [GET_SECRET]}],
     ["MCA402"], False),
    ([{"actions": ["*"], "dataActions": []}], ["MCA402"], False),
])
def test_a_custom_role_is_judged_from_the_permissions_in_the_snapshot(permissions, problems, readable):
    """Edit the role's permissions in an exported snapshot: diagnose --from-snapshot and
    fix-access's plan re-judge it (the collector no longer decides it)."""
    snapshot = _custom_role_snapshot(roleName="Mesh CA Secret Reader", permissions=permissions)
    assert _problems(analyse(copy.deepcopy(snapshot), 30)) == problems
    assert _fix_access_readable(snapshot) == (readable, not readable)


def test_a_role_whose_definition_was_not_read_is_unchecked_with_the_reason():
    snapshot = _custom_role_snapshot(roleName=None, roleDefinitionError="403 Forbidden (AuthorizationFailed): no")
    result = analyse(copy.deepcopy(snapshot), 30)
    assert _problems(result) == ["MCA909"]
    assert "403 Forbidden (AuthorizationFailed): no" in result["findings"][0]["message"]
    assert _fix_access_readable(snapshot) == (None, True)


@pytest.mark.parametrize("legacy, problems", [
    ({"grantsSecretRead": True}, []),
    ({"grantsSecretRead": False}, ["MCA402"]),
    ({"grantsSecretRead": None, "grantsSecretReadError": "404 RoleDefinitionDoesNotExist"}, ["MCA909"]),
])
def test_a_snapshot_exported_before_still_loads_and_its_verdict_is_read_as_a_fallback(legacy, problems):
    """Snapshots exported before carry the old collector's grantsSecretRead, no permissions."""
    snapshot = _custom_role_snapshot(roleName="Mesh CA Secret Reader", **legacy)
    result = analyse(copy.deepcopy(snapshot), 30)
    assert _problems(result) == problems
    if legacy.get("grantsSecretReadError"):
        assert legacy["grantsSecretReadError"] in result["findings"][0]["message"]


# --------------------------------------------------------------------------- one filter

VAULT_ID = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
            "Microsoft.KeyVault/vaults/vault1")
PRINCIPAL = "22222222-2222-2222-2222-222222222222"
OTHER = "33333333-3333-3333-3333-333333333333"
CUSTOM = "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization/roleDefinitions/" \
         "aaaaaaaa-0000-0000-0000-00000000c0de"


def _assignment(index, principal, scope, role=roles.SECRETS_USER):
    role_id = role if role.startswith("/") else f"/providers/Microsoft.Authorization/roleDefinitions/{role}"
    return {"id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/ra-{index}", "scope": scope,
            "roleDefinitionId": role_id, "principalId": principal, "principalType": "ServicePrincipal"}


LISTED = [
    _assignment(0, PRINCIPAL, VAULT_ID + "/secrets/ca-key"),                        # a secret's scope: kept
    _assignment(1, PRINCIPAL, "/subscriptions/00000000-0000-0000-0000-000000000001", CUSTOM),  # a parent: kept
    _assignment(2, PRINCIPAL.upper(), VAULT_ID.lower()),                            # any casing: kept
    _assignment(3, PRINCIPAL, VAULT_ID.replace("/vault1", "/vault2")),              # another vault: dropped
    _assignment(4, PRINCIPAL, VAULT_ID.replace("/vault1", "/vault10")),             # a name that starts alike
    _assignment(5, OTHER, VAULT_ID),                                                # another principal: dropped
]
KEPT = ["ra-0", "ra-1", "ra-2"]


def _names(items):
    return [item["id"].rsplit("/", 1)[-1] for item in items]


def test_the_one_filter_keeps_the_principals_assignments_on_the_vault_and_its_secrets():
    assert _names(roles.assignments_for(LISTED, PRINCIPAL, VAULT_ID)) == KEPT


def test_the_collector_scan_and_the_checks_keep_the_same_assignments(monkeypatch):
    """read_role_assignments (diagnose), cluster_snapshot (scan) and MCA405 (a policy vault's
    roles) each keep what assignments_for keeps, from the same listing."""
    def list_pages(_cli_ctx, _subscription, path, _api_version, **params):
        assert path.startswith(VAULT_ID) and PRINCIPAL in params["$filter"]
        return [{"id": item["id"], "properties": dict(item)} for item in LISTED]
    definitions = []

    def read_definition(_cli_ctx, _subscription, role_id, _api_version=None):
        definitions.append(role_id)
        return {"properties": {"roleName": "Mesh CA Reader", "permissions": [{"dataActions": [GET_SECRET]}]}}
    monkeypatch.setattr(azure_collectors, "_list_pages", list_pages)
    monkeypatch.setattr(azure_collectors, "arm_get_json", read_definition)
    collected_item = azure_collectors.read_role_assignments(None, VAULT_ID, PRINCIPAL)
    assert collected_item["ok"] and _names(collected_item["data"]) == KEPT
    assert definitions == [CUSTOM]   # the custom role's definition is read once; its permissions are kept raw
    assert collected_item["data"][1]["permissions"] == [
        {"actions": [], "notActions": [], "dataActions": [GET_SECRET], "notDataActions": []}]

    fleet = fleet_source.Fleet()
    fleet.assignments = copy.deepcopy(LISTED)
    cluster = {"plugin": {"keyVaultId": VAULT_ID}, "csiAddon": {"identity": {"objectId": PRINCIPAL}}}
    row = {"subscriptionId": "00000000-0000-0000-0000-000000000001", "resourceGroup": "rg", "name": "c"}
    assert _names(fleet_source.cluster_snapshot(fleet, row, cluster, 30)["roleAssignments"]["data"]) == KEPT


def test_mca405_names_only_the_roles_the_filter_keeps():
    """A policy vault: Key Vault roles held by another principal, or on another vault, are not
    this identity's leftovers."""
    from tests.unit import snapshots as s
    snapshot = s.healthy_snapshot()
    s.vault(snapshot)["accessPolicies"] = []
    vault_id = s.vault(snapshot)["id"]
    snapshot["roleAssignments"] = collected([
        _assignment(0, OTHER, vault_id, roles.ADMINISTRATOR),
        _assignment(1, s.OBJECT_ID, vault_id + "2", roles.SECRETS_OFFICER),
        _assignment(2, s.OBJECT_ID, vault_id + "/secrets/x", roles.KEY_VAULT_READER)])
    found = [item for item in analyse(snapshot, 30)["findings"] if item["code"] == "MCA405"]
    assert [item["message"].count("Key Vault") for item in found] == [1]
    assert "Key Vault Reader" in found[0]["message"]


# --------------------------------------------------------------------------- one vocabulary

@pytest.mark.parametrize("rbac, model", [(True, "rbac"), (False, "policy")])
def test_the_permission_model_has_one_spelling_the_one_mode_shows(rbac, model):
    """--mode's choices, fix-access's plan and scan's rows all say policy / rbac."""
    assert _params.FIX_ACCESS_MODES == list(planning.MODES) == ["auto", *access_model.PERMISSION_MODELS]
    vault = {"id": VAULT_ID, "name": "vault1", "enableRbacAuthorization": rbac, "accessPolicies": []}
    assert access_model.permission_model(vault) == model
    assert planning.resolve_mode("auto", vault) == model
    assert planning._vault_view(vault)["permissionModel"] == model  # pylint: disable=protected-access
    snapshot = {"target": {"subscriptionId": "s", "resourceGroup": "rg", "cluster": "c"},
                "cluster": collected({"plugin": {"keyVaultId": VAULT_ID}, "revisions": []}),
                "vault": collected(vault)}
    row = scan.cluster_row(snapshot, {"status": "passed", "findings": []}, False)
    assert row["permissionModel"] == model


def test_only_the_access_model_reads_the_vaults_permission_model():
    """It was decided in five places and spelt three ways; now access_model.permission_model
    decides it, and no other module reads the snapshot vault's enableRbacAuthorization."""
    import os
    import re
    package = os.path.dirname(os.path.dirname(access_model.__file__))
    readers = []
    for folder, _dirs, files in os.walk(package):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    if re.search(r"vault(_data\(\w+\))?(\.get\(|\[)[\"']enableRbacAuthorization", handle.read()):
                        readers.append(name)
    assert readers == ["access_model.py"]
