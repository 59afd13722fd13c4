"""A small Kubernetes API client: GETs of JSON and logs over urllib3, bounded by the run's deadline.

Why not the ``kubernetes`` package: ``import kubernetes`` loads its whole generated client
(hundreds of model modules), which costs more CPU than all of diagnose's reads, and tearing
those modules down again at exit costs more still. Every in-cluster read meshca makes is a
plain GET whose JSON it parses itself (sources/cluster.py), so what it needs is a
connection pool with the kubeconfig's TLS settings and credentials, and one retry rule.

Kubeconfigs this client does not understand (an ``exec`` or ``auth-provider`` user, a
``proxy-url``) are handed to the ``kubernetes`` package instead (``PackageClient``, built by
sources/cluster.py ``_api_client``), so they
behave as kubectl and the Python client make them behave.

Field names follow client-go's kubeconfig types (kubernetes/client-go
``tools/clientcmd/api/v1/types.go``): clusters[].cluster.{server, certificate-authority,
certificate-authority-data, insecure-skip-tls-verify, tls-server-name, proxy-url};
users[].user.{client-certificate(-data), client-key(-data), token, tokenFile, username,
password, exec, auth-provider}.
"""

import base64
import os
import ssl
import tempfile
from urllib.parse import urlencode, urlsplit

from azext_meshca.sources.deadline import Deadline, bounded_kube_get

SERVICE = "the Kubernetes API"
# User and cluster fields only the kubernetes package handles.
_DELEGATED_USER_FIELDS = ("exec", "auth-provider")
_DELEGATED_CLUSTER_FIELDS = ("proxy-url",)


class KubeApiError(Exception):
    """An answer other than 2xx, shaped like the kubernetes package's ApiException
    (status, reason, body), so errors.describe_error reads both alike."""

    def __init__(self, status, reason, body):
        super().__init__(f"({status}) Reason: {reason}")
        self.status = status
        self.reason = reason
        self.body = body


class KubeconfigError(ValueError):
    """The kubeconfig lacks what a connection needs (no context, cluster or server)."""


def needs_kubernetes_package(config_dict, context=None):
    """True when the chosen context's user or cluster uses what only the package supports."""
    cluster, user = selected_cluster_and_user(config_dict, context)
    return any(field in user for field in _DELEGATED_USER_FIELDS) or \
        any(cluster.get(field) for field in _DELEGATED_CLUSTER_FIELDS)


def selected_cluster_and_user(config_dict, context=None):
    """(cluster, user) of ``context`` (default: current-context), as client-go resolves them.

    KubeconfigError, one line, for what client-go would refuse: a field of the wrong type
    (YAML anchors can even make a list that holds itself), and a cluster that asks both to
    skip verification and to verify against a certificate authority (client-go
    ``transport/transport.go`` TLSConfigFor: "specifying a root certificates file with the
    insecure flag is not allowed"; kubectl refuses it, and both clients here would have
    connected unverified)."""
    if not isinstance(config_dict, dict):
        raise KubeconfigError("the kubeconfig is not a mapping")
    name = context or _text(config_dict.get("current-context"), "current-context")
    contexts = _named(config_dict, "contexts", "context")
    if name not in contexts:
        raise KubeconfigError(f"context {name!r} is not in the kubeconfig" if name else
                              "the kubeconfig names no current-context")
    chosen = contexts[name]
    clusters = _named(config_dict, "clusters", "cluster")
    users = _named(config_dict, "users", "user")
    cluster_name = _text(chosen.get("cluster"), f"contexts[{name}].cluster")
    if cluster_name not in clusters:
        raise KubeconfigError(f"cluster {cluster_name!r} of context {name!r} is not in the kubeconfig")
    cluster = clusters[cluster_name]
    if cluster.get("insecure-skip-tls-verify") and (cluster.get("certificate-authority")
                                                    or cluster.get("certificate-authority-data")):
        raise KubeconfigError(f"cluster {cluster_name!r} sets insecure-skip-tls-verify together with a "
                              "certificate authority, which kubectl refuses: remove one of them")
    return cluster, users.get(_text(chosen.get("user"), f"contexts[{name}].user")) or {}


def _text(value, where):
    """A kubeconfig name: text or absent, never a list or mapping."""
    if value is None or isinstance(value, str):
        return value
    raise KubeconfigError(f"{where} is not text")


def _named(config_dict, section, field):
    """{name: entry[field]} of a kubeconfig section (contexts, clusters, users)."""
    entries = config_dict.get(section) or []
    if not isinstance(entries, list):
        raise KubeconfigError(f"{section} is not a list")
    named = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        value = entry.get(field) or {}
        if not isinstance(value, dict):
            raise KubeconfigError(f"{section}[{index}].{field} is not a mapping")
        named[_text(entry.get("name"), f"{section}[{index}].name")] = value
    return named


def _file_or_data(entry, field, base_dir):
    """The bytes of ``field``-data (base64) or of the file ``field`` names (relative to the
    kubeconfig's directory, as client-go resolves it); None when neither is set."""
    data = entry.get(f"{field}-data")
    if data:
        return base64.b64decode(data)
    path = entry.get(field)
    if path:
        with open(os.path.join(base_dir, os.path.expanduser(path)), "rb") as handle:
            return handle.read()
    return None


