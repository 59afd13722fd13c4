"""scan at 5,000 clusters against scan at 200, in one run: the ratios #25 asks for.

Two generated fleets (sandbox/sim/fleet.py) in loopback simulators, with the same injected
latency on every request (default 50 ms, roughly one Azure round trip):

- small: 200 clusters and 40 vaults in 5 subscriptions;
- large: 5,000 clusters and 1,000 vaults in 50 subscriptions.

Resource Graph answers at the service's page size (1,000 rows) and quota headers, without
scripted throttling. Each fleet runs ``az aks mesh ca scan`` and ``scan --read-secrets``
with the real ``az`` (one process per command, as a person or a pipeline would), ``--repeat``
times (default 3; the fastest run counts, see _best_of). Printed:
wall time, the az process's peak RSS, Resource Graph POSTs and Key Vault requests of each run,
the large/small ratio of each, the bounds #25 sets, and the request waterfall of the large
``--read-secrets`` run. Also the az process's CPU seconds and the simulator's (this process's
own, where the simulated services and the proxy trap run), with the load average before and
after: on a shared machine wall time moves with the load, CPU seconds much less, and the
simulator's CPU says when it, not az, bounds the wall time.

The trust store is the simulator's one CA certificate unless ``--ca-bundle certifi``: then az
trusts certifi's bundle plus that CA, as az does by default (requests' bundle), so the cost of
loading a real bundle per TLS connection shows. ``--pin`` keeps the simulator on the first CPU
and az on the others (a real vault's CPU is not on the operator's machine); on a shared machine
other processes still run everywhere.

    .venv/bin/python bench/scan_speed.py [--latency-ms 50] [--small 5x40x8] [--large 50x100x20]
                                         [--ca-bundle sim|certifi] [--pin] [--repeat 3]
"""

import argparse
import contextlib
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from sandbox.sim.harness import start_simulator  # noqa: E402  pylint: disable=wrong-import-position
from sandbox.sim.resourcegraph import WINDOW_SECONDS as RESOURCE_GRAPH_WINDOW_SECONDS  # noqa: E402  pylint: disable=wrong-import-position

AZ = os.path.join(os.path.dirname(sys.executable), "az")
# CPUs az runs on when --pin splits the machine (None: wherever the scheduler puts it).
AZ_CPUS = None
RESOURCE_GRAPH = "/providers/Microsoft.ResourceGraph/resources"
OBJECT_FIELDS = ("certObjectName", "keyObjectName", "rootCertObjectName", "certChainObjectName")


def _scenario(shape, directory):
    """A fleet scenario file for ``subscriptions x clustersPerSubscription x vaultsPerSubscription``."""
    subscriptions, clusters, vaults = (int(part) for part in shape.split("x"))
    path = os.path.join(directory, f"fleet-{subscriptions * clusters}.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"fleet:\n  subscriptions: {subscriptions}\n  clustersPerSubscription: {clusters}\n"
                     f"  vaultsPerSubscription: {vaults}\n")
    return path


# Starts az and reports its rusage, from a small process of its own. A child's peak RSS
# (ru_maxrss) starts at its parent's: at exec, Linux keeps the old address space's high-water
# mark (fs/exec.c exec_mmap, setmax_mm_hiwater_rss), and subprocess's vfork shares the parent's
# address space until then. Spawned from this process, which holds the simulated fleet, az would
# report this process's size whenever that is the larger. This spawner is started before any
# fleet exists and stays a few MiB.
_SPAWNER_CODE = r"""
import json, os, subprocess, sys
for line in sys.stdin:
    job = json.loads(line)
    with open(job["stdout"], "wb") as out, open(job["stderr"], "wb") as err:
        proc = subprocess.Popen(job["argv"], env=job["env"], stdout=out, stderr=err, cwd="/")
        if job["cpus"]:
            os.sched_setaffinity(proc.pid, job["cpus"])  # before az starts its threads: they inherit it
        _, status, usage = os.wait4(proc.pid, 0)
    print(json.dumps({"returncode": os.waitstatus_to_exitcode(status), "maxrss_kib": usage.ru_maxrss,
                      "cpu": usage.ru_utime + usage.ru_stime}), flush=True)
"""
_SPAWNER = None


