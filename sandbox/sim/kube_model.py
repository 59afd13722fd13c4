"""The simulated cluster's objects: scenario expansion plus the CSI mount model.

A scenario's ``kubernetes:`` key stays short; this module expands it into the objects
the AKS Istio add-on really leaves in a cluster (see azure-aks-docs ``articles/aks/istio-plugin-ca.md``):

    kubernetes:
      istiod:                        # one mapping, or a list (one per revision)
        revision: asm-1-21           # default: each of serviceMeshProfile.istio.revisions
        replicas: 2
        state: auto                  # auto | running | init-stuck | crashloop
        istioVersion: "1.21"         # log strings (istio/istio pilot/pkg/bootstrap/istio_ca.go); default from the revision
        age: 3m9s                    # age of the current pods
        terminatingPods: 0           # extra old pods shown as Terminating (article issue 1 has 2)
        crashError: "..."            # the error istiod prints in state crashloop
        caSource: plugin             # self-signed: istiod logs its self-signed CA although a plug-in
                                     # CA is configured (istiod < 1.26.1 started without ca-key.pem)
        trafficLines: 0              # proxy-traffic lines after the startup lines (a busy mesh: 30000)
        reload: null                 # a hot reload after startup: intermediate-updated | root-accepted |
                                     # root-rejected | multi-root-disabled | bad-files
      csi: {nodes: 1}                # nodes, and a provider + driver daemonset pod on each (when the add-on is on)
                                     # identityEndpoint: unreachable -> the provider gets no IMDS token
      workloadNamespaces: [default]  # or an int N: N generated namespaces, each with istio-ca-root-cert (scale)
      events: 0                      # N further events in aks-istio-system: Normal pod events of earlier
                                     # istiod replica sets (scale; none is a FailedMount)
      rootConfigMap: auto            # auto (KV root once istiod ran) | false | {pki: set, part: root-cert}
      cacertsSecret: false           # older add-on: true (synced from KV) | {pki: set} (fixed content)
      certValidatorCronjob: false    # older add-on: true | {log: detected|not-detected|auto}
      objects: []                    # any further plain manifests
      tokens: []                     # extra bearer tokens the API accepts
      acceptAadTokens: true          # accept simulator JWTs for the AKS AAD server app
      mountRetrySeconds: 0           # after a fix, istiod keeps failing this long (kubelet back-off)
      mountedVersion: current        # today's add-on's CA path: istiod.loaded, istiod.multiRootMesh,
      sidecars: {count: 0}           # mountedVersion and sidecars are documented in sandbox/sim/kube_capath.py
      secretProviderClass:           # a stale or hand-edited istio-spc-<rev> (the add-on owns it):
        renameObjects: {}            #   configured object name -> the name the SPC lists instead
        keyvaultName: null           #   another vault name than the plug-in config's

The mount model (``state: auto``, the default): on every request, for each plug-in object
the CSI provider would fetch, ask the World whether the add-on identity can read it
(``world.secret_access``).  All readable -> istiod Running 1/1 with plug-in logs; otherwise
pods ``Init:0/2``, FailedMount events on the pods and the deployment, and provider logs
carrying the Key Vault error in the scenario's ``keyVaultErrorFormat``.  So once a fix
writes the World (access policy, role assignment, upload), istiod turns healthy.
"""

import base64
import copy
import datetime
import hashlib
import json
import re
import threading
import uuid

from cryptography import x509

from sandbox.sim import kube_capath

ISTIO_NAMESPACE = "aks-istio-system"
CSI_DRIVER = "secrets-store.csi.k8s.io"
DEFAULT_NODE = "aks-userpool-24672518-vmss000000"
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", ISTIO_NAMESPACE)
# The article's names for revision asm-1-21, so its sample output lines up.
ARTICLE_HASHES = {"asm-1-21": "6fcfd88478"}
ARTICLE_POD_SUFFIXES = ["c48f9", "wl8mw", "hqdjj", "x7k2p"]
ARTICLE_TERMINATING_SUFFIXES = ["2x95b", "6x5hh"]
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

KV_LEGACY_PREFIX = "keyvault.BaseClient#GetSecret: Failure responding to request: "
_DASHES = "-" * 80
_MOUNT_TIMEOUT = ("Unable to attach or mount volumes: unmounted volumes=[cacerts], unattached volumes=[], "
                  "failed to process volumes=[]: timed out waiting for the condition")
_DRIVER_MISSING = ("kubernetes.io/csi: mounter.SetUpAt failed to get CSI client: driver name secrets-store.csi.k8s.io "
                   "not found in the list of registered CSI drivers")
_HTTP_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests"}


EVENTS_V1 = ("events.k8s.io", "events")
EVENT_TTL_SECONDS = 3600  # kube-apiserver --event-ttl default: older events are gone


# ---------------------------------------------------------------------------- small helpers

def core_event_to_v1(event):
    """The events.k8s.io/v1 view of a core Event (kubelet events: eventTime null; kubectl reads core v1, kubernetes/kubectl ``pkg/describe/describe.go``)."""
    return {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": event["metadata"],
            "eventTime": None, "reason": event.get("reason"), "note": event.get("message"), "type": event.get("type"),
            "regarding": event.get("involvedObject"), "reportingController": event.get("reportingComponent", ""),
            "reportingInstance": event.get("reportingInstance", ""), "deprecatedSource": event.get("source"),
            "deprecatedFirstTimestamp": event.get("firstTimestamp"),
            "deprecatedLastTimestamp": event.get("lastTimestamp"), "deprecatedCount": event.get("count")}


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def rfc3339(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_age(text, default_seconds=0):
    """'3m9s' / '14h' / 90 -> seconds (scenario ages read like kubectl's AGE column)."""
    if text is None:
        return default_seconds
    if isinstance(text, (int, float)):
        return int(text)
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+)([dhms])", str(text))
    if not parts:
        raise ValueError("bad age %r (use e.g. 3m9s, 14h, 2d)" % text)
    return sum(int(n) * units[u] for n, u in parts)


def _uid(*parts):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "meshca-sim/" + "/".join(parts)))


def _suffix(seed, length=5):
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:length])


def _b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def istio_version(revision, override=None):
    """(major, minor) of the Istio behind a revision such as asm-1-21."""
    text = str(override) if override else revision
    match = re.search(r"(\d+)[.-](\d+)", text or "")
    return (int(match.group(1)), int(match.group(2))) if match else (1, 23)


def ca_mode_lines(version, plugin):
    """The line that tells plug-in from self-signed CA, per Istio version.

    istio/istio pilot/pkg/bootstrap/certcontroller.go: 1.18-1.19 "Use plugged-in cert at %v",
    1.20-1.22 "DNS certs use plugged-in cert at %v", 1.23+ "Use root cert from %v"
    (tests/upstream/istiod/ holds each version's lines).
    """
    if version < (1, 20):
        return ("Use plugged-in cert at etc/cacerts/ca-key.pem" if plugin
                else "No plugged-in cert at etc/cacerts/ca-key.pem; self-signed cert is used")
    if version < (1, 23):
        return ("DNS certs use plugged-in cert at etc/cacerts/ca-key.pem" if plugin
                else "Use istio-generated cacerts at etc/cacerts/ca-key.pem or istio-ca-secret")
    return "Use root cert from etc/cacerts/root-cert.pem" if plugin else "Use roots from istio-ca-secret"


def _cert_line(cert):
    """istiod's 'x509 cert - Issuer: ..., Subject: ...' line for one certificate."""
    return 'x509 cert - Issuer: "%s", Subject: "%s", SN: %x, NotBefore: "%s", NotAfter: "%s"' % (
        cert.issuer.rfc4514_string(), cert.subject.rfc4514_string(), cert.serial_number,
        rfc3339(cert.not_valid_before_utc), rfc3339(cert.not_valid_after_utc))


def _load_certs(pem_text):
    try:
        return x509.load_pem_x509_certificates((pem_text or "").encode("ascii", "ignore"))
    except ValueError:
        return []


# ---------------------------------------------------------------------------- Key Vault error rendering

