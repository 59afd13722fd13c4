"""SDK clients. Every import is inside a function: these modules are heavy and must not
load with the command table.

All clients of one az invocation share one credential and one HTTP session
(``_shared``, kept on ``cli_ctx.data``): each service's token is fetched once even when
reads start concurrently, and each host gets one connection pool, not one per client.
"""

import threading
import time

# Calls are bounded so a hung endpoint cannot stall diagnose; the retry policy of
# sources/deadline.py handles 429 (honouring Retry-After) and 5xx within the run's deadline.
ARM_CALL_OPTIONS = {"connection_timeout": 10, "read_timeout": 30}
# For ARM calls whose request or response body holds a credential: listClusterUserCredential
# (a kubeconfig with the user's token or client key) and runCommand (the caller's AKS AAD
# token as clusterToken; the command's output). azure-cli's SafeNetworkTraceLoggingPolicy
# logs whole bodies under --debug and into az.log, and skips a request whose context says
# logging_enable False (azure-cli src/azure-cli-core/azure/cli/core/sdk/policies.py,
# ``options.pop("logging_enable", True)``). A long-running operation passes its call's
# options on to every poll (azure-core polling/base_polling.py, LROBasePolling
# ``_operation_config``), so the polls of a runCommand stay unlogged too.
CREDENTIAL_CALL_OPTIONS = dict(ARM_CALL_OPTIONS, logging_enable=False)


# A token this close to expiry is fetched again (azure-core's BearerTokenCredentialPolicy
# refreshes 300 s ahead as well).
_TOKEN_REFRESH_SECONDS = 300
_SHARED_LOCK = threading.Lock()


class SharedCredential:  # pylint: disable=too-few-public-methods  # azure-core's TokenCredential is get_token
    """A TokenCredential that fetches each scope's token once and hands it to every caller.

    azure-cli builds a new credential for every client, and a managed identity
    credential keeps no token between instances; four concurrent Key Vault reads
    would each fetch their own token. Here the first caller of a scope fetches it
    while the others wait on that scope's lock, then all reuse it until it nears
    expiry. A claims challenge (CAE) always goes to the wrapped credential.
    """

    def __init__(self, credential):
        self._credential = credential
        self._lock = threading.Lock()
        self._scope_locks = {}
        self._tokens = {}

    def get_token(self, *scopes, **kwargs):
        if kwargs.get("claims"):
            return self._credential.get_token(*scopes, **kwargs)
        key = (scopes, kwargs.get("tenant_id"))
        with self._lock:
            scope_lock = self._scope_locks.setdefault(key, threading.Lock())
        with scope_lock:
            token = self._tokens.get(key)
            if token is None or token.expires_on - time.time() < _TOKEN_REFRESH_SECONDS:
                token = self._credential.get_token(*scopes, **kwargs)
                self._tokens[key] = token
            return token


class _Notifying:  # pylint: disable=too-few-public-methods
    """A credential that calls ``on_token()`` before each token request it passes on."""

    def __init__(self, credential, on_token):
        self._credential = credential
        self._on_token = on_token

    def get_token(self, *scopes, **kwargs):
        self._on_token()
        return self._credential.get_token(*scopes, **kwargs)


def _shared(cli_ctx, key, build):
    """One ``build()`` per az invocation (``cli_ctx``) and key. Each key has its own lock,
    so building one thing never holds up getting another."""
    with _SHARED_LOCK:
        store = cli_ctx.data.setdefault("meshca_shared", {})
        slot = store.setdefault(key, {"lock": threading.Lock()})
    with slot["lock"]:
        if "value" not in slot:
            slot["value"] = build()
        return slot["value"]


def shared_login(cli_ctx, subscription_id=None, audience="ARM"):
    """(credential, subscription id) of the current login: one credential per account
    (tenant and user), audience and run, whichever of the account's subscriptions asks
    (the default subscription named or not is the same one).

    Why per account, not per subscription: the token a credential gets depends on the
    account and the scope (and for Key Vault the tenant its challenge names), never on the
    subscription it was made for (azure-cli ``_profile.py`` ``get_login_credentials`` picks
    the subscription's account). scan --read-secrets reads vaults in 50 subscriptions of one
    account: one Key Vault token, not fifty.

    Token requests are retried within the run's deadline (sources/deadline.py), each
    with a fresh login credential; ``audience`` only names the failed request. The
    deadline is looked up at each request (``run_deadline``), so a credential shared on
    the cli_ctx never keeps a spent one."""
    from azure.cli.core._profile import Profile
    from azext_meshca.sources.deadline import DeadlineCredential, run_deadline
    account = _subscription(cli_ctx, subscription_id)
    subscription = account["id"]
    user = account.get("user") or {}

    def build():
        def login():
            return Profile(cli_ctx=cli_ctx).get_login_credentials(subscription_id=subscription)[0]
        return SharedCredential(DeadlineCredential(login, run_deadline(cli_ctx), audience))
    key = ("login", str(account.get("tenantId")).lower(), str(user.get("type")), str(user.get("name")).lower(),
           audience)
    return _shared(cli_ctx, key, build), subscription


