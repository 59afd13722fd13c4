"""The simulated Kubernetes API checked by clients nobody here wrote: real kubectl and kubernetes 37.

If kubectl's discovery, name resolution, server-side printing, describe and logs all work
against the simulator, and the python client deserialises and pages what it returns, then
meshca's collectors are tested against something close to a real AKS API server.
"""

import os
import re
import subprocess
import time

import pytest
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException

from sandbox.sim.kube import KubeApi
from sandbox.sim.scenario import load_world
from sandbox.sim.server import FaultInjector, RequestLog, SimServer, make_jwt, server_tls_context

NS = "aks-istio-system"
ADDON_OID = "22222222-2222-2222-2222-222222222222"


# ---------------------------------------------------------------------------- helpers

def kubectl(sim, *args, token=None, check=True):
    """Run the real kubectl against ``sim`` with an isolated kubeconfig; returns CompletedProcess."""
    env = dict(os.environ)
    env.update(sim.env)
    env["KUBECONFIG"] = sim.kubeconfig(os.path.join(sim.tmpdir, "kubeconfig-%s" % (token or "user")[:12]),
                                       token=token)
    env["HOME"] = sim.tmpdir  # kubectl's discovery cache goes here, not into the real home
    proc = subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True, timeout=60)
    if check:
        assert proc.returncode == 0, "kubectl %s failed: %s" % (" ".join(args), proc.stderr)
    return proc


def table(text):
    """kubectl's column output -> (header words, [row words])."""
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0].split(), [line.split() for line in lines[1:]]


def python_client(sim):
    """A kubernetes-37 ApiClient built from the simulator's kubeconfig (as meshca builds it)."""
    configuration = k8s_client.Configuration()
    k8s_config.load_kube_config(config_file=sim.kubeconfig(), client_configuration=configuration)
    return k8s_client.ApiClient(configuration)


# ---------------------------------------------------------------------------- kubectl get

def test_get_pods_healthy_shows_running_istiod(sim):
    header, rows = table(kubectl(sim, "get", "pods", "-n", NS).stdout)
    assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    istiod = [r for r in rows if r[0].startswith("istiod-asm-1-21-")]
    assert len(istiod) == 2
    assert all(r[1:4] == ["1/1", "Running", "0"] for r in istiod)


@pytest.mark.scenario("article-issue-1")
def test_get_pods_article_issue_1_shows_init_stuck_and_terminating(sim):
    _, rows = table(kubectl(sim, "get", "pods", "--namespace", NS).stdout)
    statuses = {r[0]: (r[1], r[2]) for r in rows if r[0].startswith("istiod-")}
    assert statuses["istiod-asm-1-21-6fcfd88478-c48f9"] == ("0/1", "Init:0/2")
    assert statuses["istiod-asm-1-21-6fcfd88478-wl8mw"] == ("0/1", "Init:0/2")
    assert statuses["istiod-asm-1-21-6fcfd88478-2x95b"] == ("0/1", "Terminating")


def test_get_secretproviderclass_prints_name_age(sim):
    header, rows = table(kubectl(sim, "get", "secretproviderclass", "--namespace", NS).stdout)
    assert header == ["NAME", "AGE"]
    assert rows == [["istio-spc-asm-1-21", "14h"]]


@pytest.mark.scenario("article-issue-1")
def test_get_cronjob_prints_article_columns(sim):
    out = kubectl(sim, "get", "cronjob", "--namespace", NS).stdout
    header_line, row = out.splitlines()[0], out.splitlines()[1].split()
    assert header_line.split()[:5] == ["NAME", "SCHEDULE", "SUSPEND", "ACTIVE", "LAST"]
    assert row[0] == "istio-cert-validator-cronjob-asm-1-21"
    assert row[1:6] == ["*/10", "*", "*", "*", "*"] and row[6:8] == ["False", "0"]


def test_get_configmap_and_output_formats(sim):
    out = kubectl(sim, "get", "configmap", "istio-ca-root-cert", "-n", NS, "-o",
                  "jsonpath={.metadata.labels.istio\\.io/config} {.data.root-cert\\.pem}").stdout
    assert out.startswith("true -----BEGIN CERTIFICATE-----")
    names = kubectl(sim, "get", "configmaps", "-A", "--field-selector", "metadata.name=istio-ca-root-cert",
                    "-o", "name").stdout.split()
    assert names and all(n == "configmap/istio-ca-root-cert" for n in names)


