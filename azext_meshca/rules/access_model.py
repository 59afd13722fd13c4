"""Can a principal read a given secret of a given vault, and through what?

Pure and the one place that decides it: diagnose's access checks (rules/checks/access.py)
and fix-access's plan (verbs/fixaccess/plan.py) both call :func:`plugin_access`, so the two
commands cannot disagree about whether the add-on identity can read the plug-in CA.

How Key Vault authorises the CSI provider's ``GET secret`` (the provider reads each
object by name: Azure/secrets-store-csi-driver-provider-azure pkg/provider/keyvault.go,
``client.GetSecret`` calls azsecrets ``GetSecret(ctx, name, version)``):

* access-policy vaults: an entry for the caller's objectId, in the vault's tenant,
  whose secret permissions hold ``get`` or ``all``. An entry that also names an
  ``applicationId`` is a compound identity: it applies only when that application acts
  on behalf of the principal, never to the principal's own token, so it grants the
  add-on nothing (azure-rest-api-specs specification/keyvault/resource-manager/
  Microsoft.KeyVault/stable/2023-07-01/keyvault.json ``AccessPolicyEntry.applicationId``:
  "Application ID of the client making request on behalf of a principal").
  Access policies are vault-wide: one entry covers every secret.
* Azure RBAC vaults: a role assignment whose role allows
  ``Microsoft.KeyVault/vaults/secrets/getSecret/action`` (rules/rbac.py) at a scope that
  covers the secret: the secret itself (``<vault-id>/secrets/<name>``, a "secret scope
  role assignment"), the vault, or a parent. An assignment at one secret's scope grants
  that secret only, so the add-on, which needs all four plug-in objects, is judged per
  object.

The verdict for one secret is ``readable``: True, False, or None when it cannot be
decided (the assignments were not listed, or a role's definition could not be read).
"""

from azext_meshca.model.resource_ids import scope_covers
from azext_meshca.model.roles import ROLE_NAMES, role_guid, same_principal
from azext_meshca.rules.rbac import reads_secret_values, unknown_role_reason, writes_secret_values

# The permission models, in the one spelling users see: fix-access's ``--mode``, its plan's
# and scan's ``permissionModel``. ``permission_model`` is the one place that tells them apart.
POLICY = "policy"
RBAC = "rbac"
PERMISSION_MODELS = (POLICY, RBAC)
POLICY_READ = frozenset({"get", "all"})


def _same(left, right):
    """ARM and Entra identifiers compare case-insensitively."""
    return _normal(left) == _normal(right)


def _normal(identifier):
    return str(identifier or "").strip().lower()


def permission_model(vault):
    """POLICY or RBAC: the model Key Vault authorises the vault's data plane with
    (``properties.enableRbacAuthorization``, azure-rest-api-specs keyvault.json VaultProperties)."""
    return RBAC if vault.get("enableRbacAuthorization") else POLICY


def secret_resource_id(vault_id, secret_name):
    """The ARM scope of one secret: ``<vault-id>/secrets/<name>`` (the vault itself when
    the name is unknown, so only vault-wide grants count)."""
    vault_id = str(vault_id or "").rstrip("/")
    return f"{vault_id}/secrets/{secret_name}" if secret_name else vault_id


# --------------------------------------------------------------------------- access policies

def policy_secret_permissions(policy):
    return [str(item).lower() for item in ((policy.get("permissions") or {}).get("secrets") or ())]


def policy_standing(vault, policy):
    """Why an access policy naming the principal does or does not apply to it: None when
    it applies, else a short reason (compound identity, other tenant)."""
    if policy.get("applicationId"):
        return (f"compound identity with application {policy['applicationId']}: applies only when that "
                "application acts for the principal")
    if policy.get("tenantId") and vault.get("tenantId") and not _same(policy["tenantId"], vault["tenantId"]):
        return f"tenant {policy['tenantId']} is not the vault's tenant {vault['tenantId']}"
    return None


