"""diagnose against `az aks show` and the article's commands, with latency on every request.

Everything runs against the same loopback simulator, in the same run, with the same
injected latency (default 50 ms per request), after one warm-up run of each command:

- (a) ``az aks mesh ca diagnose``, with its request waterfall: each request's start and
  end (seconds after the command started), its level and the critical path;
- (b) ``az aks show`` on the same cluster: one az start-up and one round trip, the
  near-physical reference;
- (c) ``bench/article.sh``: exactly the commands the troubleshooting article tells an
  operator to run, in its order, plus reading the three certificate objects and one
  ``openssl verify``;
- (d) ``bench/runbook.sh``: the broader manual sequence (role assignments, all four
  objects, ...), kept as a second figure.

A request's level is read off the timeline: 1 + the highest level among the requests
that had ended before it started (0 for the first). The critical path is the chain that
ends with the last request, each step back taking the latest-ending request that ended
before the step began. With --scale, diagnose runs on the article's issue-1 cluster at
3 nodes / 20 namespaces / 50 events and at 1,000 / 5,000 / 20,000, and prints the wall
time and peak memory ratios.

    .venv/bin/python bench/diagnose_speed.py [--scenario article-issue-1] [--latency-ms 50] [--rounds 5] [--scale]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from sandbox.sim.harness import start_simulator  # noqa: E402  pylint: disable=wrong-import-position

RESOURCE_GROUP, CLUSTER = "myResourceGroup", "myAKSCluster"
AZ = os.path.join(os.path.dirname(sys.executable), "az")
# Runs a command and prints its children's peak RSS, so memory is measured per run.
_PEAK_RSS = ("import resource, subprocess, sys, time; start = time.time(); "
             "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
             "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, start)")
SMALL = {"nodes": 3, "namespaces": 20, "events": 50, "sidecars": 20}
LARGE = {"nodes": 1000, "namespaces": 5000, "events": 20000, "sidecars": 2000}


def _timed(command, env):
    """(wall seconds, exit code, peak RSS KiB, epoch at which the command started)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _PEAK_RSS, *command], env=env, capture_output=True, text=True,
                          check=True)
    elapsed = time.perf_counter() - start
    exit_code, peak_kib, started = proc.stdout.split()
    return elapsed, int(exit_code), int(peak_kib), float(started)


DIAGNOSE = [AZ, "aks", "mesh", "ca", "diagnose", "-g", RESOURCE_GROUP, "-n", CLUSTER, "-o", "none"]
AKS_SHOW = [AZ, "aks", "show", "-g", RESOURCE_GROUP, "-n", CLUSTER, "-o", "none"]


def _env(sim, az):
    env = dict(az.env)
    env["KUBECONFIG"] = sim.kubeconfig()
    env["HOME"] = sim.tmpdir  # kubectl's discovery cache lives here, not in the real home
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    world = sim.world
    plugin = world.cluster["properties"]["serviceMeshProfile"]["istio"]["certificateAuthority"]["plugin"]
    vault_name = plugin["keyVaultId"].rstrip("/").split("/")[-1]
    env.update(RESOURCE_GROUP=RESOURCE_GROUP, CLUSTER=CLUSTER,
               REVISION=world.cluster["properties"]["serviceMeshProfile"]["istio"]["revisions"][0],
               VAULT_URI=sim.vault_url(vault_name), ROOT_CERT=plugin["rootCertObjectName"],
               CA_CERT=plugin["certObjectName"], CERT_CHAIN=plugin["certChainObjectName"])
    return env


def _measure(sim, command, env):
    """Run ``command`` once; (wall seconds, peak KiB, start epoch, its requests)."""
    sim.log.clear()
    elapsed, _, peak_kib, started = _timed(command, env)
    return elapsed, peak_kib, started, sim.requests()


def _label(entry):
    query = entry.get("query") or {}
    shown = "&".join(f"{key}={values[0]}" for key, values in sorted(query.items())
                     if key not in ("api-version",))
    path = entry["path"]
    return f"{entry['service'][:5]:<5} {entry['method']} {path}{'?' + shown if shown else ''}"


def waterfall(entries, started):
    """Print each request (start, end, level) and the critical path; returns the levels' count."""
    entries = sorted(entries, key=lambda entry: entry["start"])
    levels = []
    for index, entry in enumerate(entries):
        before = [levels[other] for other, done in enumerate(entries[:index]) if done["time"] <= entry["start"]]
        levels.append(1 + max(before) if before else 0)
    print("  start    end  level  request")
    for entry, level in zip(entries, levels):
        print(f"  {entry['start'] - started:5.3f}  {entry['time'] - started:5.3f}  {level:>5}  {_label(entry)[:150]}")
    if not entries:
        return 0
    path, current = [], max(range(len(entries)), key=lambda index: entries[index]["time"])
    while current is not None:
        path.append(current)
        earlier = [index for index in range(len(entries)) if entries[index]["time"] <= entries[current]["start"]]
        current = max(earlier, key=lambda index: entries[index]["time"]) if earlier else None
    print(f"  critical path ({len(path)} requests; the gaps are az start-up and client CPU):")
    previous_end = started
    for index in reversed(path):
        entry = entries[index]
        print(f"    +{entry['start'] - previous_end:5.3f} gap, {entry['start'] - started:5.3f}-"
              f"{entry['time'] - started:5.3f}  {_label(entry)[:110]}")
        previous_end = entry["time"]
    return max(levels) + 1


