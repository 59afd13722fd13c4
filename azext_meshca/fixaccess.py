"""``az aks mesh ca fix-access``: let the CSI add-on identity read the plug-in CA vault.

Two halves, kept apart so the decision can be tested without any network:

- planning (pure): from the cluster, the vault and the identity's role assignments,
  decide the one change that is needed, that none is, or refuse with one line;
- applying (I/O): make exactly that change with an additive call. Access policies go
  through ``accessPolicies/add``, which merges into the vault's policies; we never
  GET-then-PUT the whole vault as ``az keyvault set-policy`` does, because that
  loses any policy someone else adds in between (FACTS.md §6). Role assignments are
  created, never replaced or deleted.

Least privilege: secret ``get`` (optionally ``list``) or Key Vault Secrets User at the
vault scope, nothing else. Key Vault Reader, which the troubleshooting article
suggests, reads vault metadata only and cannot read secret values.
"""

import sys
import time
import uuid

from azure.cli.core.azclierror import (AzureConnectionError, AzureResponseError, ForbiddenError,
                                       InvalidArgumentValueError, ManualInterrupt, NoTTYError,
                                       ValidationError)

from azext_meshca.collectors.errors import raise_for_failed_read
from azext_meshca.report import EXIT_INCOMPLETE, EXIT_PROBLEMS, exit_after_output
from azext_meshca.rbac import KEY_VAULT_READER, ROLE_NAMES, SECRETS_USER, reads_secret_values, role_guid
from azext_meshca.resource_ids import parse_vault_id, scope_covers

POLICY = "policy"
RBAC = "rbac"
AUTO = "auto"
MODES = (AUTO, POLICY, RBAC)
READ_PERMISSIONS = ("get", "list")
DEFAULT_SECRET_PERMISSIONS = ("get",)

ROLE_ATTEMPTS = 10
# --wait: the change was applied, but istiod did not turn Ready in time (4, "problems
# found"), or the cluster could not be read (5, "could not check"); see report.py.
EXIT_WAIT_TIMED_OUT = EXIT_PROBLEMS
EXIT_WAIT_UNKNOWN = EXIT_INCOMPLETE
DEFAULT_WAIT_SECONDS = 300
WAIT_POLL_SECONDS = 5

POLICY_WRITERS = "Key Vault Contributor or Owner"
ROLE_WRITERS = "Role Based Access Control Administrator, User Access Administrator or Owner"


# --------------------------------------------------------------------------- access rules (pure)
# The role sets and scope rule are diagnose's (checks/access.py), so the two commands
# agree on what "sufficient" means.

def _same(left, right):
    return (left or "").lower() == (right or "").lower()


def role_name(role_definition_id):
    guid = role_guid(role_definition_id)
    return ROLE_NAMES.get(guid, "role " + guid)


def full_role_definition_id(subscription_id, guid):
    """The full ID ARM wants in a role assignment (a bare GUID is refused)."""
    return "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{}".format(subscription_id, guid)


def granted_secret_permissions(vault, object_id):
    """Secret permissions the vault's access policies give ``object_id`` (lower case, sorted).

    Only policies in the vault's tenant and without an applicationId count: a
    compound-identity policy applies only when that application acts for the
    principal, which the CSI provider never does.
    """
    granted = set()
    for policy in vault.get("accessPolicies") or []:
        if not _same(policy.get("objectId"), object_id) or policy.get("applicationId"):
            continue
        if policy.get("tenantId") and vault.get("tenantId") and not _same(policy["tenantId"], vault["tenantId"]):
            continue
        granted.update(str(item).lower() for item in (policy.get("permissions") or {}).get("secrets") or [])
    return sorted(granted)


def missing_secret_permissions(granted, wanted):
    """The wanted permissions a policy lacks, in the order asked for ('all' covers all)."""
    granted = {item.lower() for item in granted}
    if "all" in granted:
        return []
    return [item for item in wanted if item not in granted]


