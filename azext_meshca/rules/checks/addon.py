"""Add-on checks (MCA2xx): the Azure Key Vault secrets provider add-on mounts the
plug-in CA into istiod, so without it (or its identity) nothing else can work.

They run only when a plug-in CA is configured: a mesh on istiod's self-signed CA does
not need the add-on at all.
"""

from azext_meshca.rules.registry import rule
from azext_meshca.rules.checks.common import addon_object_id, csi_addon, make, plugin_config


def addon_enabled(snapshot):
    return csi_addon(snapshot).get("enabled") is True


@rule("MCA201", inputs=("cluster",))
def check_addon_enabled(snapshot, context):
    """MCA201: the secrets provider add-on is off."""
    if plugin_config(snapshot) is None or addon_enabled(snapshot):
        return []
    value = csi_addon(snapshot).get("enabled")
    return [make(context, "MCA201", "azureKeyvaultSecretsProvider", evidence=[
        f"addonProfiles.azureKeyvaultSecretsProvider.enabled: {'false' if value is False else 'not set'}"])]


@rule("MCA202", inputs=("cluster",))
def check_addon_identity(snapshot, context):
    """MCA202: the add-on is on but has no identity objectId to grant access to."""
    if plugin_config(snapshot) is None or not addon_enabled(snapshot) or addon_object_id(snapshot):
        return []
    identity = csi_addon(snapshot).get("identity")
    return [make(context, "MCA202", "azureKeyvaultSecretsProvider", evidence=[
        f"addonProfiles.azureKeyvaultSecretsProvider.identity: {'not set' if not identity else 'objectId not set'}"])]


CHECKS = [check_addon_enabled, check_addon_identity]
