"""Azure resource IDs: the one place that decides what a vault ID is and what a scope covers.

Pure and dependency-free, shared by the collectors, the checks and fix-access so they
can never disagree (a check calling an ID malformed that a collector happily used).
"""

import re

# Vault names are 3-24 characters of letters, digits and hyphens.
_VAULT_ID = re.compile(
    r"^/subscriptions/(?P<subscriptionId>[^/]+)/resourceGroups/(?P<resourceGroup>[^/]+)"
    r"/providers/Microsoft\.KeyVault/vaults/(?P<name>[a-zA-Z0-9-]{3,24})/?$", re.IGNORECASE)


def parse_vault_id(vault_id):
    """{subscriptionId, resourceGroup, name} of a Key Vault resource ID, or None."""
    match = _VAULT_ID.match(str(vault_id or "").strip())
    return match.groupdict() if match else None


def scope_covers(scope, resource_id):
    """True when an assignment at ``scope`` applies to ``resource_id``: the resource
    itself or one of its parents, compared case-insensitively on a '/' boundary."""
    scope = str(scope or "").rstrip("/").lower()
    resource = str(resource_id or "").rstrip("/").lower()
    if not scope:
        return False
    return resource == scope or resource.startswith(scope + "/")
