"""Simulated Kubernetes API server (the AKS cluster's API, as kubectl sees it).

World members this package uses (defined by sandbox/sim/scenario.py, Azure side):

    world.kubernetes                  -> the scenario's ``kubernetes:`` mapping ({} if absent)
    world.cluster                     -> the managedCluster ARM body (name, properties.serviceMeshProfile,
                                         addonProfiles.azureKeyvaultSecretsProvider.enabled, ...)
    world.tenant                      -> tenant id (SecretProviderClass tenantId)
    world.plugin_objects()            -> [PluginObject(file, object_name, vault_name)] for the plug-in CA config
    world.plugin_config()             -> the plug-in dict ({} when the cluster has none)
    world.addon_identity()            -> {objectId, clientId, resourceId} of the secrets-provider add-on
    world.secret_access(vault, oid, name) -> None | KvDenial(status, code, message, inner_code)
    world.secret_value(vault, name)   -> (version record, text) or (None, None)
    world.resolve_value(spec)         -> text of a {pki: set, part: ...} / {value: ...} spec
    world.key_vault_error_format      -> "legacy" | "azcore"
    world.kube_user_token             -> the bearer token ARM puts into listClusterUserCredential kubeconfigs

Bearer tokens accepted: ``world.kube_user_token``, CLUSTER_USER_TOKEN, any token listed in
``kubernetes.tokens``, and any simulator JWT whose ``aud`` names the AKS AAD server app
(6dae42f8-4368-4678-94ff-3960e28e3630), which is what ``get_raw_token`` yields for AAD clusters.
"""

import base64
import datetime
import json
import re
from dataclasses import dataclass, field

from sandbox.sim.kube_tables import table_for, wants_table
from sandbox.sim.server import Response, decode_jwt

# Fallback bearer token for kubeconfigs when the World does not name one.
CLUSTER_USER_TOKEN = "sim-cluster-user-token-5d41402abc4b2a76b9719d911017c592"
AKS_AAD_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"


# ---------------------------------------------------------------------------- resource catalogue