def _spawner():
    """The one small process that starts every az run (see _SPAWNER_CODE)."""
    global _SPAWNER  # pylint: disable=global-statement  # one spawner for the whole bench
    if _SPAWNER is None:
        _SPAWNER = subprocess.Popen([sys.executable, "-S", "-c", _SPAWNER_CODE], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)
    return _SPAWNER


def _run(az, args):
    """(wall seconds, peak RSS in MiB, CPU seconds) of one az process; its own rusage, from wait4
    in the spawner (_SPAWNER_CODE says why not here)."""
    spawner = _spawner()
    with tempfile.TemporaryDirectory() as directory:
        job = {"argv": [AZ, *args, "-o", "none"], "env": dict(az.env), "cpus": sorted(AZ_CPUS or ()),
               "stdout": os.path.join(directory, "out"), "stderr": os.path.join(directory, "err")}
        start = time.perf_counter()
        spawner.stdin.write(json.dumps(job) + "\n")
        spawner.stdin.flush()
        answer = json.loads(spawner.stdout.readline())
        wall = time.perf_counter() - start
        with open(job["stderr"], "rb") as err:
            stderr = err.read().decode("utf-8", "replace")
    if "Traceback" in stderr or answer["returncode"] not in (0, 4, 5):
        raise RuntimeError(f"az {' '.join(args)} failed ({answer['returncode']}):\n{stderr[-2000:]}")
    return wall, answer["maxrss_kib"] / 1024, answer["cpu"]


def readable_plugins(world):
    """(vault, plug-in settings) of each cluster whose plug-in names a vault that exists."""
    for cluster in world.clusters:
        plugin = cluster["properties"]["serviceMeshProfile"]["istio"]["certificateAuthority"]["plugin"]
        vault = world.find_vault(plugin["keyVaultId"].rsplit("/", 1)[-1])
        if vault:
            yield vault, plugin


def _distinct_object_sets(world):
    """(distinct (vault, four object names) sets the readable clusters name, vaults they name)."""
    sets, vaults = set(), set()
    for vault, plugin in readable_plugins(world):
        vaults.add(vault["name"].lower())
        sets.add((vault["name"].lower(), tuple(plugin.get(field) for field in OBJECT_FIELDS)))
    return len(sets), len(vaults)


def _load(averages):
    return "/".join(f"{value:.1f}" for value in averages)


def _own_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measure(sim, az, args):
    """One az run's figures, and the simulator's CPU meanwhile (this process's own: the
    simulators and the proxy trap run on its threads), which says whether az or the
    simulated services bound the wall time on this machine.

    Each run starts with the user's whole Resource Graph quota, as a scan run on its own
    does: back to back, the large fleet's second command would wait out the first one's
    queries (the simulator's sliding window, sandbox/sim/resourcegraph.py WINDOW_SECONDS)."""
    time.sleep(RESOURCE_GRAPH_WINDOW_SECONDS)
    sim.log.clear()
    before = _own_cpu()
    wall, rss, cpu = _run(az, args)
    sim_cpu = _own_cpu() - before
    requests = sim.requests()
    graph = sum(1 for entry in requests if entry["method"] == "POST" and entry["path"].startswith(RESOURCE_GRAPH))
    vault = sum(1 for entry in requests if entry["service"].startswith("kv:"))
    return {"wall": wall, "rss": rss, "cpu": cpu, "sim": sim_cpu, "graph": graph, "vault": vault,
            "requests": requests}


