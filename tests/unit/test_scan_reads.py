"""scan's lean reads (issue #25): Key Vault secrets without the SDK's models, Resource Graph
pages without its models, and the certificate memo's bound. Each must judge what the SDK
path judges."""

import datetime
import json

import pytest

from azext_meshca.rules import runner
from azext_meshca.sources import fleet as fleet_source
from azext_meshca.sources import keyvault
from azext_meshca.sources import resourcegraph as graph
from azext_meshca.sources.azure import normalise_secret
from azext_meshca.verbs import scan

NOW = int(datetime.datetime(2026, 12, 7, tzinfo=datetime.timezone.utc).timestamp())
VAULT = "https://kv1.vault.loop.test"
# GET secret answers in Key Vault's REST shape (azure-rest-api-specs
# specification/keyvault/data-plane/Microsoft.KeyVault/stable/7.4/secrets.json, SecretBundle).
BODIES = [
    {"id": f"{VAULT}/secrets/ca-cert/0123456789abcdef", "value": "-----BEGIN CERTIFICATE-----\n",
     "attributes": {"enabled": True, "created": NOW, "updated": NOW + 60, "exp": NOW + 86400, "nbf": NOW - 60,
                    "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90},
     "tags": {"owner": "platform"}, "contentType": "application/x-pem-file",
     "kid": f"{VAULT}/keys/ca-cert/0123456789abcdef", "managed": True},
    {"id": f"{VAULT}/secrets/root-cert/fedcba", "value": "text", "attributes": {"enabled": False}},
    {"id": f"{VAULT}/secrets/ca-key", "value": "", "attributes": {}},
    {"id": f"{VAULT}/secrets/cert-chain/v1", "attributes": {"enabled": True, "exp": None}},
]


def _sdk_secret(body):
    """What SecretClient.get_secret builds from the same answer (azure-keyvault-secrets 4.7:
    the generated SecretBundle, then KeyVaultSecret._from_secret_bundle)."""
    from azure.keyvault.secrets import KeyVaultSecret
    from azure.keyvault.secrets._generated.v7_4.models import SecretBundle
    return KeyVaultSecret._from_secret_bundle(SecretBundle.deserialize(body))  # pylint: disable=protected-access


@pytest.mark.parametrize("body", BODIES, ids=lambda body: body["id"].rsplit("/secrets/", 1)[1])
def test_a_lean_read_is_judged_as_the_sdks_read_of_the_same_answer(body):
    name = body["id"].rsplit("/secrets/", 1)[1].split("/")[0]
    lean = keyvault.secret_from_body(name, json.dumps(body).encode())
    sdk = _sdk_secret(body)
    assert normalise_secret(name, lean.properties, lean.value) == normalise_secret(name, sdk.properties, sdk.value)
    assert lean.properties.version == sdk.properties.version
    assert lean.properties.tags == sdk.properties.tags


@pytest.mark.parametrize("body, field", [
    (b"not json", "not JSON"),
    (b"[1, 2]", "secret ca-cert"),
    (json.dumps({"id": 7, "attributes": {}}).encode(), "id"),
    (json.dumps({"attributes": {"exp": "tomorrow"}}).encode(), "attributes.exp"),
    (json.dumps({"attributes": {"nbf": 10 ** 20}}).encode(), "attributes.nbf"),
    (json.dumps({"attributes": []}).encode(), "attributes"),
])
def test_a_malformed_answer_is_an_input_error_naming_the_field(body, field):
    from azext_meshca.model.inputs import InputError
    with pytest.raises(InputError) as raised:
        keyvault.secret_from_body("ca-cert", body)
    assert field in str(raised.value)
    assert "tomorrow" not in str(raised.value)      # never echoes what was sent


class _Request:   # pylint: disable=too-few-public-methods
    def __init__(self, url):
        self.url, self.method, self.headers, self.content = url, "GET", {}, None


class _Pool:   # pylint: disable=too-few-public-methods
    def __init__(self):
        self.sent = []

    def urlopen(self, method, path, **_):
        self.sent.append((method, path))
        raise AssertionError("not reached")


def test_the_pooled_transport_sends_to_its_vault_only():
    from azure.core.exceptions import ServiceRequestError
    pool = _Pool()
    transport = keyvault.PooledTransport(pool, VAULT + "/", adapter=None)
    for url in ("https://attacker.example/secrets/ca-key/", "http://kv1.vault.loop.test/secrets/ca-key/",
                "https://kv1.vault.loop.test.attacker.example/secrets/ca-key/"):
        with pytest.raises(ServiceRequestError):
            transport.send(_Request(url))
    assert pool.sent == []


class _Clock:
    def __init__(self):
        self.now, self.slept = 0.0, []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


class _TlsServer:
    """A loopback HTTPS server on all of 127/8 with the simulator's certificate (sandbox/sim/pki.py:
    127.0.0.1 and localhost, not 127.0.0.2), answering every request 200 ``{}``."""

    def __init__(self):
        import socket
        import ssl
        import threading
        from sandbox.sim.pki import server_pki
        self.pki = server_pki()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pki.cert_file, self.pki.key_file)
        self._listener = socket.create_server(("", 0))
        self.port = self._listener.getsockname()[1]
        self._context = context
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import threading
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(client,), daemon=True).start()

    def _answer(self, client):
        import ssl
        try:
            with self._context.wrap_socket(client, server_side=True) as tls:
                while tls.recv(65536):
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        except (OSError, ssl.SSLError):
            client.close()

    def close(self):
        self._listener.close()


