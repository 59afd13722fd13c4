"""Golden snapshots: each sandbox scenario's snapshot, exported once by the real az.

    .venv/bin/python -m sandbox.golden                   # every scenario
    .venv/bin/python -m sandbox.golden article-issue-1   # just these

Each scenario's simulator is started, ``az aks mesh ca diagnose --export`` runs
through the real az (meshca installed from its wheel), and the snapshot lands in
``tests/testdata/golden/<scenario>.json``. A fast unit grid (tests/unit/test_golden.py)
runs ``analyse()`` over these files; the end-to-end grid proves that live collection
still yields them, values that differ from run to run aside (``comparable``).
Re-export after changing a scenario, a collector or the snapshot schema.

Snapshots hold no private-key bytes (diagnose refuses to export them), and the
certificates in them are made at export time by sandbox/certfactory.py.
"""

import json
import os
import re
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN_DIR = os.path.join(REPO, "tests", "testdata", "golden")
RG, CLUSTER = "myResourceGroup", "myAKSCluster"
WORKERS = 3

# What differs between two exports of the same scenario: times, the loopback ports the
# simulators got, and everything derived from keys made at run time (PEM bodies,
# fingerprints, serial numbers and names in istiod's x509 log lines).
_VARYING = [
    (re.compile(r"-----BEGIN ([A-Z ]+)-----[A-Za-z0-9+/=\s\\n]*?-----END \1-----"), r"<\1>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?"), "<time>"),
    (re.compile(r"\b[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+"), "<klog-time>"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
    (re.compile(r"SN: [0-9a-f]+"), "SN: <serial>"),
    (re.compile(r"port=\d+"), "port=<port>"),
    (re.compile(r"\b[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){15,}\b"), "<fingerprint>"),
    (re.compile(r"\b[0-9A-Fa-f]{32,}\b"), "<hex>"),
    (re.compile(r"\b\d+(\.\d+)?(ms|s|m|h)\b(?= ago|\))"), "<age>"),
]


def golden_path(scenario):
    return os.path.join(GOLDEN_DIR, scenario + ".json")


def load(scenario):
    with open(golden_path(scenario), encoding="utf-8") as handle:
        return json.load(handle)


def scenarios():
    """The scenarios that have a golden snapshot."""
    if not os.path.isdir(GOLDEN_DIR):
        return []
    return sorted(name[:-5] for name in os.listdir(GOLDEN_DIR) if name.endswith(".json"))


def _scrub(text):
    for pattern, replacement in _VARYING:
        text = pattern.sub(replacement, text)
    return text


def comparable(snapshot):
    """The snapshot with run-varying values replaced by placeholders (see _VARYING)."""
    def walk(value):
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        if isinstance(value, str):
            return _scrub(value)
        return value
    return walk(snapshot)


def difference(expected, actual, lines=12):
    """The first lines of a unified diff between two comparable snapshots ('' when equal)."""
    import difflib
    left = json.dumps(expected, indent=1, sort_keys=True).splitlines()
    right = json.dumps(actual, indent=1, sort_keys=True).splitlines()
    return "\n".join(list(difflib.unified_diff(left, right, "golden", "live", lineterm="", n=1))[:lines])


def export(scenario, workdir):
    """Start the scenario, run diagnose --export through the real az; the snapshot or None
    (diagnose refuses to export when the cluster itself cannot be read)."""
    from sandbox.sim.harness import start_simulator
    sim = start_simulator(scenario)
    try:
        az = sim.az(name="golden")
        path = os.path.join(workdir, scenario + ".json")
        proc = az.run("aks", "mesh", "ca", "diagnose", "-g", RG, "-n", CLUSTER, "--export", path, "-o", "none",
                      cwd=az.config_dir)
        if not os.path.exists(path):
            print(f"{scenario}: no snapshot (exit {proc.returncode}): {proc.stderr.strip()[-200:]}",
                  file=sys.stderr)
            return None
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    finally:
        sim.stop()


def main(argv=None):
    from sandbox.sim.scenario import list_scenarios
    names = list(sys.argv[1:] if argv is None else argv) or list_scenarios()
    os.makedirs(GOLDEN_DIR, exist_ok=True)
    from sandbox import azcli
    azcli.new_az("golden-wheel")  # builds and installs the wheel once, before the pool
    with tempfile.TemporaryDirectory(prefix="meshca-golden-") as workdir:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            for name, snapshot in zip(names, pool.map(lambda name: export(name, workdir), names)):
                if snapshot is None:
                    continue
                with open(golden_path(name), "w", encoding="utf-8") as handle:
                    json.dump(snapshot, handle, indent=1, sort_keys=True)
                    handle.write("\n")
                print("wrote", os.path.relpath(golden_path(name), REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
