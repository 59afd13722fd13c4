"""scan --read-secrets' lean Key Vault read: thousands of secret GETs at a fraction of the SDK's CPU.

Why: scan --read-secrets reads every object of up to a thousand vaults in one az process,
and az's CPU is the bound (one core, the GIL), not the network. Through ``SecretClient``
each GET cost about three times what the request itself costs: azure-core's per-call
policies (headers, user agent, tracing, the header-redacting logging policy), requests'
per-request work (cookie jars, environment merges, hooks, a Response object) and the
SDK's model building (azure-keyvault-secrets ``_generated`` deserialisers). ``bench/
scan_speed.py`` measures the difference.

What stays exactly as the SDK does it, because the security of the read rests on it:

- the vault's address is pinned (sources/hostpin.py ``vault_address``) before anything is
  built, and each reader sends only to that host: redirects are not followed;
- the challenge protocol is the SDK's own policy (azure-keyvault-secrets
  ``_shared/challenge_auth_policy.py`` ``ChallengeAuthPolicy``, with
  ``verify_challenge_resource``), so one unauthenticated request per vault elicits the
  challenge, its resource is checked against the vault's domain, and the token asked for is
  the one the SDK would ask for (one shared credential per run: _client_factory.SharedCredential);
- retries and timeouts are the run's deadline's (sources/deadline.py ``azure_retry_policy``);
- errors are azure-core's own exception types built from the response, so
  sources/errors.py ``describe_error`` words them as for the SDK, with the service's
  message only; nothing is logged, and no body, token or value reaches an exception.

What goes: every other policy, requests' Session layer (the proxy and CA settings stay
requests', read from the run's session; each vault has a pool of its own, closed after its
reads), and
the generated models: the JSON answer becomes the SDK's public ``KeyVaultSecret`` directly,
so sources/azure.py ``read_secret`` and ``normalise_secret`` judge it as they judge the SDK's.
"""

import datetime
import functools
import json
import os
from urllib.parse import quote, urlsplit

from azure.core.pipeline.transport import HttpResponse, HttpTransport
from requests.adapters import HTTPAdapter

# Key Vault's REST version: the one the bundled SDK sends (azure-keyvault-secrets 4.7
# ``_shared/client_base.py`` DEFAULT_VERSION, ApiVersion.V7_4), as vaultchallenge does.
from azext_meshca.sources.vaultchallenge import API_VERSION

# What the SDK's generated get_secret maps each status to (azure-keyvault-secrets 4.7
# ``_generated/operations/_key_vault_client_operations.py`` error_map); any other status
# >= 300 is an HttpResponseError. describe_error words them all alike.
_ERROR_MAP = {401: "ClientAuthenticationError", 404: "ResourceNotFoundError", 409: "ResourceExistsError",
              304: "ResourceNotModifiedError"}


class SecretAttributes:  # pylint: disable=too-few-public-methods  # the SDK reads these fields only
    """The fields of Key Vault's ``attributes`` object that ``SecretProperties`` reads,
    with unix times as UTC datetimes, as the SDK's deserialiser gives them
    (azure-keyvault-secrets ``_generated/_serialization.py`` ``deserialize_unix``)."""

    def __init__(self, raw, secret_name):
        from azext_meshca.model.inputs import as_mapping
        raw = as_mapping(raw, f"secret {secret_name}.attributes")
        self.enabled = raw.get("enabled")
        self.not_before = _unix_time(raw.get("nbf"), secret_name, "nbf")
        self.expires = _unix_time(raw.get("exp"), secret_name, "exp")
        self.created = _unix_time(raw.get("created"), secret_name, "created")
        self.updated = _unix_time(raw.get("updated"), secret_name, "updated")
        self.recoverable_days = raw.get("recoverableDays")
        self.recovery_level = raw.get("recoveryLevel")


def _unix_time(value, secret_name, field):
    from azext_meshca.model.inputs import InputError
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"secret {secret_name}'s attributes.{field} is not a unix time")
    try:
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError) as error:
        raise InputError(f"secret {secret_name}'s attributes.{field} is out of range") from error


def secret_from_body(secret_name, body):
    """The SDK's ``KeyVaultSecret`` from a GET secret answer's bytes (Key Vault's
    SecretBundle: id, value, contentType, kid, managed, tags, attributes). InputError
    naming the field when the service sent something else."""
    from azure.keyvault.secrets import KeyVaultSecret, SecretProperties
    from azext_meshca.model.inputs import InputError, as_mapping
    try:
        raw = json.loads(body)
    except ValueError:   # not chained: JSONDecodeError keeps the whole answer (.doc), the value too
        raise InputError(f"secret {secret_name}: the answer is not JSON") from None
    raw = as_mapping(raw, f"secret {secret_name}")
    secret_id = raw.get("id")
    if secret_id is not None and not isinstance(secret_id, str):
        raise InputError(f"secret {secret_name}'s id is not text")
    properties = SecretProperties(SecretAttributes(raw.get("attributes"), secret_name), secret_id,
                                  content_type=raw.get("contentType"), key_id=raw.get("kid"),
                                  managed=raw.get("managed"), tags=raw.get("tags"))
    return KeyVaultSecret(properties=properties, value=raw.get("value"))


