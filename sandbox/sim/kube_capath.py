"""The simulated cluster's CA path: what istiod loaded, what the CSI driver mounted, and the
objects that show them (today's add-on: asm-1-28, asm-1-29, asm-1-30).

Scenario keys (under ``kubernetes:``; sandbox/sim/kube_model.py documents the rest)::

      istiod:
        loaded: {pki: good}          # the set istiod loaded when it started (default: what is mounted);
                                     # when it differs from the mount, istiod's hot reload decides
                                     # (``reload_outcome``) and logs it ``reloadAge`` ago (default 1h)
        multiRootMesh: true          # ISTIO_MULTIROOT_MESH on the discovery container; default true from
                                     # asm-1-28 (the AKS doc's sample logs show 'Update trust anchor',
                                     # which only multi-root mode prints), unset before; null: unset
      mountedVersion: current        # previous: the driver still mounts the version before Key Vault's
                                     # current one (rotation off, or a failing poll)
      sidecars: {count: 0, namespaces: [default], age: 14h, secretTtl: null, revision: null}
                                     # injected pods (istio-proxy), spread over the namespaces

Every text and shape here stands for something real, named beside it. This module is the
simulator's own reading of istio's ``handleEvent``, written from the source, not from meshca's
model (azext_meshca/rules/capath.py), so the two check each other.
"""

import base64
import datetime
import json

ISTIO_NAMESPACE = "aks-istio-system"
SPC_GROUP = ("secrets-store.csi.x-k8s.io", "secretproviderclasspodstatuses")
WEBHOOK_GROUP = ("admissionregistration.k8s.io", "mutatingwebhookconfigurations")

ACCEPTED, UNCHANGED = "root-accepted", "intermediate-updated"
REFUSED, MULTI_ROOT_OFF = "root-rejected", "multi-root-disabled"


def multi_root(istiod, version):
    """The ISTIO_MULTIROOT_MESH value on the deployment ("true"/"false"), or None when unset."""
    if "multiRootMesh" in istiod:
        value = istiod["multiRootMesh"]
        return None if value is None else ("true" if value else "false")
    return "true" if version >= (1, 28) else None


def _der_certificates(pem_text):
    """DER of each CERTIFICATE block, as Go's encoding/pem + istio's pemToRawCertSet read it."""
    ders = []
    for block in (pem_text or "").split("-----BEGIN CERTIFICATE-----")[1:]:
        body = block.split("-----END CERTIFICATE-----")[0]
        try:
            ders.append(base64.b64decode("".join(body.split()), validate=True))
        except ValueError:
            continue
    return set(ders)


def reload_outcome(version, multi_root_value, old_root, new_root):
    """istiod's handleEvent on a changed cacerts mount (istio/istio pilot/pkg/bootstrap/istio_ca.go:
    tags 1.28.10 and 1.29.6 compare with bytes.Contains, 1.30.0 with pemBundleHasSubsetRelation)."""
    old, new = (old_root or "").encode(), (new_root or "").encode()
    if old == new:
        return UNCHANGED
    if multi_root_value != "true":
        return MULTI_ROOT_OFF
    if version >= (1, 30):
        old_set, new_set = _der_certificates(old_root), _der_certificates(new_root)
        related = bool(old_set) and bool(new_set) and (old_set <= new_set or new_set <= old_set)
        return ACCEPTED if related else REFUSED
    return ACCEPTED if (old in new or new in old) else REFUSED


def held_files(model, istiod, mount):
    """(files istiod holds now, reload outcome or None, files it loaded at start)."""
    loaded_spec = istiod.get("loaded")
    if not loaded_spec or not mount.ok or not mount.plugin:
        return mount.files, None, mount.files
    loaded = {part + ".pem": model.world.pki_part(loaded_spec["pki"], part)
              for part in ("ca-cert", "ca-key", "cert-chain", "root-cert")}
    if loaded == mount.files:
        return mount.files, None, loaded
    from sandbox.sim.kube_model import istio_version
    version = istio_version(istiod["revision"], istiod.get("istioVersion"))
    outcome = reload_outcome(version, multi_root(istiod, version), loaded.get("root-cert.pem"),
                             mount.files.get("root-cert.pem"))
    return (mount.files if outcome in (ACCEPTED, UNCHANGED) else loaded), outcome, loaded


def mounted_versions(world, previous=False):
    """{object name: version} the driver mounted: Key Vault's current version, or the one before."""
    versions = {}
    for obj in world.plugin_objects():
        records = world.secret_versions(obj.vault_name, obj.object_name) or []
        if records:
            record = records[-2] if previous and len(records) > 1 else records[-1]
            versions[obj.object_name] = record["version"]
    return versions


