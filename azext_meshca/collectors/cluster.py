"""In-cluster collectors, through the Kubernetes API with the ``kubernetes`` client.

Each ``read_*`` takes an ApiClient and returns a ``collected`` item. Secrets are reduced
to fingerprints as soon as they are read; istiod's logs are cut down to the CA-related
lines; every call is bounded by a timeout and every list is paginated.
"""

import base64

from azext_meshca.collectors.errors import describe_error
from azext_meshca.plugin import CERTIFICATE_OBJECTS, file_name
from azext_meshca.snapshot import collected, iso_utc

ISTIO_NAMESPACE = "aks-istio-system"
CSI_NAMESPACE = "kube-system"
ROOT_CONFIGMAP = "istio-ca-root-cert"
# (connect, read) seconds for each Kubernetes call.
KUBE_TIMEOUT = (5, 20)
PAGE_SIZE = 500
PROVIDER_LOG_LINES = 300
ISTIOD_LOG_LINES = 5000
# The head of istiod's current log: its CA lines come once, at startup, and a busy mesh
# pushes them out of any tail within minutes (read_namespaced_pod_log's limit_bytes
# returns the head, tail_lines the end).
ISTIOD_HEAD_BYTES = 512 * 1024
# istiod log lines that say which CA it loaded (istio/istio pilot/pkg/bootstrap/istio_ca.go, every Istio version).
ISTIOD_CA_MARKERS = (
    "plugged-in cert", "self-signed cert is used", "istio-generated cacerts", "Use root cert from",
    "Use roots from", "signing ca files", "x509 cert - ", "Istiod certificates are reloaded",
    "CA KeyCertBundle", "incomplete signing CA bundle", "Update Istiod cacerts", "Plug-in CA",
    "ROOT-CA", "trust anchor", "intermediate CA", "failed to create", "cacerts",
)


def open_kube(cli_ctx, resource_group, cluster_name, cluster, kubeconfig=None, context=None,
              subscription_id=None):
    """An ApiClient for the cluster, plus a collected item that says how it was reached.

    With --kubeconfig the user's file is used as is. Otherwise the user credential
    comes from ARM; for AAD clusters its kubelogin exec entry is replaced by a token
    from the CLI's own login, as ``az aks command invoke`` does (Azure/azure-cli ``command_modules/acs/custom.py``).
    """
    try:
        if kubeconfig:
            api = _api_client(context=context, config_file=kubeconfig)
            return api, _reachable(api, "kubeconfig")
        config_dict = _cluster_user_kubeconfig(cli_ctx, resource_group, cluster_name, subscription_id)
        if (cluster or {}).get("aad") or _has_exec_user(config_dict):
            from azext_meshca._client_factory import aks_aad_token
            _use_token(config_dict, aks_aad_token(cli_ctx))
        api = _api_client(context=context, config_dict=config_dict)
        return api, _reachable(api, "azure")
    except Exception as error:  # pylint: disable=broad-except
        return None, collected(error=describe_error(error))


def _api_client(context, config_file=None, config_dict=None):
    """An ApiClient with one retry: an unreachable or hung API server costs one
    timeout per call, not four."""
    from kubernetes import client
    from kubernetes import config as kube_config
    configuration = client.Configuration()
    if config_file:
        kube_config.load_kube_config(config_file=config_file, context=context,
                                     client_configuration=configuration)
    else:
        kube_config.load_kube_config_from_dict(config_dict, context=context,
                                               client_configuration=configuration)
    configuration.retries = 1
    return client.ApiClient(configuration)


def _reachable(api, source):
    """Ask /version once, so an unreachable API server is one finding, not ten."""
    from kubernetes import client
    client.VersionApi(api).get_code(_request_timeout=KUBE_TIMEOUT)
    return collected({"source": source, "server": api.configuration.host})


def _cluster_user_kubeconfig(cli_ctx, resource_group, cluster_name, subscription_id):
    import yaml
    from azext_meshca._client_factory import ARM_CALL_OPTIONS, cf_managed_clusters
    credentials = cf_managed_clusters(cli_ctx, subscription_id).list_cluster_user_credentials(
        resource_group, cluster_name, **ARM_CALL_OPTIONS)
    value = credentials.kubeconfigs[0].value
    if isinstance(value, str):
        value = base64.b64decode(value)
    return yaml.safe_load(value.decode("utf-8"))