def _subscription(cli_ctx, subscription_id):
    """az login's record of ``subscription_id`` (the current one when None), looked up once
    per run: each lookup reads and deep-copies every cached subscription
    (azure-cli ``_profile.py`` ``load_cached_subscriptions``), which a thousand vault
    readers would otherwise do a thousand times. CLIError (not cached) when unknown."""
    from azure.cli.core._profile import Profile
    from azure.cli.core.commands.client_factory import get_subscription_id
    # get_subscription_id honours az's global --subscription (cli_ctx.data); Profile's
    # get_subscription(None) would give the login's default one instead.
    requested = subscription_id or get_subscription_id(cli_ctx)
    return _shared(cli_ctx, ("subscription", str(requested).lower()),
                   lambda: Profile(cli_ctx=cli_ctx).get_subscription(requested))


def _environment_once_session():
    """A requests Session that reads the environment's settings once per scheme and host.

    requests reads proxies, NO_PROXY and REQUESTS_CA_BUNDLE from os.environ on every request
    (requests/sessions.py ``merge_environment_settings`` -> utils.py ``get_environ_proxies``,
    which walks all of os.environ twice through urllib.request ``getproxies_environment``).
    That walk was the largest CPU cost of a Key Vault read in ``scan --read-secrets``
    (bench/scan_speed.py). az's environment does not change during one invocation, so the
    answer for a host is the same each time; proxies the caller passes still go through
    requests' own merge.

    The answer depends on the host only through whether NO_PROXY exempts it (requests
    sessions.py ``merge_environment_settings``: ``get_environ_proxies`` is {} when
    ``should_bypass_proxies``, else ``getproxies()``; verify and cert come from the
    environment alone), so hosts alike share one answer: scan --read-secrets' thousand vault
    hosts cost requests' bypass check each (one environment walk), not its whole merge."""
    from urllib.parse import urlsplit
    import requests
    from requests.utils import should_bypass_proxies

    class EnvironmentOnceSession(requests.Session):  # pylint: disable=too-few-public-methods  # one override
        """requests.Session with merge_environment_settings answered once per scheme and host."""

        def __init__(self):
            super().__init__()
            self._settings = {}
            self._bypass = {}

        def merge_environment_settings(self, url, proxies, stream, verify, cert):
            if proxies:
                return super().merge_environment_settings(url, proxies, stream, verify, cert)
            parts = urlsplit(url)
            host = (parts.scheme, parts.netloc)
            bypass = self._bypass.get(host)
            if bypass is None:
                bypass = self._bypass[host] = should_bypass_proxies(url, no_proxy=None)
            key = (parts.scheme, bypass, stream, verify, cert)
            settings = self._settings.get(key)
            if settings is None:
                settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
                self._settings[key] = dict(settings, proxies=dict(settings.get("proxies") or {}))
            return dict(settings, proxies=dict(settings.get("proxies") or {}))

    return EnvironmentOnceSession()


def shared_transport(cli_ctx):
    """One requests session (one connection pool per host) for every Azure client of the run."""
    def build():
        import requests
        from azure.core.pipeline.transport import RequestsTransport
        session = _environment_once_session()
        # One pool per host, kept for up to 256 hosts: scan reads up to 128 vaults (hosts) at
        # once, and a pool pushed out of requests' default 10 closes its kept-alive connections.
        adapter = requests.adapters.HTTPAdapter(pool_connections=256, pool_maxsize=16)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return RequestsTransport(session=session, session_owner=False)
    return _shared(cli_ctx, "transport", build)


def _mgmt_client(cli_ctx, resource_type, subscription_id):
    """One management client per SDK and subscription for the run (building one costs
    CPU: its serializer indexes every model of the SDK). Its retries honour Retry-After
    within the run's deadline (sources/deadline.py); it sends nothing, and no token, to a
    host other than ARM's (sources/hostpin.py ``arm_only_policy``)."""
    from azure.cli.core.commands.client_factory import get_mgmt_service_client
    from azext_meshca.sources.deadline import azure_retry_policy, run_deadline
    from azext_meshca.sources.hostpin import arm_only_policy
    credential, subscription = shared_login(cli_ctx, subscription_id)
    return _shared(cli_ctx, ("client", str(resource_type), subscription.lower()),
                   lambda: get_mgmt_service_client(cli_ctx, resource_type, subscription_id=subscription,
                                                   credential=credential, transport=shared_transport(cli_ctx),
                                                   retry_policy=azure_retry_policy(run_deadline(cli_ctx), "ARM"),
                                                   per_retry_policies=[arm_only_policy(cli_ctx)]))


def cf_managed_clusters(cli_ctx, subscription_id=None):
    from azure.cli.core.profiles import ResourceType
    return _mgmt_client(cli_ctx, ResourceType.MGMT_CONTAINERSERVICE, subscription_id).managed_clusters


def cf_arm(cli_ctx, subscription_id=None):
    """A client whose ``send_request`` makes plain ARM requests (sources/azure.py
    ``arm_get_json``): the container-service client, which the cluster read builds anyway."""
    from azure.cli.core.profiles import ResourceType
    return _mgmt_client(cli_ctx, ResourceType.MGMT_CONTAINERSERVICE, subscription_id)


