"""In-cluster collectors, through the Kubernetes API.

Each ``read_*`` takes a client (anything with kubehttp's ``get``: KubeHttpClient,
PackageClient or the run-command replay) and returns a ``collected`` item. Secrets are reduced
to fingerprints as soon as they are read; istiod's logs are cut down to the CA-related
lines; every call is bounded by a timeout, every list is paginated and every log read is
bounded in lines and bytes.

The number of requests does not grow with the cluster: lists are narrowed on the server
(label and field selectors), the CSI provider's log is read only on the nodes that run
istiod or that kubelet's mount events name, and lists that grow with the cluster (one
istio-ca-root-cert per namespace) are reduced page by page.

Every read is a plain GET (``_get``) parsed as JSON here: the kubernetes package's
generated API classes are not used, because importing them (CoreV1Api alone pulls in
hundreds of model modules) costs more CPU than all of diagnose's reads.
``add_cluster_nodes`` lays the reads out as a dependency graph (sources/graph.py).
"""

import base64
import datetime
import json
from urllib.parse import quote

from azext_meshca.sources.errors import describe_error
from azext_meshca.model.plugin import CERTIFICATE_OBJECTS, MOUNT_EVENT_REASONS, file_name
from azext_meshca.model.snapshot import collected, iso_utc

ISTIO_NAMESPACE = "aks-istio-system"
CSI_NAMESPACE = "kube-system"
ROOT_CONFIGMAP = "istio-ca-root-cert"
# (connect, read) seconds for each Kubernetes call.
KUBE_TIMEOUT = (5, 20)
PAGE_SIZE = 500
# istio-ca-root-cert exists in every namespace: one page holds this many, so the list
# is one request up to that many namespaces (the Kubernetes list API has no cheaper
# way to see every namespace's copy; its items are reduced to fingerprints at once).
ROOT_CONFIGMAP_PAGE_SIZE = 10000
# Injected pods are listed across namespaces in pages this large, at most MAX_SIDECAR_PAGES of
# them: one request up to that many pods, and a bound beyond.
SIDECAR_PAGE_SIZE = 5000
MAX_SIDECAR_PAGES = 4
SIDECAR_SELECTOR = "security.istio.io/tlsMode=istio"
WEBHOOKS_PATH = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
WEBHOOK_SELECTOR = "app=sidecar-injector"
PROVIDER_LOG_LINES = 300
ISTIOD_LOG_LINES = 5000
CRONJOB_LOG_LINES = 50
# Byte bounds for each log read (the API server's limitBytes), beside the line bounds:
# a few very long lines cannot make a read large.
PROVIDER_LOG_BYTES = 1024 * 1024
ISTIOD_LOG_BYTES = 4 * 1024 * 1024
CRONJOB_LOG_BYTES = 64 * 1024
# At most this many nodes' provider logs are read (istiod's replicas and the nodes its
# mount events name; more would say nothing new).
MAX_PROVIDER_NODES = 10
# The mount-events list is followed over at most this many pages (of PAGE_SIZE) and this many
# bytes per reason: a crash-looping istiod can leave tens of thousands of FailedMount events,
# and the first few thousand say all the rest would. What is left unread is recorded on the
# item (``cut``) and reported (MCA834), never dropped silently.
MAX_EVENT_PAGES = 4
EVENT_LIST_BYTES = 8 * 1024 * 1024
# A --kubeconfig larger than this is refused (kubectl's own files are a few KiB).
KUBECONFIG_BYTES = 4 * 1024 * 1024
# Connections kept per host: every concurrent read of one run has its own.
KUBE_POOL_SIZE = 16
# The head of istiod's current log: its CA lines come once, at startup, and a busy mesh
# pushes them out of any tail within minutes (read_namespaced_pod_log's limit_bytes
# returns the head, tail_lines the end).
ISTIOD_HEAD_BYTES = 512 * 1024
# A log line is kept to this many characters (a line is evidence, not a payload).
LOG_LINE_CHARS = 8192
# istiod log lines that say which CA it loaded (istio/istio pilot/pkg/bootstrap/istio_ca.go, every Istio version).
ISTIOD_CA_MARKERS = (
    "plugged-in cert", "self-signed cert is used", "istio-generated cacerts", "Use root cert from",
    "Use roots from", "signing ca files", "x509 cert - ", "Istiod certificates are reloaded",
    "CA KeyCertBundle", "incomplete signing CA bundle", "Update Istiod cacerts", "Plug-in CA",
    "ROOT-CA", "trust anchor", "intermediate CA", "failed to create", "cacerts",
)