def compare(scenario, latency_ms, rounds=5):
    """Each round runs (a), (b), (c) and (d) once, one after the other, so a busy moment
    of the machine touches all four alike; the figures are medians over the rounds, and
    the waterfall is the median diagnose run's."""
    with start_simulator(scenario) as sim:
        az = sim.az()
        env = _env(sim, az)
        scripts = {name: ["bash", os.path.join(REPO, "bench", name)] for name in ("article.sh", "runbook.sh")}
        commands = {"a": DIAGNOSE, "b": AKS_SHOW, "c": scripts["article.sh"], "d": scripts["runbook.sh"]}
        for command in commands.values():
            _timed(command, env)  # warm-up: az's command index, file cache, kubectl's discovery cache
        sim.add_fault("latency", ms=latency_ms, count=None)
        runs = {key: [] for key in commands}
        for _ in range(rounds):
            for key, command in commands.items():
                runs[key].append(_measure(sim, command, env))
    median = {key: statistics.median(run[0] for run in measured) for key, measured in runs.items()}
    middle = sorted(runs["a"], key=lambda run: run[0])[len(runs["a"]) // 2]
    _, ours_peak, started, ours_requests = middle
    counts = {key: len(measured[0][3]) for key, measured in runs.items()}
    print(f"scenario {scenario}, {latency_ms} ms latency per request, medians of {rounds} rounds")
    print("diagnose's requests (its median run):")
    levels = waterfall(ours_requests, started)
    print(f"(a) diagnose:                 {median['a']:6.2f} s  {counts['a']:3d} requests in {levels} levels, "
          f"peak RSS {ours_peak / 1024:.0f} MiB")
    print(f"(b) az aks show:              {median['b']:6.2f} s  {counts['b']:3d} requests")
    print(f"(c) the article's commands:   {median['c']:6.2f} s  {counts['c']:3d} requests")
    print(f"(d) bench/runbook.sh:         {median['d']:6.2f} s  {counts['d']:3d} requests")
    for other, goal in (("b", "  (goal <= 2.5)"), ("c", "  (goal <= 0.15)"), ("d", "")):
        per_round = [a[0] / o[0] for a, o in zip(runs["a"], runs[other])]
        print(f"ratio a/{other}: {median['a'] / median[other]:.3f}{goal}   "
              f"(per round {min(per_round):.3f} to {max(per_round):.3f})")


def scale_scenario(folder, nodes, namespaces, events, base="article-issue-1", sidecars=0):
    """A copy of ``base`` with ``nodes`` nodes, ``namespaces`` workload namespaces (each
    with istio-ca-root-cert), ``events`` further events in aks-istio-system and ``sidecars``
    injected pods spread over the namespaces."""
    name = f"{base}-{nodes}-nodes-{namespaces}-namespaces-{events}-events-{sidecars}-sidecars.yaml"
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("base: {}\nkubernetes:\n  csi: {{nodes: {}}}\n  workloadNamespaces: {}\n  events: {}\n"
                     "  sidecars: {{count: {}}}\n".format(base, nodes, namespaces, events, sidecars))
    return path


def scale_run(latency_ms):
    folder = tempfile.mkdtemp(prefix="meshca-bench-")
    figures = {}
    for size in (SMALL, LARGE):
        with start_simulator(scale_scenario(folder, size["nodes"], size["namespaces"], size["events"],
                                            sidecars=size["sidecars"])) as sim:
            az = sim.az()
            env = _env(sim, az)
            _timed(DIAGNOSE, env)
            sim.add_fault("latency", ms=latency_ms, count=None)
            elapsed, peak_kib, _, requests = _measure(sim, DIAGNOSE, env)
        figures[size["nodes"]] = (elapsed, peak_kib, len(requests))
        print("{:5d} nodes, {:5d} namespaces, {:6d} events: diagnose {:6.2f} s, peak RSS {:6.1f} MiB, "
              "{} requests".format(size["nodes"], size["namespaces"], size["events"], elapsed, peak_kib / 1024,
                                   len(requests)))
    (small_time, small_peak, _), (large_time, large_peak, _) = figures[SMALL["nodes"]], figures[LARGE["nodes"]]
    print(f"wall time ratio large/small: {large_time / small_time:.2f}   (goal <= 1.5)")
    print(f"peak memory ratio large/small: {large_peak / small_peak:.2f}   (goal <= 1.5)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="article-issue-1")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of (a)-(d); figures are medians")
    parser.add_argument("--scale", action="store_true", help="also diagnose a small and a large cluster")
    parser.add_argument("--scale-only", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if not options.scale_only:
        compare(options.scenario, options.latency_ms, options.rounds)
    if options.scale or options.scale_only:
        scale_run(options.latency_ms)


if __name__ == "__main__":
    main()
