"""Which Azure roles let a principal read Key Vault secret values.

Pure. The CSI provider calls GET secret, which Azure RBAC authorises as the data
action ``Microsoft.KeyVault/vaults/secrets/getSecret/action``. Three built-in roles
grant it; any custom role whose dataActions match it (wildcards included) and whose
notDataActions do not, grants it too. Key Vault Reader does not: it reads metadata.
"""

import re

GET_SECRET_ACTION = "Microsoft.KeyVault/vaults/secrets/getSecret/action"

SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
ADMINISTRATOR = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
KEY_VAULT_READER = "21090545-7ca7-4776-b22c-e363652d74d2"
SECRET_READING_ROLES = frozenset({SECRETS_USER, SECRETS_OFFICER, ADMINISTRATOR})
# Roles whose answer is known without reading their definition.
KNOWN_ROLES = SECRET_READING_ROLES | {KEY_VAULT_READER}
ROLE_NAMES = {SECRETS_USER: "Key Vault Secrets User", SECRETS_OFFICER: "Key Vault Secrets Officer",
              ADMINISTRATOR: "Key Vault Administrator", KEY_VAULT_READER: "Key Vault Reader"}


def role_guid(role_definition_id):
    """The GUID at the end of a roleDefinitionId, lower case."""
    return str(role_definition_id or "").rstrip("/").rsplit("/", 1)[-1].lower()


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

    Collectors annotate assignments of roles outside KNOWN_ROLES with
    ``grantsSecretRead`` (True, False, or None when the definition could not be read).
    """
    guid = role_guid(assignment.get("roleDefinitionId"))
    if guid in SECRET_READING_ROLES:
        return True
    if guid in KNOWN_ROLES:
        return False
    return assignment.get("grantsSecretRead")