def test_missing_object_is_a_proper_not_found(sim):
    proc = kubectl(sim, "get", "pod", "no-such-pod", "-n", NS, check=False)
    assert proc.returncode == 1
    assert 'Error from server (NotFound): pods "no-such-pod" not found' in proc.stderr


def test_unknown_and_bad_tokens_are_rejected(sim):
    proc = kubectl(sim, "get", "pods", "-n", NS, token="wrong-token", check=False)
    assert proc.returncode != 0 and "Unauthorized" in proc.stderr + proc.stdout


def test_aad_token_for_aks_server_app_is_accepted(sim):
    token = make_jwt({"aud": "6dae42f8-4368-4678-94ff-3960e28e3630", "oid": "11111111-1111-1111-1111-111111111111",
                      "tid": sim.world.tenant})
    assert "istiod-asm-1-21" in kubectl(sim, "get", "deploy", "-n", NS, token=token).stdout


def test_label_selector_forms(sim):
    def names(selector):
        out = kubectl(sim, "get", "pods", "-A", "-l", selector, "-o", "name").stdout
        return sorted(out.split())

    provider = names("app=secrets-store-provider-azure")
    assert len(provider) == 1 and provider[0].startswith("pod/aks-secrets-store-provider-azure-")
    both = names("app in (secrets-store-provider-azure,secrets-store-csi-driver)")
    assert len(both) == 2
    assert names("app notin (istiod,istio-cert-validator),app") == both
    assert all(n.startswith("pod/istiod-") for n in names("istio.io/rev=asm-1-21,app!=istio-cert-validator"))
    assert names("!app") == []


# ---------------------------------------------------------------------------- describe and logs

@pytest.mark.scenario("article-issue-3")
def test_describe_deploy_shows_article_issue_3_events(sim):
    """The article's `kubectl describe deploy` table really comes from the pods: kubelet reports
    mount failures on the pod (the deployment shows only its own events)."""
    deploy = kubectl(sim, "describe", "deploy/istiod-asm-1-21", "--namespace", NS).stdout
    assert "NewReplicaSet:   istiod-asm-1-21-6fcfd88478 (2/2 replicas created)" in deploy
    assert "FailedMount" not in deploy
    out = kubectl(sim, "describe", "pod", "istiod-asm-1-21-6fcfd88478-c48f9", "--namespace", NS).stdout
    assert "Unable to attach or mount volumes: unmounted volumes=[cacerts], unattached volumes=[], " \
           "failed to process volumes=[]: timed out waiting for the condition" in out
    assert ('MountVolume.SetUp failed for volume "cacerts" : rpc error: code = Unknown desc = failed to mount '
            'secrets store objects for pod aks-istio-system/istiod-asm-1-21-6fcfd88478-') in out
    assert ('failed to get objectType:secret, objectName:test-cert-chain, objectVersion:: '
            'keyvault.BaseClient#GetSecret: Failure responding to request: StatusCode=404 -- Original Error: '
            'autorest/azure: Service returned an error. Status=404 Code="SecretNotFound" Message="A secret with '
            '(name/id) test-cert-chain was not found in this key vault.') in out
    assert re.search(r"\(x9 over \d+m", out)


@pytest.mark.scenario("article-issue-1")
def test_describe_pod_and_get_events(sim):
    out = kubectl(sim, "describe", "pod", "istiod-asm-1-21-6fcfd88478-c48f9", "-n", NS).stdout
    assert "Status:           Pending" in out and "secretProviderClass=istio-spc-asm-1-21" in out
    assert "does not have secrets get permission on key vault" in out
    events = kubectl(sim, "get", "events", "-n", NS, "--field-selector", "reason=FailedMount").stdout
    assert "pod/istiod-asm-1-21-6fcfd88478-c48f9" in events and "deployment/istiod-asm-1-21" not in events