def _has_exec_user(config_dict):
    return any("exec" in (user.get("user") or {}) for user in config_dict.get("users") or [])


def _use_token(config_dict, token):
    for user in config_dict.get("users") or []:
        user["user"] = {"token": token}


def _paged(list_call, **kwargs):
    """Every item of a paginated list call (limit/continue)."""
    items, token = [], None
    while True:
        page = list_call(limit=PAGE_SIZE, _continue=token, _request_timeout=KUBE_TIMEOUT, **kwargs)
        items.extend(page.items or [])
        token = page.metadata._continue if page.metadata else None  # pylint: disable=protected-access
        if not token:
            return items


def _guarded(read):
    """Run one read; any failure becomes a collected error."""
    try:
        return collected(read())
    except Exception as error:  # pylint: disable=broad-except
        return collected(error=describe_error(error))


def _not_found(error):
    return getattr(error, "status", None) == 404


# --------------------------------------------------------------------------- istiod pods

def pod_status_text(pod):
    """The STATUS column kubectl prints: Init:0/2, Running, Terminating, CrashLoopBackOff..."""
    if pod.metadata.deletion_timestamp:
        return "Terminating"
    status = pod.status
    init_statuses = status.init_container_statuses or []
    for index, init in enumerate(init_statuses):
        terminated = init.state.terminated if init.state else None
        if terminated and terminated.exit_code == 0:
            continue
        waiting = init.state.waiting if init.state else None
        if waiting and waiting.reason and waiting.reason != "PodInitializing":
            return "Init:" + waiting.reason
        return "Init:{}/{}".format(index, len(init_statuses))
    for container in status.container_statuses or []:
        waiting = container.state.waiting if container.state else None
        if waiting and waiting.reason:
            return waiting.reason
    return status.phase or "Unknown"


def _pod_ready(pod):
    for condition in pod.status.conditions or []:
        if condition.type == "Ready":
            return condition.status == "True"
    return False


def _init_containers(pod):
    result = []
    for init in pod.status.init_container_statuses or []:
        state, reason = "unknown", None
        if init.state and init.state.running:
            state = "running"
        elif init.state and init.state.terminated:
            state, reason = "terminated", init.state.terminated.reason
        elif init.state and init.state.waiting:
            state, reason = "waiting", init.state.waiting.reason
        result.append({"name": init.name, "state": state, "reason": reason})
    return result


def read_istiod_pods(api, revisions=None):
    """istiod pods of the revisions being diagnosed (another revision's pods say nothing
    about this one's CA)."""
    from kubernetes import client
    selector = "app=istiod"
    if revisions:
        selector += ",istio.io/rev in ({})".format(",".join(revisions))
    pods = _paged(client.CoreV1Api(api).list_namespaced_pod, namespace=ISTIO_NAMESPACE,
                  label_selector=selector)
    return [{
        "name": pod.metadata.name,
        "revision": (pod.metadata.labels or {}).get("istio.io/rev"),
        "phase": pod.status.phase,
        "status": pod_status_text(pod),
        "ready": _pod_ready(pod),
        "createdAt": iso_utc(pod.metadata.creation_timestamp),
        "initContainers": _init_containers(pod),
    } for pod in pods]


def read_istiod_deployments(api, revisions):
    from kubernetes import client
    apps = client.AppsV1Api(api)
    result = {}
    for revision in revisions:
        deployment = _read_namespaced(apps.read_namespaced_deployment, "istiod-" + revision)
        result[revision] = None if deployment is None else {
            "name": deployment.metadata.name,
            "replicas": deployment.spec.replicas,
            "readyReplicas": deployment.status.ready_replicas or 0}
    return result


def read_events(api):
    """Events about istiod pods and deployments, through core v1, as kubectl does (kubernetes/kubectl ``pkg/describe/describe.go``)."""
    from kubernetes import client
    events = _paged(client.CoreV1Api(api).list_namespaced_event, namespace=ISTIO_NAMESPACE)
    result = []
    for event in events:
        involved = event.involved_object
        if not (involved and (involved.name or "").startswith("istiod")):
            continue
        result.append({
            "involvedKind": involved.kind,
            "involvedName": involved.name,
            "type": event.type,
            "reason": event.reason,
            "message": event.message,
            "count": event.count,
            "lastSeen": iso_utc(event.last_timestamp or event.event_time or event.first_timestamp),
        })
    return result