def applying_assignments(assignments, vault_id, principal_id):
    """The principal's role assignments at the vault scope or a parent scope."""
    return [item for item in assignments or []
            if _same(item.get("principalId"), principal_id) and scope_covers(item.get("scope"), vault_id)]


def assignments_with_role(assignments, roles):
    return [item for item in assignments if role_guid(item.get("roleDefinitionId")) in roles]


# --------------------------------------------------------------------------- planning (pure)

def require_cluster(cluster_item, resource_group, name):
    """The normalised cluster, or a one-line refusal naming why it cannot be read."""
    if not cluster_item["ok"]:
        raise_for_failed_read(cluster_item, "cluster {}/{}".format(resource_group, name))
    return cluster_item["data"]


def addon_identity(cluster, resource_group, name):
    """The add-on's identity; refuses when the add-on is off or has no identity yet."""
    addon = cluster.get("csiAddon") or {}
    enable = ("az aks enable-addons --addons azure-keyvault-secrets-provider -g {} -n {}"
              .format(resource_group, name))
    if not addon.get("enabled"):
        raise ValidationError("The Azure Key Vault secrets provider add-on is not enabled on {}: "
                              "enable it first ({}).".format(name, enable))
    identity = addon.get("identity") or {}
    if not identity.get("objectId"):
        raise ValidationError("The Azure Key Vault secrets provider add-on on {} has no identity objectId yet: "
                              "wait for the add-on to finish provisioning, or re-enable it ({}).".format(name, enable))
    return identity


def plugin_vault_id(cluster, name):
    """The plug-in CA's keyVaultId, parsed; refuses when unset or malformed."""
    plugin = cluster.get("plugin")
    if cluster.get("meshMode") != "Istio" or not plugin:
        raise ValidationError("No Istio plug-in CA is configured on {} (serviceMeshProfile.istio."
                              "certificateAuthority.plugin): there is no vault to grant access to.".format(name))
    vault_id = plugin.get("keyVaultId")
    parsed = parse_vault_id(vault_id)
    if parsed is None:
        raise ValidationError("The plug-in CA keyVaultId on {} is not a Key Vault resource ID: '{}'."
                              .format(name, vault_id or ""))
    return vault_id, parsed


def require_vault(vault_item, vault_id):
    if not vault_item["ok"]:
        raise_for_failed_read(vault_item, "the plug-in CA's Key Vault {}".format(vault_id))
    return vault_item["data"]


def refuse_foreign_vault(vault, cluster_tenant):
    """The add-on identity lives in the cluster's tenant and cannot be granted access elsewhere."""
    vault_tenant = vault.get("tenantId")
    if cluster_tenant and vault_tenant and vault_tenant.lower() != cluster_tenant.lower():
        raise ValidationError("Vault {} is in tenant {}, the cluster in tenant {}: the add-on identity cannot be "
                              "granted access across tenants. Move the plug-in CA secrets to a vault in tenant {}."
                              .format(vault.get("name"), vault_tenant, cluster_tenant, cluster_tenant))


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


