"""scan of the 200-cluster fleet against 200 sequential ``diagnose --skip-cluster`` runs.

Both run the real ``az`` (one process per command, as a person or a pipeline would)
against the same loopback simulator (sandbox/sim/scenarios/fleet.yaml), in the same
run, with the same injected latency on every request (default 50 ms, roughly one
Azure round trip). Prints both wall times, their requests and the ratio.

    .venv/bin/python bench/scan_speed.py [--latency-ms 50] [--read-secrets] [--clusters 200]
"""

import argparse
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from sandbox.sim.harness import start_simulator  # noqa: E402  pylint: disable=wrong-import-position

AZ = os.path.join(os.path.dirname(sys.executable), "az")


def _timed(az, args):
    start = time.perf_counter()
    proc = subprocess.run([AZ, *args, "-o", "none"], env=az.env, capture_output=True, text=True, cwd="/")
    if "Traceback" in proc.stderr:
        raise RuntimeError(f"az {' '.join(args[:4])} crashed:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--read-secrets", action="store_true",
                        help="scan --read-secrets (diagnose --skip-cluster reads the secrets either way)")
    parser.add_argument("--clusters", type=int, default=200, help="how many of the fleet's clusters diagnose runs on")
    options = parser.parse_args()
    with start_simulator("fleet") as sim:
        az = sim.az("bench")
        sim.world.resource_graph["throttled"] = {}      # the bench measures work, not the scenario's 429s
        readable = [cluster for cluster in sim.world.clusters
                    if not sim.world.subscription_forbidden(cluster["subscription"])][:options.clusters]
        scan_args = ["aks", "mesh", "ca", "scan"] + (["--read-secrets"] if options.read_secrets else [])
        _timed(az, scan_args)                           # warm-up: az's command index, file cache
        sim.add_fault("latency", ms=options.latency_ms, count=None)
        sim.log.clear()
        ours = _timed(az, scan_args)
        ours_requests = len(sim.requests())
        sim.log.clear()
        start = time.perf_counter()
        for cluster in readable:
            _timed(az, ["aks", "mesh", "ca", "diagnose", "-g", cluster["resourceGroup"], "-n", cluster["name"],
                        "--skip-cluster", "--subscription", cluster["subscription"]])
        baseline = time.perf_counter() - start
        baseline_requests = len(sim.requests())
    print(f"fleet of {len(readable)} clusters, {options.latency_ms} ms latency per request")
    print("(a) scan{}:                    {:7.2f} s  {:5d} HTTP requests".format(
        " --read-secrets" if options.read_secrets else "", ours, ours_requests))
    print(f"(b) {len(readable)} x diagnose --skip-cluster: {baseline:7.2f} s  {baseline_requests:5d} HTTP requests")
    print(f"ratio a/b: {ours / baseline:.3f}")


if __name__ == "__main__":
    main()