def _ssl_context(cluster, user, base_dir):
    """TLS as client-go sets it up (k8s.io/client-go transport/transport.go, TLSConfigFor):
    a kubeconfig's certificate authority is the only trust root, not an addition to the
    system's; with none given, the system roots; insecure-skip-tls-verify checks nothing."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cluster.get("insecure-skip-tls-verify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        authority = _file_or_data(cluster, "certificate-authority", base_dir)
        if authority:
            context.load_verify_locations(cadata=authority.decode("ascii", "replace"))
        else:
            context.load_default_certs()
    certificate = _file_or_data(user, "client-certificate", base_dir)
    key = _file_or_data(user, "client-key", base_dir)
    if certificate and key:
        _load_client_pair(context, certificate, key)
    return context


def _load_client_pair(context, certificate, key):
    """ssl loads a client key only from a file: write both to a private temporary
    directory, load them, and remove them at once (the kubernetes package leaves its
    temporary copies until exit)."""
    with tempfile.TemporaryDirectory(prefix="meshca-kube-") as directory:
        cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
        for path, content in ((cert_path, certificate), (key_path, key)):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(content)
        context.load_cert_chain(cert_path, key_path)


def _auth_headers(user, base_dir):
    token = user.get("token")
    if not token and user.get("tokenFile"):
        with open(os.path.join(base_dir, user["tokenFile"]), encoding="utf-8") as handle:
            token = handle.read().strip()
    if token:
        return {"Authorization": f"Bearer {token}"}
    if user.get("username") and user.get("password"):
        basic = base64.b64encode(f"{user['username']}:{user['password']}".encode()).decode("ascii")
        return {"Authorization": f"Basic {basic}"}
    return {}


class KubeHttpClient:  # pylint: disable=too-few-public-methods  # one verb is all a reader needs
    """GETs against one API server through one urllib3 pool (``pool_size`` connections)."""

    def __init__(self, config_dict, *, context=None, base_dir=".", deadline=None, pool_size=16):
        import urllib3
        cluster, user = selected_cluster_and_user(config_dict, context)
        server = (cluster.get("server") or "").rstrip("/")
        if not urlsplit(server).scheme or not urlsplit(server).netloc:
            raise KubeconfigError(f"the kubeconfig's server {server!r} is not a URL")
        self.host = server
        self._deadline = deadline or Deadline()
        self._headers = _auth_headers(user, base_dir)
        # retries=0 as the kubernetes package configures urllib3 for meshca (deadline.kube_api_client):
        # failures then arrive as MaxRetryError naming their reason, read the same way.
        pool_options = {"maxsize": pool_size, "retries": 0}
        if server.startswith("https:"):
            pool_options["ssl_context"] = _ssl_context(cluster, user, base_dir)
            if cluster.get("insecure-skip-tls-verify"):
                # The kubeconfig asked for it, as kubectl's users do knowingly: no warning per request.
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            if cluster.get("tls-server-name"):
                pool_options["server_hostname"] = cluster["tls-server-name"]
        self._pool = urllib3.PoolManager(**pool_options)

    def get(self, path, query=None, text=False, timeout=None):
        """(status, body bytes) of GET ``path``; non-2xx raises KubeApiError.

        Transient failures are retried while the deadline allows, by the one rule both
        clients follow (deadline.bounded_kube_get).
        """
        import urllib3
        pairs = [(key, value) for key, value in (query or {}).items() if value is not None]
        url = self.host + path + (f"?{urlencode(pairs)}" if pairs else "")
        headers = dict(self._headers, Accept="*/*" if text else "application/json")

        def attempt(timeouts):
            connect, read = timeouts
            return self._pool.request("GET", url, headers=headers, redirect=False,
                                      timeout=urllib3.Timeout(connect=connect, read=read))
        response = bounded_kube_get(self._deadline, attempt, timeout=timeout, service=SERVICE)
        if not 200 <= response.status <= 299:
            raise KubeApiError(response.status, response.reason, response.data.decode("utf-8", "replace"))
        return response.status, response.data


class PackageClient:  # pylint: disable=too-few-public-methods  # the same one verb as KubeHttpClient
    """The same ``get`` over the kubernetes package, for kubeconfigs KubeHttpClient hands on
    (exec and auth-provider users, proxies); its ApiException becomes KubeApiError."""

    def __init__(self, api_client):
        self._api = api_client
        self.host = api_client.configuration.host

    def get(self, path, query=None, text=False, timeout=None):
        method, url, headers, _, _ = self._api.param_serialize(
            "GET", path, query_params=[(key, value) for key, value in (query or {}).items() if value is not None],
            header_params={"Accept": "*/*" if text else "application/json"}, auth_settings=["BearerToken"])
        response = self._api.call_api(method, url, header_params=headers, _request_timeout=timeout)
        body = response.read()
        if not 200 <= response.status <= 299:
            raise KubeApiError(response.status, response.reason, body.decode("utf-8", "replace"))
        return response.status, body
