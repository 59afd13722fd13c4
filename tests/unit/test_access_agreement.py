"""diagnose and fix-access agree on access, by construction.

Both read access from rules/access_model.py. This grid feeds the SAME snapshot (vault state,
role assignments, plug-in secret names) to diagnose's access checks and to fix-access's
plan, and compares their verdicts: readable (no MCA401/402/403/909; nothing to do),
denied (an access error; a change is planned), or unknown (MCA909; fix-access says it
cannot tell and adds Key Vault Secrets User all the same). Per object too: the plug-in
objects fix-access grants are the ones diagnose names as unreadable.
"""

import pytest

from azext_meshca.rules.checks import access
from azext_meshca.verbs.fixaccess import plan as planning
from azext_meshca.model.snapshot import collected
from tests.unit import snapshots as s

OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
RG_SCOPE = "/subscriptions/{}/resourceGroups/{}".format(s.SUBSCRIPTION, s.VAULT_RESOURCE_GROUP)
SIBLING = s.VAULT_ID + "2"
OBJECTS = ("root-cert", "ca-cert", "ca-key", "cert-chain")
ACCESS_ERRORS = {"MCA401", "MCA402", "MCA403"}


def secret_scope(obj, vault_id=s.VAULT_ID):
    return "{}/secrets/{}".format(vault_id, s.SECRET_NAMES[obj])


def policy(secrets, **extra):
    entry = {"tenantId": s.TENANT, "objectId": s.OBJECT_ID, "permissions": {"secrets": list(secrets)}}
    entry.update(extra)
    return entry


def policy_vault(*policies):
    def mutate(snapshot):
        s.vault(snapshot)["enableRbacAuthorization"] = False
        s.vault(snapshot)["accessPolicies"] = list(policies)
        snapshot["roleAssignments"] = None
    return mutate


def rbac_vault(*grants, policies=()):
    """grants: (role guid, scope) pairs for the add-on identity."""
    def mutate(snapshot):
        s.vault(snapshot)["enableRbacAuthorization"] = True
        s.vault(snapshot)["accessPolicies"] = list(policies)
        snapshot["roleAssignments"] = collected([s._assignment(index, guid, scope)  # pylint: disable=protected-access
                                                 for index, (guid, scope) in enumerate(grants)])
    return mutate


def each_secret(guid, objects=OBJECTS, vault_id=s.VAULT_ID):
    return [(guid, secret_scope(obj, vault_id)) for obj in objects]


STATES = [
    # access policies
    ("policy get", policy_vault(policy(["get"])), "readable", []),
    ("policy all", policy_vault(policy(["All"])), "readable", []),
    ("policy list only", policy_vault(policy(["list"])), "denied", list(OBJECTS)),
    ("no policy", policy_vault(), "denied", list(OBJECTS)),
    ("compound identity only", policy_vault(policy(["get"], applicationId="66666666-6666-6666-6666-666666666666")),
     "denied", list(OBJECTS)),
    ("compound identity beside a plain policy",
     policy_vault(policy(["get"], applicationId="66666666-6666-6666-6666-666666666666"), policy(["get"])),
     "readable", []),
    ("policy in another tenant", policy_vault(policy(["get"], tenantId=s.OTHER_TENANT)), "denied", list(OBJECTS)),
    # RBAC at the vault and above
    ("secrets user at vault", rbac_vault((s.SECRETS_USER, s.VAULT_ID)), "readable", []),
    ("officer at resource group", rbac_vault((OFFICER, RG_SCOPE)), "readable", []),
    ("reader at vault", rbac_vault((s.KEY_VAULT_READER, s.VAULT_ID)), "denied", list(OBJECTS)),
    ("no role", rbac_vault(), "denied", list(OBJECTS)),
    ("secrets user on a sibling vault", rbac_vault((s.SECRETS_USER, SIBLING)), "denied", list(OBJECTS)),
    ("ignored policy on an rbac vault", rbac_vault(policies=[policy(["get"])]), "denied", list(OBJECTS)),
    # RBAC at secret scope
    ("secrets user on each secret", rbac_vault(*each_secret(s.SECRETS_USER)), "readable", []),
    ("secrets user on three secrets", rbac_vault(*each_secret(s.SECRETS_USER, ("root-cert", "ca-cert", "cert-chain"))),
     "denied", ["ca-key"]),
    ("secrets user on another secret only", rbac_vault((s.SECRETS_USER, s.VAULT_ID + "/secrets/unrelated")),
     "denied", list(OBJECTS)),
    ("secrets user on a sibling vault's secrets", rbac_vault(*each_secret(s.SECRETS_USER, vault_id=SIBLING)),
     "denied", list(OBJECTS)),
    ("secret scope plus vault scope", rbac_vault((s.SECRETS_USER, secret_scope("ca-key")),
                                                 (s.SECRETS_USER, s.VAULT_ID)), "readable", []),
    # custom roles
    ("custom role with getSecret", rbac_vault((s.CUSTOM_SECRET_READER, s.VAULT_ID)), "readable", []),
    ("custom role without getSecret", rbac_vault((s.CUSTOM_METADATA_ONLY, s.VAULT_ID)), "denied", list(OBJECTS)),
    ("custom role on each secret", rbac_vault(*each_secret(s.CUSTOM_SECRET_READER)), "readable", []),
    ("unreadable custom role", rbac_vault((s.UNREADABLE_ROLE, s.VAULT_ID)), "unknown", list(OBJECTS)),
    ("unreadable custom role beside secrets user", rbac_vault((s.UNREADABLE_ROLE, s.VAULT_ID),
                                                              (s.SECRETS_USER, s.VAULT_ID)), "readable", []),
    ("unreadable role on one secret, secrets user on the rest",
     rbac_vault((s.UNREADABLE_ROLE, secret_scope("ca-key")),
                *each_secret(s.SECRETS_USER, ("root-cert", "ca-cert", "cert-chain"))), "unknown", ["ca-key"]),
]


