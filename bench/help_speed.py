"""Wall time of ``az aks mesh ca -h`` against ``az aks mesh -h``, measured in one run.

The extension must not slow down help: both commands load the same core modules, so
the ratio should stay close to 1.0. Runs alternate to cancel drift on a busy machine.

    .venv/bin/python bench/help_speed.py [--runs 7]
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sandbox.azcli import new_az  # noqa: E402  pylint: disable=wrong-import-position


def _time_once(az, args):
    start = time.perf_counter()
    proc = az.run(*args)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"az {' '.join(args)} failed: {proc.stderr}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args()
    az = new_az("bench-help")
    baseline_args, ours_args = ("aks", "mesh", "-h"), ("aks", "mesh", "ca", "-h")
    _time_once(az, baseline_args)  # warm the command index and file cache
    _time_once(az, ours_args)
    baseline, ours = [], []
    for _ in range(options.runs):
        baseline.append(_time_once(az, baseline_args))
        ours.append(_time_once(az, ours_args))
    base_median, ours_median = statistics.median(baseline), statistics.median(ours)
    print(f"az aks mesh -h     median {base_median:.3f}s over {options.runs} runs")
    print(f"az aks mesh ca -h  median {ours_median:.3f}s over {options.runs} runs")
    print(f"ratio (ours / baseline): {ours_median / base_median:.2f}")


if __name__ == "__main__":
    main()