class LeanSecretClient:  # pylint: disable=too-few-public-methods  # SecretClient's one method scan uses
    """``get_secret`` of one vault, over ``pipeline`` (see lean_pipeline); the rest of
    SecretClient is not needed by a reader. ``vault_url`` is the pinned address."""

    def __init__(self, vault_url, pipeline, transport):
        self.vault_url = vault_url
        self._secrets_url = f"{vault_url.rstrip('/')}/secrets/"
        self._pipeline = pipeline
        self._transport = transport

    def close(self):
        """End the vault's connection (PooledTransport.close); reads after it fail."""
        self._transport.close()

    def get_secret(self, name):
        """The current version of secret ``name`` as the SDK's KeyVaultSecret; the SDK's
        exception types on an error answer (azure.core.exceptions.map_error)."""
        from azure.core.exceptions import HttpResponseError
        from azure.core.rest import HttpRequest
        # The query written out as azure-core's params= would format it (one pair, no
        # escaping needed): that formatting was a visible share of a read's CPU.
        url = f"{self._secrets_url}{quote(name, safe='')}/?api-version={API_VERSION}"
        response = self._pipeline.run(HttpRequest("GET", url)).http_response
        if response.status_code != 200:
            raise _error_type(response.status_code, HttpResponseError)(response=response,
                                                                       error_format=_error_format())
        return secret_from_body(name, response.body())


def _error_type(status, default):
    from azure.core import exceptions
    name = _ERROR_MAP.get(status)
    return getattr(exceptions, name) if name else default


@functools.lru_cache(maxsize=None)
def _error_format():
    """azure-core's ODataV4Format (the error model HttpResponseError parses the answer into),
    but for one thing: the exception's message shows ``innererror`` as compact JSON.

    Why: ODataV4Format.message_details writes it with ``json.dumps(indent=4)``, which runs
    json's pure-Python encoder; scan --read-secrets builds thousands of these errors (every
    403 and 404), and that encoding was a visible share of its CPU. Nothing else changes:
    code, message and innererror, which describe_error reads, are the parent's, and
    ``error_format`` is HttpResponseError's own keyword (azure-core exceptions.py)."""
    from azure.core.exceptions import ODataV4Format

    class CompactODataV4Format(ODataV4Format):
        def message_details(self):
            innererror, self.innererror = self.innererror, {}
            try:
                details = super().message_details()
            finally:
                self.innererror = innererror
            return f"{details}\nInner error: {json.dumps(innererror)}" if innererror else details

    return CompactODataV4Format


def lean_pipeline(transport, credential, retry_policy):
    """An azure-core pipeline of two policies: the run's retry policy around the SDK's
    challenge policy (the order SecretClient gives them), over ``transport``."""
    from azure.core.pipeline import Pipeline
    from azure.keyvault.secrets._shared.challenge_auth_policy import ChallengeAuthPolicy
    return Pipeline(transport=transport, policies=[retry_policy,
                                                   ChallengeAuthPolicy(credential, verify_challenge_resource=True)])


def pooled_transport(session, vault_url, tls_context=None):
    """A transport that sends to ``vault_url``'s host only, on a connection pool of its own
    (one kept-alive connection) made by a requests adapter with the run's ``session``'s
    proxy and CA settings (requests' own merge of the environment, done once here rather
    than per request). Its own, so ``close`` ends the vault's connection once its reads are
    done: a thousand idle TLS connections held to the end of the run were a visible share of
    scan --read-secrets' peak memory (bench/scan_speed.py).

    ``tls_context(verify)``: the run's one SSLContext for that CA setting (vault_tls_context),
    or None to let urllib3 build one per pool as requests would."""
    import requests
    # The URL alone, prepared as requests prepares it: the adapter reads nothing else of the
    # request here (adapters.py get_connection_with_tls_context: select_proxy and
    # build_connection_pool_key_attributes read ``url``), and a full prepare() builds a cookie
    # jar and hooks per vault.
    prepared = requests.PreparedRequest()
    prepared.prepare_method("GET")
    prepared.prepare_url(vault_url, None)
    settings = session.merge_environment_settings(prepared.url, {}, False, session.verify, session.cert)
    context = tls_context(settings["verify"]) if tls_context and not settings["cert"] else None
    adapter = SharedContextAdapter(context, pool_connections=1, pool_maxsize=1)
    pool = adapter.get_connection_with_tls_context(prepared, settings["verify"], settings["proxies"],
                                                   settings["cert"])
    return PooledTransport(pool, vault_url, adapter)