def _pod_log(core, pod_name, namespace, container=None, tail_lines=None, limit_bytes=None):
    text = core.read_namespaced_pod_log(pod_name, namespace, container=container, tail_lines=tail_lines,
                                        limit_bytes=limit_bytes, _request_timeout=KUBE_TIMEOUT)
    return text.splitlines() if text else []


def _head_and_tail_log(core, pod_name, namespace, container):
    """The first ISTIOD_HEAD_BYTES and the last ISTIOD_LOG_LINES lines of a container's log.

    A head shorter than the limit is the whole log, so the tail adds nothing. Otherwise
    the head's last line may be cut mid-way and is dropped; head and tail may overlap on
    a log of middling size, which repeats lines in order and changes no verdict.
    """
    head_text = core.read_namespaced_pod_log(pod_name, namespace, container=container,
                                             limit_bytes=ISTIOD_HEAD_BYTES, _request_timeout=KUBE_TIMEOUT) or ""
    head = head_text.splitlines()
    if len(head_text.encode("utf-8")) < ISTIOD_HEAD_BYTES:
        return head
    return head[:-1] + _pod_log(core, pod_name, namespace, container=container, tail_lines=ISTIOD_LOG_LINES)


def read_provider_logs(api):
    """A bounded tail of each CSI provider pod's log: the 403/404 texts live there."""
    from kubernetes import client
    core = client.CoreV1Api(api)
    pods = _paged(core.list_namespaced_pod, namespace=CSI_NAMESPACE,
                  label_selector="app=secrets-store-provider-azure")
    return [{"pod": pod.metadata.name,
             "lines": _pod_log(core, pod.metadata.name, CSI_NAMESPACE, tail_lines=PROVIDER_LOG_LINES)}
            for pod in pods]


def read_istiod_logs(api, pods):
    """CA-related lines of each running istiod pod's discovery container."""
    from kubernetes import client
    core = client.CoreV1Api(api)
    result = []
    for pod in pods:
        if pod["phase"] != "Running":
            continue
        lines = _head_and_tail_log(core, pod["name"], ISTIO_NAMESPACE, "discovery")
        result.append({"pod": pod["name"],
                       "lines": [line for line in lines if any(marker in line for marker in ISTIOD_CA_MARKERS)]})
    return result


def read_secret_provider_classes(api, revisions):
    from kubernetes import client
    custom = client.CustomObjectsApi(api)
    result = {}
    for revision in revisions:
        name = "istio-spc-" + revision
        try:
            spc = custom.get_namespaced_custom_object("secrets-store.csi.x-k8s.io", "v1", ISTIO_NAMESPACE,
                                                      "secretproviderclasses", name,
                                                      _request_timeout=KUBE_TIMEOUT)
        except Exception as error:  # pylint: disable=broad-except
            if not _not_found(error):
                raise
            result[revision] = None
            continue
        parameters = (spc.get("spec") or {}).get("parameters") or {}
        result[revision] = {"name": name,
                            "objectNames": _spc_object_names(parameters.get("objects")),
                            "keyvaultName": parameters.get("keyvaultName"),
                            "tenantId": parameters.get("tenantId")}
    return result


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
    """SHA-256 fingerprints of the certificates in a PEM text; [] if it does not parse."""
    from azext_meshca import certs
    try:
        return certs.bundle_fingerprints(pem_text.encode("utf-8"))
    except (certs.CertFormatError, ValueError):
        return []


def _read_namespaced(read, name):
    """One object from aks-istio-system, or None when it does not exist."""
    try:
        return read(name, ISTIO_NAMESPACE, _request_timeout=KUBE_TIMEOUT)
    except Exception as error:  # pylint: disable=broad-except
        if _not_found(error):
            return None
        raise