def render_kv_error(denial, vault_name, object_name, error_format):
    """The Key Vault error as the CSI provider prints it (Azure/secrets-store-csi-driver-provider-azure ``pkg/provider/provider.go``), legacy or azcore."""
    status, code, inner = denial.status, denial.code, getattr(denial, "inner_code", None)
    if code == "VaultNotFound":
        return ("%sStatusCode=0 -- Original Error: context deadline exceeded" % KV_LEGACY_PREFIX
                if error_format != "azcore" else
                'Get "https://%s.vault.azure.net/secrets/%s/?api-version=7.4": dial tcp: lookup %s.vault.azure.net: '
                "no such host" % (vault_name, object_name, vault_name))
    if error_format == "azcore":
        error = {"code": code, "message": denial.message}
        if inner:
            error["innererror"] = {"code": inner}
        return "\n".join([
            "GET https://%s.vault.azure.net/secrets/%s/" % (vault_name, object_name),
            _DASHES,
            "RESPONSE %d: %d %s" % (status, status, _HTTP_REASONS.get(status, "Error")),
            "ERROR CODE: %s" % code,
            _DASHES,
            json.dumps({"error": error}, indent=2),
            _DASHES,
            "",
        ])
    text = ('%sStatusCode=%d -- Original Error: autorest/azure: Service returned an error. Status=%d Code="%s" '
            'Message="%s"' % (KV_LEGACY_PREFIX, status, status, code, denial.message))
    if inner:
        text += ' InnerError={"code":"%s"}' % inner
    return text


class MountState:
    """Outcome of the CSI mount of istiod's ``cacerts`` volume, computed from the World."""

    def __init__(self, ok, plugin=True, failed_object="", error="", files=None):
        self.ok = ok
        self.plugin = plugin
        self.failed_object = failed_object
        self.error = error  # provider error text after "failed to get objectType:..."; or driver text
        self.files = files or {}  # file name -> text when mounted

    @property
    def signature(self):
        return (self.ok, self.plugin, self.failed_object, self.error,
                tuple(sorted((k, hashlib.sha256(v.encode()).hexdigest()) for k, v in self.files.items())))

    def provider_error(self):
        """'failed to get objectType:secret, objectName:X, objectVersion:: <KV error>'."""
        return "failed to get objectType:secret, objectName:%s, objectVersion:: %s" % (self.failed_object, self.error)

    def event_message(self, pod_name):
        if self.error != _DRIVER_MISSING:  # a provider error, even for an empty object name
            detail = ("rpc error: code = Unknown desc = failed to mount secrets store objects for pod %s/%s, err: "
                      "rpc error: code = Unknown desc = failed to mount objects, error: %s"
                      % (ISTIO_NAMESPACE, pod_name, self.provider_error()))
        else:
            detail = self.error
        return 'MountVolume.SetUp failed for volume "cacerts" : %s' % detail


# ---------------------------------------------------------------------------- the model