def open_kube(cli_ctx, resource_group, cluster_name, cluster, *, kubeconfig=None, context=None,
              subscription_id=None):
    """A client for the cluster (see _api_client), plus a collected item that says how it was reached.

    With --kubeconfig the user's file is used as is. Otherwise the user credential
    comes from ARM; for AAD clusters its kubelogin exec entry is replaced by a token
    from the CLI's own login, as ``az aks command invoke`` does (Azure/azure-cli ``command_modules/acs/custom.py``).
    """
    api, source, failed = kube_client(cli_ctx, resource_group, cluster_name, cluster, kubeconfig=kubeconfig,
                                      context=context, subscription_id=subscription_id)
    if api is None:
        return None, failed
    access = reachable(api, source)
    return (api if access["ok"] else None), access


def kube_client(cli_ctx, resource_group, cluster_name, cluster, *, kubeconfig=None, context=None,
                subscription_id=None, user_kubeconfig=None):
    """(client, source, None), or (None, None, failed item) when no credentials came.

    Makes no request to the API server itself, so the first reads can start at once.
    ``user_kubeconfig``: what ``read_user_kubeconfig`` already answered, if it was asked
    before the cluster was read; otherwise the user credential is asked for here.
    """
    from azext_meshca.sources.deadline import deadline_of
    deadline = deadline_of(cli_ctx)
    try:
        if kubeconfig:
            return _api_client(context=context, config_file=kubeconfig, deadline=deadline), "kubeconfig", None
        if user_kubeconfig is None:
            user_kubeconfig = read_user_kubeconfig(cli_ctx, resource_group, cluster_name, subscription_id)
        config_dict, failed = user_kubeconfig
        if failed is not None:
            return None, None, failed
        if (cluster or {}).get("aad") or _has_exec_user(config_dict):
            from azext_meshca._client_factory import aks_aad_token
            _use_token(config_dict, aks_aad_token(cli_ctx))
        return _api_client(context=context, config_dict=config_dict, deadline=deadline), "azure", None
    except Exception as error:  # pylint: disable=broad-except
        return None, None, collected(error=describe_error(error))


def _api_client(context, config_file=None, config_dict=None, deadline=None):
    """A client for GETs bound by the run's deadline: transient failures are retried while
    it allows (sources/deadline.py), so a hung API server costs at most the deadline.

    meshca's own small client (sources/kubehttp.py) unless the kubeconfig needs what
    only the kubernetes package supports (an exec or auth-provider user, a proxy).
    """
    import os
    from azext_meshca.sources import kubehttp
    base_dir = "."
    if config_file:
        import yaml
        from azext_meshca.model.inputs import check_size, read_regular_file, utf8_text
        data = check_size(read_regular_file(config_file, KUBECONFIG_BYTES), KUBECONFIG_BYTES, config_file)
        config_dict = yaml.safe_load(utf8_text(data, config_file))
        base_dir = os.path.dirname(os.path.abspath(config_file))
    if kubehttp.needs_kubernetes_package(config_dict, context):
        return kubehttp.PackageClient(_package_api_client(context, config_dict, deadline))
    return kubehttp.KubeHttpClient(config_dict, context=context, base_dir=base_dir, deadline=deadline,
                                   pool_size=KUBE_POOL_SIZE)


def _package_api_client(context, config_dict, deadline):
    """A kubernetes-package ApiClient, for the kubeconfigs kubehttp hands on."""
    from kubernetes import client
    from kubernetes import config as kube_config
    from azext_meshca.sources.deadline import Deadline, kube_api_client
    configuration = client.Configuration()
    kube_config.load_kube_config_from_dict(config_dict, context=context, client_configuration=configuration)
    configuration.connection_pool_maxsize = KUBE_POOL_SIZE
    return kube_api_client(configuration, deadline or Deadline())


def reachable(api, source):
    """Ask /version once, so an unreachable API server is one finding, not ten."""
    try:
        _get(api, "/version")
    except Exception as error:  # pylint: disable=broad-except
        return collected(error=describe_error(error))
    return collected({"source": source, "server": api.host})


def read_user_kubeconfig(cli_ctx, resource_group, cluster_name, subscription_id=None):
    """(kubeconfig dict, None) from ARM's listClusterUserCredential, or (None, failed item).

    It needs only the cluster's name, not its properties, so diagnose asks for it beside
    the cluster read (sources/snapshot_builder.py): the in-cluster chain is its longest.
    """
    try:
        return _cluster_user_kubeconfig(cli_ctx, resource_group, cluster_name, subscription_id), None
    except Exception as error:  # pylint: disable=broad-except
        return None, collected(error=describe_error(error))


