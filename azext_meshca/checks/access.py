"""Access checks (MCA4xx): can the add-on identity read the secret VALUES?

Judged from the vault's configuration (access model, policies, role assignments) and
never from a 403 the operator got: the operator's access says nothing about the
add-on's. Two access models exist (FACTS.md section 4):

* access policies: the CSI provider does GET secret, so a policy for the add-on's
  objectId must grant secret ``get`` (or ``all``);
* Azure RBAC: a role that can read secret values at the vault scope or a parent.
  Key Vault Reader, which the troubleshooting article suggests, reads metadata only.

The "wrong model" warnings (MCA404 policy on an RBAC vault, MCA405 role on a policy
vault) are reported only alongside the missing-access error they explain: on their
own they are harmless leftovers.
"""

from azext_meshca.rules import rule
from azext_meshca.checks.common import (
    addon_object_id, make, plugin_config, same_id, vault_data)
from azext_meshca.rbac import KEY_VAULT_READER, ROLE_NAMES, reads_secret_values, role_guid
from azext_meshca.resource_ids import scope_covers
from azext_meshca.snapshot import ok_data

READ_PERMISSIONS = {"get", "all"}


def role_label(assignment):
    """A role's name: the built-in one we know, the custom role's own, or its GUID."""
    guid = role_guid(assignment.get("roleDefinitionId"))
    return ROLE_NAMES.get(guid) or assignment.get("roleName") or "role " + guid


def add_on_assignments(snapshot, vault_id, object_id):
    """The add-on identity's role assignments that apply to the vault, or None if unknown."""
    assignments = ok_data(snapshot.get("roleAssignments"))
    if assignments is None:
        return None
    return [item for item in assignments
            if (not item.get("principalId") or same_id(item.get("principalId"), object_id))
            and scope_covers(item.get("scope"), vault_id)]


def add_on_policies(vault, object_id):
    return [policy for policy in vault.get("accessPolicies") or ()
            if same_id(policy.get("objectId"), object_id)]


def secret_permissions(policy):
    return [str(item).lower() for item in ((policy.get("permissions") or {}).get("secrets") or ())]


def _access_inputs(snapshot):
    """(vault, object_id) when access can be judged, else (None, None)."""
    vault = vault_data(snapshot)
    object_id = addon_object_id(snapshot)
    if plugin_config(snapshot) is None or vault is None or not object_id:
        return None, None
    return vault, object_id


@rule("MCA406", inputs=("cluster", "vault"))
def check_tenant(snapshot, context):
    """MCA406: the vault lives in another tenant than the cluster's subscription."""
    vault = vault_data(snapshot)
    cluster_tenant = (snapshot.get("target") or {}).get("tenantId")
    if plugin_config(snapshot) is None or vault is None:
        return []
    vault_tenant = vault.get("tenantId")
    if not vault_tenant or not cluster_tenant or same_id(vault_tenant, cluster_tenant):
        return []
    return [make(context, "MCA406", "vault",
                 evidence=["vault properties.tenantId: {}".format(vault_tenant),
                           "cluster subscription tenantId: {}".format(cluster_tenant)],
                 vault_tenant=vault_tenant, cluster_tenant=cluster_tenant)]


@rule("MCA401", "MCA405", inputs=("cluster", "vault"))
def check_access_policy(snapshot, context):
    """MCA401 (+ MCA405): an access-policy vault without secret 'get' for the add-on."""
    vault, object_id = _access_inputs(snapshot)
    if vault is None or vault.get("enableRbacAuthorization"):
        return []
    policies = add_on_policies(vault, object_id)
    if any(READ_PERMISSIONS & set(secret_permissions(policy)) for policy in policies):
        return []
    if policies:
        granted = sorted({item for policy in policies for item in secret_permissions(policy)})
        note = " (its policy grants secret permissions: {})".format(", ".join(granted) or "none")
    else:
        note = " (no access policy names this identity)"
    evidence = ["enableRbacAuthorization: false"] + [
        "access policy for {}: secrets [{}]".format(object_id, ", ".join(secret_permissions(policy)))
        for policy in policies]
    findings = [make(context, "MCA401", "vault", evidence=evidence, current_note=note)]
    findings += _roles_on_policy_vault(snapshot, context, vault, object_id)
    return findings


def _roles_on_policy_vault(snapshot, context, vault, object_id):
    """MCA405: Key Vault roles that do nothing on an access-policy vault."""
    assignments = add_on_assignments(snapshot, vault.get("id") or context["vault_id"], object_id) or []
    names = sorted({ROLE_NAMES[role_guid(item.get("roleDefinitionId"))] for item in assignments
                    if role_guid(item.get("roleDefinitionId")) in ROLE_NAMES})
    if not names:
        return []
    return [make(context, "MCA405", "vault", evidence=["role assignments: {}".format(", ".join(names))],
                 role=", ".join(names))]


@rule("MCA402", "MCA403", "MCA404", "MCA909", inputs=("cluster", "vault", "roleAssignments"))
def check_rbac(snapshot, context):
    """MCA402 / MCA403 (+ MCA404): an RBAC vault without a role that reads secret values."""
    vault, object_id = _access_inputs(snapshot)
    if vault is None or not vault.get("enableRbacAuthorization"):
        return []
    vault_id = vault.get("id") or context["vault_id"]
    assignments = add_on_assignments(snapshot, vault_id, object_id)
    if assignments is None:
        return []  # the listing failed: MCA903 says RBAC was not checked
    verdicts = [reads_secret_values(item) for item in assignments]
    if True in verdicts:
        return []
    guids = [role_guid(item.get("roleDefinitionId")) for item in assignments]
    evidence = ["enableRbacAuthorization: true"] + [
        "{} at {}".format(role_label(item), item.get("scope")) for item in assignments]
    unknown = [item for item, verdict in zip(assignments, verdicts) if verdict is None]
    if unknown:  # a role we could not read may well grant access: say so, judge nothing
        return [make(context, "MCA909", "vault", evidence=evidence,
                     roles=", ".join(sorted({role_label(item) for item in unknown})),
                     reason=unknown[0].get("grantsSecretReadError") or "unknown")]
    if KEY_VAULT_READER in guids:
        reader = assignments[guids.index(KEY_VAULT_READER)]
        findings = [make(context, "MCA403", "vault", evidence=evidence, scope=reader.get("scope"))]
    else:
        held = sorted({role_label(item) for item in assignments})
        note = (" (it holds: {})".format(", ".join(held)) if held
                else " (it holds no role at the vault or above)")
        findings = [make(context, "MCA402", "vault", evidence=evidence, current_note=note)]
    findings += _policies_on_rbac_vault(context, vault, object_id)
    return findings


def _policies_on_rbac_vault(context, vault, object_id):
    """MCA404: an access policy that an RBAC vault ignores."""
    policies = add_on_policies(vault, object_id)
    if not policies:
        return []
    return [make(context, "MCA404", "vault", evidence=[
        "access policy for {}: secrets [{}]".format(object_id, ", ".join(secret_permissions(policy)))
        for policy in policies])]


CHECKS = [check_tenant, check_access_policy, check_rbac]