def assignment_name(scope, principal_id, guid):
    """A name derived from what is assigned, so a retried run targets the same assignment."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "meshca-fix-access|{}|{}|{}".format(
        scope.lower().rstrip("/"), principal_id.lower(), guid.lower())))


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


def _network_notes(vault):
    """Access is necessary, not sufficient: say so when the network may still block the nodes."""
    notes = []
    if str(vault.get("publicNetworkAccess") or "").lower() == "disabled":
        notes.append("The vault's public network access is disabled: unless the nodes reach it through a private "
                     "endpoint, the mount still fails (ForbiddenByConnection).")
    acls = vault.get("networkAcls") or {}
    if str(acls.get("defaultAction") or "").lower() == "deny":
        notes.append("The vault's firewall denies by default: make sure the nodes' addresses or subnets are "
                     "allowed, or the mount still fails (ForbiddenByFirewall).")
    return notes


def plan_policy(vault, identity, secret_permissions):
    """(current, change, summary, notes) for an access-policy grant."""
    object_id = identity["objectId"]
    granted = granted_secret_permissions(vault, object_id)
    missing = missing_secret_permissions(granted, secret_permissions)
    current = {"secretPermissions": granted}
    notes = []
    if vault.get("enableRbacAuthorization"):
        notes.append("Vault {} uses Azure RBAC, so Key Vault ignores access policies until it is switched to the "
                     "access-policy model.".format(vault.get("name")))
    if not missing:
        return current, None, "Nothing to do: the add-on identity's access policy already grants secret {}." \
            .format(", ".join(secret_permissions)), notes
    change = {
        "kind": "accessPolicyAdd",
        "request": "PUT {}/accessPolicies/add".format(vault["id"]),
        "objectId": object_id,
        "tenantId": vault.get("tenantId"),
        "addSecretPermissions": missing,
        "secretPermissionsAfter": sorted(set(granted) | set(missing)),
    }
    if granted:
        summary = "Extend the add-on identity's access policy with secret {} (it has {}).".format(
            ", ".join(missing), ", ".join(granted))
    else:
        summary = "Add an access policy granting the add-on identity secret {}.".format(", ".join(missing))
    if "list" in missing:
        notes.append("The CSI provider needs only secret get; list is granted because --secret-permissions "
                     "asked for it.")
    return current, change, summary, notes


def plan_rbac(vault, identity, assignments):
    """(current, change, summary, notes) for a Key Vault Secrets User role assignment."""
    object_id = identity["objectId"]
    vault_id = vault["id"]
    applying = applying_assignments(assignments, vault_id, object_id)
    current = {"roles": [{"roleName": item.get("roleName") or role_name(item.get("roleDefinitionId")),
                          "scope": item.get("scope")} for item in applying]}
    notes = []
    if not vault.get("enableRbacAuthorization"):
        notes.append("Vault {} uses access policies, so this role grants no secret access until the vault is "
                     "switched to Azure RBAC.".format(vault.get("name")))
    reading = [item for item in applying if reads_secret_values(item)]
    if reading:
        first = reading[0]
        return current, None, "Nothing to do: the add-on identity already holds {} at {}.".format(
            first.get("roleName") or role_name(first.get("roleDefinitionId")), first.get("scope")), notes
    for reader in assignments_with_role(applying, {KEY_VAULT_READER}):
        notes.append("Key Vault Reader at {} reads vault metadata only, not secret values; it is left in place "
                     "and Key Vault Secrets User is added.".format(reader.get("scope")))
    name = assignment_name(vault_id, object_id, SECRETS_USER)
    change = {
        "kind": "roleAssignment",
        "request": "PUT {}/providers/Microsoft.Authorization/roleAssignments/{}".format(vault_id, name),
        "scope": vault_id,
        "roleName": ROLE_NAMES[SECRETS_USER],
        "roleDefinitionId": full_role_definition_id(vault["subscriptionId"], SECRETS_USER),
        "principalId": object_id,
        "principalType": "ServicePrincipal",
        "assignmentName": name,
    }
    summary = "Assign Key Vault Secrets User to the add-on identity at the vault's scope."
    return current, change, summary, notes


def plan_fix(resource_group, name, identity, vault, mode, secret_permissions, assignments=None,
             permissions_given=False):
    """The whole plan as the dict fix-access prints (pure: no I/O)."""
    if mode == POLICY:
        current, change, summary, notes = plan_policy(vault, identity, secret_permissions)
    else:
        current, change, summary, notes = plan_rbac(vault, identity, assignments)
        if permissions_given:
            notes.append("--secret-permissions applies to access policies only; it is ignored for a role "
                         "assignment.")
    return {
        "cluster": {"resourceGroup": resource_group, "name": name},
        "identity": _identity_view(identity, name),
        "vault": _vault_view(vault),
        "mode": mode,
        "current": current,
        "change": change,
        "summary": summary,
        "notes": notes + _network_notes(vault),
    }


def plan_lines(plan):
    """The plan as a person reads it on stderr before anything is written."""
    identity, vault, change = plan["identity"], plan["vault"], plan["change"]
    model = "Azure RBAC" if vault["permissionModel"] == RBAC else "access policies"
    lines = [
        "fix-access plan:",
        "  Cluster:          {}/{}".format(plan["cluster"]["resourceGroup"], plan["cluster"]["name"]),
        "  Add-on identity:  {} (objectId {}, clientId {})".format(identity["name"], identity["objectId"],
                                                                   identity["clientId"]),
        "  Key Vault:        {} (resource group {}, subscription {})".format(vault["name"], vault["resourceGroup"],
                                                                           vault["subscriptionId"]),
        "  Permission model: {}".format(model),
        "  Currently:        {}".format(_current_text(plan)),
        "  Change:           {}".format(plan["summary"]),
    ]
    if change and change["kind"] == "accessPolicyAdd":
        lines.append("                    {} (merges; every other policy is left as it is)".format(change["request"]))
    elif change:
        lines.append("                    role {} for principal {} ({}), scope {}".format(
            change["roleDefinitionId"], change["principalId"], change["principalType"], change["scope"]))
    lines.extend("  Note: " + note for note in plan["notes"])
    return lines


def _current_text(plan):
    current = plan["current"]
    if "secretPermissions" in current:
        granted = current["secretPermissions"]
        return "secret permissions " + ", ".join(granted) if granted else "no access policy for this identity"
    roles = current.get("roles") or []
    if not roles:
        return "no role assignment on the vault or above"
    return "; ".join("{} at {}".format(role["roleName"], role["scope"]) for role in roles)


def next_steps(plan):
    """What happens after a successful write, and how to check it."""
    cluster = plan["cluster"]
    steps = ["The kubelet retries the cacerts mount of the istiod pods with back-off; they usually leave "
             "Init:0/2 within about 2 minutes."]
    if plan["mode"] == RBAC:
        steps.append("A new role assignment can take a few minutes to reach Key Vault.")
    steps.append("Check with: az aks mesh ca diagnose -g {} -n {}".format(cluster["resourceGroup"], cluster["name"]))
    steps.append("Or watch: kubectl get pods -n aks-istio-system -l app=istiod -w")
    return steps


def write_refusal(plan, error):
    """A one-line error for a failed write (a failed PUT changes nothing)."""
    vault_name = plan["vault"]["name"]
    status, code, reason = error.get("status"), error.get("code"), error.get("reason")
    if status == 403 or code == "AuthorizationFailed":
        if plan["change"]["kind"] == "accessPolicyAdd":
            return ForbiddenError("You may not change access policies on vault {} ({}): you need {} on the vault. "
                                  "Nothing was changed.".format(vault_name, code or status, POLICY_WRITERS))
        return ForbiddenError("You may not create role assignments on vault {} ({}): you need {} on the vault. "
                              "Nothing was changed.".format(vault_name, code or status, ROLE_WRITERS))
    return _service_error("Could not change access on vault {}: {}. Nothing was changed.".format(
        vault_name, reason), error)


def _service_error(message, error):
    if error.get("status"):
        return AzureResponseError(message)
    return AzureConnectionError(message)


# --------------------------------------------------------------------------- applying (I/O)

def _stderr(line):
    print(line, file=sys.stderr, flush=True)


def subscription_tenant(cli_ctx):
    """The tenant of the subscription the cluster is read from: the add-on identity's tenant."""
    from azure.cli.core._profile import Profile
    from azure.cli.core.commands.client_factory import get_subscription_id
    try:
        return Profile(cli_ctx=cli_ctx).get_subscription(get_subscription_id(cli_ctx)).get("tenantId")
    except Exception:  # pylint: disable=broad-except
        return None


