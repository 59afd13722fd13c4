"""fix-access's plan (pure): from what was read, the one change needed, none, or a refusal.

The input is a snapshot in diagnose's schema (model/snapshot.py) holding the cluster, the
vault and, on an RBAC vault, the add-on identity's role assignments. Nothing here
judges access itself:

- the preconditions (a plug-in CA, a well-formed keyVaultId, the add-on and its
  identity, a vault in the cluster's tenant) are diagnose's own checks, so a refusal
  carries the catalog finding diagnose would report (MCA101/102/103/104/201/202/406);
- whether the identity can read each plug-in object, and through which policy or
  assignment at which scope, is rules/access_model.py's verdict, the one diagnose's access
  checks turn into MCA401-403/909;
- the network caveats are diagnose's network findings (MCA501/502).

Least privilege: secret ``get`` (optionally ``list``) through an access policy, or Key
Vault Secrets User at the vault's scope, or at each missing secret's scope when the
identity is already granted per secret. Key Vault Reader, which the troubleshooting
article suggests, reads vault metadata only and cannot read secret values.
"""

import uuid

from azure.cli.core.azclierror import InvalidArgumentValueError

from azext_meshca.rules import access_model
from azext_meshca.rules.checks import access as access_checks, build_context
from azext_meshca.rules.checks import addon as addon_checks
from azext_meshca.rules.checks import config as config_checks
from azext_meshca.rules.checks import network as network_checks
from azext_meshca.rules.checks.common import addon_object_id, cluster_data, csi_addon, vault_data
from azext_meshca.model.plugin import secret_names
from azext_meshca.rules.rbac import KEY_VAULT_READER, ROLE_NAMES, SECRETS_USER, role_guid
from azext_meshca.model.resource_ids import parse_vault_id, scope_covers
from azext_meshca.model.snapshot import freeze, ok_data

POLICY = "policy"
RBAC = "rbac"
AUTO = "auto"
MODES = (AUTO, POLICY, RBAC)
READ_PERMISSIONS = ("get", "list")
DEFAULT_SECRET_PERMISSIONS = ("get",)

# Diagnose's checks whose findings stop fix-access, in the order they are asked.
CLUSTER_PRECONDITIONS = (config_checks.check_mesh_mode, config_checks.check_plugin_present,
                         config_checks.check_key_vault_id, addon_checks.check_addon_enabled,
                         addon_checks.check_addon_identity)
VAULT_PRECONDITIONS = (access_checks.check_tenant,)
NETWORK_NOTES = tuple(network_checks.CHECKS)


# --------------------------------------------------------------------------- inputs

def new_state(resource_group, name, tenant_id, cluster):
    """The snapshot fix-access plans from; the vault and assignments are added as read."""
    return {"target": {"resourceGroup": resource_group, "cluster": name, "tenantId": tenant_id},
            "options": {}, "cluster": {"ok": True, "data": cluster, "error": None}, "vault": None,
            "roleAssignments": None, "secrets": {}, "keyFacts": None, "kube": None}


def _run(checks, state):
    frozen = freeze(state)
    context = build_context(frozen)
    return [item for check in checks for item in check(frozen, context)]


def refusal(findings):
    """The first finding that stops fix-access (an error, or MCA102: no plug-in CA), or None."""
    for item in findings:
        if item["severity"] == "error" or item["code"] == "MCA102":
            return item
    return None


def cluster_refusal(state):
    """Why fix-access cannot act on this cluster, as a catalog finding, or None."""
    found = refusal(_run(CLUSTER_PRECONDITIONS, state))
    if found is None and parse_vault_id(plugin_vault_id(state)) is None:
        found = refusal(_run((config_checks.check_plugin_complete,), state))  # keyVaultId not set
    return found


def vault_refusal(state):
    """Why fix-access cannot grant access on this vault (another tenant), or None."""
    return refusal(_run(VAULT_PRECONDITIONS, state))


def plugin_vault_id(state):
    return ((cluster_data(state) or {}).get("plugin") or {}).get("keyVaultId")


def addon_identity(state):
    return csi_addon(state).get("identity") or {}


def resolve_mode(requested, vault):
    """auto follows the vault's permission model."""
    if requested in (None, AUTO):
        return RBAC if vault.get("enableRbacAuthorization") else POLICY
    return requested