def test_logs_discovery_shows_plugged_in_cert(sim):
    out = kubectl(sim, "logs", "deploy/istiod-asm-1-21", "--container", "discovery", "-n", NS).stdout
    assert "Using istiod file format for signing ca files" in out
    assert "DNS certs use plugged-in cert at etc/cacerts/ca-key.pem" in out  # Istio 1.21 wording (istio/istio pilot/pkg/bootstrap/istio_ca.go)
    assert out.count("x509 cert - Issuer:") == 3
    tail = kubectl(sim, "logs", "deploy/istiod-asm-1-21", "-c", "discovery", "-n", NS, "--tail", "2").stdout
    assert len(tail.splitlines()) == 2


@pytest.mark.scenario("article-issue-1")
def test_logs_of_init_stuck_pod_is_a_kubectl_error(sim):
    proc = kubectl(sim, "logs", "istiod-asm-1-21-6fcfd88478-c48f9", "-c", "discovery", "-n", NS, check=False)
    assert proc.returncode == 1
    assert 'is waiting to start: PodInitializing' in proc.stderr


# ---------------------------------------------------------------------------- python client

def test_python_client_pages_with_continue_tokens(sim):
    api = k8s_client.CoreV1Api(python_client(sim))
    seen, token, pages = [], None, 0
    while True:
        page = api.list_pod_for_all_namespaces(limit=2, _continue=token)
        pages += 1
        seen.extend((p.metadata.namespace, p.metadata.name) for p in page.items)
        assert page.metadata.resource_version
        token = page.metadata._continue
        if not token:
            break
    everything = api.list_pod_for_all_namespaces()
    assert seen == [(p.metadata.namespace, p.metadata.name) for p in everything.items]
    assert pages == (len(seen) + 1) // 2


def test_python_client_typed_reads(sim):
    api_client = python_client(sim)
    apps = k8s_client.AppsV1Api(api_client)
    deploy = apps.read_namespaced_deployment("istiod-asm-1-21", NS)
    assert deploy.status.ready_replicas == 2
    volumes = {v.name: v for v in deploy.spec.template.spec.volumes}
    assert volumes["cacerts"].csi.volume_attributes == {"secretProviderClass": "istio-spc-asm-1-21"}
    core = k8s_client.CoreV1Api(api_client)
    cms = core.list_config_map_for_all_namespaces(field_selector="metadata.name=istio-ca-root-cert")
    assert {c.metadata.namespace for c in cms.items} >= {NS, "default"}
    assert core.list_namespaced_event(NS).items == []  # healthy for 14h: every event has expired (1h TTL)
    spc = k8s_client.CustomObjectsApi(api_client).get_namespaced_custom_object(
        "secrets-store.csi.x-k8s.io", "v1", NS, "secretproviderclasses", "istio-spc-asm-1-21")
    assert "objectName: test-root-cert" in spc["spec"]["parameters"]["objects"]
    with pytest.raises(ApiException) as info:
        core.read_namespaced_pod("nope", NS)
    assert info.value.status == 404
    with pytest.raises(ApiException) as info:
        core.list_namespaced_event(NS, field_selector="spec.bogus=1")
    assert info.value.status == 400 and "field label not supported" in info.value.body


def test_python_client_log_parameters(sim):
    core = k8s_client.CoreV1Api(python_client(sim))
    pod = core.list_namespaced_pod(NS, label_selector="app=istiod").items[0].metadata.name
    full = core.read_namespaced_pod_log(pod, NS, container="discovery")
    assert len(core.read_namespaced_pod_log(pod, NS, container="discovery", tail_lines=3).splitlines()) == 3
    assert len(core.read_namespaced_pod_log(pod, NS, container="discovery", limit_bytes=40)) <= 40
    assert core.read_namespaced_pod_log(pod, NS, container="discovery", since_seconds=1) == ""
    stamped = core.read_namespaced_pod_log(pod, NS, container="discovery", timestamps=True)
    assert stamped.splitlines()[0].split(" ", 1)[1] == full.splitlines()[0]


# ---------------------------------------------------------------------------- the mount model