def build_plan(cli_ctx, resource_group, name, mode, secret_permissions):
    """Read the cluster, the vault and (RBAC) the identity's assignments.

    Returns ``(plan, cluster)``: --wait reuses the cluster rather than reading it again."""
    from azext_meshca.collectors.azure import read_cluster, read_role_assignments, read_vault
    wanted = normalise_secret_permissions(secret_permissions)
    cluster = require_cluster(read_cluster(cli_ctx, resource_group, name), resource_group, name)
    identity = addon_identity(cluster, resource_group, name)
    vault_id, _ = plugin_vault_id(cluster, name)
    vault = require_vault(read_vault(cli_ctx, vault_id), vault_id)
    refuse_foreign_vault(vault, subscription_tenant(cli_ctx))
    chosen = resolve_mode(mode, vault)
    assignments = None
    if chosen == RBAC:
        item = read_role_assignments(cli_ctx, vault["id"], identity["objectId"])
        if not item["ok"]:
            raise_for_failed_read(item, "the role assignments on {}".format(vault["id"]))
        assignments = item["data"]
    return plan_fix(resource_group, name, identity, vault, chosen, wanted, assignments,
                    permissions_given=bool(secret_permissions)), cluster


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
    return "added"


def _error_code(error):
    return getattr(getattr(error, "error", None), "code", None)