def policies_naming(vault, object_id):
    """Every access policy whose objectId is the principal's, applying or not (``_same``'s
    comparison, with the principal's side normalised once for all the vault's policies)."""
    wanted = _normal(object_id)
    return [policy for policy in vault.get("accessPolicies") or () if _normal(policy.get("objectId")) == wanted]


def applying_policies(vault, object_id):
    return [policy for policy in policies_naming(vault, object_id) if policy_standing(vault, policy) is None]


def granted_secret_permissions(vault, object_id):
    """Secret permissions the applying access policies give the principal (lower case, sorted)."""
    return sorted({item for policy in applying_policies(vault, object_id)
                   for item in policy_secret_permissions(policy)})


def policy_verdict(vault, object_id):
    """The access-policy verdict (the same for every secret of the vault)."""
    granted = granted_secret_permissions(vault, object_id)
    readable = bool(POLICY_READ & set(granted))
    via = {"kind": "accessPolicy", "objectId": object_id, "secretPermissions": granted} if readable else None
    return {"readable": readable, "via": via, "secretPermissions": granted}


# --------------------------------------------------------------------------- role assignments

def role_label(assignment):
    """A role's name: the built-in one we know, the custom role's own, or its GUID."""
    guid = role_guid(assignment.get("roleDefinitionId"))
    return ROLE_NAMES.get(guid) or assignment.get("roleName") or "role " + guid


def assignments_covering(assignments, object_id, resource_id):
    """The principal's assignments whose scope covers ``resource_id`` (model/roles.py
    ``same_principal``: the principal test the vault's filter ``assignments_for`` uses)."""
    return [item for item in assignments or ()
            if same_principal(item, object_id) and scope_covers(item.get("scope"), resource_id)]


def rbac_verdict(assignments, object_id, resource_id):
    """The RBAC verdict for one resource (a secret's scope, or the vault's)."""
    if assignments is None:
        return {"readable": None, "via": None, "held": [], "unknown": [], "reason": "role assignments not listed"}
    held = assignments_covering(assignments, object_id, resource_id)
    answers = [reads_secret_values(item) for item in held]
    reading = [item for item, answer in zip(held, answers) if answer is True]
    unknown = [item for item, answer in zip(held, answers) if answer is None]
    if reading:
        first = reading[0]
        via = {"kind": "roleAssignment", "role": role_label(first), "scope": first.get("scope")}
        return {"readable": True, "via": via, "held": held, "unknown": [], "reason": None}
    if unknown:
        return {"readable": None, "via": None, "held": held, "unknown": unknown,
                "reason": unknown_role_reason(unknown[0])}
    return {"readable": False, "via": None, "held": held, "unknown": [], "reason": None}


# --------------------------------------------------------------------------- the plug-in set

def secret_access(vault, assignments, object_id, secret_name, model=None):
    """Can ``object_id`` read secret ``secret_name`` of ``vault``?

    ``assignments``: the principal's role assignments (vault scope, parents and the
    vault's secrets), or None when they could not be listed (RBAC is then undecided).
    ``model``: judge under this permission model instead of the vault's own (fix-access
    asked for ``--mode`` against the vault's model).
    """
    if (model or permission_model(vault)) == POLICY:
        verdict = policy_verdict(vault, object_id)
    else:
        verdict = rbac_verdict(assignments, object_id, secret_resource_id(vault.get("id"), secret_name))
    return _about_secret(verdict, secret_name)


def _about_secret(verdict, secret_name):
    """A copy of ``verdict`` that names the secret it is about; its lists and dicts are
    copied too, so one verdict given to several secrets (plugin_access) stays apart."""
    about = {key: dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) else value
             for key, value in verdict.items()}
    about["secret"] = secret_name
    return about


def combined(verdicts):
    """All readable -> True; any definitely unreadable -> False; else None (undecided)."""
    answers = [verdict["readable"] for verdict in verdicts]
    if answers and all(answer is True for answer in answers):
        return True
    if any(answer is False for answer in answers):
        return False
    return None


