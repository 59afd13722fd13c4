"""Server-side printing: the ``meta.k8s.io/v1 Table`` that ``kubectl get`` asks for.

kubectl does not format ``get`` output itself: it sends
``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and prints the cells the
API server computed.  So the columns and cell texts here (pod STATUS such as
``Init:0/2``, ages such as ``5m55s``) are what users and the article see.  The
logic follows kubernetes ``pkg/printers/internalversion/printers.go``.
"""

import datetime

_NAME_COLUMN = {"name": "Name", "type": "string", "format": "name", "priority": 0,
                "description": "Name must be unique within a namespace."}


def parse_time(text):
    """RFC 3339 text -> aware datetime (None for missing)."""
    if not text:
        return None
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def human_duration(seconds):
    """apimachinery duration.HumanDuration, so ages read exactly like kubectl's."""
    seconds = int(seconds)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return "%ds" % seconds
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return "%dm" % minutes if rest == 0 else "%dm%ds" % (minutes, rest)
    if minutes < 180:
        return "%dm" % minutes
    hours = seconds // 3600
    if hours < 8:
        rest = minutes % 60
        return "%dh" % hours if rest == 0 else "%dh%dm" % (hours, rest)
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        rest = hours % 24
        return "%dd" % (hours // 24) if rest == 0 else "%dd%dh" % (hours // 24, rest)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return "%dy" % (hours // 24 // 365) if days == 0 else "%dy%dd" % (hours // 24 // 365, days)
    return "%dy" % (hours // 24 // 365)


def age(timestamp, now):
    """Age cell for an RFC 3339 timestamp ("<unknown>" when absent, as the server prints)."""
    moment = parse_time(timestamp)
    if moment is None:
        return "<unknown>"
    return human_duration((now - moment).total_seconds())


def _col(name, kind="string", priority=0, description=""):
    return {"name": name, "type": kind, "format": "", "priority": priority, "description": description}


# ---------------------------------------------------------------------------- pods

def pod_status_text(pod):
    """The STATUS column of ``kubectl get pods`` (printPod), e.g. Init:0/2, Terminating."""
    status = pod.get("status") or {}
    spec = pod.get("spec") or {}
    reason = status.get("reason") or status.get("phase") or ""
    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for index, container in enumerate(init_statuses):
        state = container.get("state") or {}
        terminated = state.get("terminated")
        waiting = state.get("waiting")
        if terminated and terminated.get("exitCode", 0) == 0:
            continue
        if terminated:
            if terminated.get("reason"):
                reason = "Init:" + terminated["reason"]
            elif terminated.get("signal"):
                reason = "Init:Signal:%d" % terminated["signal"]
            else:
                reason = "Init:ExitCode:%d" % terminated.get("exitCode", 0)
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = "Init:%d/%d" % (index, len(spec.get("initContainers") or []))
        initializing = True
        break
    if not initializing:
        reason = _main_container_reason(status, reason)
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeUnreachable" else "Terminating"
    return reason


def _main_container_reason(status, reason):
    """printPod's pass over the app containers (last non-empty reason wins)."""
    has_running = False
    for container in reversed(status.get("containerStatuses") or []):
        state = container.get("state") or {}
        waiting = state.get("waiting")
        terminated = state.get("terminated")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
        elif terminated and terminated.get("reason"):
            reason = terminated["reason"]
        elif terminated:
            if terminated.get("signal"):
                reason = "Signal:%d" % terminated["signal"]
            else:
                reason = "ExitCode:%d" % terminated.get("exitCode", 0)
        elif state.get("running") and container.get("ready"):
            has_running = True
    if reason == "Completed" and has_running:
        reason = "Running" if _pod_ready(status) else "NotReady"
    return reason


def _pod_ready(status):
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def _pod_row(pod, now):
    status = pod.get("status") or {}
    containers = (pod.get("spec") or {}).get("containers") or []
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready") and (c.get("state") or {}).get("running"))
    restarts = sum(c.get("restartCount", 0) for c in statuses)
    restarts_text = str(restarts)
    last_restart = None
    for container in statuses:
        finished = ((container.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        if finished and (last_restart is None or finished > last_restart):
            last_restart = finished
    if restarts and last_restart:
        restarts_text = "%d (%s ago)" % (restarts, age(last_restart, now))
    return [pod["metadata"]["name"], "%d/%d" % (ready, len(containers)), pod_status_text(pod), restarts_text,
            age(pod["metadata"].get("creationTimestamp"), now), status.get("podIP") or "<none>",
            (pod.get("spec") or {}).get("nodeName") or "<none>", "<none>", "<none>"]


_POD_COLUMNS = [_NAME_COLUMN, _col("Ready"), _col("Status"), _col("Restarts"), _col("Age"),
                _col("IP", priority=1), _col("Node", priority=1), _col("Nominated Node", priority=1),
                _col("Readiness Gates", priority=1)]


# ---------------------------------------------------------------------------- workloads

def _containers_and_images(template_spec):
    containers = template_spec.get("containers") or []
    return ",".join(c["name"] for c in containers), ",".join(c.get("image", "") for c in containers)


def _selector_text(selector):
    labels = (selector or {}).get("matchLabels") or {}
    return ",".join("%s=%s" % item for item in sorted(labels.items())) or "<none>"


def _deployment_row(deploy, now):
    spec, status = deploy.get("spec") or {}, deploy.get("status") or {}
    names, images = _containers_and_images(((spec.get("template") or {}).get("spec")) or {})
    return [deploy["metadata"]["name"], "%d/%d" % (status.get("readyReplicas", 0), spec.get("replicas", 1)),
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0),
            age(deploy["metadata"].get("creationTimestamp"), now), names, images, _selector_text(spec.get("selector"))]


_DEPLOYMENT_COLUMNS = [_NAME_COLUMN, _col("Ready"), _col("Up-to-date", "integer"), _col("Available", "integer"),
                       _col("Age"), _col("Containers", priority=1), _col("Images", priority=1),
                       _col("Selector", priority=1)]


def _replicaset_row(rs, now):
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    names, images = _containers_and_images(((spec.get("template") or {}).get("spec")) or {})
    return [rs["metadata"]["name"], spec.get("replicas", 1), status.get("replicas", 0), status.get("readyReplicas", 0),
            age(rs["metadata"].get("creationTimestamp"), now), names, images, _selector_text(spec.get("selector"))]


_REPLICASET_COLUMNS = [_NAME_COLUMN, _col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"),
                       _col("Age"), _col("Containers", priority=1), _col("Images", priority=1),
                       _col("Selector", priority=1)]


def _daemonset_row(ds, now):
    spec, status = ds.get("spec") or {}, ds.get("status") or {}
    template_spec = ((spec.get("template") or {}).get("spec")) or {}
    names, images = _containers_and_images(template_spec)
    node_selector = ",".join("%s=%s" % i for i in sorted((template_spec.get("nodeSelector") or {}).items()))
    return [ds["metadata"]["name"], status.get("desiredNumberScheduled", 0), status.get("currentNumberScheduled", 0),
            status.get("numberReady", 0), status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0),
            node_selector or "<none>", age(ds["metadata"].get("creationTimestamp"), now), names, images,
            _selector_text(spec.get("selector"))]


_DAEMONSET_COLUMNS = [_NAME_COLUMN, _col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"),
                      _col("Up-to-date", "integer"), _col("Available", "integer"), _col("Node Selector"), _col("Age"),
                      _col("Containers", priority=1), _col("Images", priority=1), _col("Selector", priority=1)]


def _cronjob_row(cronjob, now):
    spec, status = cronjob.get("spec") or {}, cronjob.get("status") or {}
    job_spec = ((spec.get("jobTemplate") or {}).get("spec") or {})
    names, images = _containers_and_images(((job_spec.get("template") or {}).get("spec")) or {})
    last = status.get("lastScheduleTime")
    return [cronjob["metadata"]["name"], spec.get("schedule", ""), str(bool(spec.get("suspend", False))),
            len(status.get("active") or []), age(last, now) if last else "<none>",
            age(cronjob["metadata"].get("creationTimestamp"), now), names, images, "<none>"]


_CRONJOB_COLUMNS = [_NAME_COLUMN, _col("Schedule"), _col("Suspend", "boolean"), _col("Active", "integer"),
                    _col("Last Schedule"), _col("Age"), _col("Containers", priority=1), _col("Images", priority=1),
                    _col("Selector", priority=1)]


def _job_row(job, now):
    spec, status = job.get("spec") or {}, job.get("status") or {}
    names, images = _containers_and_images(((spec.get("template") or {}).get("spec")) or {})
    state = "Running"
    for condition in status.get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            state = condition["type"]
    start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    duration = human_duration(((end or now) - start).total_seconds()) if start else ""
    return [job["metadata"]["name"], state, "%d/%d" % (status.get("succeeded", 0), spec.get("completions", 1)),
            duration, age(job["metadata"].get("creationTimestamp"), now), names, images, "<none>"]


_JOB_COLUMNS = [_NAME_COLUMN, _col("Status"), _col("Completions"), _col("Duration"), _col("Age"),
                _col("Containers", priority=1), _col("Images", priority=1), _col("Selector", priority=1)]


# ---------------------------------------------------------------------------- config, events, misc

def _configmap_row(cm, now):
    count = len(cm.get("data") or {}) + len(cm.get("binaryData") or {})
    return [cm["metadata"]["name"], count, age(cm["metadata"].get("creationTimestamp"), now)]


def _secret_row(secret, now):
    return [secret["metadata"]["name"], secret.get("type", "Opaque"), len(secret.get("data") or {}),
            age(secret["metadata"].get("creationTimestamp"), now)]


def _namespace_row(ns, now):
    return [ns["metadata"]["name"], (ns.get("status") or {}).get("phase", "Active"),
            age(ns["metadata"].get("creationTimestamp"), now)]


def _node_row(node, now):
    return [node["metadata"]["name"], "Ready", "<none>", age(node["metadata"].get("creationTimestamp"), now),
            ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")]


def _event_row(event, now):
    involved = event.get("involvedObject") or {}
    source = event.get("source") or {}
    count = event.get("count") or 1
    last = age(event.get("lastTimestamp"), now)
    first = age(event.get("firstTimestamp"), now)
    last_seen = last if count <= 1 else "%s (x%d over %s)" % (last, count, first)
    return [last_seen, event.get("type", ""), event.get("reason", ""),
            "%s/%s" % (involved.get("kind", "").lower(), involved.get("name", "")),
            involved.get("fieldPath", ""), ", ".join(v for v in (source.get("component"), source.get("host")) if v),
            event.get("message", "").strip(), first, count, event["metadata"]["name"]]


_EVENT_COLUMNS = [_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Subobject", priority=1),
                  _col("Source", priority=1), _col("Message"), _col("First Seen", priority=1),
                  _col("Count", "integer", priority=1), dict(_NAME_COLUMN, priority=1)]


def _default_row(obj, now):
    """CRDs without printer columns (e.g. SecretProviderClass) print NAME AGE."""
    return [obj["metadata"]["name"], age(obj["metadata"].get("creationTimestamp"), now)]


_PRINTERS = {
    "pods": (_POD_COLUMNS, _pod_row),
    "deployments": (_DEPLOYMENT_COLUMNS, _deployment_row),
    "replicasets": (_REPLICASET_COLUMNS, _replicaset_row),
    "daemonsets": (_DAEMONSET_COLUMNS, _daemonset_row),
    "cronjobs": (_CRONJOB_COLUMNS, _cronjob_row),
    "jobs": (_JOB_COLUMNS, _job_row),
    "configmaps": ([_NAME_COLUMN, _col("Data", "integer"), _col("Age")], _configmap_row),
    "secrets": ([_NAME_COLUMN, _col("Type"), _col("Data", "integer"), _col("Age")], _secret_row),
    "namespaces": ([_NAME_COLUMN, _col("Status"), _col("Age")], _namespace_row),
    "nodes": ([_NAME_COLUMN, _col("Status"), _col("Roles"), _col("Age"), _col("Version")], _node_row),
    "events": (_EVENT_COLUMNS, _event_row),
}


def wants_table(accept_header):
    """True when the client asked for server-side printing (``as=Table``)."""
    return "as=table" in (accept_header or "").lower().replace(" ", "")


def table_for(plural, objects, list_meta, include_object="Metadata", now=None):
    """A meta.k8s.io/v1 Table for ``objects`` of resource ``plural``."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    columns, row_fn = _PRINTERS.get(plural, ([_NAME_COLUMN, _col("Age")], _default_row))
    if plural == "events" and objects and "regarding" in objects[0]:
        objects = [_events_v1_as_core(e) for e in objects]
    rows = []
    for obj in objects:
        row = {"cells": row_fn(obj, now)}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj["metadata"]}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "columnDefinitions": columns, "rows": rows}


def _events_v1_as_core(event):
    """Map an events.k8s.io/v1 Event onto the core shape the event printer reads."""
    return {"metadata": event["metadata"], "involvedObject": event.get("regarding") or {},
            "reason": event.get("reason"), "message": event.get("note", ""), "type": event.get("type"),
            "count": event.get("deprecatedCount"), "firstTimestamp": event.get("deprecatedFirstTimestamp"),
            "lastTimestamp": event.get("deprecatedLastTimestamp"), "source": event.get("deprecatedSource") or {}}