def _cacerts_data(api):
    """The cacerts secret's data (base64 values), or None when there is no such secret."""
    from kubernetes import client
    secret = _read_namespaced(client.CoreV1Api(api).read_namespaced_secret, "cacerts")
    return None if secret is None else (secret.data or {})


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
    """Every namespace's istio-ca-root-cert in one paginated list call."""
    from kubernetes import client
    configmaps = _paged(client.CoreV1Api(api).list_config_map_for_all_namespaces,
                        field_selector="metadata.name=" + ROOT_CONFIGMAP)
    return [{"namespace": item.metadata.namespace,
             "rootFingerprints": _fingerprints((item.data or {}).get("root-cert.pem", ""))}
            for item in configmaps]


def read_cronjobs(api, revisions):
    from kubernetes import client
    batch = client.BatchV1Api(api)
    result = {}
    for revision in revisions:
        name = "istio-cert-validator-cronjob-" + revision
        cronjob = _read_namespaced(batch.read_namespaced_cron_job, name)
        if cronjob is None:
            result[revision] = None
            continue
        result[revision] = {"name": name, "schedule": cronjob.spec.schedule,
                            "suspend": bool(cronjob.spec.suspend),
                            "lastScheduleTime": iso_utc(cronjob.status.last_schedule_time if cronjob.status else None)}
    return result


def read_cronjob_logs(api, cronjobs):
    """The log of the newest pod that a cert-validator cronjob ran."""
    from kubernetes import client
    names = [job["name"] for job in cronjobs.values() if job]
    if not names:
        return []
    core = client.CoreV1Api(api)
    pods = [pod for pod in _paged(core.list_namespaced_pod, namespace=ISTIO_NAMESPACE)
            if any(pod.metadata.name.startswith(name) for name in names)]
    if not pods:
        return []
    newest = max(pods, key=lambda pod: pod.metadata.creation_timestamp)
    return _pod_log(core, newest.metadata.name, ISTIO_NAMESPACE, tail_lines=50)


def collect_cluster(api, access, revisions, pool):
    """Every in-cluster item, the independent ones concurrently on ``pool``."""
    if api is None or not access["ok"]:
        return {"access": access}
    futures = {
        "istiodPods": pool.submit(_guarded, lambda: read_istiod_pods(api, revisions)),
        "istiodDeployments": pool.submit(_guarded, lambda: read_istiod_deployments(api, revisions)),
        "events": pool.submit(_guarded, lambda: read_events(api)),
        "providerLogs": pool.submit(_guarded, lambda: read_provider_logs(api)),
        "secretProviderClasses": pool.submit(_guarded, lambda: read_secret_provider_classes(api, revisions)),
        "cacerts": pool.submit(_guarded, lambda: read_cacerts(api)),
        "rootConfigMaps": pool.submit(_guarded, lambda: read_root_configmaps(api)),
        "cronjobs": pool.submit(_guarded, lambda: read_cronjobs(api, revisions)),
    }
    result = {"access": access}
    result.update({name: future.result() for name, future in futures.items()})
    pods = result["istiodPods"]
    result["istiodLogs"] = (_guarded(lambda: read_istiod_logs(api, pods["data"])) if pods["ok"]
                            else collected(error=pods["error"]))
    cronjobs = result["cronjobs"]
    result["cronjobLogs"] = (_guarded(lambda: read_cronjob_logs(api, cronjobs["data"])) if cronjobs["ok"]
                             else collected(error=cronjobs["error"]))
    return result


def read_cacerts_values(api):
    """validate-secrets --in-cluster: the cacerts secret's entries, the key as key facts.

    ca-key.pem is decoded only to be reduced to key facts at once; None when the
    secret does not exist (newer add-on versions do not create it).
    """
    from azext_meshca.keyfacts import key_facts
    data = _cacerts_data(api)
    if data is None:
        return None
    values = {obj: base64.b64decode(data[file_name(obj)]) if file_name(obj) in data else None
              for obj in CERTIFICATE_OBJECTS}
    values["ca-key"] = key_facts(base64.b64decode(data["ca-key.pem"])) if "ca-key.pem" in data else None
    return values


def read_root_configmap_pem(api):
    """The root-cert.pem of aks-istio-system's istio-ca-root-cert, or None when absent."""
    from kubernetes import client
    configmap = _read_namespaced(client.CoreV1Api(api).read_namespaced_config_map, ROOT_CONFIGMAP)
    pem = (configmap.data or {}).get("root-cert.pem") if configmap is not None else None
    return pem.encode("utf-8") if pem is not None else None