def normalise_secret_permissions(secret_permissions):
    """Lower-cased, de-duplicated, 'get' required: the CSI provider reads with GET secret."""
    wanted = []
    for item in secret_permissions or DEFAULT_SECRET_PERMISSIONS:
        item = str(item).lower()
        if item not in READ_PERMISSIONS:
            raise InvalidArgumentValueError("--secret-permissions accepts only get and list: fix-access grants "
                                            "read access, nothing more.")
        if item not in wanted:
            wanted.append(item)
    if "get" not in wanted:
        raise InvalidArgumentValueError("--secret-permissions must include get: the CSI provider reads each "
                                        "plug-in object with GET secret.")
    return wanted


# --------------------------------------------------------------------------- the verdict

def plugin_access(state, model):
    """access_model's verdict for the four plug-in objects, under ``model`` (policy or rbac)."""
    vault = vault_data(state)
    plugin = (cluster_data(state) or {}).get("plugin")
    return access_model.plugin_access(vault, ok_data(state.get("roleAssignments")), addon_object_id(state),
                                      secret_names(plugin),
                                      model=access_model.RBAC if model == RBAC else access_model.ACCESS_POLICIES)


def _objects_view(access):
    return {obj: {"readable": verdict["readable"], "via": verdict["via"]}
            for obj, verdict in access["objects"].items()}


def missing_secret_permissions(granted, wanted):
    """The wanted permissions a policy lacks, in the order asked for ('all' covers all)."""
    granted = {item.lower() for item in granted}
    if "all" in granted:
        return []
    return [item for item in wanted if item not in granted]


def role_name(role_definition_id):
    guid = role_guid(role_definition_id)
    return ROLE_NAMES.get(guid, "role " + guid)


def full_role_definition_id(subscription_id, guid):
    """The full ID ARM wants in a role assignment (a bare GUID is refused)."""
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def assignment_name(scope, principal_id, guid):
    """A name derived from what is assigned, so a retried run targets the same assignment."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL,
                          f"meshca-fix-access|{scope.lower().rstrip('/')}|{principal_id.lower()}|{guid.lower()}"))


# --------------------------------------------------------------------------- planning

def plan_policy(state, secret_permissions):
    """(current, change, summary, notes) for an access-policy grant."""
    vault, object_id = vault_data(state), addon_object_id(state)
    access = plugin_access(state, POLICY)
    granted = next(iter(access["objects"].values()))["secretPermissions"]
    missing = missing_secret_permissions(granted, secret_permissions)
    current = {"secretPermissions": granted, "readable": access["readable"], "objects": _objects_view(access)}
    notes = []
    if vault.get("enableRbacAuthorization"):
        notes.append(f"Vault {vault.get('name')} uses Azure RBAC, so Key Vault ignores access policies until it is "
                     "switched to the access-policy model.")
    for policy in access_model.policies_naming(vault, object_id):
        standing = access_model.policy_standing(vault, policy)
        if standing:
            notes.append(f"An access policy names the add-on identity but does not grant it access: {standing}.")
    if not missing:
        return (current, None,
                f"Nothing to do: the add-on identity's access policy already grants secret "
                f"{', '.join(secret_permissions)}.", notes)
    change = {
        "kind": "accessPolicyAdd",
        "request": f"PUT {vault['id']}/accessPolicies/add",
        "objectId": object_id,
        "tenantId": vault.get("tenantId"),
        "addSecretPermissions": missing,
        "secretPermissionsAfter": sorted(set(granted) | set(missing)),
    }
    if granted:
        summary = (f"Extend the add-on identity's access policy with secret {', '.join(missing)} "
                   f"(it has {', '.join(granted)}).")
    else:
        summary = f"Add an access policy granting the add-on identity secret {', '.join(missing)}."
    if "list" in missing:
        notes.append("The CSI provider needs only secret get; list is granted because --secret-permissions "
                     "asked for it.")
    return current, change, summary, notes


def _held(access):
    """Every assignment that applies to some plug-in object, once."""
    seen, held = set(), []
    for verdict in access["objects"].values():
        for item in verdict["held"]:
            key = (item.get("scope"), item.get("roleDefinitionId"))
            if key not in seen:
                seen.add(key)
                held.append(item)
    return held


def grant_scopes(access, vault_id, plugin):
    """Where Key Vault Secrets User goes: the vault, or, when the identity is already
    granted per secret (some object readable through a secret-scope assignment), each
    secret it cannot read yet. [(scope, [objects])]"""
    missing = [obj for obj, verdict in access["objects"].items() if verdict["readable"] is not True]
    names = secret_names(plugin)
    per_secret = any(verdict["via"] and not scope_covers(verdict["via"]["scope"], vault_id)
                     for verdict in access["objects"].values())
    if per_secret and all(names[obj] for obj in missing):
        return [(access_model.secret_resource_id(vault_id, names[obj]), [obj]) for obj in missing]
    return [(vault_id, missing)]


def _readers_summary(access):
    vias = []
    for verdict in access["objects"].values():
        text = f"{verdict['via']['role']} at {verdict['via']['scope']}"
        if text not in vias:
            vias.append(text)
    return "; ".join(vias)


def plan_rbac(state):
    """(current, change, summary, notes) for Key Vault Secrets User role assignment(s)."""
    vault, object_id = vault_data(state), addon_object_id(state)
    plugin = (cluster_data(state) or {}).get("plugin")
    access = plugin_access(state, RBAC)
    held = _held(access)
    current = {"roles": [{"roleName": access_model.role_label(item), "scope": item.get("scope")} for item in held],
               "readable": access["readable"], "objects": _objects_view(access)}
    notes = []
    if not vault.get("enableRbacAuthorization"):
        notes.append(f"Vault {vault.get('name')} uses access policies, so this role grants no secret access until "
                     "the vault is switched to Azure RBAC.")
    if access["readable"]:
        return current, None, f"Nothing to do: the add-on identity already holds {_readers_summary(access)}.", notes
    for reader in [item for item in held if role_guid(item.get("roleDefinitionId")) == KEY_VAULT_READER]:
        notes.append(f"Key Vault Reader at {reader.get('scope')} reads vault metadata only, not secret values; it is "
                     "left in place and Key Vault Secrets User is added.")
    undecided = access_model.unreadable_objects(access, answer=None)
    if undecided:
        notes.append(f"Whether the add-on identity can read {', '.join(undecided)} is unknown "
                     f"({access['objects'][undecided[0]]['reason']}): Key Vault Secrets User is added all the same.")
    assignments = []
    for scope, objects in grant_scopes(access, vault["id"], plugin):
        name = assignment_name(scope, object_id, SECRETS_USER)
        assignments.append({"scope": scope, "objects": objects, "assignmentName": name,
                            "request": f"PUT {scope}/providers/Microsoft.Authorization/roleAssignments/{name}"})
    change = {
        "kind": "roleAssignment",
        "roleName": ROLE_NAMES[SECRETS_USER],
        "roleDefinitionId": full_role_definition_id(vault["subscriptionId"], SECRETS_USER),
        "principalId": object_id,
        "principalType": "ServicePrincipal",
        "assignments": assignments,
    }
    if len(assignments) == 1:
        change.update({key: assignments[0][key] for key in ("scope", "assignmentName", "request")})
    if assignments[0]["scope"] == vault["id"]:
        summary = "Assign Key Vault Secrets User to the add-on identity at the vault's scope."
    else:
        secrets = ", ".join(item["scope"].rsplit("/", 1)[-1] for item in assignments)
        summary = f"Assign Key Vault Secrets User to the add-on identity at the scope of secret {secrets}."
    return current, change, summary, notes


def network_notes(state):
    """Access is necessary, not sufficient: diagnose's network findings, as notes."""
    return [f"{item['code']}: {item['message']}" for item in _run(NETWORK_NOTES, state)]