def vault_tls_context(verify):
    """One SSLContext for every vault connection of the run that has CA setting ``verify``
    (requests' ``verify``: True, or a CA bundle file or directory), configured as urllib3
    configures the one it builds per pool, with the CA certificates requests would give it
    (requests 2.x adapters.py ``HTTPAdapter.cert_verify``: its own bundle when ``verify`` is
    True). None when ``verify`` is False: that pool then gets requests' own settings.

    Why: urllib3 builds a context and loads the bundle into it for every pool, so for each
    vault; certifi's bundle takes about 14 ms of CPU to load, 14 s over a thousand vaults.
    A shared context changes nothing per connection: urllib3 still sends the vault's name as
    SNI and the context checks the certificate against it (check_hostname, set by
    urllib3 util/ssl_.py ``create_urllib3_context`` for CERT_REQUIRED), and an SSLContext
    may be shared by threads (CPython ssl module docs; OpenSSL's SSL_CTX is)."""
    import ssl
    from requests.utils import DEFAULT_CA_BUNDLE_PATH
    from urllib3.util.ssl_ import create_urllib3_context
    if verify is False:
        return None
    location = DEFAULT_CA_BUNDLE_PATH if verify is True or verify is None else verify
    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    if os.path.isdir(location):
        context.load_verify_locations(capath=location)
    else:
        context.load_verify_locations(cafile=location)
    return context


class SharedContextAdapter(HTTPAdapter):  # pylint: disable=too-few-public-methods  # one override
    """requests' HTTPAdapter whose pools use ``ssl_context`` (when not None) instead of a
    context of their own loaded from the CA bundle: requests' documented extension point
    (adapters.py ``build_connection_pool_key_attributes``: set ``ssl_context`` and drop
    what it replaces)."""

    def __init__(self, ssl_context, **kwargs):
        self._ssl_context = ssl_context
        super().__init__(**kwargs)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if self._ssl_context is not None:
            pool_kwargs.pop("ca_certs", None)
            pool_kwargs.pop("ca_cert_dir", None)
            pool_kwargs["ssl_context"] = self._ssl_context
        return host_params, pool_kwargs


class PooledResponse(HttpResponse):
    """azure-core's legacy response over a urllib3 answer read whole (secrets are small)."""

    def __init__(self, request, raw):
        super().__init__(request, raw)
        self.status_code = raw.status
        self.reason = raw.reason
        self.headers = raw.headers          # urllib3's HTTPHeaderDict: case-insensitive
        self.content_type = raw.headers.get("Content-Type")
        self._body = raw.data

    def body(self):
        return self._body

    def stream_download(self, pipeline, **kwargs):
        """The body, already read whole, as one chunk."""
        return iter([self._body])


class PooledTransport(HttpTransport):
    """One vault's HTTPS connection pool as an azure-core transport (see pooled_transport)."""

    def __init__(self, pool, vault_url, adapter):
        self._pool = pool
        self._host = urlsplit(vault_url).netloc.lower()
        self._adapter = adapter

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()

    def open(self):
        pass

    def close(self):
        """Close the vault's connection (and the adapter's pools): its reads are done."""
        self._adapter.close()

    def send(self, request, **kwargs):
        """``request`` on the pool, read whole; azure-core's exception types for what
        failed, as its requests transport maps them (_requests_basic.py ``send``)."""
        import urllib3
        from azure.core.exceptions import ServiceRequestError
        from azext_meshca.sources.deadline import CONNECT_SECONDS, READ_SECONDS
        parts = urlsplit(request.url)
        if parts.scheme.lower() != "https" or parts.netloc.lower() != self._host:
            raise ServiceRequestError(f"refused to send to {parts.netloc!r}: this transport sends to "
                                      f"{self._host} only")
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        timeout = urllib3.Timeout(connect=kwargs.get("connection_timeout") or CONNECT_SECONDS,
                                  read=kwargs.get("read_timeout") or READ_SECONDS)
        try:
            raw = self._pool.urlopen(request.method, path, body=getattr(request, "content", None),
                                     headers=dict(request.headers), redirect=False, assert_same_host=False,
                                     retries=_no_retries(), timeout=timeout, preload_content=True,
                                     decode_content=True)
        except urllib3.exceptions.HTTPError as error:
            raise _transport_error(error) from error
        return PooledResponse(request, raw)


@functools.lru_cache(maxsize=None)
def _no_retries():
    """The Retry urllib3 makes of ``retries=False, redirect=False`` (urllib3 2.x util/retry.py
    ``Retry.from_int``: ``Retry(False, redirect=False)``), made once: Retry never changes
    (``increment`` returns a new one), and from_int builds and debug-logs one per request."""
    from urllib3.util.retry import Retry
    return Retry(False, redirect=False)


def _transport_error(error):
    """azure-core's exception for a urllib3 failure, as RequestsTransport chooses it:
    no connection -> ServiceRequestError (a timeout: ServiceRequestTimeoutError); a broken
    or late answer -> ServiceResponseError (a timeout: ServiceResponseTimeoutError)."""
    from urllib3 import exceptions as u3
    from azure.core import exceptions as core
    if isinstance(error, u3.ConnectTimeoutError):
        return core.ServiceRequestTimeoutError(error, error=error)
    if isinstance(error, (u3.NewConnectionError, u3.ProxyError, u3.SSLError, u3.LocationParseError)):
        return core.ServiceRequestError(error, error=error)
    if isinstance(error, u3.ReadTimeoutError):
        return core.ServiceResponseTimeoutError(error, error=error)
    return core.ServiceResponseError(error, error=error)
