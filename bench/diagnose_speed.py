"""diagnose against the article's manual sequence, with latency on every request.

Both run against the same loopback simulator, in the same run, with the same
injected latency (default 50 ms per request). Prints both wall times, the ratio and
how many HTTP requests each made. With --scale, also prints diagnose's wall time and
peak memory at 20 and at 2,000 workload namespaces.

    .venv/bin/python bench/diagnose_speed.py [--scenario article-issue-1] [--latency-ms 50] [--scale]
"""

import argparse
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from sandbox.sim.harness import start_simulator  # noqa: E402  pylint: disable=wrong-import-position

RESOURCE_GROUP, CLUSTER = "myResourceGroup", "myAKSCluster"
# Runs a command and prints its children's peak RSS, so memory is measured per run.
_PEAK_RSS = ("import resource, subprocess, sys; "
             "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
             "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def _timed(command, env):
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _PEAK_RSS, *command], env=env, capture_output=True, text=True,
                          check=True)
    elapsed = time.perf_counter() - start
    exit_code, peak_kib = proc.stdout.split()
    return elapsed, int(exit_code), int(peak_kib)


def _diagnose_command(az):
    return [os.path.join(os.path.dirname(sys.executable), "az"), "aks", "mesh", "ca", "diagnose",
            "-g", RESOURCE_GROUP, "-n", CLUSTER, "-o", "none"]


def _env(sim, az):
    env = dict(az.env)
    env["KUBECONFIG"] = sim.kubeconfig()
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    return env


def compare_with_runbook(scenario, latency_ms):
    with start_simulator(scenario) as sim:
        az = sim.az()
        env = _env(sim, az)
        revision = sim.world.cluster["properties"]["serviceMeshProfile"]["istio"]["revisions"][0]
        env.update(RESOURCE_GROUP=RESOURCE_GROUP, CLUSTER=CLUSTER, REVISION=revision)
        _timed(_diagnose_command(az), env)  # warm-up: az's command index, file cache
        sim.add_fault("latency", ms=latency_ms, count=None)
        sim.log.clear()
        ours, _, _ = _timed(_diagnose_command(az), env)
        ours_requests = len(sim.requests())
        sim.log.clear()
        baseline, _, _ = _timed(["bash", os.path.join(REPO, "bench", "runbook.sh")], env)
        baseline_requests = len(sim.requests())
    print("scenario {}, {} ms latency per request".format(scenario, latency_ms))
    print("(a) diagnose:            {:6.2f} s  {:4d} HTTP requests".format(ours, ours_requests))
    print("(b) article's az/kubectl: {:6.2f} s  {:4d} HTTP requests".format(baseline, baseline_requests))
    print("ratio a/b: {:.2f}".format(ours / baseline))


def _scale_scenario(count, folder):
    """A healthy cluster with ``count`` generated workload namespaces."""
    path = os.path.join(folder, "healthy-{}-namespaces.yaml".format(count))
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("base: healthy\nkubernetes:\n  workloadNamespaces: {}\n".format(count))
    return path


def scale_run():
    import tempfile
    folder = tempfile.mkdtemp(prefix="meshca-bench-")
    for count in (20, 2000):
        with start_simulator(_scale_scenario(count, folder)) as sim:
            az = sim.az()
            env = _env(sim, az)
            _timed(_diagnose_command(az), env)
            sim.log.clear()
            elapsed, exit_code, peak_kib = _timed(_diagnose_command(az), env)
            print("{:5d} namespaces: diagnose {:6.2f} s, peak RSS {:6.1f} MiB, {} requests, exit {}".format(
                count, elapsed, peak_kib / 1024, len(sim.requests()), exit_code))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="article-issue-1")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--scale", action="store_true")
    options = parser.parse_args()
    compare_with_runbook(options.scenario, options.latency_ms)
    if options.scale:
        scale_run()


if __name__ == "__main__":
    main()