@pytest.mark.scenario("article-issue-1", fresh=True)
def test_mount_model_turns_istiod_healthy_after_access_is_granted(sim):
    _, rows = table(kubectl(sim, "get", "pods", "-n", NS, "-l", "app=istiod").stdout)
    assert {r[2] for r in rows} == {"Init:0/2", "Terminating"}
    vault = sim.world.plugin_objects()[0].vault_name
    sim.world.add_access_policy(vault, ADDON_OID, secrets=("get",))
    _, rows = table(kubectl(sim, "get", "pods", "-n", NS, "-l", "app=istiod").stdout)
    assert {r[2] for r in rows} == {"Running"} and {r[1] for r in rows} == {"1/1"}
    out = kubectl(sim, "get", "pods", "-n", "kube-system", "-l", "app=secrets-store-provider-azure", "-o", "name")
    provider_log = kubectl(sim, "logs", "-n", "kube-system", out.stdout.split()[0]).stdout
    # the provider logs nothing at default verbosity on success: the old 403 is gone
    assert "failed to process mount request" not in provider_log


@pytest.mark.scenario("article-issue-1")
def test_python_client_event_field_selectors(sim):
    core = k8s_client.CoreV1Api(python_client(sim))
    deploy = k8s_client.AppsV1Api(core.api_client).read_namespaced_deployment("istiod-asm-1-21", NS)
    selector = ("involvedObject.kind=Deployment,involvedObject.name=istiod-asm-1-21,"
                "involvedObject.namespace=%s,involvedObject.uid=%s" % (NS, deploy.metadata.uid))
    events = core.list_namespaced_event(NS, field_selector=selector).items
    # kubelet and the scheduler report on pods; the deployment's own ScalingReplicaSet is
    # older than the API server's 1h event TTL
    assert not {e.reason for e in events} & {"Scheduled", "FailedMount"}
    assert all(e.involved_object.uid == deploy.metadata.uid and e.event_time is None for e in events)
    warnings = core.list_namespaced_event(NS, field_selector="type=Warning,involvedObject.kind=Pod").items
    assert warnings and all(e.reason == "FailedMount" for e in warnings)
    assert core.list_namespaced_event(NS, field_selector="involvedObject.name!=x", limit=1).metadata._continue


@pytest.mark.scenario("article-issue-1-azcore")
def test_azcore_error_format_in_events(sim):
    events = kubectl(sim, "get", "events", "-n", NS, "-o", "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}").stdout
    assert "RESPONSE 403: 403 Forbidden\nERROR CODE: Forbidden\n" in events
    assert '"code": "AccessDenied"' in events


# ---------------------------------------------------------------------------- scale

def test_two_thousand_namespaces_list_fast_and_paginated(tmp_path):
    started = time.monotonic()
    spec = dict(load_world("healthy").kubernetes, workloadNamespaces=2000)
    server, _world, api_client = _lone_kube_client(tmp_path, spec)
    try:
        core = k8s_client.CoreV1Api(api_client)
        names, token, pages = [], None, 0
        while True:
            page = core.list_config_map_for_all_namespaces(field_selector="metadata.name=istio-ca-root-cert",
                                                           limit=500, _continue=token)
            names.extend(c.metadata.namespace for c in page.items)
            pages += 1
            token = page.metadata._continue
            if not token:
                break
        assert len(names) == 2001 and len(set(names)) == 2001 and pages == 5
        assert len(core.list_namespace().items) == 2000 + 5
    finally:
        server.stop()
    elapsed = time.monotonic() - started
    assert elapsed < 30, "2,000 namespaces took %.1fs" % elapsed


def test_age_columns_follow_kubectl_rules():
    from sandbox.sim.kube_tables import human_duration
    assert [human_duration(s) for s in (59, 119, 189, 355, 3600 * 14, 86400 * 3 + 3600)] == \
        ["59s", "119s", "3m9s", "5m55s", "14h", "3d1h"]


# ---------------------------------------------------------------------------- writes and scenario options

@pytest.mark.scenario("healthy", fresh=True)
def test_rollout_restart_is_the_one_write_served(sim):
    before = table(kubectl(sim, "get", "pods", "-n", NS, "-l", "app=istiod").stdout)[1]
    assert "restarted" in kubectl(sim, "rollout", "restart", "deploy/istiod-asm-1-21", "-n", NS).stdout
    after = table(kubectl(sim, "get", "pods", "-n", NS, "-l", "app=istiod").stdout)[1]
    assert {r[0] for r in before}.isdisjoint({r[0] for r in after})
    assert all(r[2] == "Running" and r[4].endswith("s") for r in after)
    refused = kubectl(sim, "delete", "pod", after[0][0], "-n", NS, check=False)
    assert refused.returncode == 1 and "MethodNotAllowed" in refused.stderr


