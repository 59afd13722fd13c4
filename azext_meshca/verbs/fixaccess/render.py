"""What fix-access shows: the plan on stderr before anything is written, the next steps,
the one-line refusals, and the result dict on stdout."""

import sys

from azure.cli.core.azclierror import ValidationError

from azext_meshca.verbs.fixaccess.plan import RBAC


def stderr(line):
    """Progress and the plan go to stderr, so stdout carries only the result."""
    print(line, file=sys.stderr, flush=True)


def refusal_error(finding):
    """A precondition finding (the catalog's text) as one az error line."""
    text = f"fix-access cannot grant access: {finding['code']} {finding['title']}: {finding['message']}"
    if finding.get("remedy"):
        text += " Fix: " + finding["remedy"]
    return ValidationError(" ".join(text.split()))


def plan_lines(plan):
    """The plan as a person reads it on stderr before anything is written."""
    identity, vault, change = plan["identity"], plan["vault"], plan["change"]
    model = "Azure RBAC" if vault["permissionModel"] == RBAC else "access policies"
    lines = [
        "fix-access plan:",
        f"  Cluster:          {plan['cluster']['resourceGroup']}/{plan['cluster']['name']}",
        f"  Add-on identity:  {identity['name']} (objectId {identity['objectId']}, clientId {identity['clientId']})",
        f"  Key Vault:        {vault['name']} (resource group {vault['resourceGroup']}, "
        f"subscription {vault['subscriptionId']})",
        f"  Permission model: {model}",
        f"  Currently:        {current_text(plan)}",
        f"  Change:           {plan['summary']}",
    ]
    if change and change["kind"] == "accessPolicyAdd":
        lines.append(f"                    {change['request']} (merges; every other policy is left as it is)")
    elif change:
        for item in change["assignments"]:
            lines.append(f"                    role {change['roleDefinitionId']} for principal {change['principalId']} "
                         f"({change['principalType']}), scope {item['scope']}")
    lines.extend("  Note: " + note for note in plan["notes"])
    return lines


def current_text(plan):
    current = plan["current"]
    if "secretPermissions" in current:
        granted = current["secretPermissions"]
        return "secret permissions " + ", ".join(granted) if granted else "no access policy for this identity"
    roles = current.get("roles") or []
    if not roles:
        return "no role assignment on the vault, its secrets or above"
    return "; ".join(f"{role['roleName']} at {role['scope']}" for role in roles)


def next_steps(plan):
    """What happens after a successful write, and how to check it."""
    cluster = plan["cluster"]
    steps = ["The kubelet retries the cacerts mount of the istiod pods with back-off; they usually leave "
             "Init:0/2 within about 2 minutes."]
    if plan["mode"] == RBAC:
        steps.append("A new role assignment can take a few minutes to reach Key Vault.")
    steps.append(f"Check with: az aks mesh ca diagnose -g {cluster['resourceGroup']} -n {cluster['name']}")
    steps.append("Or watch: kubectl get pods -n aks-istio-system -l app=istiod -w")
    return steps


def fix_result(outcome, plan, applied=None, steps=None, waited=None):
    """The command's output: outcome first, then the plan, then what was done."""
    result = {"outcome": outcome}
    result.update(plan)
    result.update(applied=applied, nextSteps=list(steps or []), wait=waited)
    return result
