"""Grid for the access checks (MCA401-MCA406): access policies, RBAC roles and scopes, tenant."""

import pytest

from azext_meshca.model import resource_ids
from azext_meshca.rules.checks import access
from tests.unit import snapshots as s

OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
ADMIN = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
RESOURCE_GROUP_SCOPE = "/subscriptions/{}/resourceGroups/{}".format(s.SUBSCRIPTION, s.VAULT_RESOURCE_GROUP)
SUBSCRIPTION_SCOPE = "/subscriptions/{}".format(s.SUBSCRIPTION)


def _policies(*policies):
    def mutate(snapshot):
        s.vault(snapshot)["accessPolicies"] = list(policies)
    return mutate


def _policy(secrets, object_id=s.OBJECT_ID):
    return {"tenantId": s.TENANT, "objectId": object_id, "permissions": {"secrets": list(secrets)}}


def _rbac(*guids, scope=s.VAULT_ID, keep_policies=False):
    return lambda snapshot: s.set_rbac(snapshot, guids, scope, keep_policies)


def _roles_on_policy_vault(*guids):
    def mutate(snapshot):
        s.set_rbac(snapshot, guids, keep_policies=True)
        s.vault(snapshot)["enableRbacAuthorization"] = False
    return mutate


GRID = [
    ("healthy policy vault", [], []),
    ("no policy at all", [_policies()], ["MCA401"]),
    ("policy with list only", [_policies(_policy(["list"]))], ["MCA401"]),
    ("policy for another identity", [_policies(_policy(["get"], object_id="someone-else"))], ["MCA401"]),
    ("policy with all", [_policies(_policy(["all"]))], []),
    ("policy with Get (case)", [_policies(_policy(["Get"]))], []),
    ("objectId in upper case", [_policies(_policy(["get"], object_id=s.OBJECT_ID.upper()))], []),
    ("role on policy vault, no policy", [_policies(), _roles_on_policy_vault(s.SECRETS_USER)],
     ["MCA401", "MCA405"]),
    ("role on policy vault with a good policy", [_roles_on_policy_vault(s.SECRETS_USER)], []),
    ("rbac secrets user at vault", [_rbac(s.SECRETS_USER)], []),
    ("rbac officer at resource group", [_rbac(OFFICER, scope=RESOURCE_GROUP_SCOPE)], []),
    ("rbac admin at subscription", [_rbac(ADMIN, scope=SUBSCRIPTION_SCOPE)], []),
    ("rbac role id in upper case", [_rbac(s.SECRETS_USER.upper())], []),
    ("rbac scope in other case with trailing slash", [_rbac(s.SECRETS_USER, scope=s.VAULT_ID.upper() + "/")], []),
    ("rbac role on a sibling vault (prefix, not parent)", [_rbac(s.SECRETS_USER, scope=s.VAULT_ID + "2")],
     ["MCA402"]),
    ("rbac no role", [_rbac()], ["MCA402"]),
    ("rbac contributor only", [_rbac(s.CONTRIBUTOR)], ["MCA402"]),
    ("rbac key vault reader only", [_rbac(s.KEY_VAULT_READER)], ["MCA403"]),
    ("rbac reader and contributor", [_rbac(s.KEY_VAULT_READER, s.CONTRIBUTOR)], ["MCA403"]),
    ("rbac reader and secrets user", [_rbac(s.KEY_VAULT_READER, s.SECRETS_USER)], []),
    ("rbac custom role with getSecret", [_rbac(s.CUSTOM_SECRET_READER)], []),
    ("rbac custom role without getSecret", [_rbac(s.CUSTOM_METADATA_ONLY)], ["MCA402"]),
    ("rbac custom role not readable", [_rbac(s.UNREADABLE_ROLE)], ["MCA909"]),
    ("rbac unreadable role beside a reading one", [_rbac(s.UNREADABLE_ROLE, s.SECRETS_USER)], []),
    ("rbac no role, leftover policy", [_rbac(keep_policies=True)], ["MCA402", "MCA404"]),
    ("rbac reader, leftover policy", [_rbac(s.KEY_VAULT_READER, keep_policies=True)], ["MCA403", "MCA404"]),
    ("rbac fine, leftover policy is harmless", [_rbac(s.SECRETS_USER, keep_policies=True)], []),
    ("rbac, role listing failed", [_rbac(), lambda snap: s.fail(snap, ("roleAssignments",), "403", 403)], []),
    ("vault in another tenant", [lambda snap: s.vault(snap).update(tenantId=s.OTHER_TENANT)], ["MCA406"]),
    ("tenant in other case", [lambda snap: s.vault(snap).update(tenantId=s.TENANT.upper())], []),
    ("vault tenant unknown", [lambda snap: s.vault(snap).update(tenantId=None)], []),
    ("no add-on identity", [_policies(), lambda snap: s.addon(snap).update(identity=None)], []),
    ("vault unreadable", [lambda snap: s.fail(snap, ("vault",), "403 Forbidden", 403)], []),
    ("no plug-in CA", [_policies(), lambda snap: s.cluster(snap).update(plugin=None)], []),
]


@pytest.mark.parametrize("mutators, expected", [case[1:] for case in GRID], ids=[case[0] for case in GRID])
def test_access_grid(mutators, expected):
    assert s.codes(s.run_module(access.CHECKS, s.applied(*mutators))) == expected


def test_policy_note_names_what_the_identity_has():
    [found] = s.run_module(access.CHECKS, s.applied(_policies(_policy(["list", "set"]))))
    assert "(its policy grants secret permissions: list, set)" in found["message"]
    assert "--object-id {} --secret-permissions get".format(s.OBJECT_ID) in found["remedy"]
    [found] = s.run_module(access.CHECKS, s.applied(_policies()))
    assert "(no access policy names this identity)" in found["message"]


def test_reader_finding_names_the_scope_and_the_right_role():
    [found] = s.run_module(access.CHECKS, s.applied(_rbac(s.KEY_VAULT_READER, scope=RESOURCE_GROUP_SCOPE)))
    assert RESOURCE_GROUP_SCOPE in found["message"]
    assert "Key Vault Secrets User" in found["message"]
    assert "Key Vault Reader at {}".format(RESOURCE_GROUP_SCOPE) in found["evidence"]


def test_rbac_note_lists_roles_held():
    [found] = s.run_module(access.CHECKS, s.applied(_rbac(s.CONTRIBUTOR)))
    assert "Contributor" in found["message"]
    assert "--scope " + s.VAULT_ID in found["remedy"]


def test_role_on_policy_vault_is_named():
    findings = s.run_module(access.CHECKS, s.applied(_policies(), _roles_on_policy_vault(s.SECRETS_USER)))
    assert "Key Vault Secrets User assignment" in findings[1]["message"]


@pytest.mark.parametrize("scope, resource, covered", [
    ("/subscriptions/a", "/subscriptions/a/resourceGroups/b", True),
    ("/subscriptions/a/", "/subscriptions/a", True),
    ("/subscriptions/A/resourceGroups/B", "/subscriptions/a/resourcegroups/b/providers/x", True),
    ("/subscriptions/a/resourceGroups/b", "/subscriptions/a/resourceGroups/bb", False),
    ("/subscriptions/a/resourceGroups/b/providers/x/vaults/kv", "/subscriptions/a/resourceGroups/b", False),
])
def test_scope_covers(scope, resource, covered):
    assert resource_ids.scope_covers(scope, resource) is covered
