"""Access checks (MCA4xx): can the add-on identity read the secret VALUES?

Judged from the vault's configuration (access model, policies, role assignments) and
never from a 403 the operator got: the operator's access says nothing about the
add-on's. Two access models exist:

* access policies: the CSI provider does GET secret, so a policy for the add-on's
  objectId must grant secret ``get`` (or ``all``);
* Azure RBAC: a role that can read secret values at the secret's own scope, the vault
  scope or a parent, for each of the four plug-in objects. Key Vault Reader, which the
  troubleshooting article suggests, reads metadata only.

Whether the add-on can read an object is decided in one place, rules/access_model.py, which
fix-access's plan calls too; these checks turn its verdict into findings.

The "wrong model" warnings (MCA404 policy on an RBAC vault, MCA405 role on a policy
vault) are reported only alongside the missing-access error they explain: on their
own they are harmless leftovers.
"""

from azext_meshca.rules import access_model
from azext_meshca.rules.registry import rule
from azext_meshca.rules.checks.common import addon_object_id, make, plugin_config, same_id, secret_name, vault_data
from azext_meshca.model.plugin import PLUGIN_OBJECTS, secret_names
from azext_meshca.rules.rbac import KEY_VAULT_READER, ROLE_NAMES, role_guid
from azext_meshca.model.snapshot import ok_data


def add_on_access(snapshot, vault, object_id):
    """The access model's verdict for the four plug-in objects (rules/access_model.py)."""
    return access_model.plugin_access(vault, ok_data(snapshot.get("roleAssignments")), object_id,
                                      secret_names(plugin_config(snapshot)))


def _policy_evidence(vault, object_id):
    lines = []
    for policy in access_model.policies_naming(vault, object_id):
        standing = access_model.policy_standing(vault, policy)
        permissions = ", ".join(access_model.policy_secret_permissions(policy))
        note = f" (does not apply: {standing})" if standing else ""
        lines.append(f"access policy for {object_id}: secrets [{permissions}]{note}")
    return lines


def foreign_tenant(snapshot, vault):
    """The vault's tenant when it is not the cluster subscription's (MCA406), else None."""
    cluster_tenant = (snapshot.get("target") or {}).get("tenantId")
    vault_tenant = vault.get("tenantId")
    if not vault_tenant or not cluster_tenant or same_id(vault_tenant, cluster_tenant):
        return None
    return vault_tenant


def _access_inputs(snapshot):
    """(vault, object_id) when access can be judged, else (None, None). A vault in
    another tenant is MCA406 alone: the add-on cannot even authenticate to it."""
    vault = vault_data(snapshot)
    object_id = addon_object_id(snapshot)
    if plugin_config(snapshot) is None or vault is None or not object_id or foreign_tenant(snapshot, vault):
        return None, None
    return vault, object_id


@rule("MCA406", inputs=("cluster", "vault"))
def check_tenant(snapshot, context):
    """MCA406: the vault lives in another tenant than the cluster's subscription."""
    vault = vault_data(snapshot)
    if plugin_config(snapshot) is None or vault is None or not foreign_tenant(snapshot, vault):
        return []
    vault_tenant = foreign_tenant(snapshot, vault)
    cluster_tenant = snapshot["target"]["tenantId"]
    return [make(context, "MCA406", "vault",
                 evidence=[f"vault properties.tenantId: {vault_tenant}",
                           f"cluster subscription tenantId: {cluster_tenant}"],
                 vault_tenant=vault_tenant, cluster_tenant=cluster_tenant)]


@rule("MCA401", "MCA405", inputs=("cluster", "vault"))
def check_access_policy(snapshot, context):
    """MCA401 (+ MCA405): an access-policy vault without secret 'get' for the add-on."""
    vault, object_id = _access_inputs(snapshot)
    if vault is None or vault.get("enableRbacAuthorization"):
        return []
    if add_on_access(snapshot, vault, object_id)["readable"]:
        return []
    if access_model.applying_policies(vault, object_id):
        granted = access_model.granted_secret_permissions(vault, object_id)
        note = f" (its policy grants secret permissions: {', '.join(granted) or 'none'})"
    elif access_model.policies_naming(vault, object_id):
        note = " (the policies naming this identity do not apply to it alone)"
    else:
        note = " (no access policy names this identity)"
    evidence = ["enableRbacAuthorization: false"] + _policy_evidence(vault, object_id)
    findings = [make(context, "MCA401", "vault", evidence=evidence, current_note=note)]
    findings += _roles_on_policy_vault(snapshot, context, vault, object_id)
    return findings