def _lone_kube_client(tmp_path, kubernetes_spec):
    """A Kubernetes API alone over the healthy World with a different ``kubernetes:`` key."""
    from sandbox.sim.kube import build_kubeconfig
    from sandbox.sim.pki import server_pki
    world = load_world("healthy")
    world.kubernetes = kubernetes_spec
    pki = server_pki()
    server = SimServer("kube", KubeApi(world), RequestLog(), FaultInjector(),
                       server_tls_context(pki.cert_file, pki.key_file)).start()
    path = tmp_path / "kubeconfig"
    path.write_text(build_kubeconfig(server.url, pki.ca_pem, world.kube_user_token))
    configuration = k8s_client.Configuration()
    k8s_config.load_kube_config(config_file=str(path), client_configuration=configuration)
    return server, world, k8s_client.ApiClient(configuration)


def test_scenario_options_objects_stale_roots_and_mount_delay(tmp_path):
    spec = {
        "istiod": {"replicas": 1},
        "mountRetrySeconds": 1.5,
        "workloadNamespaces": ["default", {"name": "bookinfo", "rootCert": {"value": "stale-root"}}],
        "objects": [{"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": "extra", "namespace": "bookinfo", "labels": {"team": "mesh"}},
                     "data": {"a": "b"}}],
    }
    server, world, api_client = _lone_kube_client(tmp_path, spec)
    try:
        core = k8s_client.CoreV1Api(api_client)
        roots = {c.metadata.namespace: c.data["root-cert.pem"]
                 for c in core.list_config_map_for_all_namespaces(field_selector="metadata.name=istio-ca-root-cert").items}
        assert roots["bookinfo"] == "stale-root" and roots["default"].startswith("-----BEGIN CERTIFICATE-----")
        assert core.list_namespaced_config_map("bookinfo", label_selector="team=mesh").items[0].data == {"a": "b"}
        vault = world.plugin_objects()[0].vault_name
        world.find_vault(vault)["properties"]["accessPolicies"] = []  # break access: istiod stuck

        def istiod_status():
            from sandbox.sim.kube_tables import pod_status_text
            pods = core.list_namespaced_pod(NS, label_selector="app=istiod").items
            return {pod_status_text(api_client.sanitize_for_serialization(p)) for p in pods}

        assert istiod_status() == {"Init:0/2"}
        world.add_access_policy(vault, ADDON_OID, secrets=("get",))
        assert istiod_status() == {"Init:0/2"}  # kubelet has not retried yet
        time.sleep(1.6)
        assert istiod_status() == {"Running"}
    finally:
        server.stop()


def test_bad_ca_in_the_vault_crashloops_istiod_with_the_go_error(tmp_path):
    from sandbox.sim.scenario import make_pki_set
    spec = {"istiod": {"replicas": 1}}
    server, world, api_client = _lone_kube_client(tmp_path, spec)
    try:
        world.pki["other"] = make_pki_set({"set_id": "B"})
        vault = world.plugin_objects()[0].vault_name
        world.set_secret(vault, "test-ca-key", {"pki": "other", "part": "ca-key"})  # key of another CA
        core = k8s_client.CoreV1Api(api_client)
        pod = core.list_namespaced_pod(NS, label_selector="app=istiod").items[0]
        assert pod.status.container_statuses[0].state.waiting.reason == "CrashLoopBackOff"
        log = core.read_namespaced_pod_log(pod.metadata.name, NS, container="discovery")
        assert ("failed to create discovery service: failed to create CA: failed to create an istiod CA: failed to "
                "create CA KeyCertBundle (the cert does not match the key: tls: private key does not match public "
                "key)") in log
        assert "PRIVATE KEY" not in log
    finally:
        server.stop()