def _waterfall(requests, width=60):
    """One line per kind of request: count, first start and last end (s), and a bar."""
    if not requests:
        return []
    origin = min(entry["start"] or entry["time"] for entry in requests)
    end = max(entry["time"] for entry in requests) - origin
    kinds = {}
    for entry in requests:
        if entry["service"].startswith("kv:"):
            kind = "Key Vault " + ("challenge" if entry["principal"] is None else "GET secret")
        elif entry["path"].startswith(RESOURCE_GRAPH):
            kind = "Resource Graph POST"
        else:
            kind = f"{entry['service']} {entry['method']} {entry['path'].split('?')[0][:28]}"
        kinds.setdefault(kind, []).append(((entry["start"] or entry["time"]) - origin, entry["time"] - origin))
    lines = []
    for kind, spans in sorted(kinds.items(), key=lambda item: min(span[0] for span in item[1])):
        first, last = min(span[0] for span in spans), max(span[1] for span in spans)
        left, right = int(first / end * width) if end else 0, max(int(last / end * width), 1) if end else 1
        bar = " " * left + "#" * max(right - left, 1)
        lines.append(f"  {kind:<34} {len(spans):6d}  {first:6.2f}-{last:6.2f} s  |{bar:<{width}}|")
    return lines


def _trust_certifi(az, directory):
    """Point az at certifi's bundle plus the simulator's CA: the size of bundle az loads by
    default (requests' ``DEFAULT_CA_BUNDLE_PATH``), which the simulator's answers still pass."""
    import certifi
    bundle = os.path.join(directory, "certifi-and-sim-ca.pem")
    with open(certifi.where(), "rb") as roots, open(az.env["REQUESTS_CA_BUNDLE"], "rb") as sim_ca, \
            open(bundle, "wb") as out:
        out.write(roots.read() + b"\n" + sim_ca.read())
    az.env["REQUESTS_CA_BUNDLE"] = bundle


def _pin():
    """This process (the simulators) on the first CPU, az on the others."""
    global AZ_CPUS  # pylint: disable=global-statement  # one setting for the whole bench
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("--pin needs at least two CPUs")
    os.sched_setaffinity(0, cpus[:1])
    AZ_CPUS = set(cpus[1:])


@contextlib.contextmanager
def simulated_fleet(shape, directory, latency_ms, ca_bundle="sim"):
    """(simulator, az) for one fleet, az warmed up, then ``latency_ms`` on every request."""
    with start_simulator(_scenario(shape, directory)) as sim:
        az = sim.az("bench")
        if ca_bundle == "certifi":
            _trust_certifi(az, directory)
        _run(az, ["aks", "mesh", "ca", "list-checks"])     # warm-up: az's command index, file cache
        sim.add_fault("latency", ms=latency_ms, count=None)
        yield sim, az


def _fleet(shape, directory, latency_ms, ca_bundle="sim", repeat=1):
    """Measurements of scan and scan --read-secrets over one fleet (each the best of ``repeat`` runs)."""
    with simulated_fleet(shape, directory, latency_ms, ca_bundle) as (sim, az):
        clusters = len(sim.world.clusters)
        sets, vaults = _distinct_object_sets(sim.world)
        runs = {"scan": _best_of(repeat, sim, az, ["aks", "mesh", "ca", "scan"]),
                "scan --read-secrets": _best_of(repeat, sim, az, ["aks", "mesh", "ca", "scan", "--read-secrets"])}
    return {"clusters": clusters, "sets": sets, "vaults": vaults, "runs": runs}


def _best_of(repeat, sim, az, args):
    """``repeat`` runs of one command: the figures of the fastest, with every run's wall time
    (``walls``) and the highest peak RSS of them all (memory is not noise: the worst counts).

    Why the fastest: on a shared machine a slower run is slower because other processes took
    the CPU, not because az did more work; the minimum is the run least disturbed (Python's
    timeit docs, "Note" under Timer.repeat). Every run's wall time is printed beside it, so the
    spread stays visible."""
    runs = [_measure(sim, az, args) for _ in range(repeat)]
    best = dict(min(runs, key=lambda run: run["wall"]))
    best.update(walls=[run["wall"] for run in runs], rss=max(run["rss"] for run in runs))
    return best


