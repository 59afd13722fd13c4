"""Applying fix-access's plan (I/O): ask, then make exactly the planned write.

Access policies go through ``accessPolicies/add``, which merges into the vault's
policies; we never GET-then-PUT the whole vault as ``az keyvault set-policy`` does,
because that loses any policy someone else adds in between. Role assignments are
created, never replaced or deleted.
"""

import sys
import time

from azure.cli.core.azclierror import (AzureConnectionError, AzureResponseError, ForbiddenError, ManualInterrupt,
                                       NoTTYError)

from azext_meshca.rules import access_model
from azext_meshca.verbs.fixaccess.render import stderr

ROLE_ATTEMPTS = 10
POLICY_WRITERS = "Key Vault Contributor or Owner"
ROLE_WRITERS = "Role Based Access Control Administrator, User Access Administrator or Owner"


def confirm(yes):
    """Ask before writing; without a terminal, refuse rather than guess."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise NoTTYError("No terminal to confirm the change: re-run with --yes to apply it, or --dry-run to "
                         "only show the plan.")
    if not ask_yes_no("Apply this change?"):
        raise ManualInterrupt("Cancelled: nothing was changed.")


def ask_yes_no(question):
    """Ask on stderr, so stdout carries only the result (knack's prompt writes to stdout)."""
    sys.stderr.write(question + " (y/N): ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def write_refusal(plan, error):
    """A one-line error for a failed write (a failed PUT changes nothing)."""
    vault_name = plan["vault"]["name"]
    status, code, reason = error.get("status"), error.get("code"), error.get("reason")
    if status == 403 or code == "AuthorizationFailed":
        if plan["change"]["kind"] == "accessPolicyAdd":
            return ForbiddenError(f"You may not change access policies on vault {vault_name} ({code or status}): "
                                  f"you need {POLICY_WRITERS} on the vault. Nothing was changed.")
        return ForbiddenError(f"You may not create role assignments on vault {vault_name} ({code or status}): "
                              f"you need {ROLE_WRITERS} on the vault. Nothing was changed.")
    message = f"Could not change access on vault {vault_name}: {reason}. Nothing was changed."
    if error.get("status"):
        return AzureResponseError(message)
    return AzureConnectionError(message)


def add_access_policy(cli_ctx, plan):
    """One add-only merge: other policies, and the identity's own permissions, are kept."""
    from azure.mgmt.keyvault.models import (AccessPolicyEntry, Permissions, VaultAccessPolicyParameters,
                                            VaultAccessPolicyProperties)
    from azext_meshca._client_factory import ARM_CALL_OPTIONS, cf_vaults
    vault, change = plan["vault"], plan["change"]
    entry = AccessPolicyEntry(tenant_id=change["tenantId"], object_id=change["objectId"],
                              permissions=Permissions(secrets=list(change["addSecretPermissions"])))
    parameters = VaultAccessPolicyParameters(properties=VaultAccessPolicyProperties(access_policies=[entry]))
    cf_vaults(cli_ctx, vault["subscriptionId"]).update_access_policy(
        vault["resourceGroup"], vault["name"], operation_kind="add", parameters=parameters, **ARM_CALL_OPTIONS)
    return {"result": "added"}


def _error_code(error):
    return getattr(getattr(error, "error", None), "code", None)


def create_role_assignment(client, change, assignment):
    """Create one assignment; retry while a new principal propagates, as azure-cli's acs does.

    principalType=ServicePrincipal lets ARM skip most of the directory lookup, but a
    freshly created identity can still answer PrincipalNotFound for a while.
    RoleAssignmentExists means someone (or an earlier run) already made it: done.
    """
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.authorization.models import RoleAssignmentCreateParameters
    from azext_meshca._client_factory import ARM_CALL_OPTIONS
    parameters = RoleAssignmentCreateParameters(role_definition_id=change["roleDefinitionId"],
                                                principal_id=change["principalId"],
                                                principal_type=change["principalType"])
    for attempt in range(1, ROLE_ATTEMPTS + 1):
        try:
            client.create(assignment["scope"], assignment["assignmentName"], parameters, **ARM_CALL_OPTIONS)
            return "created"
        except HttpResponseError as error:
            code = _error_code(error)
            if code == "RoleAssignmentExists":
                return "alreadyExisted"
            if code != "PrincipalNotFound" or attempt == ROLE_ATTEMPTS:
                raise
            delay = min(2 * attempt, 10)
            stderr(f"The add-on identity is not visible to Azure RBAC yet (PrincipalNotFound); retrying in {delay}s "
                   f"(attempt {attempt + 1} of {ROLE_ATTEMPTS}).")
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def create_role_assignments(cli_ctx, plan):
    """Each planned assignment, in order; 'created' when at least one was new."""
    from azext_meshca._client_factory import cf_authorization
    change = plan["change"]
    client = cf_authorization(cli_ctx, plan["vault"]["subscriptionId"]).role_assignments
    results = [{"scope": item["scope"], "result": create_role_assignment(client, change, item)}
               for item in change["assignments"]]
    created = any(item["result"] == "created" for item in results)
    return {"result": "created" if created else "alreadyExisted", "assignments": results}


def apply_change(cli_ctx, plan):
    """Make the planned write; a failure becomes a one-line error."""
    from azext_meshca.sources.errors import describe_error
    try:
        if plan["change"]["kind"] == "accessPolicyAdd":
            return add_access_policy(cli_ctx, plan)
        return create_role_assignments(cli_ctx, plan)
    except Exception as error:  # pylint: disable=broad-except
        raise write_refusal(plan, describe_error(error)) from None


def verify_policy(cli_ctx, plan):
    """Re-read the vault: the identity's secret permissions as Key Vault now holds them."""
    from azext_meshca.sources.azure import read_vault
    item = read_vault(cli_ctx, plan["vault"]["id"])
    if not item["ok"]:
        return None
    return access_model.granted_secret_permissions(item["data"], plan["identity"]["objectId"])