def _cluster_user_kubeconfig(cli_ctx, resource_group, cluster_name, subscription_id):
    import yaml
    from azext_meshca._client_factory import CREDENTIAL_CALL_OPTIONS, cf_managed_clusters
    credentials = cf_managed_clusters(cli_ctx, subscription_id).list_cluster_user_credentials(
        resource_group, cluster_name, **CREDENTIAL_CALL_OPTIONS)
    value = credentials.kubeconfigs[0].value
    if isinstance(value, str):
        value = base64.b64decode(value)
    return yaml.safe_load(value.decode("utf-8"))


def _has_exec_user(config_dict):
    return any("exec" in (user.get("user") or {}) for user in config_dict.get("users") or [])


def _use_token(config_dict, token):
    for user in config_dict.get("users") or []:
        user["user"] = {"token": token}


def _get(api, path, query=None, text=False):
    """GET one API path: the parsed JSON body (or the text, for logs).

    Raises kubehttp.KubeApiError for an answer other than 2xx, so ``describe_error`` and
    ``_not_found`` read every failure alike. A log may come back as text already: the
    run-command replay's keeps the size the API server returned (runcommand.ReplayedText).
    """
    _, body = api.get(path, query, text=text, timeout=KUBE_TIMEOUT)
    if not text:
        return json.loads(body)
    return body if isinstance(body, str) else body.decode("utf-8", "replace")


def namespaced_path(namespace, plural, name="", group=""):
    """The API path of a namespaced resource (core when ``group`` is empty)."""
    root = "/apis/" + group if group else "/api/v1"
    path = f"{root}/namespaces/{quote(namespace, safe='')}/{plural}"
    return path + "/" + quote(name, safe="") if name else path


def _paged(api, path, reduce_item, page_size=PAGE_SIZE, **query):
    """``[reduce_item(item)]`` for every item of a list, following limit/continue.

    Each page is reduced before the next is read, so a list of thousands costs little
    more memory than one page of it.
    """
    result, token = [], None
    while True:
        page = _get(api, path, dict(query, limit=page_size, **({"continue": token} if token else {})))
        result.extend(reduce_item(item) for item in page.get("items") or [])
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return result


def _guarded(read):
    """Run one read; any failure becomes a collected error."""
    try:
        return collected(read())
    except Exception as error:  # pylint: disable=broad-except
        return collected(error=describe_error(error))


def _not_found(error):
    return getattr(error, "status", None) == 404


def _iso_text(text):
    """An API timestamp (RFC 3339, maybe with fractions) in the snapshot's one format."""
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return iso_utc(moment)


# --------------------------------------------------------------------------- istiod pods

