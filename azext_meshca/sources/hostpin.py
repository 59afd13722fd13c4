"""Where each token may go: ARM's only to ARM's host, a Key Vault token only to the vault's
own address. Every ARM GET (sources/azure.py ``arm_get_json``) and every Key Vault
client (``_client_factory.cf_secret_client``, behind diagnose, validate-secrets, show-cert
and scan --read-secrets) asks here first.

ARM: answers carry absolute URLs (a list's ``nextLink``, a role assignment's
``roleDefinitionId``). The ARM client sends an absolute URL as given, with the ARM token,
so one is followed only when its host is the cloud's resource manager host.

Key Vault: a vault's data plane is ``https://<name><the cloud's Key Vault DNS suffix>/``;
the add-on's provider builds that address from the vault's name and never reads
``vaultUri`` (Azure/secrets-store-csi-driver-provider-azure pkg/provider/provider.go,
``getVaultURL``). meshca does the same check: when ARM's (or Resource Graph's) ``vaultUri``
names another host, nothing is sent there and the secrets are reported unread (MCA530).
Why it matters: azure-keyvault-secrets 4.7, which az 2.81-2.91 bundles, caches a vault's
authentication challenge before it checks the challenge's resource, so after the first
read was refused the next reads sent a real Key Vault token to that host (fixed upstream in
Azure/azure-sdk-for-python pull requests 48710 and 48739; meshca runs on the bundled SDK).
"""

from urllib.parse import urlsplit

from azext_meshca.model.snapshot import ARM_LINK_CODE, VAULT_URI_CODE, collection_error


class ForeignHostError(Exception):
    """An address meshca will not send a token to; already worded for the snapshot
    (describe_error passes ``collection_error`` on)."""

    def __init__(self, error):
        super().__init__(error["reason"])
        self.collection_error = error


def _short(text, width=120):
    text = ascii(str(text))[1:-1]
    return text if len(text) <= width else text[:width - 3] + "..."


def _authority(parts):
    """host[:port] of a split https URL, lower case, the default port left out (as the
    Key Vault SDK's challenge cache compares hosts)."""
    netloc = parts.netloc.lower()
    return netloc[:-4] if netloc.endswith(":443") else netloc


def _on_host(url, endpoint):
    """True for an https URL on ``endpoint``'s host (an empty endpoint admits nothing)."""
    parts, home = urlsplit(url), urlsplit(endpoint or "")
    return parts.scheme.lower() == "https" and bool(home.netloc) and _authority(parts) == _authority(home)


def _on_arm(cli_ctx, url):
    """True for an https URL on the cloud's resource manager host."""
    return _on_host(url, cli_ctx.cloud.endpoints.resource_manager)


def _foreign_arm_link(cli_ctx, url):
    arm = urlsplit(cli_ctx.cloud.endpoints.resource_manager).netloc
    return ForeignHostError(collection_error(
        f"ARM's answer links to {_short(url)}, which is not on ARM ({arm}): not followed, so the ARM "
        "token goes to ARM only", code=ARM_LINK_CODE))


def arm_path(cli_ctx, path):
    """``path`` if the ARM client may send it with the ARM token: a path on ARM ("/..."),
    or an https URL on the cloud's resource manager host. ForeignHostError otherwise."""
    path = str(path or "")
    parts = urlsplit(path)
    if not parts.scheme and not parts.netloc and path.startswith("/") and not path.startswith("//"):
        return path
    if _on_arm(cli_ctx, path):
        return path
    raise _foreign_arm_link(cli_ctx, path)


def _host_only_policy(allowed, refusal):
    """An azure-core policy that raises ``refusal(url)`` for a request whose URL ``allowed``
    rejects, on every attempt and before the authentication policy adds the token."""
    from azure.core.pipeline.policies import SansIOHTTPPolicy

    class HostOnly(SansIOHTTPPolicy):
        def on_request(self, request):
            url = request.http_request.url
            if not allowed(url):
                raise refusal(url)

    return HostOnly()


def arm_only_policy(cli_ctx):
    """An azure-core policy for the ARM clients' pipelines (``per_retry_policies``: it runs
    on every attempt, a redirected or polled one too, before the authentication policy adds
    the token): a request to any host but ARM's raises ForeignHostError instead of leaving.
    It covers what the SDKs follow on their own: nextLink pages, and the Location and
    Azure-AsyncOperation URLs a long-running operation (runCommand) is polled at
    (azure-mgmt-core ARMPolling)."""
    return _host_only_policy(lambda url: _on_arm(cli_ctx, url), lambda url: _foreign_arm_link(cli_ctx, url))


def graph_only_policy(cli_ctx):
    """An azure-core policy for the Microsoft Graph pipeline (_client_factory ``cf_graph``),
    run on every attempt before the authentication policy adds the Graph token: a request to
    any host but the cloud's Graph endpoint (``microsoft_graph_resource_id``, which azure-cli's
    own Graph client uses as its base URL: azure-cli src/azure-cli/azure/cli/command_modules/role/
    _msgrpah/_graph_client.py) raises ForeignHostError instead of leaving."""
    graph = cli_ctx.cloud.endpoints.microsoft_graph_resource_id or ""

    def refusal(url):
        return ForeignHostError(collection_error(
            f"{_short(url)} is not on Microsoft Graph ({urlsplit(graph).netloc}): "
            "not sent, so the Graph token goes to Graph only"))

    return _host_only_policy(lambda url: _on_host(url, graph), refusal)


def vault_address(cli_ctx, vault):
    """The one address a vault's secrets are read at: its name under the cloud's Key Vault
    suffix (vaultchallenge.predicted_vault_uri). ForeignHostError, and no request, when the
    vault's ``vaultUri`` names another host or the cloud has no suffix to check it against."""
    from azext_meshca.sources.vaultchallenge import predicted_vault_uri
    from azext_meshca.model.resource_ids import parse_vault_id
    vault = vault or {}
    name = (parse_vault_id(vault.get("id")) or {}).get("name") or vault.get("name")
    expected = predicted_vault_uri(cli_ctx, name)
    given = str(vault.get("vaultUri") or "")
    if expected is None:
        raise ForeignHostError(collection_error(
            f"the vault's URI {_short(given)} could not be checked: this cloud names no Key Vault DNS suffix, "
            "so no Key Vault token was sent", code=VAULT_URI_CODE))
    parts = urlsplit(given)
    if parts.scheme.lower() != "https" or _authority(parts) != _authority(urlsplit(expected)) \
            or parts.path.strip("/") or parts.query or parts.fragment:
        raise ForeignHostError(collection_error(
            f"the vault's URI is {_short(given)}, not its own address {expected}: nothing was sent there, so "
            "the secrets were not read", code=VAULT_URI_CODE))
    return expected