def _roles_on_policy_vault(snapshot, context, vault, object_id):
    """MCA405: Key Vault roles that do nothing on an access-policy vault."""
    assignments = ok_data(snapshot.get("roleAssignments")) or []
    vault_id = vault.get("id") or context["vault_id"]
    names = sorted({ROLE_NAMES[role_guid(item.get("roleDefinitionId"))] for item in assignments
                    if role_guid(item.get("roleDefinitionId")) in ROLE_NAMES
                    and (not item.get("principalId") or same_id(item.get("principalId"), object_id))
                    and access_model.within_vault(item.get("scope"), vault_id)})
    if not names:
        return []
    return [make(context, "MCA405", "vault", evidence=[f"role assignments: {', '.join(names)}"],
                 role=", ".join(names))]


def _objects_text(objects, plugin):
    if len(objects) == len(PLUGIN_OBJECTS):
        return "the plug-in CA secrets"
    return ", ".join(f"{obj} (secret {secret_name(plugin, obj) or obj})" for obj in objects)


def _rbac_evidence(access, plugin):
    """Each role assignment that applies once, then the objects no role lets it read."""
    lines = ["enableRbacAuthorization: true"]
    for verdict in access["objects"].values():
        for item in verdict["held"]:
            line = f"{access_model.role_label(item)} at {item.get('scope')}"
            if line not in lines:
                lines.append(line)
    readable = [obj for obj, verdict in access["objects"].items() if verdict["readable"]]
    if readable:
        lines.append("readable: " + ", ".join(readable))
        lines.append("not readable: " + _objects_text(access_model.unreadable_objects(access), plugin))
    return lines


@rule("MCA402", "MCA403", "MCA404", "MCA909", inputs=("cluster", "vault", "roleAssignments"))
def check_rbac(snapshot, context):
    """MCA402 / MCA403 / MCA909 (+ MCA404): an RBAC vault where some plug-in object is not
    readable by a role at the secret's scope, the vault or a parent."""
    vault, object_id = _access_inputs(snapshot)
    if vault is None or not vault.get("enableRbacAuthorization"):
        return []
    if ok_data(snapshot.get("roleAssignments")) is None:
        return []  # the listing failed: MCA903 says RBAC was not checked
    access = add_on_access(snapshot, vault, object_id)
    if access["readable"]:
        return []
    plugin = plugin_config(snapshot)
    evidence = _rbac_evidence(access, plugin)
    findings = []
    undecided = access_model.unreadable_objects(access, answer=None)
    if undecided:  # a role we could not read may well grant access: say so, judge nothing
        unknown = [item for obj in undecided for item in access["objects"][obj]["unknown"]]
        findings.append(make(context, "MCA909", "vault", evidence=evidence,
                             roles=", ".join(sorted({access_model.role_label(item) for item in unknown})),
                             reason=unknown[0].get("grantsSecretReadError") or "unknown"))
    denied = access_model.unreadable_objects(access, answer=False)
    if not denied:
        return findings
    held = [item for obj in denied for item in access["objects"][obj]["held"]]
    readers = [item for item in held if role_guid(item.get("roleDefinitionId")) == KEY_VAULT_READER]
    if readers:
        findings.append(make(context, "MCA403", "vault", evidence=evidence, scope=readers[0].get("scope")))
    else:
        names = sorted({access_model.role_label(item) for item in held})
        note = (f" (it holds: {', '.join(names)})" if names
                else " (it holds no role at the vault or above)")
        findings.append(make(context, "MCA402", "vault", evidence=evidence, current_note=note,
                             objects=_objects_text(denied, plugin)))
    findings += _policies_on_rbac_vault(context, vault, object_id)
    return findings


def _policies_on_rbac_vault(context, vault, object_id):
    """MCA404: an access policy that an RBAC vault ignores."""
    evidence = _policy_evidence(vault, object_id)
    if not evidence:
        return []
    return [make(context, "MCA404", "vault", evidence=evidence)]


CHECKS = [check_tenant, check_access_policy, check_rbac]