class KubeModel:
    """All objects of the simulated cluster; static ones built once, istiod's recomputed."""

    def __init__(self, world, now=None):
        self.world = world
        self.t0 = now or _utc_now()
        self.spec = dict(getattr(world, "kubernetes", None) or {})
        self._lock = threading.Lock()
        self._rv = 1000
        self._static = {}          # (group, plural) -> {(namespace, name): obj}
        self._logs = {}            # (namespace, pod, container) -> [(ts, line)]
        self._dynamic = {}         # same shape as _static, rebuilt when the mount state changes
        self._dynamic_logs = {}
        self._signature = None
        self._healthy_since = None
        self._last_failure = None
        self._ok_seen_at = None
        self.restarts = {}         # deployment name -> (moment, restartedAt text) from kubectl rollout restart
        self.writes = []           # (method, path) of every write the API accepted, for tests to assert
        self._validator_pods = []  # (revision, pod name, scenario spec, last run) of cert-validator runs
        self._build_static()
        # issue #24's rotation world (sandbox/sim/kube_rotation.py), when the scenario asks for one
        self.rotation = getattr(world, "rotation", None)
        self._rotation_generation = None
        if self.rotation is not None:
            self.rotation.attach(self)

    # ------------------------------------------------------------------ API used by KubeApi

    def now(self):
        return _utc_now()

    def resource_version(self):
        self._refresh()
        return str(self._rv)

    def _merged(self, rtype_key):
        """{(namespace, name): obj} of one resource, static and World-dependent together."""
        if rtype_key == EVENTS_V1:
            return {k: core_event_to_v1(e) for k, e in self._merged(("", "events")).items()}
        merged = dict(self._static.get(rtype_key, {}))
        merged.update(self._dynamic.get(rtype_key, {}))
        return merged

    def list(self, rtype, namespace=""):
        self._refresh()
        merged = self._merged(rtype.key)
        keys = sorted(merged)
        if namespace:
            keys = [k for k in keys if k[0] == namespace]
        return [merged[k] for k in keys]

    def get(self, rtype, namespace, name):
        self._refresh()
        return self._merged(rtype.key).get((namespace if rtype.namespaced else "", name))

    def pod_log(self, pod, container):
        """[(timestamp, line)] for a container, or a Response error (container not started)."""
        from sandbox.sim.kube import status_response
        meta = pod["metadata"]
        key = (meta["namespace"], meta["name"], container)
        lines = self._dynamic_logs.get(key, self._logs.get(key))
        if callable(lines):  # a log generated on first read (istiod's traffic volume)
            lines = self._dynamic_logs[key] = lines()
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        for status in statuses:
            waiting = (status.get("state") or {}).get("waiting") or {}
            if status["name"] == container and waiting.get("reason") in ("PodInitializing", "ContainerCreating"):
                return status_response(400, "BadRequest", 'container "%s" in pod "%s" is waiting to start: %s'
                                       % (container, meta["name"], waiting["reason"]))
        return list(lines or [])

    def write(self, req, target):
        """The only write served: PATCH of a deployment's template annotations (rollout restart)."""
        from sandbox.sim.kube import status_response
        if req.method != "PATCH" or target.rtype.key != ("apps", "deployments") or not target.name \
                or target.subresource:
            return status_response(405, "MethodNotAllowed", "the simulator serves no %s on %s"
                                   % (req.method, target.rtype.plural))
        if self.get(target.rtype, target.namespace, target.name) is None:
            from sandbox.sim.kube import not_found
            return not_found(target.rtype, target.name)
        try:
            patch = json.loads(req.body.decode("utf-8") or "{}")
            annotations = patch["spec"]["template"]["metadata"]["annotations"]
            restarted = annotations["kubectl.kubernetes.io/restartedAt"]
        except (ValueError, KeyError, TypeError):
            return status_response(422, "Invalid", "the simulator only accepts a rollout-restart patch "
                                   "(spec.template.metadata.annotations.kubectl.kubernetes.io/restartedAt)")
        with self._lock:
            self.restarts[target.name] = (_utc_now(), str(restarted))
            self.writes.append((req.method, req.path))
            self._signature = None  # rebuild istiod with the new template
        return None

    # ------------------------------------------------------------------ storage helpers

    def _next_rv(self):
        self._rv += 1
        return str(self._rv)

    def _put(self, store, rtype_key, obj):
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", _uid(obj.get("kind", ""), meta.get("namespace", ""), meta["name"]))
        meta.setdefault("resourceVersion", self._next_rv())
        meta.setdefault("creationTimestamp", rfc3339(self.t0 - datetime.timedelta(days=14)))
        store.setdefault(rtype_key, {})[(meta.get("namespace", ""), meta["name"])] = obj
        return obj

    def _at(self, seconds_ago):
        return self.t0 - datetime.timedelta(seconds=seconds_ago)

    # ------------------------------------------------------------------ cluster facts

    def _cluster_props(self):
        return (getattr(self.world, "cluster", None) or {}).get("properties") or {}

    def addon_enabled(self):
        addon = (self._cluster_props().get("addonProfiles") or {}).get("azureKeyvaultSecretsProvider") or {}
        return bool(addon.get("enabled"))

    def revisions(self):
        istio = (self._cluster_props().get("serviceMeshProfile") or {}).get("istio") or {}
        return list(istio.get("revisions") or [])

    def istiod_specs(self):
        """One istiod config per revision (scenario entries matched by revision, else defaults)."""
        raw = self.spec.get("istiod", {})
        entries = raw if isinstance(raw, list) else [raw]
        entries = [dict(e or {}) for e in entries]
        revisions = self.revisions()
        if not revisions:
            return [e for e in entries if e.get("revision")]
        specs = []
        for index, revision in enumerate(revisions):
            match = next((e for e in entries if e.get("revision") == revision), None)
            if match is None:
                match = entries[index] if index < len(entries) and not entries[index].get("revision") else {}
            specs.append(dict(match, revision=revision))
        return specs

    # ------------------------------------------------------------------ static objects

    def _build_static(self):
        store = self._static
        for name in SYSTEM_NAMESPACES:
            self._put(store, ("", "namespaces"), _namespace(name, self._at(30 * 86400)))
        for name in self.workload_namespaces():
            self._put(store, ("", "namespaces"), _namespace(name, self._at(20 * 86400)))
        for index in range(int((self.spec.get("csi") or {}).get("nodes", 1))):
            self._put(store, ("", "nodes"), _node(self._node_name(index), self._at(30 * 86400)))
        if self.addon_enabled() and self.spec.get("csi", True) is not False:
            self._build_csi(store)
        for istiod in self.istiod_specs():
            self._build_revision_static(store, istiod)
        for manifest in self.spec.get("objects") or []:
            self._put_manifest(store, copy.deepcopy(manifest))
        self._build_noise_events(store, int(self.spec.get("events", 0) or 0))
        kube_capath.build_sidecars(self, store)

    def _build_noise_events(self, store, count):
        """``count`` events of a busy aks-istio-system: kubelet and scheduler events about
        pods of earlier istiod replica sets (events outlive their pods for the event TTL).
        Shaped as client-go records them (k8s.io/client-go/tools/record/event.go)."""
        reasons = (("Scheduled", "default-scheduler", "Successfully assigned %s/%s to %s"),
                   ("Pulled", "kubelet", 'Container image "mcr.microsoft.com/istio/pilot:1.21.3" already present'),
                   ("Created", "kubelet", "Created container discovery"),
                   ("Started", "kubelet", "Started container discovery"),
                   ("Killing", "kubelet", "Stopping container discovery"))
        for index in range(count):
            reason, component, text = reasons[index % len(reasons)]
            pod = "istiod-%s-%s-%s" % (self.revisions()[0] if self.revisions() else "asm-1-21",
                                       _suffix("noise-rs/%d" % (index // 50), 10), _suffix("noise/%d" % index))
            node = self._node_name(index % max(1, int((self.spec.get("csi") or {}).get("nodes", 1))))
            message = text % (ISTIO_NAMESPACE, pod, node) if "%s" in text else text
            moment = self._at(60 + (index % 3000))  # within the event TTL
            source = {"component": component}
            if component == "kubelet":
                source["host"] = node
            self._put(store, ("", "events"), {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": "%s.%x" % (pod, 0x17a000000000000 + index), "namespace": ISTIO_NAMESPACE,
                             "creationTimestamp": rfc3339(moment)},
                "involvedObject": {"kind": "Pod", "namespace": ISTIO_NAMESPACE, "name": pod, "apiVersion": "v1",
                                   "uid": _uid("Pod", ISTIO_NAMESPACE, pod)},
                "reason": reason, "message": message, "source": source, "type": "Normal", "count": 1,
                "firstTimestamp": rfc3339(moment), "lastTimestamp": rfc3339(moment), "eventTime": None,
                "reportingComponent": component, "reportingInstance": node if component == "kubelet" else ""})

    def workload_namespaces(self):
        value = self.spec.get("workloadNamespaces", ["default"])
        if isinstance(value, int):
            return ["workload-%04d" % i for i in range(1, value + 1)]
        return [n if isinstance(n, str) else n["name"] for n in value]

    def _workload_overrides(self):
        value = self.spec.get("workloadNamespaces", ["default"])
        if isinstance(value, int):
            return {}
        return {n["name"]: n for n in value if isinstance(n, dict)}

    def _node_name(self, index):
        return DEFAULT_NODE[:-1] + str(index) if index < 10 else "aks-userpool-24672518-vmss%06d" % index

    def _put_manifest(self, store, manifest):
        from sandbox.sim.kube import KIND_TO_TYPE
        rtype = KIND_TO_TYPE.get((manifest.get("apiVersion"), manifest.get("kind")))
        if rtype is None:
            raise ValueError("kubernetes.objects: unsupported %s/%s" % (manifest.get("apiVersion"), manifest.get("kind")))
        if rtype.namespaced:
            manifest.setdefault("metadata", {}).setdefault("namespace", "default")
        self._put(store, rtype.key, manifest)

    def _build_csi(self, store):
        nodes = int((self.spec.get("csi") or {}).get("nodes", 1))
        created = self._at(7 * 86400)
        for app, ds_name, containers in (
                ("secrets-store-provider-azure", "aks-secrets-store-provider-azure", ["provider-azure-installer"]),
                ("secrets-store-csi-driver", "aks-secrets-store-csi-driver",
                 ["node-driver-registrar", "secrets-store", "liveness-probe"])):
            labels = {"app": app}
            template = {"metadata": {"labels": dict(labels)},
                        "spec": {"containers": [{"name": c, "image": "mcr.microsoft.com/oss/kubernetes-csi/%s:v1.5.4"
                                                 % c} for c in containers],
                                 "nodeSelector": {"kubernetes.io/os": "linux"}}}
            ds = self._put(store, ("apps", "daemonsets"), {
                "apiVersion": "apps/v1", "kind": "DaemonSet",
                "metadata": {"name": ds_name, "namespace": "kube-system", "labels": dict(labels),
                             "creationTimestamp": rfc3339(created), "generation": 1},
                "spec": {"selector": {"matchLabels": dict(labels)}, "template": template},
                "status": {"desiredNumberScheduled": nodes, "currentNumberScheduled": nodes, "numberReady": nodes,
                           "updatedNumberScheduled": nodes, "numberAvailable": nodes, "observedGeneration": 1}})
            for index in range(nodes):
                pod_name = "%s-%s" % (ds_name, _suffix(ds_name + str(index)))
                owner = _owner(ds, "DaemonSet", "apps/v1")
                pod = _pod(pod_name, "kube-system", labels, self._node_name(index), created, owner,
                           template["spec"]["containers"], [], "running")
                self._put(store, ("", "pods"), pod)
                if app == "secrets-store-csi-driver":
                    self._logs[("kube-system", pod_name, "secrets-store")] = [
                        (_micro(created), 'I%s       1 main.go:195] "starting manager" version="v1.4.7"'
                         % created.strftime("%m%d %H:%M:%S.%f"))]

    def _build_revision_static(self, store, istiod):
        revision = istiod["revision"]
        self._put(store, ("secrets-store.csi.x-k8s.io", "secretproviderclasses"), self._spc(revision))
        cronjob_spec = self.spec.get("certValidatorCronjob", False)
        if cronjob_spec:
            self._build_validator(store, revision, cronjob_spec if isinstance(cronjob_spec, dict) else {})

    def _spc(self, revision):
        identity = self.world.addon_identity() or {}
        objects = self.world.plugin_objects() if self.world.plugin_config() else []
        stale = self.spec.get("secretProviderClass") or {}
        renamed = stale.get("renameObjects") or {}
        vault = stale.get("keyvaultName") or (objects[0].vault_name if objects else "")
        array = "".join("  - |\n    objectName: %s\n    objectType: secret\n    objectAlias: %s\n"
                        % (renamed.get(o.object_name, o.object_name), o.file) for o in objects)
        return {
            "apiVersion": "secrets-store.csi.x-k8s.io/v1", "kind": "SecretProviderClass",
            "metadata": {"name": "istio-spc-" + revision, "namespace": ISTIO_NAMESPACE, "generation": 1,
                         "labels": {"app.kubernetes.io/managed-by": "aks-istio-addon"},
                         "creationTimestamp": rfc3339(self._at(14 * 3600))},
            "spec": {
                "provider": "azure",
                "parameters": {"usePodIdentity": "false", "useVMManagedIdentity": "true",
                               "userAssignedIdentityID": identity.get("clientId", ""), "keyvaultName": vault,
                               "tenantId": getattr(self.world, "tenant", ""), "cloudName": "",
                               "objects": "array:\n" + array},
                "secretObjects": [{"secretName": "cacerts", "type": "opaque",
                                   "data": [{"objectName": o.file, "key": o.file} for o in objects]}],
            },
        }

    def _build_validator(self, store, revision, spec):
        name = "istio-cert-validator-cronjob-" + revision
        last_run = self._at(parse_age(spec.get("lastRun", "4m")))
        job_name = "%s-%d" % (name, int(last_run.timestamp()) // 60)
        labels = {"app": "istio-cert-validator", "istio.io/rev": revision}
        container = {"name": "istio-cert-validator", "image": "mcr.microsoft.com/oss/kubernetes/kubectl:v1.30.6"}
        cronjob = self._put(store, ("batch", "cronjobs"), {
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": name, "namespace": ISTIO_NAMESPACE, "labels": dict(labels),
                         "creationTimestamp": rfc3339(self._at(14 * 3600))},
            "spec": {"schedule": "*/10 * * * *", "suspend": False, "concurrencyPolicy": "Forbid",
                     "jobTemplate": {"spec": {"template": {"metadata": {"labels": dict(labels)},
                                                           "spec": {"containers": [container],
                                                                    "restartPolicy": "Never"}}}}},
            "status": {"lastScheduleTime": rfc3339(last_run),
                       "lastSuccessfulTime": rfc3339(last_run + datetime.timedelta(seconds=6))}})
        job = self._put(store, ("batch", "jobs"), {
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": job_name, "namespace": ISTIO_NAMESPACE, "labels": dict(labels),
                         "creationTimestamp": rfc3339(last_run),
                         "ownerReferences": [_owner(cronjob, "CronJob", "batch/v1")]},
            "spec": {"completions": 1, "template": {"metadata": {"labels": dict(labels)},
                                                    "spec": {"containers": [container]}}},
            "status": {"succeeded": 1, "startTime": rfc3339(last_run),
                       "completionTime": rfc3339(last_run + datetime.timedelta(seconds=6)),
                       "conditions": [{"type": "Complete", "status": "True"}]}})
        pod_name = "%s-%s" % (job_name, _suffix(job_name))
        pod_labels = dict(labels, **{"job-name": job_name})
        pod = _pod(pod_name, ISTIO_NAMESPACE, pod_labels, DEFAULT_NODE, last_run, _owner(job, "Job", "batch/v1"),
                   [container], [], "completed")
        self._put(store, ("", "pods"), pod)
        self._validator_pods.append((revision, pod_name, spec, last_run))

    # ------------------------------------------------------------------ the mount model

    def mount_state(self):
        """Ask the World what the CSI provider would get for each plug-in object."""
        if not self.world.plugin_config():
            return MountState(ok=True, plugin=False)
        if not self.addon_enabled():
            return MountState(ok=False, error=_DRIVER_MISSING)
        oid = (self.world.addon_identity() or {}).get("objectId", "")
        endpoint_error = self._identity_endpoint_error()
        files = {}
        for obj in self.world.plugin_objects():
            if endpoint_error:
                return MountState(ok=False, failed_object=obj.object_name, error=endpoint_error)
            denial = self._tenant_denial(obj.vault_name) or self.world.secret_access(obj.vault_name, oid,
                                                                                     obj.object_name)
            if denial is not None:
                error = render_kv_error(denial, obj.vault_name, obj.object_name, self.world.key_vault_error_format)
                return MountState(ok=False, failed_object=obj.object_name, error=error)
            version = self.mounted_versions().get(obj.object_name)
            files[obj.file] = self.world.secret_value(obj.vault_name, obj.object_name, version)[1] or ""
        return MountState(ok=True, files=files)

    def mounted_versions(self):
        """{object name: version} the CSI driver mounted (sandbox/sim/kube_capath.py mountedVersion;
        in a rotation world, what its last poll mounted)."""
        if getattr(self, "rotation", None) is not None:
            return self.rotation.mounted_versions()
        return kube_capath.mounted_versions(self.world, previous=self.spec.get("mountedVersion") == "previous")

    def _identity_endpoint_error(self):
        """The token error when ``kubernetes.csi.identityEndpoint: unreachable`` (IMDS down).

        Legacy provider: go-autorest adal's text; provider v1.5+: azidentity's
        ``ManagedIdentityCredential: <net/http error>`` (tests/upstream/provider/ has both).
        """
        if (self.spec.get("csi") or {}).get("identityEndpoint") != "unreachable":
            return None
        url = "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01"
        if self.world.key_vault_error_format == "azcore":
            return ('ManagedIdentityCredential: Get "%s&resource=https%%3A%%2F%%2Fvault.azure.net": dial tcp '
                    '169.254.169.254:80: connect: connection refused' % url)
        return ('keyvault.BaseClient#GetSecret: Failure preparing request: StatusCode=0 -- Original Error: '
                'the MSI endpoint is not available. Failed HTTP request to MSI endpoint: Get "%s": context '
                'deadline exceeded' % url)

    def _tenant_denial(self, vault_name):
        """Key Vault's 401 AKV10032 when the vault trusts another tenant than the add-on's token."""
        vault = self.world.find_vault(vault_name)
        tenant = str(((vault or {}).get("properties") or {}).get("tenantId") or "")
        if not vault or not tenant or tenant.lower() == str(self.world.tenant).lower():
            return None
        from sandbox.sim.scenario import KvDenial
        return KvDenial(401, "Unauthorized", "AKV10032: Invalid issuer. Expected one of https://sts.windows.net/%s/, "
                        "found https://sts.windows.net/%s/." % (tenant, self.world.tenant))

    def _delayed(self, mount):
        """Keep showing the last failure for ``mountRetrySeconds`` after the World allows the mount.

        Kubelet retries a failed CSI mount with back-off, so a fix is not seen at once;
        a delay lets tests exercise ``fix --wait`` polling.
        """
        delay = float(self.spec.get("mountRetrySeconds", 0) or 0)
        if not mount.ok:
            self._last_failure, self._ok_seen_at = mount, None
            return mount
        if delay <= 0 or getattr(self, "_last_failure", None) is None:
            return mount
        if self._ok_seen_at is None:
            self._ok_seen_at = _utc_now()
        if (_utc_now() - self._ok_seen_at).total_seconds() < delay:
            return self._last_failure
        self._last_failure = None
        return mount

    def _refresh(self):
        """Recompute the World-dependent objects when the mount outcome changed."""
        with self._lock:
            mount = self._delayed(self.mount_state())
            generation = self.rotation.generation if self.rotation is not None else None
            if mount.signature == self._signature and generation == self._rotation_generation:
                return
            if mount.ok and self._signature is not None and not self._signature[0]:
                self._healthy_since = _utc_now()
            # Build aside and swap at the end: concurrent readers never see a half-built state.
            self._building, self._building_logs = {}, {}
            self._held_root = self.rotation.configmap_root() if self.rotation is not None else None
            for istiod in self.istiod_specs():
                self._build_istiod(istiod, mount)
            self._build_root_configmaps(mount)
            self._build_cacerts(mount)
            self._build_provider_logs(mount)
            self._build_validator_logs(mount)
            self._dynamic, self._dynamic_logs = self._building, self._building_logs
            self._signature = mount.signature  # only once everything was built
            self._rotation_generation = generation

    def _istiod_state(self, istiod, mount):
        state = istiod.get("state", "auto")
        if state == "auto":
            if not mount.ok:
                return "init-stuck"
            if self.rotation is not None:  # a running istiod keeps running whatever is remounted
                return "running"
            return "crashloop" if mount.plugin and istiod_load_error(mount.files) else "running"
        if state not in ("running", "init-stuck", "crashloop"):
            raise ValueError("kubernetes.istiod.state must be auto, running, init-stuck or crashloop")
        return state

    def _build_istiod(self, istiod, mount):
        build_istiod(self, istiod, mount, self._istiod_state(istiod, mount))

    # The builders below use _put on the dynamic store.
    def put_dynamic(self, rtype_key, obj):
        obj.setdefault("metadata", {}).setdefault("resourceVersion", self._next_rv())
        return self._put(self._building, rtype_key, obj)

    def set_log(self, namespace, pod, container, lines):
        self._building_logs[(namespace, pod, container)] = lines

    def root_cert_text(self, mount):
        """What istiod would publish in istio-ca-root-cert (None if it never ran in plug-in mode)."""
        override = self.spec.get("rootConfigMap", "auto")
        if override is False:
            return None
        if isinstance(override, dict):
            return self.world.resolve_value(override)
        if mount.ok and mount.plugin:
            held = getattr(self, "_held_root", None)
            return held if held is not None else mount.files.get("root-cert.pem")
        return None

    def _build_root_configmaps(self, mount):
        root = self.root_cert_text(mount)
        overrides = self._workload_overrides()
        created = self._at(14 * 3600)
        for namespace in [ISTIO_NAMESPACE] + self.workload_namespaces():
            text = root
            custom = overrides.get(namespace, {}).get("rootCert")
            if custom is not None:
                text = self.world.resolve_value(custom) if custom is not False else None
            if text is None:
                continue
            self._put(self._building, ("", "configmaps"), {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "istio-ca-root-cert", "namespace": namespace,
                             "labels": {"istio.io/config": "true"}, "creationTimestamp": rfc3339(created),
                             "resourceVersion": str(self._rv)},
                "data": {"root-cert.pem": text}})
        self._next_rv()

    def _build_cacerts(self, mount):
        spec = self.spec.get("cacertsSecret", False)
        if not spec:
            return
        if isinstance(spec, dict) and spec.get("pki"):
            files = {f + ".pem": self.world.pki_part(spec["pki"], f)
                     for f in ("ca-cert", "ca-key", "cert-chain", "root-cert")}
        elif mount.ok and mount.plugin:
            files = mount.files
        else:
            return
        self.put_dynamic(("", "secrets"), {
            "apiVersion": "v1", "kind": "Secret", "type": "opaque",
            "metadata": {"name": "cacerts", "namespace": ISTIO_NAMESPACE,
                         "labels": {"secrets-store.csi.k8s.io/managed": "true"},
                         "creationTimestamp": rfc3339(self._at(14 * 3600))},
            "data": {name: _b64(text) for name, text in sorted(files.items())}})

    def _build_provider_logs(self, mount):
        pods = [p for p in self._static.get(("", "pods"), {}).values()
                if p["metadata"]["labels"].get("app") == "secrets-store-provider-azure"]
        started = self._at(7 * 86400)
        for pod in pods:
            lines = [(_micro(started), _klog("I", started, "main.go:96", '"Starting Azure Key Vault Provider" '
                                             'version="v1.5.6"')),
                     (_micro(started), _klog("I", started, "main.go:151", '"Listening for connections" '
                                             'address="/provider/azure.sock"'))]
            if mount.failed_object:
                for seconds_ago in (180, 120, 61):
                    moment = self._at(seconds_ago)
                    entry = _klog("E", moment, "server.go:60", '"failed to process mount request" err='
                                  + klog_value(mount.provider_error()))
                    lines.extend((_micro(moment), text) for text in entry.split("\n"))
            # A successful mount logs nothing at the default verbosity (the provider's
            # success lines are klog.V(5), Azure/secrets-store-csi-driver-provider-azure pkg/provider).
            self.set_log("kube-system", pod["metadata"]["name"], "provider-azure-installer", lines)

    def _build_validator_logs(self, mount):
        for revision, pod_name, spec, last_run in self._validator_pods:
            verdict = spec.get("log", "auto")
            if verdict == "auto":
                cacerts_root = mount.files.get("root-cert.pem") if mount.ok else None
                configmap_root = self.root_cert_text(mount)
                verdict = "detected" if cacerts_root and configmap_root and cacerts_root != configmap_root \
                    else "not-detected"
            if verdict == "detected":
                texts = ["Root certificate update detected. Restarting deployment...",
                         "deployment.apps/istiod-%s restarted" % revision,
                         "Deployment istiod-%s restarted." % revision]
            else:
                texts = ["Root certificate update not detected."]
            moment = last_run + datetime.timedelta(seconds=3)
            self.set_log(ISTIO_NAMESPACE, pod_name, "istio-cert-validator", [(_micro(moment), t) for t in texts])