def test_real_kubectl_pages_through_a_scaled_cluster(sim_factory, tmp_path):
    """The scale knob (nodes, namespaces, events) and limit/continue paging as kubectl
    uses them (--chunk-size), and the narrowed lists diagnose asks for."""
    path = tmp_path / "scaled.yaml"
    path.write_text("base: healthy\nkubernetes:\n  csi: {nodes: 7}\n  workloadNamespaces: 6\n  events: 9\n")
    with sim_factory.fresh(str(path)) as scaled:
        scaled.log.clear()
        names = kubectl(scaled, "get", "configmaps", "-A", "--field-selector", "metadata.name=istio-ca-root-cert",
                        "--chunk-size=2", "-o", "name").stdout.split()
        assert len(names) == 7  # aks-istio-system and the 6 workload namespaces
        pages = scaled.requests(service="kube", path_regex=r"^/api/v1/configmaps$")
        assert len(pages) == 4 and all(page["query"]["limit"] == ["2"] for page in pages)
        assert "continue" not in pages[0]["query"] and all("continue" in page["query"] for page in pages[1:])
        assert len(kubectl(scaled, "get", "nodes", "--chunk-size=3", "-o", "name").stdout.split()) == 7
        events = kubectl(scaled, "get", "events", "-n", NS, "--chunk-size=4", "-o", "name").stdout.split()
        assert len(events) == 9  # healthy for 14h: only the generated events are within the TTL
        assert kubectl(scaled, "get", "events", "-n", NS, "--field-selector", "reason=FailedMount",
                       "-o", "name").stdout.split() == []
        node = kubectl(scaled, "get", "nodes", "-o", "name").stdout.split()[3].split("/", 1)[1]
        provider = kubectl(scaled, "get", "pods", "-n", "kube-system", "-l", "app=secrets-store-provider-azure",
                           "--field-selector", "spec.nodeName=" + node, "-o", "name").stdout.split()
        assert len(provider) == 1


# ---------------------------------------------------------------------------- the CA's path (#20)

@pytest.mark.scenario("rot-stale-sidecars")
def test_ca_path_kinds_are_served_as_a_real_api_server_serves_them(sim):
    """SecretProviderClassPodStatus (namespaced, secrets-store-csi-driver apis/v1), the
    cluster-scoped MutatingWebhookConfiguration and injected pods, through kubectl's
    discovery, name resolution, label selectors, paging and jsonpath."""
    header, rows = table(kubectl(sim, "get", "secretproviderclasspodstatuses", "-n", NS).stdout)
    assert header == ["NAME", "AGE"] and len(rows) == 2
    assert all(row[0].endswith("-aks-istio-system-istio-spc-asm-1-30") for row in rows)
    objects = kubectl(sim, "get", "secretproviderclasspodstatus", rows[0][0], "-n", NS, "-o",
                      "jsonpath={range .status.objects[*]}{.id}={.version}{'\\n'}{end}").stdout.split()
    assert sorted(item.split("=")[0] for item in objects) == [
        "secret/test-ca-cert", "secret/test-ca-key", "secret/test-cert-chain", "secret/test-root-cert"]
    assert kubectl(sim, "get", "mutatingwebhookconfigurations", "-l", "app=sidecar-injector", "-o",
                   "name").stdout.split() == ["mutatingwebhookconfiguration.admissionregistration.k8s.io/"
                                              "istio-sidecar-injector-asm-1-30"]
    bundle = kubectl(sim, "get", "mutatingwebhookconfiguration", "istio-sidecar-injector-asm-1-30", "-o",
                     "jsonpath={.webhooks[0].clientConfig.caBundle}").stdout
    assert bundle.startswith("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS")  # base64 of -----BEGIN CERTIFICATE-----
    proc = kubectl(sim, "get", "mutatingwebhookconfigurations", "-n", NS, "-o", "name", check=False)
    assert proc.returncode == 0  # a namespace flag on a cluster-scoped kind is ignored, as kubectl does
    pods = kubectl(sim, "get", "pods", "-A", "-l", "security.istio.io/tlsMode=istio", "--chunk-size=3",
                   "-o", "name").stdout.split()
    assert len(pods) == 8
    started = kubectl(sim, "get", "pods", "-n", "shop", "-l", "security.istio.io/tlsMode=istio", "-o",
                      "jsonpath={.items[0].status.containerStatuses[?(@.name=='istio-proxy')].state.running.startedAt}"
                      ).stdout
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", started)