@pytest.fixture(name="tls_server")
def _tls_server():
    server = _TlsServer()
    yield server
    server.close()


def _session(verify):
    import requests
    session = requests.Session()
    session.trust_env, session.verify = False, verify     # no proxy, this CA setting
    return session


def test_vault_connections_share_one_tls_context_that_still_checks_each_host(tls_server):
    """One SSLContext for the run (urllib3 would build one and load the CA bundle per vault);
    each connection still sends its own host as SNI and is refused when the certificate does
    not name it (127.0.0.2 is not in the simulator's certificate)."""
    import ssl
    from azure.core.exceptions import ServiceRequestError
    contexts = []

    def tls_context(verify):
        contexts.append(keyvault.vault_tls_context(verify))
        return contexts[-1]

    shared = keyvault.vault_tls_context(tls_server.pki.ca_file)
    assert shared.check_hostname and shared.verify_mode == ssl.CERT_REQUIRED
    good = [keyvault.pooled_transport(_session(tls_server.pki.ca_file), url, lambda verify: shared)
            for url in (f"https://localhost:{tls_server.port}", f"https://127.0.0.1:{tls_server.port}")]
    wrong = keyvault.pooled_transport(_session(tls_server.pki.ca_file), f"https://127.0.0.2:{tls_server.port}",
                                      tls_context)
    try:
        for transport in good:
            pool = transport._pool      # pylint: disable=protected-access  # what urllib3 connects with
            assert pool.conn_kw["ssl_context"] is shared and pool.ca_certs is None
            assert transport.send(_Request(f"https://{pool.host}:{pool.port}/")).status_code == 200
        with pytest.raises(ServiceRequestError, match="match|mismatch"):
            wrong.send(_Request(f"https://127.0.0.2:{tls_server.port}/"))
    finally:
        for transport in (*good, wrong):
            transport.close()


def test_verify_true_trusts_the_bundle_requests_would_not_the_operating_systems(tls_server):
    """requests gives a pool its own CA bundle (certifi) when ``verify`` is True
    (adapters.py ``HTTPAdapter.cert_verify``); so does the shared context, and that bundle
    does not hold the simulator's CA."""
    import ssl
    from requests.utils import DEFAULT_CA_BUNDLE_PATH
    from azure.core.exceptions import ServiceRequestError
    expected = ssl.create_default_context(cafile=DEFAULT_CA_BUNDLE_PATH).cert_store_stats()["x509_ca"]
    context = keyvault.vault_tls_context(True)
    assert context.cert_store_stats()["x509_ca"] == expected > 0
    assert keyvault.vault_tls_context(False) is None
    transport = keyvault.pooled_transport(_session(True), f"https://localhost:{tls_server.port}",
                                          keyvault.vault_tls_context)
    try:
        with pytest.raises(ServiceRequestError, match="CERTIFICATE_VERIFY_FAILED"):
            transport.send(_Request(f"https://localhost:{tls_server.port}/"))
    finally:
        transport.close()


def _answer(status, body, reason=""):
    """urllib3's answer of ``status`` with JSON ``body`` (bytes), read whole, as PooledTransport gets it."""
    import urllib3
    return urllib3.HTTPResponse(body=body, status=status, reason=reason, preload_content=True,
                                headers={"Content-Type": "application/json; charset=utf-8"})