def plan_fix(state, mode, secret_permissions, permissions_given=False):
    """The whole plan as the dict fix-access prints (pure: no I/O)."""
    if mode == POLICY:
        current, change, summary, notes = plan_policy(state, secret_permissions)
    else:
        current, change, summary, notes = plan_rbac(state)
        if permissions_given:
            notes.append("--secret-permissions applies to access policies only; it is ignored for a role "
                         "assignment.")
    target = state["target"]
    return {
        "cluster": {"resourceGroup": target["resourceGroup"], "name": target["cluster"]},
        "identity": _identity_view(addon_identity(state), target["cluster"]),
        "vault": _vault_view(vault_data(state)),
        "mode": mode,
        "current": current,
        "change": change,
        "summary": summary,
        "notes": notes + network_notes(state),
    }


def _identity_view(identity, cluster_name):
    resource_id = identity.get("resourceId") or ""
    name = resource_id.rstrip("/").rsplit("/", 1)[-1] if resource_id else \
        "azurekeyvaultsecretsprovider-" + cluster_name
    return {"name": name, "objectId": identity.get("objectId"), "clientId": identity.get("clientId"),
            "resourceId": identity.get("resourceId")}


def _vault_view(vault):
    return {
        "id": vault.get("id"),
        "name": vault.get("name"),
        "resourceGroup": vault.get("resourceGroup"),
        "subscriptionId": vault.get("subscriptionId"),
        "tenantId": vault.get("tenantId"),
        "permissionModel": RBAC if vault.get("enableRbacAuthorization") else "accessPolicies",
    }