def pod_status_text(pod):
    """The STATUS column kubectl prints: Init:0/2, Running, Terminating, CrashLoopBackOff...
    (``pod`` is the API's JSON)."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status") or {}
    init_statuses = status.get("initContainerStatuses") or []
    for index, init in enumerate(init_statuses):
        state = init.get("state") or {}
        terminated = state.get("terminated")
        if terminated and terminated.get("exitCode") == 0:
            continue
        waiting = state.get("waiting") or {}
        if waiting.get("reason") and waiting["reason"] != "PodInitializing":
            return "Init:" + waiting["reason"]
        return f"Init:{index}/{len(init_statuses)}"
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            return waiting["reason"]
    return status.get("phase") or "Unknown"


def _pod_ready(pod):
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def _init_containers(pod):
    result = []
    for init in (pod.get("status") or {}).get("initContainerStatuses") or []:
        state, reason = "unknown", None
        current = init.get("state") or {}
        if current.get("running"):
            state = "running"
        elif current.get("terminated"):
            state, reason = "terminated", current["terminated"].get("reason")
        elif current.get("waiting"):
            state, reason = "waiting", current["waiting"].get("reason")
        result.append({"name": init.get("name"), "state": state, "reason": reason})
    return result


def _istiod_pod(pod):
    metadata = pod.get("metadata") or {}
    return {
        "name": metadata.get("name"),
        "revision": (metadata.get("labels") or {}).get("istio.io/rev"),
        "phase": (pod.get("status") or {}).get("phase"),
        "status": pod_status_text(pod),
        "ready": _pod_ready(pod),
        "createdAt": _iso_text(metadata.get("creationTimestamp")),
        "initContainers": _init_containers(pod),
        "node": (pod.get("spec") or {}).get("nodeName"),
    }


def read_istiod_pods(api, revisions=None):
    """istiod pods of the revisions being diagnosed (another revision's pods say nothing
    about this one's CA)."""
    selector = "app=istiod"
    if revisions:
        selector += f",istio.io/rev in ({','.join(revisions)})"
    return _paged(api, namespaced_path(ISTIO_NAMESPACE, "pods"), _istiod_pod, labelSelector=selector)


def read_istiod_deployments(api, revisions):
    def one(revision):
        deployment = _object(api, "deployments", "istiod-" + revision, group="apps/v1")
        return None if deployment is None else {
            "name": deployment["metadata"]["name"],
            "replicas": (deployment.get("spec") or {}).get("replicas"),
            "readyReplicas": (deployment.get("status") or {}).get("readyReplicas") or 0,
            "multiRootMesh": _container_env(deployment.get("spec", {}).get("template"), "discovery",
                                            "ISTIO_MULTIROOT_MESH")}
    return _per_revision(one, revisions)


def _container_env(template, container_name, variable):
    """The literal value of ``variable`` in a pod template's container, or None when unset
    (then the program's default holds: istio/istio pilot/pkg/features/pilot.go, off)."""
    spec = (template or {}).get("spec") or {}
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if container.get("name") != container_name:
            continue
        for entry in container.get("env") or []:
            if entry.get("name") == variable:
                return str(entry.get("value")) if entry.get("value") is not None else None
    return None


# --------------------------------------------------------------------------- the CA's path

def read_mount_statuses(api):
    """The CSI driver's SecretProviderClassPodStatus objects in aks-istio-system: which
    version of each object it mounted in each istiod pod (kubernetes-sigs/secrets-store-csi-driver
    apis/v1 secretproviderclasspodstatus_types.go; the Azure provider names each object
    ``<objectType>/<objectName>``, Azure/secrets-store-csi-driver-provider-azure pkg/provider/provider.go)."""
    def entry(item):
        status = item.get("status") or {}
        return {"pod": status.get("podName"), "secretProviderClass": status.get("secretProviderClassName"),
                "mounted": bool(status.get("mounted")),
                "objects": [{"name": str(obj.get("id") or "").split("/", 1)[-1], "version": obj.get("version")}
                            for obj in status.get("objects") or []]}
    return _paged(api, namespaced_path(ISTIO_NAMESPACE, "secretproviderclasspodstatuses",
                                       group="secrets-store.csi.x-k8s.io/v1"), entry)


def read_webhooks(api):
    """Each revision's sidecar-injector webhook, with the caBundle its istiod patched in (no
    leader election: istio/istio pilot/pkg/bootstrap/sidecarinjector.go), so per-revision
    evidence of the root istiod loaded. The caBundle is public certificates; it is kept as
    text because Istio 1.28/1.29 judge a root change by its bytes."""
    def entry(item):
        metadata = item.get("metadata") or {}
        bundles = [(hook.get("clientConfig") or {}).get("caBundle") for hook in item.get("webhooks") or []]
        encoded = next((bundle for bundle in bundles if bundle), None)
        pem = _decoded_text(encoded)
        return {"name": metadata.get("name"), "revision": (metadata.get("labels") or {}).get("istio.io/rev"),
                "caBundleFingerprints": _fingerprints(pem) if pem else [], "caBundlePem": pem}
    return _paged(api, WEBHOOKS_PATH, entry, labelSelector=WEBHOOK_SELECTOR)


def _decoded_text(encoded):
    if not encoded:
        return None
    try:
        text = base64.b64decode(encoded).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    from azext_meshca.model import certs
    return text if len(text) <= certs.MAX_OBJECT_BYTES else None


def _started_at(pod, container_name):
    status = pod.get("status") or {}
    for container in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if container.get("name") == container_name:
            return _iso_text(((container.get("state") or {}).get("running") or {}).get("startedAt"))
    return None


def _sidecar(pod):
    """One injected pod, reduced to what renewal needs: its namespace and revision, istio-proxy's
    start and SECRET_TTL (no name: rules count per namespace)."""
    metadata = pod.get("metadata") or {}
    try:
        status = json.loads((metadata.get("annotations") or {}).get("sidecar.istio.io/status") or "{}")
    except ValueError:
        status = {}
    return {"namespace": metadata.get("namespace"),
            "revision": status.get("revision") if isinstance(status, dict) else None,
            "startedAt": _started_at(pod, "istio-proxy"),
            "secretTtl": _container_env(pod, "istio-proxy", "SECRET_TTL")}


def read_sidecars(api):
    """Every pod with an injected sidecar, in one list across namespaces (the injector labels
    them security.istio.io/tlsMode=istio), reduced page by page; at most MAX_SIDECAR_PAGES
    pages, so the cost is bounded whatever the mesh's size (``truncated`` says so)."""
    pods, token, pages = [], None, 0
    while True:
        page = _get(api, "/api/v1/pods", {"labelSelector": SIDECAR_SELECTOR,
                                          "limit": SIDECAR_PAGE_SIZE, **({"continue": token} if token else {})})
        pods.extend(_sidecar(item) for item in page.get("items") or [])
        pages += 1
        token = (page.get("metadata") or {}).get("continue")
        if not token or pages >= MAX_SIDECAR_PAGES:
            # sorted: the same list whichever way it was read (run-command sends it counted)
            pods.sort(key=lambda pod: tuple(str(pod[key] or "") for key in sorted(pod)))
            return {"pods": pods, "truncated": bool(token)}


def _object(api, plural, name, group=""):
    """One object (JSON) from aks-istio-system, or None when it does not exist."""
    try:
        return _get(api, namespaced_path(ISTIO_NAMESPACE, plural, name, group))
    except Exception as error:  # pylint: disable=broad-except
        if _not_found(error):
            return None
        raise


def _per_revision(read, revisions):
    """{revision: read(revision)}, the revisions read concurrently."""
    from azext_meshca.sources.graph import fan_out
    return dict(zip(revisions, fan_out(read, revisions)))


def read_events(api):
    """Mount events about istiod pods and deployments, through core v1, as kubectl
    does (kubernetes/kubectl ``pkg/describe/describe.go``).

    The rules judge only kubelet's FailedMount and the CSI driver's MountRotationFailed
    (drivers up to v1.5, kubernetes-sigs/secrets-store-csi-driver pkg/rotation), so the
    API server filters by reason (core/v1 events' selectable fields include ``reason``:
    kubernetes pkg/apis/core/v1/conversion.go, AddFieldLabelConversionsForEvent). A field
    selector cannot say "or", so that is one paged list per reason: a constant number of
    requests, and the other events of a busy namespace never cross the wire.

    Each list is bounded (MAX_EVENT_PAGES, EVENT_LIST_BYTES, each message LOG_LINE_CHARS).
    Returns ``(events, cut)``: ``cut`` is None when every page was read, else what was left
    ({reason, pages, bytes, eventsRead, remainingItemCount} per list that stopped early).
    """
    from azext_meshca.sources.graph import fan_out

    def events_with(reason):
        return _bounded_pages(api, namespaced_path(ISTIO_NAMESPACE, "events"), _event_entry,
                              fieldSelector="reason=" + reason)

    found = fan_out(events_with, MOUNT_EVENT_REASONS)
    events = [event for items, _ in found for event in items if (event["involvedName"] or "").startswith("istiod")]
    cut = [dict(stop, reason=reason) for reason, (_, stop) in zip(MOUNT_EVENT_REASONS, found) if stop]
    return events, (cut or None)


def _bounded_pages(api, path, reduce_item, **query):
    """``([reduce_item(item)], stop)`` over at most MAX_EVENT_PAGES pages and EVENT_LIST_BYTES.

    ``stop`` is None when the list ended, else how far the read went: pages and bytes read,
    items kept, and the API server's ``remainingItemCount`` when it gave one (it may not).
    """
    result, token, size = [], None, 0
    for number in range(1, MAX_EVENT_PAGES + 1):
        _, body = api.get(path, dict(query, limit=PAGE_SIZE, **({"continue": token} if token else {})),
                          timeout=KUBE_TIMEOUT)
        size += len(body)
        page = json.loads(body)
        result.extend(reduce_item(item) for item in page.get("items") or [])
        metadata = page.get("metadata") or {}
        token = metadata.get("continue")
        if not token:
            return result, None
        if size >= EVENT_LIST_BYTES or number == MAX_EVENT_PAGES:
            return result, {"pages": number, "bytes": size, "eventsRead": len(result),
                            "remainingItemCount": metadata.get("remainingItemCount")}
    return result, None  # not reached: the loop returns on its last page


def _events_item(api):
    """The events item: collected(events), with ``cut`` beside ``data`` when a list stopped early."""
    try:
        events, cut = read_events(api)
    except Exception as error:  # pylint: disable=broad-except
        return collected(error=describe_error(error))
    item = collected(events)
    if cut:
        item["cut"] = cut
    return item


def _event_entry(event):
    involved = event.get("involvedObject") or {}
    source = event.get("source") or {}
    return {
        "involvedKind": involved.get("kind"),
        "involvedName": involved.get("name"),
        "type": event.get("type"),
        "reason": event.get("reason"),
        "message": _cut_text(event.get("message")),
        "count": event.get("count"),
        "lastSeen": _iso_text(event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")),
        "node": source.get("host") or event.get("reportingInstance") or None,
    }


def _cut_text(text):
    """A text kept to LOG_LINE_CHARS (an event message is evidence, not a payload)."""
    return text[:LOG_LINE_CHARS] if isinstance(text, str) else text


def _pod_log(api, pod_name, namespace, limit_bytes, *, container=None, tail_lines=None):
    text = _get(api, namespaced_path(namespace, "pods", pod_name) + "/log",
                {"container": container, "tailLines": tail_lines, "limitBytes": limit_bytes}, text=True)
    return _lines(text)


def _lines(text):
    """A log's lines, each cut to LOG_LINE_CHARS."""
    return [line[:LOG_LINE_CHARS] for line in text.splitlines()] if text else []


def _head_and_tail_log(api, pod_name, namespace, container):
    """The first ISTIOD_HEAD_BYTES and the last ISTIOD_LOG_LINES lines of a container's log.

    istiod's CA lines come once, at startup, and a busy mesh pushes them out of any tail
    within minutes; the API server's limitBytes returns the head of the selected lines,
    tailLines the end (kubernetes pkg/kubelet/kuberuntime/logs). A head shorter than the
    limit is the whole log, so the tail adds nothing. Otherwise the head's last line may
    be cut mid-way and is dropped; head and tail may overlap on a log of middling size,
    which repeats lines in order and changes no verdict.
    """
    head_text = _get(api, namespaced_path(namespace, "pods", pod_name) + "/log",
                     {"container": container, "limitBytes": ISTIOD_HEAD_BYTES}, text=True) or ""
    head = _lines(head_text)
    if (getattr(head_text, "source_bytes", None) or len(head_text.encode("utf-8"))) < ISTIOD_HEAD_BYTES:
        return head
    return head[:-1] + _pod_log(api, pod_name, namespace, ISTIOD_LOG_BYTES, container=container,
                                tail_lines=ISTIOD_LOG_LINES)


def provider_nodes(pods, events):
    """The nodes whose CSI provider served istiod's mounts: where its pods run, and the
    nodes kubelet's mount events come from (sorted, at most MAX_PROVIDER_NODES)."""
    nodes = {pod.get("node") for pod in pods or ()} | {event.get("node") for event in events or ()}
    return sorted(node for node in nodes if node)[:MAX_PROVIDER_NODES]


def read_provider_logs(api, nodes):
    """A bounded tail of the CSI provider's log on each of ``nodes``: the 403/404 texts
    live there. The provider is a daemonset, one pod per node; only these nodes' pods
    are looked up (label and spec.nodeName selectors), concurrently."""
    from azext_meshca.sources.graph import fan_out

    def node_logs(node):
        pods = _paged(api, namespaced_path(CSI_NAMESPACE, "pods"), lambda pod: pod["metadata"]["name"],
                      labelSelector="app=secrets-store-provider-azure", fieldSelector="spec.nodeName=" + node)
        return [{"pod": name, "node": node,
                 "lines": _pod_log(api, name, CSI_NAMESPACE, PROVIDER_LOG_BYTES, tail_lines=PROVIDER_LOG_LINES)}
                for name in pods]

    return [log for logs in fan_out(node_logs, nodes) for log in logs]


def read_istiod_logs(api, pods):
    """CA-related lines of each running istiod pod's discovery container, concurrently."""
    from azext_meshca.sources.graph import fan_out

    def pod_lines(pod):
        lines = _head_and_tail_log(api, pod["name"], ISTIO_NAMESPACE, "discovery")
        return {"pod": pod["name"],
                "lines": [line for line in lines if any(marker in line for marker in ISTIOD_CA_MARKERS)]}

    return fan_out(pod_lines, [pod for pod in pods if pod["phase"] == "Running"])


def read_secret_provider_classes(api, revisions):
    def one(revision):
        name = "istio-spc-" + revision
        spc = _object(api, "secretproviderclasses", name, group="secrets-store.csi.x-k8s.io/v1")
        if spc is None:
            return None
        parameters = (spc.get("spec") or {}).get("parameters") or {}
        return {"name": name,
                "objectNames": _spc_object_names(parameters.get("objects")),
                "keyvaultName": parameters.get("keyvaultName"),
                "tenantId": parameters.get("tenantId")}
    return _per_revision(one, revisions)


def _spc_object_names(objects_text):
    """The objectName entries of an SPC's 'objects' YAML string."""
    import yaml
    try:
        parsed = yaml.safe_load(objects_text or "") or {}
    except yaml.YAMLError:
        return []
    names = []
    for entry in parsed.get("array") or []:
        item = yaml.safe_load(entry) if isinstance(entry, str) else entry
        if isinstance(item, dict) and item.get("objectName"):
            names.append(item["objectName"])
    return names


def _fingerprints(pem_text):
    """SHA-256 fingerprints of the certificates in a PEM text; [] if it does not parse
    (or is not text, or is over the certificate engine's cap)."""
    from azext_meshca.model import certs
    if not isinstance(pem_text, str) or len(pem_text) > certs.MAX_OBJECT_BYTES:
        return []
    try:
        return certs.bundle_fingerprints(pem_text.encode("utf-8"))
    except (certs.CertFormatError, ValueError):
        return []


def _cacerts_data(api):
    """The cacerts secret's data (base64 values), or None when there is no such secret."""
    secret = _object(api, "secrets", "cacerts")
    return None if secret is None else (secret.get("data") or {})


def read_cacerts(api):
    """The cacerts secret, reduced to fingerprints at once; ca-key.pem is never decoded."""
    data = _cacerts_data(api)
    if data is None:
        return None

    def certificate_fingerprints(key):
        encoded = data.get(key)
        return _fingerprints(base64.b64decode(encoded).decode("utf-8", "replace")) if encoded else []

    ca_cert = certificate_fingerprints("ca-cert.pem")
    return {"keys": sorted(data),
            "rootFingerprints": certificate_fingerprints("root-cert.pem"),
            "caCertFingerprint": ca_cert[0] if ca_cert else None,
            "certChainFingerprints": certificate_fingerprints("cert-chain.pem")}


def read_root_configmaps(api):
    """Every namespace's istio-ca-root-cert in one paginated list call across namespaces,
    reduced to fingerprints page by page (equal PEM texts are parsed once)."""
    fingerprints = {}

    def entry(item):
        pem = (item.get("data") or {}).get("root-cert.pem", "")
        if pem not in fingerprints:
            fingerprints[pem] = _fingerprints(pem)
        return {"namespace": (item.get("metadata") or {}).get("namespace"), "rootFingerprints": fingerprints[pem]}

    return _paged(api, "/api/v1/configmaps", entry, page_size=ROOT_CONFIGMAP_PAGE_SIZE,
                  fieldSelector="metadata.name=" + ROOT_CONFIGMAP)


def read_cronjobs(api, revisions):
    def one(revision):
        name = "istio-cert-validator-cronjob-" + revision
        cronjob = _object(api, "cronjobs", name, group="batch/v1")
        if cronjob is None:
            return None
        spec, status = cronjob.get("spec") or {}, cronjob.get("status") or {}
        return {"name": name, "schedule": spec.get("schedule"), "suspend": bool(spec.get("suspend")),
                "lastScheduleTime": _iso_text(status.get("lastScheduleTime"))}
    return _per_revision(one, revisions)


def last_job_name(cronjob):
    """The Job a CronJob created at its last schedule: <cronjob>-<scheduled time in unix
    minutes> (kubernetes pkg/controller/cronjob/utils.go, getJobName), or None."""
    scheduled = _iso_moment((cronjob or {}).get("lastScheduleTime"))
    if scheduled is None:
        return None
    return f"{cronjob['name']}-{int(scheduled.timestamp()) // 60}"


def _iso_moment(text):
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def read_cronjob_logs(api, cronjobs):
    """The log of the newest pod of the cert-validator cronjobs' last runs, found by the
    job-name label the Job controller puts on its pods (the article lists every pod of
    the namespace and keeps the newest validator pod; this is the same pod)."""
    from azext_meshca.sources.graph import fan_out
    jobs = [name for name in (last_job_name(job) for job in cronjobs.values() if job) if name]
    if not jobs:
        return []

    def pods_of(job):
        return _paged(api, namespaced_path(ISTIO_NAMESPACE, "pods"),
                      lambda pod: (pod["metadata"].get("creationTimestamp") or "", pod["metadata"]["name"]),
                      labelSelector="job-name=" + job)

    pods = [pod for found in fan_out(pods_of, jobs) for pod in found]
    if not pods:
        return []
    _, newest = max(pods)
    return _pod_log(api, newest, ISTIO_NAMESPACE, CRONJOB_LOG_BYTES, tail_lines=CRONJOB_LOG_LINES)


def _needing_pods(read):
    """A read that needs the istiod pods: not attempted when they could not be read."""
    def run(api, _revisions, pods, *rest):
        if not pods["ok"]:
            return collected(error=pods["error"])
        return _guarded(lambda: read(api, pods["data"], *[item["data"] if item["ok"] else None for item in rest]))
    return run


def _istiod_logs(api, pods):
    return read_istiod_logs(api, pods)


def _provider_logs(api, pods, events):
    return read_provider_logs(api, provider_nodes(pods, events))


def _cronjob_logs(api, _revisions, cronjobs):
    if not cronjobs["ok"]:
        return collected(error=cronjobs["error"])
    return _guarded(lambda: read_cronjob_logs(api, cronjobs["data"]))


# in-cluster item -> (read(api, revisions, *needed items), the items it needs besides the client)
KUBE_READS = {
    "istiodPods": (lambda api, revisions: _guarded(lambda: read_istiod_pods(api, revisions)), ()),
    "istiodDeployments": (lambda api, revisions: _guarded(lambda: read_istiod_deployments(api, revisions)), ()),
    "events": (lambda api, revisions: _events_item(api), ()),
    "secretProviderClasses": (lambda api, revisions: _guarded(lambda: read_secret_provider_classes(api, revisions)),
                              ()),
    "cacerts": (lambda api, revisions: _guarded(lambda: read_cacerts(api)), ()),
    "rootConfigMaps": (lambda api, revisions: _guarded(lambda: read_root_configmaps(api)), ()),
    "cronjobs": (lambda api, revisions: _guarded(lambda: read_cronjobs(api, revisions)), ()),
    "mountStatuses": (lambda api, revisions: _guarded(lambda: read_mount_statuses(api)), ()),
    "webhooks": (lambda api, revisions: _guarded(lambda: read_webhooks(api)), ()),
    "sidecars": (lambda api, revisions: _guarded(lambda: read_sidecars(api)), ()),
    "istiodLogs": (_needing_pods(_istiod_logs), ("istiodPods",)),
    "providerLogs": (_needing_pods(_provider_logs), ("istiodPods", "events")),
    "cronjobLogs": (_cronjob_logs, ("cronjobs",)),
}


def add_cluster_nodes(graph, client_node):
    """Add every in-cluster read to ``graph``; returns the node that assembles ``kube``.

    ``client_node``'s result is ``(api, source, failed, revisions)``: ``kube_client``'s
    answer and the revisions to read.
    Every read starts as soon as the client exists (the /version probe runs beside
    them, not before them); logs start as soon as the pods they belong to are known.
    """
    def with_client(read):
        def run(client_result, *needed):
            api, _, _, revisions = client_result
            return None if api is None else read(api, revisions, *needed)
        return run

    graph.add("kube.access", lambda result: result[2] if result[0] is None else reachable(result[0], result[1]),
              needs=(client_node,))
    for item, (read, needs) in KUBE_READS.items():
        graph.add("kube." + item, with_client(read), needs=(client_node,) + tuple("kube." + need for need in needs))
    names = ["kube.access"] + ["kube." + item for item in KUBE_READS]

    def assemble(access, *items):
        if not access["ok"]:
            return {"access": access}
        result = {"access": access}
        result.update(zip(KUBE_READS, items))
        return result

    return graph.add("kube", assemble, needs=names)


def read_cacerts_values(api):
    """validate-secrets --in-cluster: the cacerts secret's entries, the key as key facts.

    ca-key.pem is decoded only to be reduced to key facts at once; None when the
    secret does not exist (newer add-on versions do not create it).
    """
    from azext_meshca.model.keyfacts import key_facts
    data = _cacerts_data(api)
    if data is None:
        return None
    values = {obj: base64.b64decode(data[file_name(obj)]) if file_name(obj) in data else None
              for obj in CERTIFICATE_OBJECTS}
    values["ca-key"] = key_facts(base64.b64decode(data["ca-key.pem"])) if "ca-key.pem" in data else None
    return values


def read_root_configmap_pem(api):
    """The root-cert.pem of aks-istio-system's istio-ca-root-cert, or None when absent."""
    configmap = _object(api, "configmaps", ROOT_CONFIGMAP)
    pem = (configmap.get("data") or {}).get("root-cert.pem") if configmap is not None else None
    return pem.encode("utf-8") if pem is not None else None
