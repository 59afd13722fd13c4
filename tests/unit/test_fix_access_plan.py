"""fix-access planning is pure: the decision grid, tested on hand-written snapshot dicts."""

import pytest
from azure.cli.core.azclierror import InvalidArgumentValueError

from azext_meshca.verbs.fixaccess import apply, plan as planning, wait
from azext_meshca.rules.rbac import KEY_VAULT_READER, SECRETS_USER
from azext_meshca.model.snapshot import collected

SUB = "00000000-0000-0000-0000-000000000001"
TENANT = "00000000-0000-0000-0000-0000000000aa"
OID = "22222222-2222-2222-2222-222222222222"
VAULT_ID = "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1".format(SUB)
IDENTITY = {"objectId": OID, "clientId": "c", "resourceId": None}
NAMES = {"certObjectName": "ca-cert", "keyObjectName": "ca-key", "rootCertObjectName": "root-cert",
         "certChainObjectName": "cert-chain"}


def vault(rbac=False, policies=(), **extra):
    data = {"id": VAULT_ID, "name": "kv1", "resourceGroup": "rg", "subscriptionId": SUB, "tenantId": TENANT,
            "enableRbacAuthorization": rbac, "accessPolicies": list(policies)}
    data.update(extra)
    return data


def policy(secrets, object_id=OID, **extra):
    entry = {"tenantId": TENANT, "objectId": object_id, "permissions": {"secrets": list(secrets)}}
    entry.update(extra)
    return entry


def assignment(role_guid, scope=VAULT_ID, principal=OID):
    return {"scope": scope, "principalId": principal,
            "roleDefinitionId": "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{}".format(
                SUB, role_guid)}


def _cluster(**changes):
    cluster = {"meshMode": "Istio", "plugin": dict(NAMES, keyVaultId=VAULT_ID),
               "csiAddon": {"enabled": True, "identity": dict(IDENTITY)}}
    cluster.update(changes)
    return cluster


def state(vault_data=None, assignments=None, cluster=None, tenant=TENANT):
    snapshot = planning.new_state("rg", "aks1", tenant, cluster or _cluster())
    if vault_data is not None:
        snapshot["vault"] = collected(vault_data)
    if assignments is not None:
        snapshot["roleAssignments"] = collected(list(assignments))
    return snapshot


def plan(vault_data, mode="auto", permissions=("get",), assignments=None):
    chosen = planning.resolve_mode(mode, vault_data)
    return planning.plan_fix(state(vault_data, assignments), chosen, list(permissions))


@pytest.mark.parametrize("granted, wanted, missing", [
    ([], ["get"], ["get"]),
    (["list"], ["get"], ["get"]),
    (["get"], ["get"], []),
    (["GET"], ["get", "list"], ["list"]),
    (["all"], ["get", "list"], []),
])
def test_missing_permissions(granted, wanted, missing):
    result = plan(vault(policies=[policy(granted)]), permissions=wanted)
    assert (result["change"] or {}).get("addSecretPermissions", []) == missing


def test_policies_for_other_tenants_or_compound_identities_do_not_count():
    policies = [policy(["get"], tenantId="99999999-9999-9999-9999-999999999999"),
                policy(["get"], applicationId="app"), policy(["get"], object_id="someone-else")]
    result = plan(vault(policies=policies))
    assert result["current"]["secretPermissions"] == []
    assert result["change"]["addSecretPermissions"] == ["get"]


def test_secrets_user_at_a_parent_scope_is_enough():
    parent = "/subscriptions/{}/resourceGroups/rg".format(SUB)
    result = plan(vault(rbac=True), assignments=[assignment(SECRETS_USER, scope=parent)])
    assert result["change"] is None and result["summary"].startswith("Nothing to do")