class _Answered:   # pylint: disable=too-few-public-methods
    """An azure-core pipeline that answers every request with ``raw`` (a urllib3 response)."""

    def __init__(self, raw):
        self.raw = raw

    def run(self, request):
        from types import SimpleNamespace
        return SimpleNamespace(http_response=keyvault.PooledResponse(request, self.raw))


# Key Vault's refusals in the service's shape (sandbox/sim/scenario.py KvDenial, after Key Vault's
# REST error codes, learn.microsoft.com/azure/key-vault/general/rest-error-codes).
REFUSALS = [(401, "Unauthorized", {"error": {"code": "Unauthorized", "message": "AKV10032: Invalid issuer."}}),
            (403, "Forbidden", {"error": {"code": "Forbidden", "message": "Caller is not authorized.\r\nVault: kv1",
                                          "innererror": {"code": "ForbiddenByRbac"}}}),
            (404, "Not Found", {"error": {"code": "SecretNotFound", "message": "A secret with (name/id) ca-key was "
                                          "not found in this key vault."}}),
            (409, "Conflict", {"error": {"code": "Conflict", "message": "busy", "details": [
                {"code": "Inner", "message": "nested", "innererror": {"code": "Deep", "n": 1}}]}}),
            (500, "Internal Server Error", b"<html>not json</html>")]


@pytest.mark.parametrize("status, reason, body", REFUSALS, ids=[str(item[0]) for item in REFUSALS])
def test_a_refusal_is_the_sdks_exception_worded_as_the_sdks(status, reason, body):
    """The lean reader raises azure-core's exception type for each status (the SDK's error_map),
    and describe_error words it exactly as the same answer's default HttpResponseError; only
    the exception's own message shows ``innererror`` compactly (json's C encoder, not its
    pure-Python indent=4 one, which thousands of 403s made a visible share of scan's CPU)."""
    from azure.core import exceptions
    from azext_meshca.sources.errors import describe_error
    raw = _answer(status, body if isinstance(body, bytes) else json.dumps(body).encode(), reason)
    client = keyvault.LeanSecretClient(VAULT, _Answered(raw), transport=None)
    with pytest.raises(exceptions.HttpResponseError) as raised:
        client.get_secret("ca-key")
    expected_type = {401: exceptions.ClientAuthenticationError, 404: exceptions.ResourceNotFoundError,
                     409: exceptions.ResourceExistsError}.get(status, exceptions.HttpResponseError)
    assert type(raised.value) is expected_type      # pylint: disable=unidiomatic-typecheck
    sdk = expected_type(response=raised.value.response)
    assert describe_error(raised.value) == describe_error(sdk)
    assert describe_error(raised.value)["status"] == status
    assert "\n    " not in str(raised.value)       # innererror on one line, at any depth
    if isinstance(body, dict) and "innererror" in body["error"]:
        assert str(raised.value).endswith('Inner error: {"code": "ForbiddenByRbac"}')


class _GraphResponse:
    """The parts of azure-core's HttpResponse that ResourceGraph and HttpResponseError read."""

    def __init__(self, status, body, headers=None):
        self.status_code, self.headers, self.reason = status, headers or {}, "Reason"
        self.content = body if isinstance(body, bytes) else json.dumps(body).encode()

    def read(self):
        return self.content

    def text(self, encoding=None):
        return self.content.decode(encoding or "utf-8")


class _GraphClient:   # pylint: disable=too-few-public-methods
    """The generated ResourceGraphClient's raw-request entry point, answering from a script."""

    class _config:   # pylint: disable=invalid-name,too-few-public-methods
        api_version = "2021-03-01"

    def __init__(self, answers):
        self.answers, self.requests = list(answers), []

    def _send_request(self, request, **options):
        self.requests.append((request, options))
        return self.answers.pop(0)


def test_resource_graph_pages_are_plain_rows_of_the_query_the_sdk_sends():
    client = _GraphClient([
        _GraphResponse(200, {"data": [{"id": "a"}], "$skipToken": "next"}),
        _GraphResponse(429, {"error": {"code": "RateLimiting"}}, {"Retry-After": "2"}),
        _GraphResponse(200, {"data": [{"id": "b"}]}),
    ])
    clock = _Clock()
    rg = graph.ResourceGraph(client, sleep=clock.sleep, clock=clock)
    assert rg.query("resources | project id", ["sub-1"]) == [{"id": "a"}, {"id": "b"}]
    assert clock.slept == [2.0] and rg.pages == 3
    bodies = [json.loads(request.content) for request, _ in client.requests]
    assert bodies[0] == {"query": "resources | project id", "subscriptions": ["sub-1"],
                         "options": {"$top": graph.PAGE_SIZE, "resultFormat": "objectArray"}}
    assert bodies[2]["options"]["$skipToken"] == "next"
    request, options = client.requests[0]
    assert (request.method, request.url) == ("POST", "/providers/Microsoft.ResourceGraph/resources"
                                                     "?api-version=2021-03-01")
    assert options["retry_total"] == 0