def create_role_assignment(cli_ctx, plan):
    """Create the assignment; retry while a new principal propagates, as azure-cli's acs does.

    principalType=ServicePrincipal lets ARM skip most of the directory lookup, but a
    freshly created identity can still answer PrincipalNotFound for a while.
    RoleAssignmentExists means someone (or an earlier run) already made it: done.
    """
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.authorization.models import RoleAssignmentCreateParameters
    from azext_meshca._client_factory import ARM_CALL_OPTIONS, cf_authorization
    change = plan["change"]
    client = cf_authorization(cli_ctx, plan["vault"]["subscriptionId"]).role_assignments
    parameters = RoleAssignmentCreateParameters(role_definition_id=change["roleDefinitionId"],
                                                principal_id=change["principalId"],
                                                principal_type=change["principalType"])
    for attempt in range(1, ROLE_ATTEMPTS + 1):
        try:
            client.create(change["scope"], change["assignmentName"], parameters, **ARM_CALL_OPTIONS)
            return "created"
        except HttpResponseError as error:
            code = _error_code(error)
            if code == "RoleAssignmentExists":
                return "alreadyExisted"
            if code != "PrincipalNotFound" or attempt == ROLE_ATTEMPTS:
                raise
            delay = min(2 * attempt, 10)
            _stderr("The add-on identity is not visible to Azure RBAC yet (PrincipalNotFound); retrying in {}s "
                    "(attempt {} of {}).".format(delay, attempt + 1, ROLE_ATTEMPTS))
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def apply_change(cli_ctx, plan):
    """Make the planned write; a failure becomes a one-line error."""
    from azext_meshca.collectors.errors import describe_error
    try:
        if plan["change"]["kind"] == "accessPolicyAdd":
            return add_access_policy(cli_ctx, plan)
        return create_role_assignment(cli_ctx, plan)
    except Exception as error:  # pylint: disable=broad-except
        raise write_refusal(plan, describe_error(error)) from None


def verify_policy(cli_ctx, plan):
    """Re-read the vault: the identity's secret permissions as Key Vault now holds them."""
    from azext_meshca.collectors.azure import read_vault
    item = read_vault(cli_ctx, plan["vault"]["id"])
    if not item["ok"]:
        return None
    return granted_secret_permissions(item["data"], plan["identity"]["objectId"])


# --------------------------------------------------------------------------- --wait

