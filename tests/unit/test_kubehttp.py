"""meshca's small Kubernetes client (azext_meshca/sources/kubehttp.py) against the
simulated API server over real TLS on loopback, and its kubeconfig reading.

The e2e suites run every in-cluster read through it with the real az; these pin what
they do not reach: context selection, client-certificate users, which kubeconfigs go to
the kubernetes package, and that every failure reads like the package's ApiException.
"""

import base64
import ssl

import pytest
import yaml

from azext_meshca.sources import kubehttp
from azext_meshca.sources.cluster import _api_client, _get, reachable
from azext_meshca.sources.errors import describe_error


def _config(sim):
    with open(sim.kubeconfig(), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_reads_json_and_logs_with_the_simulators_kubeconfig(sim):
    api = _api_client(context=None, config_file=sim.kubeconfig())
    assert isinstance(api, kubehttp.KubeHttpClient)
    assert _get(api, "/version")["gitVersion"].startswith("v1.")
    pods = _get(api, "/api/v1/namespaces/aks-istio-system/pods", {"labelSelector": "app=istiod", "limit": 500})
    assert pods["kind"] == "PodList" and pods["items"]
    log = _get(api, f"/api/v1/namespaces/aks-istio-system/pods/{pods['items'][0]['metadata']['name']}/log",
               {"container": "discovery", "tailLines": 5}, text=True)
    assert isinstance(log, str)
    assert reachable(api, "kubeconfig")["data"]["server"] == api.host


def test_an_answer_other_than_2xx_reads_like_the_packages_api_exception(sim):
    api = _api_client(context=None, config_file=sim.kubeconfig())
    with pytest.raises(kubehttp.KubeApiError) as raised:
        _get(api, "/api/v1/namespaces/aks-istio-system/secrets/no-such-secret")
    assert raised.value.status == 404
    error = describe_error(raised.value)
    assert error["status"] == 404 and error["code"] == "Kubernetes404"
    assert "no-such-secret" in error["reason"]


def test_a_wrong_token_is_a_401_finding_not_a_traceback(sim):
    config = _config(sim)
    config["users"][0]["user"] = {"token": "not-the-token"}
    api = kubehttp.KubeHttpClient(config)
    with pytest.raises(kubehttp.KubeApiError) as raised:
        api.get("/version")
    assert describe_error(raised.value)["status"] == 401


def test_an_untrusted_server_certificate_fails_without_retrying(sim):
    config = _config(sim)
    del config["clusters"][0]["cluster"]["certificate-authority-data"]
    error = describe_error(_raised(lambda: kubehttp.KubeHttpClient(config).get("/version")))
    assert error["code"] == "CannotConnect" and "CERTIFICATE_VERIFY_FAILED" in error["reason"]


def test_insecure_skip_tls_verify_is_honoured(sim):
    config = _config(sim)
    cluster = config["clusters"][0]["cluster"]
    del cluster["certificate-authority-data"]
    cluster["insecure-skip-tls-verify"] = True
    assert kubehttp.KubeHttpClient(config).get("/version")[0] == 200


def test_certificate_authority_as_a_file_relative_to_the_kubeconfig(sim, tmp_path):
    config = _config(sim)
    cluster = config["clusters"][0]["cluster"]
    (tmp_path / "ca.pem").write_bytes(base64.b64decode(cluster.pop("certificate-authority-data")))
    cluster["certificate-authority"] = "ca.pem"
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    assert _get(_api_client(context=None, config_file=str(path)), "/version")["major"]


def test_a_client_certificate_user_is_loaded_and_its_files_removed(sim, tmp_path, monkeypatch):
    cert_pem, key_pem = _self_signed_pair("meshca-test-user")
    config = _config(sim)
    config["users"][0]["user"] = {"client-certificate-data": base64.b64encode(cert_pem).decode(),
                                  "client-key-data": base64.b64encode(key_pem).decode()}
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    client = kubehttp.KubeHttpClient(config)
    assert list(tmp_path.iterdir()) == []  # the key's temporary copy is gone at once
    with pytest.raises(kubehttp.KubeApiError) as raised:  # the simulator wants its token
        client.get("/version")
    assert raised.value.status == 401


@pytest.mark.parametrize("user, cluster, delegated", [
    ({"token": "t"}, {}, False),
    ({"client-certificate-data": "x", "client-key-data": "y"}, {}, False),
    ({"exec": {"command": "kubelogin"}}, {}, True),
    ({"auth-provider": {"name": "azure"}}, {}, True),
    ({"token": "t"}, {"proxy-url": "http://proxy:3128"}, True),
])
def test_which_kubeconfigs_go_to_the_kubernetes_package(user, cluster, delegated):
    config = {"current-context": "c", "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
              "clusters": [{"name": "k", "cluster": dict(cluster, server="https://127.0.0.1:1")}],
              "users": [{"name": "u", "user": user}]}
    assert kubehttp.needs_kubernetes_package(config) is delegated


@pytest.mark.parametrize("config, said", [
    ([], "not a mapping"),
    ({"contexts": []}, "no current-context"),
    ({"current-context": "gone", "contexts": []}, "context 'gone' is not in the kubeconfig"),
    ({"current-context": "c", "contexts": [{"name": "c", "context": {"cluster": "k"}}]}, "cluster 'k'"),
    ({"current-context": "c", "contexts": [{"name": "c", "context": {"cluster": "k"}}],
      "clusters": [{"name": "k", "cluster": {"server": "not a url"}}]}, "is not a URL"),
    # client-go refuses a certificate authority beside insecure-skip-tls-verify (transport.go TLSConfigFor)
    ({"current-context": "c", "contexts": [{"name": "c", "context": {"cluster": "k"}}],
      "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True,
                                             "certificate-authority-data": "LS0t"}}]}, "kubectl refuses"),
    ({"current-context": "c", "contexts": [{"name": "c", "context": {"cluster": "k"}}],
      "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True,
                                             "certificate-authority": "/ca.pem"}}]}, "kubectl refuses"),
    ({"current-context": ["c"], "contexts": []}, "current-context is not text"),
    ({"current-context": "c", "contexts": [{"name": ["c"], "context": {}}]}, "contexts[0].name is not text"),
    ({"current-context": "c", "contexts": {"c": {}}}, "contexts is not a list"),
    ({"current-context": "c", "contexts": [{"name": "c", "context": {"cluster": {"k": 1}}}]},
     "contexts[c].cluster is not text"),
    ({"current-context": "c", "contexts": [{"name": "c", "context": ["k"]}]}, "contexts[0].context is not a mapping"),
])
def test_an_unusable_kubeconfig_is_one_line(config, said):
    error = describe_error(_raised(lambda: kubehttp.KubeHttpClient(config)))
    assert error["code"] == "Kubeconfig" and said in error["reason"]