@pytest.mark.parametrize("answer, code", [
    (_GraphResponse(200, b"<html>"), "MalformedResponse"),
    (_GraphResponse(200, {"data": "rows"}), "MalformedResponse"),
    (_GraphResponse(200, {"data": [1]}), "MalformedResponse"),
    (_GraphResponse(403, {"error": {"code": "AuthorizationFailed", "message": "no"}}), "AuthorizationFailed"),
])
def test_a_resource_graph_answer_it_cannot_use_is_a_graph_error(answer, code):
    with pytest.raises(graph.GraphError) as raised:
        graph.ResourceGraph(_GraphClient([answer])).query("resources", ["sub-1"])
    assert raised.value.error["code"] == code


def test_the_certificate_memo_is_bounded_across_object_sets():
    fleet = fleet_source.Fleet()
    fleet.clusters = [({}, {"plugin": {"keyVaultId": f"/subscriptions/s/resourceGroups/g/providers/"
                                                     f"Microsoft.KeyVault/vaults/kv{index}"}})
                      for index in range(3 * scan.SHARED_SETS)]
    shared, sizes = {}, []
    for index, _ in enumerate(scan._by_object_set(fleet, shared, None)):  # pylint: disable=protected-access
        shared[index] = "judged"
        sizes.append(len(shared))
    assert max(sizes) == scan.SHARED_SETS + 1


def test_a_fresh_copy_shares_nothing_the_snapshot_may_change():
    memo = {"findings": [{"code": "MCA401", "evidence": {"names": ["a"]}}], "pair": ({"x": 1},)}
    copied = runner.fresh_copy(memo)
    assert copied == memo
    copied["findings"][0]["evidence"]["names"].append("b")
    copied["pair"][0]["x"] = 2
    assert memo == {"findings": [{"code": "MCA401", "evidence": {"names": ["a"]}}], "pair": ({"x": 1},)}


def _key_vault_error(status, code, inner=None):
    """Key Vault's error body ({"error": {code, message, innererror: {code}}}: azure-rest-api-specs
    specification/keyvault/data-plane/Microsoft.KeyVault/stable/7.4/common.json KeyVaultError), as
    sandbox/sim/scenario.py KvDenial.body writes it, turned into what scan keeps of it: the lean
    reader's azure-core exception (sources/keyvault.py get_secret), worded by describe_error."""
    from azure.core.exceptions import HttpResponseError
    from azext_meshca.model.snapshot import collected
    from azext_meshca.sources.errors import describe_error
    error = {"code": code, "message": "the same words for every refusal: the code decides"}
    if inner:
        error["innererror"] = {"code": inner}
    client = keyvault.LeanSecretClient(VAULT, _Answered(_answer(status, json.dumps({"error": error}).encode())),
                                       transport=None)
    with pytest.raises(HttpResponseError) as raised:
        client.get_secret("ca-cert")
    return collected(error=describe_error(raised.value))


@pytest.mark.parametrize("status, code, inner, vault_wide", [
    (401, "Unauthorized", None, True),                       # the token itself (AKV10032 is a 401)
    (403, "Forbidden", "ForbiddenByFirewall", True),         # network rules: the whole data plane
    (403, "Forbidden", "ForbiddenByConnection", True),       # public access off, no private link
    (403, "Forbidden", "AccessDenied", True),                # access policy: per object type
    (403, "Forbidden", "ForbiddenByPolicy", True),           # a compound identity's policy only
    (403, "Forbidden", "ForbiddenByRbac", False),            # a role may be one secret's
    (403, "Forbidden", "SecretDisabled", False),             # one object's state
    (403, "Forbidden", None, False),                         # no inner code: nothing says vault-wide
    (404, "SecretNotFound", None, False),
    (429, "Throttled", None, False),
])
def test_a_refusal_is_vault_wide_by_its_status_and_inner_code(status, code, inner, vault_wide):
    assert fleet_source.refused_vault_wide(_key_vault_error(status, code, inner)) is vault_wide
