"""Config checks (MCA1xx): is the mesh on, is a plug-in CA configured, is it complete,
and does the vault it names exist.

These are the first causes: when one fires, most later checks have nothing to judge
and return nothing on their own (they read ``plugin_config``).
"""

from azext_meshca.rules.registry import rule
from azext_meshca.rules.checks.common import (
    PLUGIN_FIELDS, cluster_data, make, mesh_is_istio, plugin_config, vault_name_of)


@rule("MCA101", inputs=("cluster",))
def check_mesh_mode(snapshot, context):
    """MCA101: serviceMeshProfile.mode is not Istio."""
    cluster = cluster_data(snapshot)
    if cluster is None or cluster.get("meshMode") == "Istio":
        return []
    mode = cluster.get("meshMode") or "Disabled"
    return [make(context, "MCA101", "cluster", evidence=[f"serviceMeshProfile.mode: {mode}"],
                 mode=mode)]


@rule("MCA102", inputs=("cluster",))
def check_plugin_present(snapshot, context):
    """MCA102: the mesh is on but runs istiod's self-signed CA (a warning, not a fault)."""
    if not mesh_is_istio(snapshot) or plugin_config(snapshot) is not None:
        return []
    return [make(context, "MCA102", "cluster",
                 evidence=["serviceMeshProfile.istio.certificateAuthority.plugin: not set"])]


@rule("MCA103", inputs=("cluster",))
def check_plugin_complete(snapshot, context):
    """MCA103: some of the five plug-in fields are empty (the core CLI refuses this, ARM may not)."""
    plugin = plugin_config(snapshot)
    if plugin is None:
        return []
    missing = [field for field in PLUGIN_FIELDS if not plugin.get(field)]
    if not missing:
        return []
    return [make(context, "MCA103", "cluster", evidence=[f"{field}: not set" for field in missing],
                 missing=", ".join(missing))]


@rule("MCA104", inputs=("cluster",))
def check_key_vault_id(snapshot, context):
    """MCA104: keyVaultId is set but is not a vault resource ID."""
    plugin = plugin_config(snapshot)
    vault_id = (plugin or {}).get("keyVaultId")
    if not vault_id or vault_name_of(vault_id) is not None:
        return []
    return [make(context, "MCA104", "vault", evidence=[f"keyVaultId: {vault_id}"],
                 key_vault_id=vault_id)]


@rule("MCA105")
def check_vault_exists(snapshot, context):
    """MCA105: ARM answered 404 for the vault (other read failures are MCA902)."""
    return vault_missing(context, snapshot.get("vault"))


def vault_missing(context, item):
    """MCA105 for a vault read (``collected`` item); the Key Vault source calls it too."""
    if not item or item.get("ok"):
        return []
    error = item.get("error") or {}
    if error.get("status") != 404:
        return []
    return [make(context, "MCA105", "vault", evidence=[f"GET vault: {error.get('reason')}"])]


CHECKS = [check_mesh_mode, check_plugin_present, check_plugin_complete, check_key_vault_id,
          check_vault_exists]