def _ratio_against(large, small, name, measure, goal):
    """'2.44x <= 3x: yes' for one command's ``measure`` (wall or rss) against its #25 goal."""
    ratio = large["runs"][name][measure] / small["runs"][name][measure]
    return f"{ratio:.2f}x <= {goal}x: {'yes' if ratio <= goal else 'NO'}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--small", default="5x40x8", help="subscriptions x clusters each x vaults each")
    parser.add_argument("--large", default="50x100x20")
    parser.add_argument("--ca-bundle", choices=("sim", "certifi"), default="sim")
    parser.add_argument("--pin", action="store_true", help="simulators on the first CPU, az on the others")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command per fleet; the fastest counts")
    options = parser.parse_args()
    _spawner()     # first, while this process is small (_SPAWNER_CODE)
    if options.pin:
        _pin()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="meshca-bench-") as directory:
        small = _fleet(options.small, directory, options.latency_ms, options.ca_bundle, options.repeat)
        large = _fleet(options.large, directory, options.latency_ms, options.ca_bundle, options.repeat)
    # A shared machine's load moves wall times; CPU seconds move much less (the module docstring).
    print(f"load average before {_load(load_before)}, after {_load(os.getloadavg())} "
          f"on {os.cpu_count()} CPUs; trust store: {options.ca_bundle}"
          f"{'; simulators pinned to CPU ' + str(sorted(os.sched_getaffinity(0))) if options.pin else ''}")
    print(f"{small['clusters']} clusters / {small['vaults']} vaults against {large['clusters']} clusters / "
          f"{large['vaults']} vaults; {options.latency_ms} ms latency on every request")
    header = (f"{'':22}{'wall s':>16}{'peak RSS MiB':>20}{'RG POSTs':>14}{'KV requests':>18}{'az CPU s':>16}"
              f"{'sim CPU s':>16}")
    print(header)
    for name in ("scan", "scan --read-secrets"):
        a, b = small["runs"][name], large["runs"][name]
        print(f"{name:22}{a['wall']:6.1f} ->{b['wall']:6.1f}{a['rss']:8.0f} ->{b['rss']:7.0f}"
              f"{a['graph']:5d} ->{b['graph']:4d}{a['vault']:7d} ->{b['vault']:6d}{a['cpu']:7.1f} ->{b['cpu']:6.1f}"
              f"{a['sim']:7.1f} ->{b['sim']:6.1f}")
        print(f"{'  ratio':22}{b['wall'] / a['wall']:15.2f}x{b['rss'] / a['rss']:19.2f}x"
              f"{b['graph'] / max(a['graph'], 1):13.2f}x{b['vault'] / max(a['vault'], 1):17.2f}x"
              f"{b['cpu'] / a['cpu']:15.2f}x{b['sim'] / max(a['sim'], 0.01):15.2f}x")
    graph_bound = math.ceil(large["clusters"] / 1000) + 8
    vault_bound = 4 * large["sets"] + large["vaults"]
    worst_graph = max(run["graph"] for run in large["runs"].values())
    print(f"bounds at {large['clusters']}: Resource Graph POSTs {worst_graph} <= ceil(clusters / 1000) + 8 = "
          f"{graph_bound}: {'yes' if worst_graph <= graph_bound else 'NO'}; Key Vault requests "
          f"{large['runs']['scan --read-secrets']['vault']} <= 4 x {large['sets']} object sets + "
          f"{large['vaults']} challenges = {vault_bound}: "
          f"{'yes' if large['runs']['scan --read-secrets']['vault'] <= vault_bound else 'NO'}")
    for name in ("scan", "scan --read-secrets"):
        print(f"goals (#25) of {name}: wall {_ratio_against(large, small, name, 'wall', 3)}; "
              f"peak RSS {_ratio_against(large, small, name, 'rss', 2)}")
    print(f"wall s of every run (best of {options.repeat} counts; peak RSS is the highest of them):")
    for name in ("scan", "scan --read-secrets"):
        for size, fleet in (("small", small), ("large", large)):
            print(f"  {name:22}{size:6} " + "  ".join(f"{wall:5.2f}" for wall in fleet["runs"][name]["walls"]))
    print(f"waterfall of scan --read-secrets at {large['clusters']} clusters (kind, requests, span):")
    print("\n".join(_waterfall(large["runs"]["scan --read-secrets"]["requests"])))


if __name__ == "__main__":
    main()
