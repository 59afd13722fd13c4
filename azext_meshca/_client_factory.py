"""SDK clients. Every import is inside a function: these modules are heavy and must not
load with the command table."""

# Calls are bounded so a hung endpoint cannot stall diagnose; the SDK's own retry
# policy still handles 429 (honouring Retry-After) and 5xx.
ARM_CALL_OPTIONS = {"connection_timeout": 10, "read_timeout": 30}


def cf_managed_clusters(cli_ctx, subscription_id=None):
    from azure.cli.core.commands.client_factory import get_mgmt_service_client
    from azure.cli.core.profiles import ResourceType
    return get_mgmt_service_client(cli_ctx, ResourceType.MGMT_CONTAINERSERVICE,
                                   subscription_id=subscription_id).managed_clusters


def cf_vaults(cli_ctx, subscription_id=None):
    from azure.cli.core.commands.client_factory import get_mgmt_service_client
    from azure.cli.core.profiles import ResourceType
    return get_mgmt_service_client(cli_ctx, ResourceType.MGMT_KEYVAULT,
                                   subscription_id=subscription_id).vaults


def cf_authorization(cli_ctx, subscription_id=None):
    from azure.cli.core.commands.client_factory import get_mgmt_service_client
    from azure.cli.core.profiles import ResourceType
    return get_mgmt_service_client(cli_ctx, ResourceType.MGMT_AUTHORIZATION,
                                   subscription_id=subscription_id)


def cf_secret_client(cli_ctx, vault_url, subscription_id=None):
    """A Key Vault data-plane client that never logs bodies.

    azure-cli's prepare_client_kwargs_track2 installs a policy that logs whole
    response bodies under --debug, which would print ca-key (azure-cli ``azure/cli/core/sdk/policies.py``,
    SafeNetworkTraceLoggingPolicy). We build
    the client with the SDK defaults instead, and keep network tracing off.
    """
    from azure.cli.core._profile import Profile
    from azure.keyvault.secrets import SecretClient
    credential, _, _ = Profile(cli_ctx=cli_ctx).get_login_credentials(subscription_id=subscription_id)
    return SecretClient(vault_url, credential, verify_challenge_resource=True,
                        logging_enable=False, connection_timeout=10, read_timeout=30)


def aks_aad_token(cli_ctx):
    """The bearer token an AAD-enabled AKS API server accepts (as az aks command invoke does)."""
    from azure.cli.core._profile import Profile
    creds, _, _ = Profile(cli_ctx=cli_ctx).get_raw_token(resource="6dae42f8-4368-4678-94ff-3960e28e3630")
    return creds[1]


def cf_resource_graph(cli_ctx):
    """Resource Graph (azure-mgmt-resourcegraph, which azure-cli does not bundle: the
    extension declares it). Tenant-wide, so not bound to one subscription."""
    from azure.cli.core.commands.client_factory import get_mgmt_service_client
    from azure.mgmt.resourcegraph import ResourceGraphClient
    return get_mgmt_service_client(cli_ctx, ResourceGraphClient, subscription_bound=False)
