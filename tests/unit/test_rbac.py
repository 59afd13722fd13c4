"""Which role definitions let the add-on read secret values (getSecret data action)."""

import pytest

from azext_meshca.model import roles
from azext_meshca.rules import rbac


@pytest.mark.parametrize("permissions, grants", [
    ([{"dataActions": ["Microsoft.KeyVault/vaults/secrets/getSecret/action"]}], True),
    ([{"dataActions": ["Microsoft.KeyVault/vaults/secrets/*"]}], True),          # Secrets Officer
    ([{"dataActions": ["Microsoft.KeyVault/vaults/*"]}], True),                  # Administrator
    ([{"dataActions": ["*"]}], True),
    ([{"dataActions": ["microsoft.keyvault/VAULTS/secrets/getsecret/action"]}], True),  # case-insensitive
    ([{"dataActions": ["Microsoft.KeyVault/vaults/*/read",
                       "Microsoft.KeyVault/vaults/secrets/readMetadata/action"]}], False),  # Key Vault Reader
    ([{"dataActions": ["Microsoft.KeyVault/vaults/secrets/*"],
       "notDataActions": ["Microsoft.KeyVault/vaults/secrets/getSecret/action"]}], False),
    ([{"actions": ["*"], "dataActions": []}], False),                            # Owner: control plane only
    ([{"dataActions": ["Microsoft.KeyVault/vaults/keys/*"]},
      {"dataActions": ["Microsoft.KeyVault/vaults/secrets/getSecret/action"]}], True),
    ([], False),
    (None, False),
])
def test_permissions_grant(permissions, grants):
    assert rbac.permissions_grant(permissions) is grants


GET_SECRET = [{"dataActions": ["Microsoft.KeyVault/vaults/secrets/getSecret/action"]}]


@pytest.mark.parametrize("assignment, verdict", [
    ({"roleDefinitionId": "/x/roleDefinitions/" + roles.SECRETS_USER}, True),
    ({"roleDefinitionId": "/x/roleDefinitions/" + roles.KEY_VAULT_READER.upper()}, False),
    # a custom role is judged from the permissions the collector copied from its definition
    ({"roleDefinitionId": "/x/roleDefinitions/custom", "permissions": GET_SECRET}, True),
    ({"roleDefinitionId": "/x/roleDefinitions/custom", "permissions": []}, False),
    ({"roleDefinitionId": "/x/roleDefinitions/custom", "roleDefinitionError": "403"}, None),
    # the permissions decide, whatever an older collector's verdict beside them said
    ({"roleDefinitionId": "/x/roleDefinitions/custom", "permissions": [], "grantsSecretRead": True}, False),
    # snapshots exported before: the old collector's verdict, read as a fallback
    ({"roleDefinitionId": "/x/roleDefinitions/custom", "grantsSecretRead": True}, True),
    ({"roleDefinitionId": "/x/roleDefinitions/custom", "grantsSecretRead": False}, False),
    ({"roleDefinitionId": "/x/roleDefinitions/custom", "grantsSecretRead": None}, None),
])
def test_reads_secret_values(assignment, verdict):
    assert rbac.reads_secret_values(assignment) is verdict