def diagnose_verdict(snapshot):
    codes = set(s.codes(s.run_module(access.CHECKS, snapshot)))
    if codes & ACCESS_ERRORS:
        return "denied"
    if "MCA909" in codes:
        return "unknown"
    return "readable"


def fix_access_plan(snapshot):
    return planning.plan_fix(snapshot, planning.resolve_mode("auto", s.vault(snapshot)), ["get"])


def fix_access_verdict(plan):
    readable = plan["current"]["readable"]
    verdict = {True: "readable", False: "denied", None: "unknown"}[readable]
    assert (plan["change"] is None) == (verdict == "readable"), plan
    return verdict


@pytest.mark.parametrize("mutate, expected, objects", [case[1:] for case in STATES], ids=[c[0] for c in STATES])
def test_diagnose_and_fix_access_give_the_same_verdict(mutate, expected, objects):
    snapshot = s.applied(mutate)
    plan = fix_access_plan(snapshot)
    assert diagnose_verdict(snapshot) == fix_access_verdict(plan) == expected
    unreadable = [obj for obj, view in plan["current"]["objects"].items() if view["readable"] is not True]
    assert unreadable == objects


@pytest.mark.parametrize("mutate, expected, objects", [case[1:] for case in STATES if case[2] == "denied"],
                         ids=[c[0] for c in STATES if c[2] == "denied"])
def test_fix_access_grants_exactly_what_diagnose_reports_missing(mutate, expected, objects):
    snapshot = s.applied(mutate)
    change = fix_access_plan(snapshot)["change"]
    if change["kind"] == "roleAssignment":
        granted = [obj for item in change["assignments"] for obj in item["objects"]]
        assert granted == objects
    [error] = [item for item in s.run_module(access.CHECKS, snapshot) if item["code"] in ACCESS_ERRORS]
    if len(objects) < len(OBJECTS):
        assert all("{} (secret {})".format(obj, s.SECRET_NAMES[obj]) in error["message"] for obj in objects)


def test_per_secret_grants_are_extended_per_secret():
    """Three secrets granted at their own scope: fix-access grants the fourth there, not the vault."""
    snapshot = s.applied(rbac_vault(*each_secret(s.SECRETS_USER, ("root-cert", "ca-cert", "cert-chain"))))
    change = fix_access_plan(snapshot)["change"]
    assert change["scope"] == secret_scope("ca-key")
    assert [item["scope"] for item in change["assignments"]] == [secret_scope("ca-key")]


def test_vault_wide_when_nothing_is_granted_per_secret():
    change = fix_access_plan(s.applied(rbac_vault((s.KEY_VAULT_READER, s.VAULT_ID))))["change"]
    assert change["scope"] == s.VAULT_ID
