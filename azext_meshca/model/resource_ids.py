"""Azure resource IDs: the one place that decides what a vault ID is and what a scope covers.

Pure and dependency-free, shared by the collectors, the checks and fix-access so they
can never disagree (a check calling an ID malformed that a collector happily used).
"""

import re

# Vault names are 3-24 characters of letters, digits and hyphens.
_VAULT_ID = re.compile(
    r"^/subscriptions/(?P<subscriptionId>[^/]+)/resourceGroups/(?P<resourceGroup>[^/]+)"
    r"/providers/Microsoft\.KeyVault/vaults/(?P<name>[a-zA-Z0-9-]{3,24})/?$", re.IGNORECASE)

# A Microsoft Entra object ID: a GUID in its 8-4-4-4-12 form, nothing around it (Microsoft
# Graph's directoryObject id; azure-rest-api-specs authorization RoleAssignmentProperties
# principalId). re.ASCII: \d and [0-9a-f] only, never another script's digits.
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE | re.ASCII)
ZERO_GUID = "00000000-0000-0000-0000-000000000000"


def is_guid(value):
    """True for exactly 8-4-4-4-12 hex digits (a subscription ID, an object ID)."""
    return isinstance(value, str) and bool(_GUID.fullmatch(value))


def is_object_id(value):
    """True for a GUID that can name a principal: exactly 8-4-4-4-12 hex digits, not the zero
    GUID. Anything else (padded, 35 characters, an OData filter fragment) names no one, so
    nothing is read or written for it."""
    return is_guid(value) and value != ZERO_GUID


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
