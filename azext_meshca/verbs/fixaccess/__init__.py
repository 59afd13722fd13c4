"""``az aks mesh ca fix-access``: let the CSI add-on identity read the plug-in CA vault.

A package of four parts, kept apart so the decision is tested without any network:

- plan.py (pure): from the cluster, the vault and the identity's role assignments, the
  one change needed, that none is, or a refusal carrying diagnose's own finding;
  access itself is judged by rules/access_model.py, which diagnose's checks call too;
- apply.py (I/O): confirm, then make exactly that change with an additive call;
- wait.py (I/O): --wait polls istiod until it turns Ready;
- render.py: the plan, refusals, next steps and the result.

This module reads what the plan needs and runs the four in order.
"""

from azure.cli.core.azclierror import InvalidArgumentValueError, ValidationError

from azext_meshca.sources.errors import raise_for_failed_read
from azext_meshca.verbs.fixaccess import apply, plan as planning, render, wait as polling
from azext_meshca.output.report import EXIT_INCOMPLETE, EXIT_PROBLEMS, exit_after_output
from azext_meshca.model.resource_ids import is_object_id

# --wait: the change was applied, but istiod did not turn Ready in time (4, "problems
# found"), or the cluster could not be read (5, "could not check"); see output/report.py.
EXIT_WAIT_TIMED_OUT = EXIT_PROBLEMS
EXIT_WAIT_UNKNOWN = EXIT_INCOMPLETE


def subscription_tenant(cli_ctx):
    """The tenant of the subscription the cluster is read from: the add-on identity's tenant."""
    from azure.cli.core._profile import Profile
    from azure.cli.core.commands.client_factory import get_subscription_id
    try:
        return Profile(cli_ctx=cli_ctx).get_subscription(get_subscription_id(cli_ctx)).get("tenantId")
    except Exception:  # pylint: disable=broad-except
        return None


def read_state(cli_ctx, resource_group, name, mode):
    """Read the cluster, the vault and (RBAC) the identity's assignments, refusing as soon
    as a precondition fails. Returns ``(state, mode)``; the state is a snapshot."""
    from azext_meshca.sources.azure import read_cluster, read_role_assignments, read_vault
    item = read_cluster(cli_ctx, resource_group, name)
    if not item["ok"]:
        raise_for_failed_read(item, f"cluster {resource_group}/{name}")
    state = planning.new_state(resource_group, name, subscription_tenant(cli_ctx), item["data"])
    refused = planning.cluster_refusal(state)
    if refused:
        raise render.refusal_error(refused)
    object_id = planning.addon_identity(state).get("objectId")
    if not is_object_id(object_id):
        # ARM's answer names the principal every write is for: nothing is read or written for
        # a value that names no one (a padded ID would match a policy and miss an assignment).
        raise ValidationError(f"fix-access cannot grant access: the add-on identity's objectId "
                              f"{ascii(str(object_id))[:60]} is not a GUID. Nothing was changed. Check "
                              f"az aks show -g {resource_group} -n {name} --query "
                              "addonProfiles.azureKeyvaultSecretsProvider.identity")
    vault_id = planning.plugin_vault_id(state)
    vault_item = state["vault"] = read_vault(cli_ctx, vault_id)
    if not vault_item["ok"]:
        raise_for_failed_read(vault_item, f"the plug-in CA's Key Vault {vault_id}")
    refused = planning.vault_refusal(state)
    if refused:
        raise render.refusal_error(refused)
    chosen = planning.resolve_mode(mode, vault_item["data"])
    if chosen == planning.RBAC:
        vault = vault_item["data"]
        assignments = state["roleAssignments"] = read_role_assignments(cli_ctx, vault["id"],
                                                                       planning.addon_identity(state)["objectId"])
        if not assignments["ok"]:
            raise_for_failed_read(assignments, f"the role assignments on {vault['id']}")
    return state, chosen


def build_plan(cli_ctx, resource_group, name, mode, secret_permissions):
    """Returns ``(plan, cluster)``: --wait reuses the cluster rather than reading it again."""
    wanted = planning.normalise_secret_permissions(secret_permissions)
    state, chosen = read_state(cli_ctx, resource_group, name, mode)
    plan = planning.plan_fix(state, chosen, wanted, permissions_given=bool(secret_permissions))
    return plan, state["cluster"]["data"]


def run_fix_access(cmd, resource_group, name, *, mode=None, secret_permissions=None, dry_run=False, yes=False,
                   wait=False, timeout=None):
    """Plan, show, confirm, apply, and report; see the module docstring for the rules."""
    if timeout is not None and timeout <= 0:
        raise InvalidArgumentValueError("--timeout must be a positive number of seconds.")
    plan, cluster = build_plan(cmd.cli_ctx, resource_group, name, mode, secret_permissions)
    if plan["change"] is None:
        render.stderr(plan["summary"])
        return render.fix_result("unchanged", plan)
    if dry_run:
        return render.fix_result("planned", plan)
    for line in render.plan_lines(plan):
        render.stderr(line)
    apply.confirm(yes)
    applied = apply.apply_change(cmd.cli_ctx, plan)
    if plan["change"]["kind"] == "accessPolicyAdd":
        applied["secretPermissionsNow"] = apply.verify_policy(cmd.cli_ctx, plan)
    steps = render.next_steps(plan)
    waited = None
    if wait:
        waited = polling.wait_for_istiod(cmd.cli_ctx, plan, cluster, timeout or polling.DEFAULT_WAIT_SECONDS)
    else:
        for step in steps:
            render.stderr(step)
    result = render.fix_result("applied", plan, applied, steps, waited)
    if waited is not None and not waited["ready"]:
        exit_after_output(cmd, EXIT_WAIT_TIMED_OUT if waited["timedOut"] else EXIT_WAIT_UNKNOWN)
    return result
