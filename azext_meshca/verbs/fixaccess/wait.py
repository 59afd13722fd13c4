"""fix-access --wait: poll istiod until its pods leave Init and turn Ready, bounded."""

import time

from azext_meshca.verbs.fixaccess.render import stderr

DEFAULT_WAIT_SECONDS = 300
WAIT_POLL_SECONDS = 5


def wait_for_istiod(cli_ctx, plan, cluster, timeout):
    """Poll istiod pods until every current pod is Ready and none is still initialising."""
    from azext_meshca.sources.cluster import open_kube
    cluster_ref = plan["cluster"]
    api, access = open_kube(cli_ctx, cluster_ref["resourceGroup"], cluster_ref["name"], cluster)
    if api is None:
        return {"ready": False, "timedOut": False, "seconds": 0, "pods": [],
                "reason": f"cannot reach the cluster: {access['error']['reason']}"}
    started = time.monotonic()
    pods, reason, last_line = [], None, None
    while True:
        pods, reason = _poll_pods(api)
        elapsed = int(time.monotonic() - started)
        if pods_ready(pods):
            return {"ready": True, "timedOut": False, "seconds": elapsed, "pods": pods}
        line = f"Waiting for istiod ({elapsed}s of {timeout}s): {reason or _pods_text(pods)}"
        if line != last_line:
            stderr(line)
            last_line = line
        if elapsed >= timeout:
            return {"ready": False, "timedOut": True, "seconds": elapsed, "pods": pods,
                    "reason": reason or _pods_text(pods)}
        time.sleep(min(WAIT_POLL_SECONDS, max(1, timeout - elapsed)))


def _poll_pods(api):
    from azext_meshca.sources.cluster import read_istiod_pods
    from azext_meshca.sources.errors import describe_error
    try:
        pods = read_istiod_pods(api)
    except Exception as error:  # pylint: disable=broad-except
        return [], describe_error(error)["reason"]
    return [{"name": pod["name"], "status": pod["status"], "ready": pod["ready"]} for pod in pods], None


def pods_ready(pods):
    """True when at least one istiod pod exists and every pod not being deleted is Ready."""
    current = [pod for pod in pods if pod["status"] != "Terminating"]
    return bool(current) and all(pod["ready"] and not pod["status"].startswith("Init") for pod in current)


def _pods_text(pods):
    if not pods:
        return "no istiod pods yet"
    return ", ".join(f"{pod['name']} {pod['status']}" for pod in pods)
