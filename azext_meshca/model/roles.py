"""Azure role assignments: the built-in Key Vault roles by name, and the one filter that
picks a principal's assignments on a vault.

Pure and in the base layer because three layers need the same answer: the collector
(sources/azure.py ``read_role_assignments``) keeps what it lists through it, scan
(sources/fleet.py ``cluster_snapshot``) cuts the fleet's assignments with it, and the access
checks (rules/checks/access.py) and the access model (rules/access_model.py) judge what it
returns. Whether a role grants anything is judged in rules/rbac.py, never here.
"""

from azext_meshca.model.resource_ids import scope_covers

# Built-in role GUIDs (learn.microsoft.com/azure/role-based-access-control/built-in-roles,
# "Security" section: Key Vault Secrets User, Key Vault Secrets Officer, Key Vault
# Administrator, Key Vault Reader).
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
ADMINISTRATOR = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
KEY_VAULT_READER = "21090545-7ca7-4776-b22c-e363652d74d2"
ROLE_NAMES = {SECRETS_USER: "Key Vault Secrets User", SECRETS_OFFICER: "Key Vault Secrets Officer",
              ADMINISTRATOR: "Key Vault Administrator", KEY_VAULT_READER: "Key Vault Reader"}
# Roles whose permissions are known without reading their definition: the collectors read
# the definition of every other role an assignment names (custom roles).
KNOWN_ROLES = frozenset(ROLE_NAMES)


def role_guid(role_definition_id):
    """The GUID at the end of a roleDefinitionId, lower case."""
    return str(role_definition_id or "").rstrip("/").rsplit("/", 1)[-1].lower()


def same_principal(item, principal_id):
    """True when an assignment is ``principal_id``'s. An assignment without a principalId
    comes from a listing already filtered to the principal (ARM's ``principalId eq``)."""
    held_by = str(item.get("principalId") or "").strip().lower()
    return not held_by or held_by == str(principal_id or "").strip().lower()


def within_vault(scope, vault_id):
    """True for a scope that covers the vault, or that lies inside it (a secret's scope)."""
    return scope_covers(scope, vault_id) or scope_covers(vault_id, scope)


def assignments_for(assignments, principal_id, vault_id):
    """The assignments of ``principal_id`` that apply to the vault or to one of its secrets:
    at the vault's scope, a parent's (resource group, subscription, management group) or a
    secret's (``<vault-id>/secrets/<name>``)."""
    return [item for item in assignments or ()
            if same_principal(item, principal_id) and within_vault(item.get("scope"), vault_id)]
