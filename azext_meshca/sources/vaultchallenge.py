"""Key Vault's authentication challenge, asked for while the vault is still being read.

Why: azure-keyvault-secrets learns which tenant and resource a vault's tokens are for
from a challenge. Its ChallengeAuthPolicy sends the first request without a token, reads
the 401's ``WWW-Authenticate`` header, and only then asks for a token and sends the
request again (azure-keyvault-secrets ``_shared/challenge_auth_policy.py``). That is
one round trip after the vault's ARM read has given its URI, on diagnose's longest chain.

A vault's URI is its name under the cloud's Key Vault DNS suffix
(``https://<name>.vault.azure.net/`` in Azure's public cloud), so it is known from the
plug-in's ``keyVaultId`` before the vault is read. ``elicit`` sends that unauthenticated
request beside the ARM read: it carries no token and no secret, and is the request the
SDK would send first anyway. ``seed`` hands the answer to the SDK's challenge cache only
if the vault ARM then reports is the host that answered, and only if the challenge
passes the check the SDK makes on one it elicits itself (its resource is the host's
parent domain: ``on_challenge`` with ``verify_challenge_resource``), which the SDK does
not repeat for a cached challenge. Otherwise nothing is seeded and the SDK asks itself,
as before: a wrong guess costs one request that no result depends on.
"""

from urllib.parse import quote, urlsplit

# The Key Vault REST version of the SDK's first request (azure-keyvault-secrets 4.7's
# default, ApiVersion.V7_4): the challenge request is the one the SDK would make.
API_VERSION = "7.4"


def predicted_vault_uri(cli_ctx, vault_name):
    """``https://<name><the cloud's Key Vault DNS suffix>/``, or None when the cloud has none."""
    try:
        suffix = cli_ctx.cloud.suffixes.keyvault_dns
    except Exception:  # pylint: disable=broad-except  # azure-cli raises CloudSuffixNotSetException
        return None
    if not suffix or not vault_name:
        return None
    return f"https://{vault_name.lower()}{suffix}/"


def elicit(cli_ctx, vault_uri, secret_name):
    """(request URL, WWW-Authenticate value, response headers) of one unauthenticated GET
    of ``secret_name`` at ``vault_uri``; None unless the vault answered 401 with a challenge.

    Never raises: an unreachable or unknown host is simply no challenge. Bounded as every
    Azure call of the run is (sources/deadline.py), never past its deadline."""
    from azure.core.rest import HttpRequest
    from azext_meshca._client_factory import shared_transport
    from azext_meshca.sources.deadline import CONNECT_SECONDS, READ_SECONDS, deadline_of
    url = f"{vault_uri.rstrip('/')}/secrets/{quote(secret_name, safe='')}/"
    try:
        deadline = deadline_of(cli_ctx)
        if deadline.remaining() <= 0:
            return None
        response = shared_transport(cli_ctx).send(
            HttpRequest("GET", url, params={"api-version": API_VERSION}),
            connection_timeout=deadline.cap(CONNECT_SECONDS), read_timeout=deadline.cap(READ_SECONDS))
        header = response.headers.get("WWW-Authenticate")
        if response.status_code != 401 or not header:
            return None
        return url, header, dict(response.headers)
    except Exception:  # pylint: disable=broad-except  # a guess that did not answer
        return None


def seed(vault_uri, elicited):
    """Cache ``elicited`` (elicit's answer) as ``vault_uri``'s challenge in the SDK; True if done.

    Only when the answering host is ``vault_uri``'s host (case-blind, as DNS is) and the
    challenge's resource passes the SDK's own domain check."""
    if not elicited or not vault_uri:
        return False
    url, header, headers = elicited
    host = urlsplit(vault_uri).netloc.lower()
    if urlsplit(url).netloc.lower() != host:
        return False
    try:
        from azure.keyvault.secrets._shared import http_challenge_cache
        from azure.keyvault.secrets._shared.http_challenge import HttpChallenge
        challenge = HttpChallenge(vault_uri, header, response_headers=headers)
        scope = challenge.get_scope() or challenge.get_resource() + "/.default"
        resource_domain = urlsplit(scope).netloc.lower()
        if not resource_domain or not host.endswith("." + resource_domain):
            return False
        http_challenge_cache.set_challenge_for_url(vault_uri, challenge)
        return True
    except (ImportError, AttributeError, TypeError, ValueError):  # another SDK, a malformed challenge
        return False


def forget(vault_uri):
    """Drop whatever challenge the SDK cached for ``vault_uri``'s host.

    Why: azure-keyvault-secrets 4.7 (bundled with az 2.81-2.91) caches a challenge it elicits
    before it checks the challenge's resource (``_shared/challenge_auth_policy.py``,
    ``_update_challenge`` then ``on_challenge``'s domain check). The read that elicited it
    fails with ValueError, but every later read of the process would take the cached
    challenge and ask for, and send, a token for the resource it names (fixed upstream in
    Azure/azure-sdk-for-python pull requests 48710 and 48739). read_secret calls this when a
    read fails that way, so the next read elicits and checks again, and fails the same way."""
    try:
        from azure.keyvault.secrets._shared import http_challenge_cache
        http_challenge_cache.remove_challenge_for_url(vault_uri)
    except (ImportError, AttributeError, KeyError, ValueError):  # another SDK, or nothing cached
        pass