def _raised(action):
    try:
        action()
    except Exception as error:  # pylint: disable=broad-except
        return error
    raise AssertionError("no error raised")


def _self_signed_pair(common_name):
    """(certificate PEM, key PEM) of a throwaway client identity."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def test_an_exec_user_goes_through_the_kubernetes_package_and_reads_alike(sim, tmp_path):
    """kubelogin-style kubeconfigs (client-go's ExecCredential) keep the package's handling."""
    config = _config(sim)
    token = config["users"][0]["user"]["token"]
    plugin = tmp_path / "credential-plugin"
    plugin.write_text("#!/bin/sh\necho '{\"apiVersion\": \"client.authentication.k8s.io/v1beta1\", "
                      f"\"kind\": \"ExecCredential\", \"status\": {{\"token\": \"{token}\"}}}}'\n")
    plugin.chmod(0o755)
    config["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                           "command": str(plugin), "interactiveMode": "Never"}}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    api = _api_client(context=None, config_file=str(path))
    assert isinstance(api, kubehttp.PackageClient)
    assert _get(api, "/version")["gitVersion"].startswith("v1.")
    with pytest.raises(kubehttp.KubeApiError) as raised:
        _get(api, "/api/v1/namespaces/aks-istio-system/secrets/no-such-secret")
    assert describe_error(raised.value)["code"] == "Kubernetes404"


def test_the_kubeconfigs_authority_is_the_only_trust_root(sim):
    """As client-go: certificate-authority-data replaces the system roots, it does not add
    to them, so a server certificate from any public CA is not accepted in its place."""
    cluster = _config(sim)["clusters"][0]["cluster"]
    context = kubehttp._ssl_context(cluster, {}, ".")  # pylint: disable=protected-access
    assert len(context.get_ca_certs()) == 1
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_a_self_referencing_kubeconfig_is_one_line(tmp_path):
    """YAML anchors make a list that holds itself; it was ``TypeError: unhashable type: 'list'``."""
    path = tmp_path / "kubeconfig"
    path.write_text("current-context: &loop [*loop]\ncontexts: &c [*c]\n", encoding="utf-8")
    error = describe_error(_raised(lambda: _api_client(context=None, config_file=str(path))))
    assert error["code"] == "Kubeconfig" and "current-context is not text" in error["reason"]
    assert "\n" not in error["reason"]