def plugin_access(vault, assignments, object_id, secret_names, model=None):
    """The verdict for every plug-in object the add-on must read.

    ``secret_names``: {object: Key Vault secret name or None}. Returns
    ``{"model", "readable", "objects": {object: verdict}}``; ``readable`` is True only
    when every object is readable, False when at least one is not, None otherwise.
    """
    model = model or permission_model(vault)
    if model == POLICY:   # vault-wide: one verdict, a copy of it for each secret (secret_access's shape)
        verdict = policy_verdict(vault, object_id)
        objects = {obj: _about_secret(verdict, name) for obj, name in secret_names.items()}
    else:   # the principal's assignments picked out once, then judged per secret scope
        held = None if assignments is None else [item for item in assignments if same_principal(item, object_id)]
        objects = {obj: secret_access(vault, held, object_id, name, model) for obj, name in secret_names.items()}
    return {"model": model, "readable": combined(objects.values()), "objects": objects}


def unreadable_objects(access, answer=False):
    """The plug-in objects whose verdict is ``answer`` (False: not readable; None: undecided)."""
    return [obj for obj, verdict in access["objects"].items() if verdict["readable"] is answer]


# --------------------------------------------------------------------------- the operator's writes

POLICY_WRITE = frozenset({"set", "all"})


def secret_write_verdict(vault, assignments, object_id, groups=()):
    """May ``object_id`` (or one of its ``groups``) set secrets on ``vault``? az aks mesh ca
    rotate asks before it writes. {canSet: True/False/None, via, reason}. Vault-wide grants
    only: a rotation writes every plug-in object."""
    principals = [object_id] + list(groups or ())
    if permission_model(vault) == POLICY:
        for principal in principals:
            for policy in applying_policies(vault, principal):
                if POLICY_WRITE & set(policy_secret_permissions(policy)):
                    return {"canSet": True, "via": f"access policy for {principal}", "reason": None}
        return {"canSet": False, "via": None,
                "reason": f"no access policy on the vault grants secret 'set' to {object_id}"
                          + (" or its groups" if groups else "")}
    if assignments is None:
        return {"canSet": None, "via": None, "reason": "its role assignments were not listed"}
    unknown = None
    for principal in principals:
        for item in assignments_covering(assignments, principal, vault.get("id")):
            answer = writes_secret_values(item)
            if answer:
                return {"canSet": True, "via": f"{role_label(item)} at {item.get('scope')}", "reason": None}
            if answer is None:
                unknown = item
    if unknown is not None:
        return {"canSet": None, "via": None,
                "reason": f"whether {role_label(unknown)} allows setSecret could not be read: its definition was "
                          f"not read ({unknown_role_reason(unknown)})"}
    return {"canSet": False, "via": None,
            "reason": f"no role assignment at the vault's scope allows setSecret for {object_id}"}


def own_write_grant(vault, operator):
    """Whether the principal's own grants (``operator``: sources/rotation.operator_facts) let it
    set secrets on ``vault``: then its groups need not be read. The same judgement as
    operator_write_verdict, without the groups."""
    return secret_write_verdict(vault, operator.get("assignments"), operator.get("objectId"))["canSet"] is True


def operator_write_verdict(vault, operator):
    """{canSet: True/False/None, via, reason} from the facts sources/rotation.operator_facts read
    (``{objectId, assignments, groups, error, groupsError}``), judged here so a snapshot holds
    facts only and MCA345 judges them afresh. A fact that could not be read leaves the verdict
    undecided (None), never a yes: without the groups, only a grant found elsewhere allows."""
    if operator.get("error"):
        return {"canSet": None, "via": None, "reason": operator["error"]}
    verdict = secret_write_verdict(vault, operator.get("assignments"), operator.get("objectId"),
                                   groups=operator.get("groups") or ())
    if verdict["canSet"] is not True and operator.get("groupsError"):
        verdict = dict(verdict, canSet=None, reason=f"{verdict['reason']}; {operator['groupsError']}")
    return verdict
