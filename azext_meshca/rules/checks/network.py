"""Network checks (MCA5xx): can the nodes reach the vault at all?

Judged from the vault's configuration. When the vault has private endpoints we say
nothing: whether the nodes' VNet resolves and routes to them is not visible from ARM,
and if it fails, the cluster-side check (MCA804) reports the ForbiddenByConnection or
ForbiddenByFirewall the CSI provider got. The firewall (networkAcls) does not apply
when public access is off, so MCA502 is not reported alongside MCA501.

A deny-by-default firewall alone is a warning (the nodes may be allowed by a rule
we cannot match from here); when the provider or kubelet quotes Key Vault's
``ForbiddenByFirewall``, the cluster proved it, and MCA502 is an error: the root cause.
"""

from azext_meshca.rules import logparse
from azext_meshca.rules.catalog import ERROR
from azext_meshca.rules.checks.cluster import mount_failures
from azext_meshca.rules.registry import rule
from azext_meshca.rules.checks.common import make, plugin_config, vault_data


def _private_endpoints(vault):
    try:
        return int(vault.get("privateEndpointCount") or 0)
    except (TypeError, ValueError):
        return 0


def _public_access_disabled(vault):
    return str(vault.get("publicNetworkAccess") or "").lower() == "disabled"


@rule("MCA501", inputs=("cluster", "vault"))
def check_public_access(snapshot, context):
    """MCA501: public network access is off and no private endpoint exists."""
    vault = vault_data(snapshot)
    if plugin_config(snapshot) is None or vault is None:
        return []
    if not _public_access_disabled(vault) or _private_endpoints(vault) > 0:
        return []
    return [make(context, "MCA501", "vault", evidence=[
        f"publicNetworkAccess: {vault.get('publicNetworkAccess')}",
        f"privateEndpointCount: {_private_endpoints(vault)}"])]


@rule("MCA502", inputs=("cluster", "vault"))
def check_firewall(snapshot, context):
    """MCA502: the vault firewall denies by default (the nodes' path is not visible here)."""
    vault = vault_data(snapshot)
    if plugin_config(snapshot) is None or vault is None:
        return []
    acls = vault.get("networkAcls") or {}
    if str(acls.get("defaultAction") or "").lower() != "deny":
        return []
    if _public_access_disabled(vault) or _private_endpoints(vault) > 0:
        return []
    ip_rules = list(acls.get("ipRules") or ())
    vnet_rules = list(acls.get("virtualNetworkRules") or ())
    proof = [item for item in mount_failures(snapshot) if item["cause"] == logparse.FIREWALL]
    evidence = [f"networkAcls.defaultAction: {acls.get('defaultAction')}",
                f"networkAcls.bypass: {acls.get('bypass')}"]
    evidence += [f"CSI provider/kubelet: {item['evidence']}" for item in proof[:1]]
    found = make(context, "MCA502", "vault", evidence=evidence,
                 rule_count=len(ip_rules), vnet_count=len(vnet_rules))
    if proof:
        # The cluster's own evidence (ForbiddenByFirewall from Key Vault) proves this firewall
        # is what refuses the add-on: a root cause, not a maybe.
        found["severity"] = ERROR
    return [found]


@rule("MCA530", inputs=("cluster", "vault"))
def check_vault_address(snapshot, context):
    """MCA530: the vault's URI is not its own address, so its secrets were not read."""
    return vault_address_refused(context, snapshot.get("secrets") or {})


def vault_address_refused(context, secrets):
    """MCA530 when the secret reads were refused for the vault's address (``secrets``:
    {object: collected item}, sources/hostpin.py ``vault_address``); the Key Vault source
    of validate-secrets and show-cert calls it too."""
    from azext_meshca.model.snapshot import VAULT_URI_CODE
    for item in secrets.values():
        error = (item or {}).get("error") or {}
        if error.get("code") == VAULT_URI_CODE:
            return [make(context, "MCA530", "vault", evidence=[error.get("reason")], reason=error.get("reason"))]
    return []


CHECKS = [check_public_access, check_firewall, check_vault_address]