# ---------------------------------------------------------------------------- object builders

def klog_value(value):
    """A string value as klog v2.80+ writes it (kubernetes/klog internal/serialize/keyvalues.go
    writeStringValue): quoted on one line, or ``<``, tab-indented lines and `` >``."""
    if "\n" not in value:
        return json.dumps(value)
    body = value[:-1] if value.endswith("\n") else value
    return "<\n" + "".join("\t" + line + "\n" for line in body.split("\n")) + " >"


def _klog(severity, moment, where, message):
    return "%s%s       1 %s] %s" % (severity, moment.strftime("%m%d %H:%M:%S.%f"), where, message)


def _image_id(container, pulled):
    """Kubelet fills imageID once the image is pulled; "" while the pod is still initialising."""
    if not pulled:
        return ""
    digest = hashlib.sha256(container.get("image", "").encode()).hexdigest()
    return "%s@sha256:%s" % (container.get("image", "").split(":")[0], digest)


def _namespace(name, created):
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name},
                         "creationTimestamp": rfc3339(created)},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def _node(name, created):
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                                  "agentpool": "userpool"},
                         "creationTimestamp": rfc3339(created)},
            "spec": {"providerID": "azure:///subscriptions/sim/" + name},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                       "nodeInfo": {"kubeletVersion": "v1.30.6", "osImage": "Ubuntu 22.04.5 LTS"}}}