@dataclass(frozen=True)
class ResourceType:
    """One served resource, with what discovery must say about it so kubectl resolves names."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple = ()
    categories: tuple = ()
    subresources: tuple = ()

    @property
    def api_version(self):
        return "%s/%s" % (self.group, self.version) if self.group else self.version

    @property
    def key(self):
        return (self.group, self.plural)


_ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

RESOURCE_TYPES = [
    ResourceType("", "v1", "namespaces", "Namespace", namespaced=False, short_names=("ns",)),
    ResourceType("", "v1", "nodes", "Node", namespaced=False, short_names=("no",)),
    ResourceType("", "v1", "pods", "Pod", short_names=("po",), categories=("all",), subresources=("log",)),
    ResourceType("", "v1", "events", "Event", short_names=("ev",)),
    ResourceType("", "v1", "secrets", "Secret"),
    ResourceType("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    ResourceType("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",)),
    ResourceType("", "v1", "services", "Service", short_names=("svc",), categories=("all",)),
    ResourceType("apps", "v1", "deployments", "Deployment", short_names=("deploy",), categories=("all",),
                 subresources=("scale", "status")),
    ResourceType("apps", "v1", "replicasets", "ReplicaSet", short_names=("rs",), categories=("all",)),
    ResourceType("apps", "v1", "daemonsets", "DaemonSet", short_names=("ds",), categories=("all",)),
    ResourceType("batch", "v1", "cronjobs", "CronJob", short_names=("cj",), categories=("all",)),
    ResourceType("batch", "v1", "jobs", "Job", categories=("all",)),
    ResourceType("events.k8s.io", "v1", "events", "Event", short_names=("ev",)),
    ResourceType("secrets-store.csi.x-k8s.io", "v1", "secretproviderclasses", "SecretProviderClass"),
    # kubernetes-sigs/secrets-store-csi-driver apis/v1 (the CRD has no short name or category:
    # config/crd/bases/secrets-store.csi.x-k8s.io_secretproviderclasspodstatuses.yaml)
    ResourceType("secrets-store.csi.x-k8s.io", "v1", "secretproviderclasspodstatuses",
                 "SecretProviderClassPodStatus"),
    ResourceType("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
                 "MutatingWebhookConfiguration", namespaced=False),
]

_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCE_TYPES}
KIND_TO_TYPE = {(r.api_version, r.kind): r for r in RESOURCE_TYPES}

SERVER_VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.6", "gitCommit": "0" * 40,
                  "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.22.8",
                  "compiler": "gc", "platform": "linux/amd64"}


def _groups():
    """Ordered {group: [versions]} of the served API groups (core excluded)."""
    groups = {}
    for rtype in RESOURCE_TYPES:
        if rtype.group:
            versions = groups.setdefault(rtype.group, [])
            if rtype.version not in versions:
                versions.append(rtype.version)
    return groups


def _group_json(name, versions):
    entries = [{"groupVersion": "%s/%s" % (name, v), "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def _resource_list(group, version):
    resources = []
    for rtype in RESOURCE_TYPES:
        if (rtype.group, rtype.version) != (group, version):
            continue
        entry = {"name": rtype.plural, "singularName": rtype.kind.lower(), "namespaced": rtype.namespaced,
                 "kind": rtype.kind, "verbs": _ALL_VERBS}
        if rtype.short_names:
            entry["shortNames"] = list(rtype.short_names)
        if rtype.categories:
            entry["categories"] = list(rtype.categories)
        resources.append(entry)
        for sub in rtype.subresources:
            resources.append({"name": "%s/%s" % (rtype.plural, sub), "singularName": "", "namespaced": rtype.namespaced,
                              "kind": {"scale": "Scale", "log": "Pod"}.get(sub, rtype.kind),
                              "verbs": ["get"] if sub == "log" else ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": "%s/%s" % (group, version) if group else version, "resources": resources}


# ---------------------------------------------------------------------------- Status objects

def status_response(code, reason, message, details=None):
    """A Kubernetes ``Status`` failure object, the shape every client parses."""
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}
    if details:
        body["details"] = details
    return Response(code, body, {"Content-Type": "application/json"})


def not_found(rtype, name):
    resource = rtype.plural if not rtype.group else "%s.%s" % (rtype.plural, rtype.group)
    return status_response(404, "NotFound", '%s "%s" not found' % (resource, name),
                           {"name": name, "group": rtype.group, "kind": rtype.plural})


def bad_request(message):
    return status_response(400, "BadRequest", message)


# ---------------------------------------------------------------------------- selectors

_SET_TERM = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s+(in|notin)\s*\(([^)]*)\)\s*$")
_EQ_TERM = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s*(==|!=|=)\s*([A-Za-z0-9._-]*)\s*$")
_EXISTS_TERM = re.compile(r"^\s*(!?)\s*([A-Za-z0-9./_-]+)\s*$")


def _split_terms(text):
    """Split a selector on commas that are not inside ``in (...)`` parentheses."""
    terms, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        terms.append(current)
    return [t for t in terms if t.strip()]


def parse_label_selector(text):
    """labelSelector text -> [(key, op, values)]; ValueError on bad syntax (-> 400)."""
    requirements = []
    for term in _split_terms(text or ""):
        match = _SET_TERM.match(term)
        if match:
            values = [v.strip() for v in match.group(3).split(",") if v.strip()]
            requirements.append((match.group(1), match.group(2), values))
            continue
        match = _EQ_TERM.match(term)
        if match:
            op = "!=" if match.group(2) == "!=" else "="
            requirements.append((match.group(1), op, [match.group(3)]))
            continue
        match = _EXISTS_TERM.match(term)
        if match:
            requirements.append((match.group(2), "!" if match.group(1) else "exists", []))
            continue
        raise ValueError("unable to parse requirement: %r" % term.strip())
    return requirements


def labels_match(requirements, labels):
    labels = labels or {}
    for key, op, values in requirements:
        present = key in labels
        if op == "=" and labels.get(key) != values[0]:
            return False
        if op == "!=" and present and labels[key] == values[0]:
            return False
        if op == "in" and labels.get(key) not in values:
            return False
        if op == "notin" and present and labels[key] in values:
            return False
        if op == "exists" and not present:
            return False
        if op == "!" and present:
            return False
    return True


def parse_field_selector(text):
    """fieldSelector text -> [(field, op, value)] with op in {'=', '!='}."""
    requirements = []
    for term in _split_terms(text or ""):
        match = re.match(r"^\s*([A-Za-z0-9._]+)\s*(==|!=|=)\s*(.*?)\s*$", term)
        if not match:
            raise ValueError("invalid field selector: %r" % term.strip())
        requirements.append((match.group(1), "!=" if match.group(2) == "!=" else "=", match.group(3)))
    return requirements


_COMMON_FIELDS = {"metadata.name": ("metadata", "name"), "metadata.namespace": ("metadata", "namespace")}
_EXTRA_FIELDS = {
    "pods": {"status.phase": ("status", "phase"), "spec.nodeName": ("spec", "nodeName"),
             "spec.serviceAccountName": ("spec", "serviceAccountName"), "status.podIP": ("status", "podIP")},
    "events": {"involvedObject.%s" % k: ("involvedObject", k)
               for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
    "secrets": {"type": ("type",)},
    "namespaces": {"status.phase": ("status", "phase")},
}
_EXTRA_FIELDS["events"].update({"reason": ("reason",), "type": ("type",), "source": ("source", "component"),
                                "reportingComponent": ("reportingComponent",)})
_EVENTS_V1_FIELDS = {"regarding.%s" % k: ("regarding", k) for k in ("kind", "namespace", "name", "uid", "apiVersion")}
_EVENTS_V1_FIELDS.update({"reason": ("reason",), "type": ("type",), "reportingController": ("reportingController",)})


def _field_paths(rtype):
    paths = dict(_COMMON_FIELDS)
    if rtype.key == ("events.k8s.io", "events"):
        paths.update(_EVENTS_V1_FIELDS)
    else:
        paths.update(_EXTRA_FIELDS.get(rtype.plural, {}))
    return paths


def check_field_selector(rtype, requirements):
    """ValueError (-> 400 'field label not supported') for fields the real server rejects."""
    paths = _field_paths(rtype)
    for name, _op, _value in requirements:
        if name not in paths:
            raise ValueError('field label not supported: %s' % name)


def fields_match(rtype, requirements, obj):
    paths = _field_paths(rtype)
    for name, op, value in requirements:
        current = obj
        for step in paths[name]:
            current = (current or {}).get(step) if isinstance(current, dict) else None
        current = "" if current is None else str(current)
        if (op == "=") != (current == value):
            return False
    return True


# ---------------------------------------------------------------------------- pagination

def encode_continue(resource_version, last_key):
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": resource_version, "start": "/".join(last_key) + "\x00"})
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode_continue(token):
    """Continue token -> (namespace, name) after which to resume; ValueError if not ours."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8"))
        namespace, name = data["start"].rstrip("\x00").split("/", 1)
        return namespace, name
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise ValueError("continue key is not valid: %s" % token[:40]) from None