def wait_for_istiod(cli_ctx, plan, cluster, timeout):
    """Poll istiod pods until every current pod is Ready and none is still initialising."""
    from azext_meshca.collectors.cluster import open_kube
    cluster_ref = plan["cluster"]
    api, access = open_kube(cli_ctx, cluster_ref["resourceGroup"], cluster_ref["name"], cluster)
    if api is None:
        return {"ready": False, "timedOut": False, "seconds": 0, "pods": [],
                "reason": "cannot reach the cluster: {}".format(access["error"]["reason"])}
    started = time.monotonic()
    pods, reason, last_line = [], None, None
    while True:
        pods, reason = _poll_pods(api)
        elapsed = int(time.monotonic() - started)
        if pods_ready(pods):
            return {"ready": True, "timedOut": False, "seconds": elapsed, "pods": pods}
        line = "Waiting for istiod ({}s of {}s): {}".format(elapsed, timeout, reason or _pods_text(pods))
        if line != last_line:
            _stderr(line)
            last_line = line
        if elapsed >= timeout:
            return {"ready": False, "timedOut": True, "seconds": elapsed, "pods": pods,
                    "reason": reason or _pods_text(pods)}
        time.sleep(min(WAIT_POLL_SECONDS, max(1, timeout - elapsed)))


def _poll_pods(api):
    from azext_meshca.collectors.cluster import read_istiod_pods
    from azext_meshca.collectors.errors import describe_error
    try:
        pods = read_istiod_pods(api)
    except Exception as error:  # pylint: disable=broad-except
        return [], describe_error(error)["reason"]
    return [{"name": pod["name"], "status": pod["status"], "ready": pod["ready"]} for pod in pods], None


def pods_ready(pods):
    """True when at least one istiod pod exists and every pod not being deleted is Ready."""
    current = [pod for pod in pods if pod["status"] != "Terminating"]
    return bool(current) and all(pod["ready"] and not pod["status"].startswith("Init") for pod in current)


def _pods_text(pods):
    if not pods:
        return "no istiod pods yet"
    return ", ".join("{} {}".format(pod["name"], pod["status"]) for pod in pods)


# --------------------------------------------------------------------------- the command

def run_fix_access(cmd, resource_group, name, mode=None, secret_permissions=None, dry_run=False, yes=False,
                   wait=False, timeout=None):
    """Plan, show, confirm, apply, and report; see the module docstring for the rules."""
    if timeout is not None and timeout <= 0:
        raise InvalidArgumentValueError("--timeout must be a positive number of seconds.")
    plan, cluster = build_plan(cmd.cli_ctx, resource_group, name, mode, secret_permissions)
    if plan["change"] is None:
        _stderr(plan["summary"])
        return fix_result("unchanged", plan)
    if dry_run:
        return fix_result("planned", plan)
    for line in plan_lines(plan):
        _stderr(line)
    confirm(yes)
    applied = {"result": apply_change(cmd.cli_ctx, plan)}
    if plan["change"]["kind"] == "accessPolicyAdd":
        applied["secretPermissionsNow"] = verify_policy(cmd.cli_ctx, plan)
    steps = next_steps(plan)
    waited = None
    if wait:
        waited = wait_for_istiod(cmd.cli_ctx, plan, cluster, timeout or DEFAULT_WAIT_SECONDS)
    else:
        for step in steps:
            _stderr(step)
    result = fix_result("applied", plan, applied, steps, waited)
    if waited is not None and not waited["ready"]:
        exit_after_output(cmd, EXIT_WAIT_TIMED_OUT if waited["timedOut"] else EXIT_WAIT_UNKNOWN)
    return result


def fix_result(outcome, plan, applied=None, steps=None, waited=None):
    """The command's output: outcome first, then the plan, then what was done."""
    result = {"outcome": outcome}
    result.update(plan)
    result.update(applied=applied, nextSteps=list(steps or []), wait=waited)
    return result