def _owner(obj, kind, api_version):
    return {"apiVersion": api_version, "kind": kind, "name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


def _pod(name, namespace, labels, node, created, owner, containers, init_containers, state,
         volumes=None, restarts=0, deleted_at=None, crash_finished=None):
    """A pod object whose status matches ``state``: running | init-stuck | crashloop | completed."""
    started = rfc3339(created)
    main_statuses, init_statuses = [], []
    for container in init_containers:
        if state == "init-stuck":
            init_state = {"waiting": {"reason": "PodInitializing"}}
        else:
            init_state = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started,
                                         "finishedAt": started}}
        init_statuses.append({"name": container["name"], "image": container.get("image", ""),
                              "imageID": _image_id(container, state != "init-stuck"), "ready": False,
                              "restartCount": 0, "started": False, "state": init_state, "lastState": {}})
    for container in containers:
        status = {"name": container["name"], "image": container.get("image", ""), "restartCount": 0,
                  "imageID": _image_id(container, state != "init-stuck"),
                  "ready": False, "started": False, "lastState": {}}
        if state == "running":
            status.update(ready=True, started=True, state={"running": {"startedAt": started}})
        elif state == "init-stuck":
            status["state"] = {"waiting": {"reason": "PodInitializing"}}
        elif state == "crashloop":
            status.update(restartCount=restarts, state={"waiting": {
                "reason": "CrashLoopBackOff",
                "message": "back-off 5m0s restarting failed container=%s pod=%s" % (container["name"], name)}},
                lastState={"terminated": {"exitCode": 255, "reason": "Error", "startedAt": crash_finished,
                                          "finishedAt": crash_finished}})
        else:  # completed
            status["state"] = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started,
                                              "finishedAt": started}}
        main_statuses.append(status)
    phase = {"running": "Running", "crashloop": "Running", "init-stuck": "Pending", "completed": "Succeeded"}[state]
    ready = "True" if state == "running" else "False"
    conditions = [
        {"type": "Initialized", "status": "False" if state == "init-stuck" else "True", "lastTransitionTime": started,
         **({"reason": "ContainersNotInitialized", "message": "containers with incomplete status: [%s]"
             % " ".join(c["name"] for c in init_containers)} if state == "init-stuck" else {})},
        {"type": "Ready", "status": ready, "lastTransitionTime": started},
        {"type": "ContainersReady", "status": ready, "lastTransitionTime": started},
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": started},
    ]
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels), "creationTimestamp": started,
                     "ownerReferences": [owner] if owner else []},
        "spec": {"nodeName": node, "containers": containers, "initContainers": init_containers,
                 "volumes": volumes or [], "restartPolicy": "Never" if state == "completed" else "Always",
                 "serviceAccountName": "default", "schedulerName": "default-scheduler",
                 "terminationGracePeriodSeconds": 30},
        "status": {"phase": phase, "conditions": conditions, "hostIP": "10.224.0.4",
                   "podIP": "10.244.0.%d" % (int(hashlib.sha256(name.encode()).hexdigest(), 16) % 250 + 2),
                   "startTime": started, "qosClass": "Burstable",
                   "initContainerStatuses": init_statuses, "containerStatuses": main_statuses},
    }
    if not init_containers:
        del pod["spec"]["initContainers"]
        del pod["status"]["initContainerStatuses"]
    if deleted_at:
        pod["metadata"]["deletionTimestamp"] = deleted_at
        pod["metadata"]["deletionGracePeriodSeconds"] = 30
    return pod


# ---------------------------------------------------------------------------- istiod (deployment, replicaset, pods, events, logs)

_ISTIOD_INIT_CONTAINERS = ["cacerts-init", "validation-init"]


def _template_hash(revision):
    if revision in ARTICLE_HASHES:
        return ARTICLE_HASHES[revision]
    return _suffix("rs/" + revision, 10)


