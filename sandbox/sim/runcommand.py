"""ARM's managedClusters/runCommand for the simulator: the command really runs.

``POST .../managedClusters/{name}/runCommand`` answers 202 with a Location header naming
``.../commandResults/{id}``; a GET there answers 202 while the command runs and 200 with a
RunCommandResult once it is done (Azure/azure-rest-api-specs specification/containerservice/
resource-manager/Microsoft.ContainerService/aks/stable/2025-10-01/examples/RunCommandRequest.json,
RunCommandResultSucceed.json and RunCommandResultFailed.json: only a Location header, and
``provisioningState`` "succeeded"/"failed" in lower case, ``reason`` on failure).

The command runs with the real ``kubectl`` on PATH, under ``sh -c``, in a temporary
directory whose kubeconfig points at the Kubernetes simulator as the command pod would
reach it (the in-cluster address, which a private cluster's operator cannot reach), with a
timeout. Its output is cut at AKS's 512 KB (MicrosoftDocs/azure-docs pull request 115257).

Fault knobs, under the scenario's ``runCommand:`` mapping:
  provisioningFailed: <reason>   the command pod never ran (e.g. ImagePullBackoff)
  exitCode: <n>                  the command is replaced by one that prints a line and exits n
  timeoutSeconds: <s>            the pod's own timeout (default 120): killed, exit code 124
  startDelaySeconds: <s>         the command pod takes this long to start (a slow pull)
  logsCap: <bytes>               the output cap (default 512 KiB)
and ``operatorArm.canRunCommand: false`` (403 AuthorizationFailed), a cluster whose
``properties.powerState.code`` is Stopped (refused, see ``stopped_error``).
"""

import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid

LOGS_CAP = 512 * 1024
DEFAULT_TIMEOUT = 120
RUN_COMMAND_ACTION = "Microsoft.ContainerService/managedClusters/runCommand/action"


def _iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class RunCommands:
    """The commands one simulated cluster has been asked to run, by id."""

    def __init__(self, world, kube_url, kube_ca_pem):
        self.world = world
        self._kube_url = kube_url
        self._ca_pem = kube_ca_pem
        self._lock = threading.Lock()
        self._results = {}
        # What each request carried (tests check that AAD clusters get the caller's token).
        self.submitted = []

    def knobs(self):
        return dict(self.world.raw.get("runCommand") or {})

    def submit(self, body):
        """Start the command on a thread; its id. Never blocks on the command."""
        command_id = uuid.uuid4().hex
        knobs = self.knobs()
        started = time.time()
        with self._lock:
            self._results[command_id] = {"id": command_id, "properties": {
                "provisioningState": "running", "startedAt": _iso(started)}}
        if knobs.get("provisioningFailed"):
            self._finish(command_id, {"provisioningState": "failed", "reason": str(knobs["provisioningFailed"])})
            return command_id
        command = str(body.get("command") or "")
        self.submitted.append({"clusterToken": bool(body.get("clusterToken")), "context": body.get("context")})
        if knobs.get("exitCode") is not None:
            command = f"echo 'simulated failure in the command pod'; exit {int(knobs['exitCode'])}"
        token = body.get("clusterToken") or self.world.kube_user_token
        thread = threading.Thread(target=self._run, args=(command_id, command, token, knobs, started),
                                  name=f"sim-runcommand-{command_id[:8]}", daemon=True)
        thread.start()
        return command_id

    def result(self, command_id):
        with self._lock:
            found = self._results.get(command_id)
            return None if found is None else {"id": found["id"], "properties": dict(found["properties"])}

    def logs(self):
        """The output of every command run so far (tests check what left the cluster)."""
        with self._lock:
            return [record["properties"].get("logs") or "" for record in self._results.values()]

    def _finish(self, command_id, properties):
        with self._lock:
            record = self._results[command_id]
            record["properties"].update(properties, finishedAt=_iso(time.time()))
            record["done"] = True

    def done(self, command_id):
        with self._lock:
            return bool((self._results.get(command_id) or {}).get("done"))

    def _run(self, command_id, command, token, knobs, started):
        from sandbox.sim.kube import build_kubeconfig
        workdir = tempfile.mkdtemp(prefix="meshca-sim-runcommand-")
        try:
            time.sleep(min(float(knobs.get("startDelaySeconds") or 0), DEFAULT_TIMEOUT))
            kubeconfig = os.path.join(workdir, "kubeconfig")
            with open(kubeconfig, "w", encoding="utf-8") as handle:
                handle.write(build_kubeconfig(self._kube_url(), self._ca_pem, token=token,
                                              cluster_name=self.world.cluster["name"]))
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": workdir, "KUBECONFIG": kubeconfig,
                   "TMPDIR": workdir, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
            timeout = float(knobs.get("timeoutSeconds") or DEFAULT_TIMEOUT)
            try:
                proc = subprocess.run(["sh", "-c", command], cwd=workdir, env=env, capture_output=True,
                                      timeout=timeout, check=False)
                output, exit_code = proc.stdout + proc.stderr, proc.returncode
            except subprocess.TimeoutExpired as expired:
                output, exit_code = (expired.stdout or b"") + (expired.stderr or b""), 124
            cap = int(knobs.get("logsCap") or LOGS_CAP)
            logs = output[:cap].decode("utf-8", "replace")
            self._finish(command_id, {"provisioningState": "succeeded", "exitCode": exit_code, "logs": logs,
                                      "startedAt": _iso(started)})
        except OSError as error:
            self._finish(command_id, {"provisioningState": "failed", "reason": f"CommandPodError: {error}"})
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def stopped_error_message(cluster):
    """The refusal for a stopped cluster, in the AKS resource provider's words for an
    operation a stopped cluster cannot take ("managed cluster is in Provisioning
    State(Succeeded) and Power State(Stopped), stopping cannot be performed":
    MicrosoftDocs/azure-docs issue 85161, for a stop)."""
    state = (cluster.get("properties") or {}).get("provisioningState") or "Succeeded"
    return (f"Managed cluster is in Provisioning State({state}) and Power State(Stopped), run command cannot be "
            "performed. Start the cluster first.")