def cf_vaults(cli_ctx, subscription_id=None):
    from azure.cli.core.profiles import ResourceType
    return _mgmt_client(cli_ctx, ResourceType.MGMT_KEYVAULT, subscription_id).vaults


def cf_authorization(cli_ctx, subscription_id=None):
    from azure.cli.core.profiles import ResourceType
    return _mgmt_client(cli_ctx, ResourceType.MGMT_AUTHORIZATION, subscription_id)


def cf_secret_client(cli_ctx, vault, subscription_id=None, on_token=None):
    """A Key Vault data-plane client for ``vault`` (the snapshot's vault) that never logs
    bodies, bound to the vault's own address only: sources/hostpin.py ``vault_address``
    raises ForeignHostError, before any request, when its vaultUri names another host.

    azure-cli's prepare_client_kwargs_track2 installs a policy that logs whole
    response bodies under --debug, which would print ca-key (azure-cli ``azure/cli/core/sdk/policies.py``,
    SafeNetworkTraceLoggingPolicy). We build
    the client with the SDK defaults instead, and keep network tracing off.
    ``on_token`` is called whenever the client asks for a token: by then it has read
    the vault's authentication challenge.
    """
    from azure.keyvault.secrets import SecretClient
    from azext_meshca.sources.deadline import azure_retry_policy, run_deadline
    from azext_meshca.sources.hostpin import vault_address
    vault_url = vault_address(cli_ctx, vault)
    credential, _ = shared_login(cli_ctx, subscription_id, audience="Key Vault")
    if on_token is not None:
        credential = _Notifying(credential, on_token)
    return SecretClient(vault_url, credential, verify_challenge_resource=True, transport=shared_transport(cli_ctx),
                        logging_enable=False, connection_timeout=10, read_timeout=30,
                        retry_policy=azure_retry_policy(run_deadline(cli_ctx), "Key Vault"))


def cf_vault_reader(cli_ctx, vault, subscription_id=None):
    """scan --read-secrets' reader of one vault (sources/keyvault.py ``LeanSecretClient``):
    SecretClient's get_secret at a fraction of its CPU, with the same address pin, challenge
    policy, credential, deadline, proxy and CA settings as cf_secret_client's client, and a
    connection of its own that ``close()`` ends. Bound to
    the vault's own address only (hostpin ``vault_address``: ForeignHostError before any request).
    Its TLS context is the run's one for its CA setting (keyvault.vault_tls_context)."""
    from azext_meshca.sources.deadline import azure_retry_policy, run_deadline
    from azext_meshca.sources.hostpin import vault_address
    from azext_meshca.sources.keyvault import LeanSecretClient, lean_pipeline, pooled_transport, vault_tls_context
    vault_url = vault_address(cli_ctx, vault)
    credential, _ = shared_login(cli_ctx, subscription_id, audience="Key Vault")
    transport = pooled_transport(shared_transport(cli_ctx).session, vault_url,
                                 lambda verify: _shared(cli_ctx, ("vault TLS context", verify),
                                                        lambda: vault_tls_context(verify)))
    # A retry policy per vault, not one per run: azure-core's Pipeline links its policies by
    # setting each one's ``next`` (pipeline/_base.py Pipeline.__init__), so a policy shared by
    # two pipelines would send one vault's requests down the other's chain.
    return LeanSecretClient(vault_url, lean_pipeline(transport, credential,
                                                     azure_retry_policy(run_deadline(cli_ctx), "Key Vault")),
                            transport)


def cf_graph(cli_ctx):
    """A client for Microsoft Graph reads (``send_request``): the run's shared transport, the
    run's retry policy, and a Graph token only for Graph's own host (hostpin.graph_only_policy).

    Why not azure-cli's ``send_raw_request`` (which its own Graph client uses): under --debug it
    logs the Authorization header's first characters ("Bearer eyJ0eXAiOiJKV...",
    azure-cli src/azure-cli-core/azure/cli/core/util.py ``_log_request``); azure-core's
    HttpLoggingPolicy logs the header as "REDACTED" and never logs bodies."""
    from azure.cli.core.auth.util import resource_to_scopes
    from azure.core import PipelineClient
    from azure.core.pipeline import Pipeline
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy, HttpLoggingPolicy
    from azext_meshca.sources.deadline import azure_retry_policy, run_deadline
    from azext_meshca.sources.hostpin import graph_only_policy
    graph = cli_ctx.cloud.endpoints.microsoft_graph_resource_id
    credential, _ = shared_login(cli_ctx, audience="Microsoft Graph")
    pipeline = Pipeline(transport=shared_transport(cli_ctx), policies=[
        graph_only_policy(cli_ctx), azure_retry_policy(run_deadline(cli_ctx), "Microsoft Graph"),
        BearerTokenCredentialPolicy(credential, *resource_to_scopes(graph)), HttpLoggingPolicy()])
    return PipelineClient(graph, pipeline=pipeline)


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