def _istiod_template(revision, version, mount):
    """The pod template of deployment istiod-<rev>; the CSI volume only with a plug-in CA."""
    image = "mcr.microsoft.com/oss/istio/pilot:%d.%d.5-distroless" % version
    volumes = [{"name": "local-certs", "emptyDir": {"medium": "Memory"}},
               {"name": "istio-token", "projected": {"sources": [{"serviceAccountToken": {
                   "audience": "istio-ca", "expirationSeconds": 43200, "path": "istio-token"}}]}}]
    mounts = [{"name": "local-certs", "mountPath": "/var/run/secrets/istio-dns"}]
    if mount.plugin:
        volumes.append({"name": "cacerts", "csi": {"driver": CSI_DRIVER, "readOnly": True, "volumeAttributes": {
            "secretProviderClass": "istio-spc-" + revision}}})
        mounts.append({"name": "cacerts", "mountPath": "/etc/cacerts", "readOnly": True})
    init = [{"name": n, "image": image, "volumeMounts": list(mounts)} for n in _ISTIOD_INIT_CONTAINERS]
    discovery = {"name": "discovery", "image": image,
                 "args": ["discovery", "--monitoringAddr=:15014", "--log_output_level=default:info",
                          "--domain", "cluster.local", "--keepaliveMaxServerConnectionAge", "30m"],
                 "ports": [{"containerPort": 8080, "protocol": "TCP"}, {"containerPort": 15010, "protocol": "TCP"},
                           {"containerPort": 15017, "protocol": "TCP"}],
                 "volumeMounts": mounts}
    labels = {"app": "istiod", "istio": "pilot", "istio.io/rev": revision, "sidecar.istio.io/inject": "false"}
    return {"metadata": {"labels": labels, "annotations": {"sidecar.istio.io/inject": "false"}},
            "spec": {"serviceAccountName": "istiod-" + revision, "initContainers": init,
                     "containers": [discovery], "volumes": volumes}}


def build_istiod(model, istiod, mount, state):
    """Deployment + ReplicaSet + pods + events + logs of one istiod revision, for ``state``."""
    revision = istiod["revision"]
    version = istio_version(revision, istiod.get("istioVersion"))
    replicas = int(istiod.get("replicas", 2))
    default_age = "3m9s" if state != "running" else "14h"
    pod_age = parse_age(istiod.get("age", default_age))
    template = _istiod_template(revision, version, mount)
    multi_root = kube_capath.multi_root(istiod, version)
    if multi_root is not None:
        template["spec"]["containers"][0]["env"] = [{"name": "ISTIO_MULTIROOT_MESH", "value": multi_root}]
    held, outcome, loaded = kube_capath.held_files(model, istiod, mount)
    if model._held_root is None and mount.ok and mount.plugin:  # pylint: disable=protected-access
        model._held_root = held.get("root-cert.pem")  # pylint: disable=protected-access
    deploy_name = "istiod-" + revision
    restarted_at = model.restarts.get(deploy_name)
    generation = 1 if restarted_at is None else 2
    if restarted_at is not None:  # kubectl rollout restart: new pods from a new template
        pod_age = (model.t0 - restarted_at[0]).total_seconds()
        template["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] = restarted_at[1]
    deploy_created = model._at(max(pod_age, 14 * 3600))
    ready = replicas if state == "running" else 0
    deploy = model.put_dynamic(("apps", "deployments"), {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": deploy_name, "namespace": ISTIO_NAMESPACE, "generation": generation,
                     "uid": _uid("Deployment", ISTIO_NAMESPACE, deploy_name),
                     "labels": {"app": "istiod", "istio.io/rev": revision, "app.kubernetes.io/managed-by": "aks"},
                     "annotations": {"deployment.kubernetes.io/revision": "1"},
                     "creationTimestamp": rfc3339(deploy_created)},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "istiod", "istio.io/rev": revision}},
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": "25%"}},
                 "template": copy.deepcopy(template), "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
        "status": dict(_deployment_status(replicas, ready, deploy_created), observedGeneration=generation)})
    pod_hash = _template_hash(revision) if restarted_at is None else _suffix("rs/%s/%s" % (revision, restarted_at[1]), 10)
    rs_name = "%s-%s" % (deploy_name, pod_hash)
    rs_template = copy.deepcopy(template)
    rs_template["metadata"]["labels"]["pod-template-hash"] = pod_hash
    rs = model.put_dynamic(("apps", "replicasets"), {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": rs_name, "namespace": ISTIO_NAMESPACE, "generation": 1,
                     "uid": _uid("ReplicaSet", ISTIO_NAMESPACE, rs_name),
                     "labels": dict(rs_template["metadata"]["labels"]),
                     "annotations": {"deployment.kubernetes.io/revision": "1",
                                     "deployment.kubernetes.io/desired-replicas": str(replicas),
                                     "deployment.kubernetes.io/max-replicas": str(replicas * 2)},
                     "ownerReferences": [_owner(deploy, "Deployment", "apps/v1")],
                     "creationTimestamp": rfc3339(deploy_created)},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "istiod", "istio.io/rev": revision,
                                                                    "pod-template-hash": pod_hash}},
                 "template": rs_template},
        "status": {"replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": ready,
                   "availableReplicas": ready, "observedGeneration": 1}})
    owner = _owner(rs, "ReplicaSet", "apps/v1")
    pods = []
    for index in range(replicas):
        article_names = revision in ARTICLE_HASHES and restarted_at is None and index < len(ARTICLE_POD_SUFFIXES)
        suffix = ARTICLE_POD_SUFFIXES[index] if article_names else _suffix("%s/%d" % (rs_name, index))
        created = model._at(pod_age - 15 * index if pod_age > 15 * index else pod_age)
        pod = _pod("%s-%s" % (rs_name, suffix), ISTIO_NAMESPACE, rs_template["metadata"]["labels"], DEFAULT_NODE,
                   created, owner, copy.deepcopy(template["spec"]["containers"]),
                   copy.deepcopy(template["spec"]["initContainers"]), state,
                   volumes=copy.deepcopy(template["spec"]["volumes"]), restarts=5,
                   crash_finished=rfc3339(model._at(40)))
        pod["spec"]["serviceAccountName"] = "istiod-" + revision
        pods.append(model.put_dynamic(("", "pods"), pod))
    if state != "running":
        for index in range(int(istiod.get("terminatingPods", 0))):
            suffix = ARTICLE_TERMINATING_SUFFIXES[index] if revision in ARTICLE_HASHES and index < 2 \
                else _suffix("%s/old/%d" % (rs_name, index))
            old = _pod("%s-%s" % (rs_name, suffix), ISTIO_NAMESPACE, rs_template["metadata"]["labels"], DEFAULT_NODE,
                       model._at(pod_age + 300 - 15 * index), owner, copy.deepcopy(template["spec"]["containers"]),
                       copy.deepcopy(template["spec"]["initContainers"]), "init-stuck",
                       volumes=copy.deepcopy(template["spec"]["volumes"]), deleted_at=rfc3339(model._at(30)))
            model.put_dynamic(("", "pods"), old)
    _istiod_events(model, deploy, rs, pods, mount, state, istiod)
    plugin_running = state == "running" and mount.ok and mount.plugin and istiod.get("caSource") != "self-signed"
    rotation = getattr(model, "rotation", None)
    for index, pod in enumerate(pods):
        if state in ("running", "crashloop"):
            model.set_log(ISTIO_NAMESPACE, pod["metadata"]["name"], "discovery",
                          _discovery_log(model, pod, version, mount, state, istiod,
                                         reload=(outcome, loaded, held) if outcome else None,
                                         world=(rotation.start_files, rotation.pod_lines(revision, index))
                                         if rotation is not None else None))
        if mount.ok and mount.plugin and state in ("running", "crashloop"):
            model.put_dynamic(kube_capath.SPC_GROUP,
                              kube_capath.mount_status(model, pod, revision, model.mounted_versions()))
    if plugin_running:
        root = rotation.webhook_root(revision) if rotation is not None else held.get("root-cert.pem")
        model.put_dynamic(kube_capath.WEBHOOK_GROUP, kube_capath.injector_webhook(model, revision, root))


def _deployment_status(replicas, ready, created):
    stamp = rfc3339(created)
    available = "True" if ready >= replicas else "False"
    return {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": ready,
            "availableReplicas": ready, "unavailableReplicas": replicas - ready,
            "conditions": [
                {"type": "Available", "status": available, "lastUpdateTime": stamp, "lastTransitionTime": stamp,
                 "reason": "MinimumReplicasAvailable" if available == "True" else "MinimumReplicasUnavailable",
                 "message": "Deployment has minimum availability." if available == "True"
                 else "Deployment does not have minimum availability."},
                {"type": "Progressing", "status": "True", "lastUpdateTime": stamp, "lastTransitionTime": stamp,
                 "reason": "NewReplicaSetAvailable" if available == "True" else "ReplicaSetUpdated",
                 "message": 'ReplicaSet "%s" has successfully progressed.' % "istiod"}]}


