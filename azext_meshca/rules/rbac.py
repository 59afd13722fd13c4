"""Which Azure roles let a principal read Key Vault secret values (and, for rotate, set them).

Pure. The CSI provider calls GET secret, which Azure RBAC authorises as the data
action ``Microsoft.KeyVault/vaults/secrets/getSecret/action``. Three built-in roles
grant it; any custom role whose dataActions match it (wildcards included) and whose
notDataActions do not, grants it too. Key Vault Reader does not: it reads metadata.
The role names and GUIDs are in model/roles.py.
"""

import re

from azext_meshca.model.roles import ADMINISTRATOR, KNOWN_ROLES, SECRETS_OFFICER, SECRETS_USER, role_guid

GET_SECRET_ACTION = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
SECRET_READING_ROLES = frozenset({SECRETS_USER, SECRETS_OFFICER, ADMINISTRATOR})
# az aks mesh ca rotate writes versions: PUT secret is the data action setSecret
# (learn.microsoft.com/azure/role-based-access-control/permissions/security, Microsoft.KeyVault).
SET_SECRET_ACTION = "Microsoft.KeyVault/vaults/secrets/setSecret/action"
# Key Vault Secrets Officer and Administrator hold Microsoft.KeyVault/vaults/secrets/*; Secrets User reads only.
SECRET_WRITING_ROLES = frozenset({SECRETS_OFFICER, ADMINISTRATOR})


def action_matches(pattern, action):
    """Azure's permission patterns: case-insensitive, '*' matches any run of characters."""
    regex = "^" + ".*".join(re.escape(part) for part in str(pattern).split("*")) + "$"
    return re.match(regex, action, re.IGNORECASE) is not None


def permissions_grant(permissions, action=GET_SECRET_ACTION):
    """True when some permission block allows ``action`` in dataActions and does not
    take it away again in notDataActions."""
    for block in permissions or ():
        allowed = any(action_matches(pattern, action) for pattern in block.get("dataActions") or ())
        denied = any(action_matches(pattern, action) for pattern in block.get("notDataActions") or ())
        if allowed and not denied:
            return True
    return False


def reads_secret_values(assignment):
    """True / False for an assignment's role, or None when its definition is unknown.

    Collectors copy the ``permissions`` of each role outside KNOWN_ROLES from its
    definition, as ARM returns them (absent, with ``roleDefinitionError``, when the
    definition could not be read); they are judged here, so ``--from-snapshot`` judges a
    custom role afresh. A snapshot exported before that carries the old collector's
    verdict, ``grantsSecretRead``, instead: it is read as a fallback.
    """
    granted = _role_grants(assignment, SECRET_READING_ROLES, GET_SECRET_ACTION)
    return assignment.get("grantsSecretRead") if granted is None else granted


def unknown_role_reason(assignment):
    """Why an assignment's role could not be judged (its definition was not read)."""
    return assignment.get("roleDefinitionError") or assignment.get("grantsSecretReadError") or "unknown"


def writes_secret_values(assignment):
    """True / False for an assignment's role setting secrets, or None when its definition
    is unknown (the same judgement as reads_secret_values, for setSecret)."""
    return _role_grants(assignment, SECRET_WRITING_ROLES, SET_SECRET_ACTION)


def _role_grants(assignment, granting_roles, action):
    """Whether an assignment's role allows ``action``: a built-in role by its GUID (True in
    ``granting_roles``, False for the other known roles), a custom role from the permissions
    the collector copied from its definition; None when those were not read."""
    guid = role_guid(assignment.get("roleDefinitionId"))
    if guid in granting_roles:
        return True
    if guid in KNOWN_ROLES:
        return False
    if assignment.get("permissions") is not None:
        return permissions_grant(assignment["permissions"], action)
    return None