# ---------------------------------------------------------------------------- the API

@dataclass
class _Target:
    """What a resource path points at."""

    rtype: ResourceType
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    extra: list = field(default_factory=list)


class KubeApi:
    """``handle(req) -> Response`` for the simulated cluster API (read-mostly).

    The objects come from a ``KubeModel`` (sandbox/sim/kube_model.py), which expands the
    scenario and computes istiod's state from the World on every request (the mount model).
    """

    def __init__(self, world, model=None):
        from sandbox.sim.kube_model import KubeModel  # local import: model imports helpers from here
        self.world = world
        self.model = model or KubeModel(world)
        spec = getattr(world, "kubernetes", None) or {}
        token = getattr(world, "kube_user_token", None) or CLUSTER_USER_TOKEN
        self.tokens = {token, CLUSTER_USER_TOKEN} | set(spec.get("tokens") or [])
        self.accept_aad_tokens = spec.get("acceptAadTokens", True)

    # -- entry point

    def handle(self, req):
        if not self._authenticated(req):
            return status_response(401, "Unauthorized", "Unauthorized")
        path = req.path.rstrip("/") or "/"
        discovery = self._discovery(path)
        if discovery is not None:
            return discovery
        target = self._parse_target(path)
        if target is None:
            return status_response(404, "NotFound", "the server could not find the requested resource")
        if isinstance(target, Response):
            return target
        if req.method != "GET":
            refused = self.model.write(req, target)
            return refused if refused is not None else self._get(req, target)
        if self._arg(req, "watch") in ("true", "1"):
            return status_response(405, "MethodNotAllowed", "watch is not supported by the simulator")
        if target.subresource == "log":
            return self._pod_log(req, target)
        if target.subresource:
            return status_response(404, "NotFound", "the server could not find the requested resource")
        if target.name:
            return self._get(req, target)
        return self._list(req, target)

    def _authenticated(self, req):
        auth = req.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return False
        token = auth[7:].strip()
        if token in self.tokens:
            return True
        if not self.accept_aad_tokens:
            return False
        audience = decode_jwt(token).get("aud", "")
        audiences = audience if isinstance(audience, list) else [audience]
        return any(AKS_AAD_SERVER_APP_ID in str(a) for a in audiences)

    @staticmethod
    def _arg(req, name, default=None):
        values = req.query.get(name)
        return values[0] if values else default

    # -- discovery

    def _discovery(self, path):
        ok = lambda body: Response(200, body, {"Content-Type": "application/json"})  # noqa: E731
        if path == "/version":
            return ok(SERVER_VERSION)
        if path == "/api":
            return ok({"kind": "APIVersions", "versions": ["v1"],
                       "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:443"}]})
        if path == "/api/v1":
            return ok(_resource_list("", "v1"))
        if path == "/apis":
            return ok({"kind": "APIGroupList", "apiVersion": "v1",
                       "groups": [_group_json(n, v) for n, v in _groups().items()]})
        parts = path.split("/")
        groups = _groups()
        if len(parts) == 3 and parts[1] == "apis" and parts[2] in groups:
            return ok(dict(_group_json(parts[2], groups[parts[2]]), kind="APIGroup", apiVersion="v1"))
        if len(parts) == 4 and parts[1] == "apis" and parts[3] in groups.get(parts[2], []):
            return ok(_resource_list(parts[2], parts[3]))
        if path.startswith("/openapi") or path in ("/healthz", "/livez", "/readyz"):
            if path.startswith("/openapi"):
                return status_response(404, "NotFound", "the server could not find the requested resource")
            return Response(200, "ok", {"Content-Type": "text/plain"})
        return None

    # -- paths

    def _parse_target(self, path):
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        if not rest:
            return None
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        rtype = _BY_PATH.get((group, version, rest[0]))
        if rtype is None:
            return None
        if namespace and not rtype.namespaced:
            return None
        name = rest[1] if len(rest) > 1 else ""
        subresource = rest[2] if len(rest) > 2 else ""
        if len(rest) > 3:
            return None
        return _Target(rtype, namespace, name, subresource)

    # -- reads

    def _get(self, req, target):
        obj = self.model.get(target.rtype, target.namespace, target.name)
        if obj is None:
            return not_found(target.rtype, target.name)
        if wants_table(req.headers.get("accept")):
            table = table_for(target.rtype.plural, [obj], {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                              self._arg(req, "includeObject", "Metadata"), self.model.now())
            return Response(200, table, {"Content-Type": "application/json"})
        return Response(200, obj, {"Content-Type": "application/json"})

    def _list(self, req, target):
        rtype = target.rtype
        try:
            labels = parse_label_selector(self._arg(req, "labelSelector", ""))
            fields = parse_field_selector(self._arg(req, "fieldSelector", ""))
            check_field_selector(rtype, fields)
        except ValueError as exc:
            return bad_request(str(exc))
        resource_version = self.model.resource_version()
        items = [o for o in self.model.list(rtype, target.namespace)
                 if labels_match(labels, o["metadata"].get("labels")) and fields_match(rtype, fields, o)]
        page, list_meta = self._paginate(req, items, resource_version)
        if isinstance(page, Response):
            return page
        if wants_table(req.headers.get("accept")):
            table = table_for(rtype.plural, page, list_meta, self._arg(req, "includeObject", "Metadata"),
                              self.model.now())
            return Response(200, table, {"Content-Type": "application/json"})
        body = {"kind": rtype.kind + "List", "apiVersion": rtype.api_version, "metadata": list_meta, "items": page}
        return Response(200, body, {"Content-Type": "application/json"})

    def _paginate(self, req, items, resource_version):
        """Apply limit/continue; items are sorted by (namespace, name) so a token is a position."""
        token = self._arg(req, "continue", "")
        if token:
            try:
                after = decode_continue(token)
            except ValueError as exc:
                return bad_request(str(exc)), None
            items = [o for o in items if _sort_key(o) > after]
        limit_text = self._arg(req, "limit", "")
        list_meta = {"resourceVersion": resource_version}
        try:
            limit = int(limit_text) if limit_text else 0
        except ValueError:
            return bad_request("invalid limit: %s" % limit_text), None
        if limit > 0 and len(items) > limit:
            page = items[:limit]
            list_meta["continue"] = encode_continue(resource_version, _sort_key(page[-1]))
            list_meta["remainingItemCount"] = len(items) - limit
            return page, list_meta
        return items, list_meta

    def _pod_log(self, req, target):
        if target.rtype.plural != "pods":
            return status_response(404, "NotFound", "the server could not find the requested resource")
        pod = self.model.get(target.rtype, target.namespace, target.name)
        if pod is None:
            return not_found(target.rtype, target.name)
        containers = [c["name"] for c in pod["spec"].get("containers", [])]
        init_containers = [c["name"] for c in pod["spec"].get("initContainers", [])]
        container = self._arg(req, "container", "")
        if not container:
            if len(containers) != 1:
                return bad_request("a container name must be specified for pod %s, choose one of: [%s]"
                                   % (target.name, " ".join(containers)))
            container = containers[0]
        if container not in containers + init_containers:
            return bad_request("container %s is not valid for pod %s" % (container, target.name))
        result = self.model.pod_log(pod, container)
        if isinstance(result, Response):
            return result
        try:
            text = _trim_log(result, self._arg(req, "tailLines"), self._arg(req, "sinceSeconds"),
                             self._arg(req, "limitBytes"), self.model.now())
        except ValueError as exc:
            return bad_request(str(exc))
        if self._arg(req, "timestamps") not in ("true", "1"):
            text = "".join(line.split(" ", 1)[1] if " " in line else line for line in text.splitlines(True))
        return Response(200, text, {"Content-Type": "text/plain"})


def _sort_key(obj):
    return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def _trim_log(lines, tail_lines, since_seconds, limit_bytes, now):
    """Apply the log query parameters to [(timestamp_text, line)] and return 'ts line\\n' text."""
    if since_seconds:
        cutoff = now - datetime.timedelta(seconds=int(since_seconds))
        lines = [(ts, line) for ts, line in lines if ts >= cutoff.strftime("%Y-%m-%dT%H:%M:%S")]
    if tail_lines:
        count = int(tail_lines)
        lines = lines[-count:] if count > 0 else []
    text = "".join("%s %s\n" % (ts, line) for ts, line in lines)
    if limit_bytes:
        text = text.encode("utf-8")[:int(limit_bytes)].decode("utf-8", "ignore")
    return text


def build_kubeconfig(server_url, ca_pem, token=CLUSTER_USER_TOKEN, cluster_name="cluster", user="clusterUser"):
    """A kubeconfig (YAML text) for the simulator; ARM's listClusterUserCredential can return this."""
    ca_data = base64.b64encode(ca_pem if isinstance(ca_pem, bytes) else ca_pem.encode("ascii")).decode("ascii")
    user_name = "%s_%s" % (user, cluster_name)
    return "\n".join([
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- cluster:",
        "    certificate-authority-data: %s" % ca_data,
        "    server: %s" % server_url,
        "  name: %s" % cluster_name,
        "contexts:",
        "- context:",
        "    cluster: %s" % cluster_name,
        "    user: %s" % user_name,
        "  name: %s" % cluster_name,
        "current-context: %s" % cluster_name,
        "preferences: {}",
        "users:",
        "- name: %s" % user_name,
        "  user:",
        "    token: %s" % token,
        "",
    ])