def test_reader_is_not_enough_and_is_kept():
    result = plan(vault(rbac=True), assignments=[assignment(KEY_VAULT_READER)])
    assert result["change"]["roleName"] == "Key Vault Secrets User"
    assert result["change"]["principalType"] == "ServicePrincipal"
    assert result["change"]["roleDefinitionId"].startswith("/subscriptions/{}/providers/".format(SUB))
    assert any("Key Vault Reader" in note for note in result["notes"])


def test_an_assignment_on_a_sibling_vault_does_not_count():
    sibling = VAULT_ID + "-other"
    result = plan(vault(rbac=True), assignments=[assignment(SECRETS_USER, scope=sibling)])
    assert result["change"] is not None


def test_assignment_name_is_stable():
    first = plan(vault(rbac=True), assignments=[])["change"]["assignmentName"]
    assert first == plan(vault(rbac=True), assignments=[])["change"]["assignmentName"]


def test_explicit_mode_against_the_vault_model_is_noted():
    result = plan(vault(rbac=True), mode="policy")
    assert result["mode"] == "policy" and any("ignores access policies" in n for n in result["notes"])


def test_network_notes_are_diagnoses_findings():
    """Public access off is MCA501 alone: the firewall does not apply then (rules/checks/network.py)."""
    result = plan(vault(publicNetworkAccess="Disabled", networkAcls={"defaultAction": "Deny"}))
    assert [note[:6] for note in result["notes"]] == ["MCA501"]
    assert "ForbiddenByConnection" in result["notes"][0]
    result = plan(vault(networkAcls={"defaultAction": "Deny"}))
    assert [note[:6] for note in result["notes"]] == ["MCA502"]
    result = plan(vault(publicNetworkAccess="Disabled", privateEndpointCount=1))
    assert result["notes"] == []


@pytest.mark.parametrize("value", [["list"], ["get", "set"]])
def test_secret_permissions_are_read_only_and_include_get(value):
    with pytest.raises(InvalidArgumentValueError):
        planning.normalise_secret_permissions(value)


@pytest.mark.parametrize("cluster, code", [
    (_cluster(csiAddon={"enabled": False, "identity": None}), "MCA201"),
    (_cluster(csiAddon={"enabled": True, "identity": None}), "MCA202"),
    (_cluster(plugin=None), "MCA102"),
    (_cluster(meshMode="Disabled"), "MCA101"),
    (_cluster(plugin=dict(NAMES, keyVaultId="/subscriptions/x/resourceGroups/rg/providers/Other/things/y")),
     "MCA104"),
    (_cluster(plugin=dict(NAMES)), "MCA103"),
])
def test_cluster_refusals_are_diagnoses_findings(cluster, code):
    assert planning.cluster_refusal(state(cluster=cluster))["code"] == code


def test_a_sound_cluster_is_not_refused():
    assert planning.cluster_refusal(state()) is None


def test_foreign_tenant_refused_with_mca406():
    found = planning.vault_refusal(state(vault(tenantId="99999999-9999-9999-9999-999999999999")))
    assert found["code"] == "MCA406" and "99999999-9999-9999-9999-999999999999" in found["message"]
    assert planning.vault_refusal(state(vault())) is None


def test_forbidden_write_names_the_roles_needed():
    policy_plan = plan(vault())
    error = apply.write_refusal(policy_plan, {"status": 403, "code": "AuthorizationFailed", "reason": "x"})
    assert "Key Vault Contributor or Owner" in str(error) and "\n" not in str(error)
    rbac_plan = plan(vault(rbac=True), assignments=[])
    error = apply.write_refusal(rbac_plan, {"status": 403, "code": "AuthorizationFailed", "reason": "x"})
    assert "User Access Administrator" in str(error)


@pytest.mark.parametrize("pods, ready", [
    ([], False),
    ([{"name": "a", "status": "Init:0/2", "ready": False}], False),
    ([{"name": "a", "status": "Running", "ready": True}, {"name": "b", "status": "Terminating", "ready": False}],
     True),
    ([{"name": "a", "status": "Running", "ready": False}], False),
])
def test_pods_ready(pods, ready):
    assert wait.pods_ready(pods) is ready