def _event(model, involved, reason, message, first, last, count=1, kind="Normal", component="kubelet",
           host=DEFAULT_NODE):
    if (_utc_now() - last).total_seconds() > EVENT_TTL_SECONDS:
        return None  # the API server has already expired it
    meta = involved["metadata"]
    nanos = int(first.timestamp()) * 10 ** 9 + int(hashlib.sha256((reason + message).encode()).hexdigest()[:6], 16)
    name = "%s.%x" % (meta["name"], nanos)  # as client-go names events: <object>.<unix nanos in hex>
    source = {"component": component}
    if component == "kubelet":
        source["host"] = host
    return model.put_dynamic(("", "events"), {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": meta["namespace"], "creationTimestamp": rfc3339(first)},
        "involvedObject": {"kind": involved["kind"], "namespace": meta["namespace"], "name": meta["name"],
                           "uid": meta["uid"], "apiVersion": involved["apiVersion"],
                           "resourceVersion": meta.get("resourceVersion", "")},
        "reason": reason, "message": message, "source": source, "type": kind, "count": count,
        "firstTimestamp": rfc3339(first), "lastTimestamp": rfc3339(last), "eventTime": None,
        "reportingComponent": component, "reportingInstance": host if component == "kubelet" else ""})


def _istiod_events(model, deploy, rs, pods, mount, state, istiod):
    """The deployment controller's scaling event, and scheduling/mount/container events on the pods."""
    deploy_created = datetime.datetime.strptime(deploy["metadata"]["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ") \
        .replace(tzinfo=datetime.timezone.utc)
    _event(model, deploy, "ScalingReplicaSet", "Scaled up replica set %s to %d" % (rs["metadata"]["name"],
                                                                                   len(pods)),
           deploy_created, deploy_created, component="deployment-controller")
    for index, pod in enumerate(pods):
        name = pod["metadata"]["name"]
        pod_created = datetime.datetime.strptime(pod["metadata"]["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ") \
            .replace(tzinfo=datetime.timezone.utc)
        age_seconds = max(1, int((model.t0 - pod_created).total_seconds()))
        scheduled = "Successfully assigned %s/%s to %s" % (ISTIO_NAMESPACE, name, DEFAULT_NODE)
        _event(model, pod, "Scheduled", scheduled, pod_created, pod_created, component="default-scheduler")
        if state == "init-stuck":
            # Kubelet reports mount failures on the pod only (kubernetes/kubernetes
            # pkg/kubelet/volumemanager): `kubectl describe deploy` never shows them,
            # whatever the troubleshooting article's Issue 3 table suggests.
            last = model._at(61) if age_seconds > 61 else model.t0
            count = max(1, age_seconds // 21)
            if age_seconds > 120:
                _event(model, pod, "FailedMount", _MOUNT_TIMEOUT, model._at(66), model._at(66), kind="Warning")
            _event(model, pod, "FailedMount", mount.event_message(name) if not mount.ok else
                   'MountVolume.SetUp failed for volume "cacerts" : rpc error: code = DeadlineExceeded desc = '
                   'context deadline exceeded', pod_created, last, count=count, kind="Warning")
        elif state in ("running", "crashloop"):
            if not mount.ok and (model.spec.get("csi") or {}).get("rotationEvents"):
                # driver <= v1.5: its rotation reconciler reports a failed poll of a mounted volume
                # (kubernetes-sigs/secrets-store-csi-driver pkg/rotation/reconciler.go)
                _event(model, pod, "MountRotationFailed", "provider mount err: " + mount.event_message(name).split(
                    " : ", 1)[1].split(", err: ", 1)[-1], model._at(300), model._at(61),
                    count=max(1, age_seconds // 120), kind="Warning", component="csi-secrets-store-rotation")
            started = max(pod_created, model._healthy_since or pod_created)
            image = pod["spec"]["containers"][0]["image"]
            for container in [c["name"] for c in pod["spec"].get("initContainers", [])] + ["discovery"]:
                _event(model, pod, "Pulled", 'Container image "%s" already present on machine' % image,
                       started, started)
                _event(model, pod, "Created", "Created container " + container, started, started)
                _event(model, pod, "Started", "Started container " + container, started, started)
            if state == "crashloop":
                _event(model, pod, "BackOff", "Back-off restarting failed container discovery in pod %s_%s(%s)"
                       % (name, ISTIO_NAMESPACE, pod["metadata"]["uid"]), started, model._at(20), count=24,
                       kind="Warning")


def _discovery_log(model, pod, version, mount, state, istiod,  # pylint: disable=too-many-arguments
                   reload=None, world=None):
    """istiod ``discovery`` container log: CA mode lines per Istio version, x509 lines, noise.

    ``reload``: (outcome, files loaded at start, files held now) when the mount changed after
    istiod started (sandbox/sim/kube_capath.py held_files). ``world``: (files loaded at start,
    [(epoch, level, message)] logged since) in a rotation world (sandbox/sim/kube_rotation.py)."""
    if istiod.get("caSource") == "self-signed":
        mount = MountState(ok=mount.ok, plugin=False)
    start = datetime.datetime.strptime(pod["metadata"]["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ") \
        .replace(tzinfo=datetime.timezone.utc)
    start = max(start, model._healthy_since or start) + datetime.timedelta(seconds=2)
    clock = [start]

    def line(level, message, scope=""):
        clock[0] += datetime.timedelta(microseconds=13)
        text = "%s\t%s\t%s%s" % (_micro(clock[0]), level, scope + "\t" if scope else "", message)
        return (_micro(clock[0]), text)

    lines = [line("info", 'FLAG: --caCertFile=""'), line("info", 'FLAG: --domain="cluster.local"')]
    crash_error = istiod.get("crashError") if state == "crashloop" else None
    if state == "crashloop" and not crash_error and mount.plugin:
        crash_error = istiod_load_error(mount.files)
    lines.append(line("info", "Using istiod file format for signing ca files"))
    lines.append(line("info", ca_mode_lines(version, mount.plugin)))
    if crash_error:
        lines.append(line("error", "failed to create discovery service: failed to create CA: failed to create an "
                                   "istiod CA: failed to create CA KeyCertBundle (%s)" % crash_error))
        return lines
    startup = MountState(ok=True, files=reload[1]) if reload else mount
    if world is not None:
        startup = MountState(ok=True, files=world[0])
    lines.extend(line("info", text) for text in _x509_lines(startup, start))
    lines.append(line("info", "Istiod certificates are reloaded"))
    lines.append(line("info", "Added 1 certs to trust domain cluster.local in peer cert verifier", "spiffe"))
    lines.append(line("info", "Not ready to switch validation to fail-closed: dummy invalid config not rejected",
                      "validationController"))
    lines.append(line("info", "All caches have been synced up in 1.021s, marking server ready", "ads"))
    lines.extend(line(level, text) for level, text in reload_lines(version, istiod.get("reload")))
    if reload:
        reloaded_at = model._at(parse_age(istiod.get("reloadAge", "1h")))  # pylint: disable=protected-access
        clock[0] = max(clock[0], reloaded_at)
        outcome, _, held = reload
        lines.extend(line(level, text) for level, text in reload_lines(version, outcome))
        if outcome in (kube_capath.ACCEPTED, kube_capath.UNCHANGED):
            # the new DNS cert, signed by the new intermediate (certcontroller.go loadIstiodCert)
            lines.extend(line("info", text) for text in _x509_lines(MountState(ok=True, files=held), clock[0]))
            lines.append(line("info", "Istiod certificates are reloaded"))
    for moment, level, text in (world[1] if world is not None else []):
        stamp = _micro(datetime.datetime.fromtimestamp(moment, datetime.timezone.utc))
        lines.append((stamp, "%s\t%s\t%s" % (stamp, level, text)))
    traffic = int(istiod.get("trafficLines", 0) or 0)
    if not traffic:
        return lines
    startup, after = lines, clock[0]
    return lambda: startup + list(istiod_traffic_lines(after, traffic))  # built on first read only


# istiod's hot-reload outcomes, per version (istio/istio pilot/pkg/bootstrap/istio_ca.go
# handleEvent; certcontroller.go updateRootCertAndGenKeyCert logs the trust-anchor line
# when multi-root is on, after every successful reload). Templates: tests/upstream/istiod/.
_RELOAD_INTERMEDIATE = ("info", "Istiod has detected the newly added intermediate CA and updated its key and certs "
                                "accordingly")


def reload_lines(version, outcome):
    """[(level, message)] istiod logs after a change under etc/cacerts, or [] for no change."""
    if not outcome:
        return []
    rejected_level = "info" if version < (1, 20) else "warn"
    outcomes = {
        "intermediate-updated": [_RELOAD_INTERMEDIATE],
        "root-accepted": [("info", "Updating new ROOT-CA"), ("info", "update root cert and generate new dns certs"),
                          ("info", "Update trust anchor with new root cert"), _RELOAD_INTERMEDIATE],
        "root-rejected": [("info" if version < (1, 20) else "warn", "Updating new ROOT-CA not supported")],
        "multi-root-disabled": [(rejected_level, "Multi root is disabled, updating new ROOT-CA not supported")],
        "bad-files": [("error", "Failed to update new Plug-in CA certs: tls: private key does not match public key")],
    }
    if outcome not in outcomes:
        raise ValueError("kubernetes.istiod.reload must be one of " + ", ".join(sorted(outcomes)))
    return [("info", "Update Istiod cacerts")] + outcomes[outcome]


def istiod_traffic_lines(after, count):
    """``count`` lines of a busy istiod's proxy traffic after moment ``after``: (timestamp, line).

    The one place that makes log volume (a scale knob may call it with larger counts).
    Texts: istio/istio pkg/xds/server.go "ADS: new connection for node:%s" and
    "ADS: %q %s terminated"; pilot/pkg/xds/discovery.go "Push debounce stable[%d] ...".
    A generator: the caller decides whether to keep the lines.
    """
    replica_sets = [_suffix("rs%d" % number, 10) for number in range(97)]
    pod_suffixes = [_suffix("p%d" % number) for number in range(389)]
    start = after.replace(microsecond=0)
    base_micros = after.microsecond
    second_text, second = None, None
    for index in range(count):
        micros = base_micros + (index + 1) * 7000  # one line every 7 ms
        if micros // 10 ** 6 != second:  # strftime once per second: it dominates the cost
            second = micros // 10 ** 6
            second_text = (start + datetime.timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S")
        stamp = "%s.%06dZ" % (second_text, micros % 10 ** 6)
        pod = "sleep-%s-%s.default-%d" % (replica_sets[index % 97], pod_suffixes[index % 389], index // 3 + 1)
        kind = index % 3
        if kind == 0:
            text = "ADS: new connection for node:%s" % pod
        elif kind == 1:
            text = 'ADS: "10.244.%d.%d:%d" %s terminated' % (index % 250, index % 200 + 2, 40000 + index % 20000, pod)
        else:
            text = ("Push debounce stable[%d] 1 for config ServiceEntry/default/svc-%d.default.svc.cluster.local: "
                    "100.2ms since last change, 100.2ms since last push, full=true" % (index // 3 + 1, index % 61))
        yield (stamp, "%s\tinfo\tads\t%s" % (stamp, text))


def _x509_lines(mount, start):
    """One line for istiod's own DNS cert, then one per plug-in chain cert (self-signed: just one)."""
    not_before = rfc3339(start - datetime.timedelta(minutes=2))
    serial = int(hashlib.sha256(str(start).encode()).hexdigest()[:32], 16)
    if not mount.plugin:
        return ['x509 cert - Issuer: "O=cluster.local", Subject: "", SN: %x, NotBefore: "%s", NotAfter: "%s"'
                % (serial, not_before, rfc3339(start + datetime.timedelta(days=3650)))]
    ca_certs = _load_certs(mount.files.get("ca-cert.pem"))
    chain = _load_certs(mount.files.get("cert-chain.pem")) or ca_certs + _load_certs(mount.files.get("root-cert.pem"))
    issuer = ca_certs[0].subject.rfc4514_string() if ca_certs else ""
    lines = ['x509 cert - Issuer: "%s", Subject: "", SN: %x, NotBefore: "%s", NotAfter: "%s"'
             % (issuer, serial, not_before, rfc3339(start + datetime.timedelta(days=1)))]
    return lines + [_cert_line(cert) for cert in chain]


def istiod_load_error(files):
    """The Go error istiod would give loading these plug-in files (istio/istio pilot/pkg/bootstrap/istio_ca.go), or None.

    Same order as istiod: parse ca-cert, verify it to root-cert through cert-chain
    (Go defaults: validity, serverAuth-compatible EKUs, no SHA-1), parse the key,
    key matches ca-cert, ca-cert is a CA.  Key bytes are only compared, never shown.
    """
    first_cert_block = _first_pem_label(files.get("ca-cert.pem", ""))
    if first_cert_block is None:
        return "invalid PEM encoded certificate"
    if first_cert_block != "CERTIFICATE":
        # ParsePemEncodedCertificate (istio/istio security/pkg/pki/util/crypto.go) decodes the
        # first block whatever its type and hands it to x509.ParseCertificate.
        return "failed to parse X.509 certificate"
    try:
        ca_cert = x509.load_pem_x509_certificate(files.get("ca-cert.pem", "").encode("ascii", "ignore"))
    except ValueError:
        return "failed to parse X.509 certificate"
    error = _verify_to_root(ca_cert, _load_certs(files.get("root-cert.pem")), _load_certs(files.get("cert-chain.pem")))
    if error:
        return error
    return _key_error(ca_cert, files.get("ca-key.pem", "")) or _ca_error(ca_cert)


def _verify_to_root(cert, roots, intermediates):
    """Walk issuers from ``cert`` through ``intermediates`` to one of ``roots`` (Go x509.Verify, simplified)."""
    path, current = [cert], cert
    for _ in range(6):
        if any(_same_cert(current, root) for root in roots):
            break
        algorithm = getattr(current.signature_hash_algorithm, "name", "")
        if algorithm in ("sha1", "md5"):
            return ('x509: certificate signed by unknown authority (possibly because of "x509: cannot verify '
                    'signature: insecure algorithm %s-RSA" while trying to verify candidate authority certificate '
                    '"%s")' % (algorithm.upper(), current.issuer.rfc4514_string()))
        issuer = next((root for root in roots if _issued_by(current, root)), None)
        if issuer is not None:
            path.append(issuer)
            break
        issuer = next((c for c in intermediates if not _same_cert(c, current) and _issued_by(current, c)), None)
        if issuer is None:
            return ('x509: certificate signed by unknown authority (possibly because of "crypto/rsa: verification '
                    'error" while trying to verify candidate authority certificate "%s")'
                    % (roots[0].subject.rfc4514_string() if roots else ""))
        path.append(issuer)
        current = issuer
    now = _utc_now()
    for link in path:
        if now > link.not_valid_after_utc:
            return "x509: certificate has expired or is not yet valid: current time %s is after %s" % (
                rfc3339(now), rfc3339(link.not_valid_after_utc))
        if now < link.not_valid_before_utc:
            return "x509: certificate has expired or is not yet valid: current time %s is before %s" % (
                rfc3339(now), rfc3339(link.not_valid_before_utc))
        try:
            usages = link.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            continue
        allowed = {x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}
        if not allowed.intersection(usages):
            return "x509: certificate specifies an incompatible key usage"
    return None


def _first_pem_label(text):
    """Type of the first PEM block (Go pem.Decode skips text before it), or None."""
    import re
    match = re.search(r"-----BEGIN ([A-Z0-9 ]+)-----", text or "")
    return match.group(1) if match else None


def _key_error(ca_cert, key_text):
    """ParsePemEncodedKey (istio/istio security/pkg/pki/util/crypto.go): the FIRST block only."""
    from cryptography.hazmat.primitives import serialization
    label = _first_pem_label(key_text)
    if label is None:
        return "invalid PEM-encoded key"
    if label not in ("EC PRIVATE KEY", "RSA PRIVATE KEY", "PRIVATE KEY"):
        return "unsupported PEM block type for a private key: %s" % label
    try:
        key = serialization.load_pem_private_key(key_text.encode("ascii", "ignore"), None)
    except (ValueError, TypeError):
        return "invalid PEM-encoded key"
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, spki) != \
            ca_cert.public_key().public_bytes(serialization.Encoding.DER, spki):
        return "the cert does not match the key: tls: private key does not match public key"
    return None


def _ca_error(ca_cert):
    try:
        is_ca = ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return None if is_ca else "certificate is not authorized to sign other certificates"


def _same_cert(first, second):
    return first.fingerprint(first.signature_hash_algorithm or _sha256()) == \
        second.fingerprint(first.signature_hash_algorithm or _sha256())


def _sha256():
    from cryptography.hazmat.primitives import hashes
    return hashes.SHA256()


def _issued_by(cert, issuer):
    """True when ``issuer`` signed ``cert`` (names match and the signature verifies)."""
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception:  # noqa: BLE001 - InvalidSignature, ValueError, TypeError all mean "no"
        return False
