"""Which role definitions let the add-on read secret values (getSecret data action)."""

import pytest

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


@pytest.mark.parametrize("assignment, verdict", [
    ({"roleDefinitionId": "/x/roleDefinitions/" + rbac.SECRETS_USER}, True),
    ({"roleDefinitionId": "/x/roleDefinitions/" + rbac.KEY_VAULT_READER.upper()}, False),
    ({"roleDefinitionId": "/x/roleDefinitions/custom", "grantsSecretRead": True}, True),
    ({"roleDefinitionId": "/x/roleDefinitions/custom", "grantsSecretRead": False}, False),
    ({"roleDefinitionId": "/x/roleDefinitions/custom", "grantsSecretRead": None}, None),
])
def test_reads_secret_values(assignment, verdict):
    assert rbac.reads_secret_values(assignment) is verdict