def mount_status(model, pod, revision, versions):
    """The driver's SecretProviderClassPodStatus for one pod (kubernetes-sigs/secrets-store-csi-driver
    apis/v1 secretproviderclasspodstatus_types.go; named <pod>-<namespace>-<spc> and labelled with the
    node by pkg/secrets-store/nodeserver.go; object ids <type>/<name> from
    Azure/secrets-store-csi-driver-provider-azure pkg/provider/provider.go getObjectUID)."""
    name = pod["metadata"]["name"]
    spc = "istio-spc-" + revision
    return {
        "apiVersion": "secrets-store.csi.x-k8s.io/v1", "kind": "SecretProviderClassPodStatus",
        "metadata": {"name": f"{name}-{ISTIO_NAMESPACE}-{spc}", "namespace": ISTIO_NAMESPACE,
                     "labels": {"internal.secrets-store.csi.k8s.io/node-name": pod["spec"]["nodeName"]},
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": name,
                                          "uid": pod["metadata"]["uid"]}],
                     "creationTimestamp": pod["metadata"]["creationTimestamp"]},
        "status": {"podName": name, "secretProviderClassName": spc, "mounted": True,
                   "targetPath": f"/var/lib/kubelet/pods/{pod['metadata']['uid']}/volumes/"
                                 "kubernetes.io~csi/cacerts/mount",
                   "objects": [{"id": "secret/" + object_name, "version": version}
                               for object_name, version in sorted(versions.items())]},
    }


def injector_webhook(model, revision, root_text):
    """The revision's sidecar-injector webhook: istiod patches its own caBundle with the root it
    loaded, without leader election (istio/istio pilot/pkg/bootstrap/sidecarinjector.go; names and
    labels from manifests/charts/istio-control/istio-discovery/templates/mutatingwebhook.yaml)."""
    bundle = base64.b64encode((root_text or "").encode()).decode("ascii")
    hook = {"name": "rev.namespace.sidecar-injector.istio.io", "admissionReviewVersions": ["v1"],
            "clientConfig": {"service": {"name": "istiod-" + revision, "namespace": ISTIO_NAMESPACE,
                                         "path": "/inject", "port": 443}, "caBundle": bundle},
            "failurePolicy": "Fail", "sideEffects": "None", "reinvocationPolicy": "Never",
            "namespaceSelector": {"matchExpressions": [{"key": "istio.io/rev", "operator": "In",
                                                        "values": [revision]}]}}
    return {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "istio-sidecar-injector-" + revision,
                     "labels": {"app": "sidecar-injector", "istio.io/rev": revision},
                     "creationTimestamp": (model.t0 - datetime.timedelta(days=14)).strftime("%Y-%m-%dT%H:%M:%SZ")},
        "webhooks": [hook],
    }


def build_sidecars(model, store):
    """``kubernetes.sidecars.count`` injected pods. Labels and the status annotation as istio's
    injector writes them (istio/istio pkg/kube/inject/inject.go, manifests/charts/istio-control/
    istio-discovery/files/injection-template.yaml: security.istio.io/tlsMode=istio)."""
    from sandbox.sim.kube_model import _pod, parse_age
    spec = model.spec.get("sidecars") or {}
    count = int(spec.get("count", 0) or 0)
    if not count:
        return
    namespaces = spec.get("namespaces") or model.workload_namespaces() or ["default"]
    revision = spec.get("revision") or (model.revisions() or ["asm-1-28"])[0]
    created = model.t0 - datetime.timedelta(seconds=parse_age(spec.get("age", "14h")))
    status = json.dumps({"initContainers": ["istio-init"], "containers": ["istio-proxy"],
                         "volumes": ["istio-envoy", "istio-data", "istio-podinfo", "istio-token",
                                     "istiod-ca-cert"], "imagePullSecrets": None, "revision": revision})
    env = [{"name": "ISTIO_META_CLUSTER_ID", "value": "Kubernetes"}]
    if spec.get("secretTtl"):
        env.append({"name": "SECRET_TTL", "value": str(spec["secretTtl"])})
    proxy = {"name": "istio-proxy", "image": "mcr.microsoft.com/oss/istio/proxyv2:1.29.1-distroless",
             "env": env}
    for index in range(count):
        namespace = namespaces[index % len(namespaces)]
        name = f"app-{index // len(namespaces):05d}"
        labels = {"app": "app", "security.istio.io/tlsMode": "istio",
                  "service.istio.io/canonical-name": "app", "service.istio.io/canonical-revision": "latest"}
        pod = _pod(name, namespace, labels, model._node_name(0), created, None,  # pylint: disable=protected-access
                   [{"name": "app", "image": "mcr.microsoft.com/azurelinux/base/core:3.0"}, dict(proxy)], [],
                   "running")
        pod["metadata"]["annotations"] = {"sidecar.istio.io/status": status}
        model._put(store, ("", "pods"), pod)  # pylint: disable=protected-access
