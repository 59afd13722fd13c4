"""diagnose's analysis of 40,000 mount events against 2,000, measured in one run (#22 item 5).

The analysis must be linear in the number of FailedMount events: 20 times the events
should cost about 20 times the time, never the square (a list search per event made
40,000 events take 72-98 s from a snapshot, against 0.8 s for 2,000). Live collection
reads at most MAX_EVENT_PAGES pages per reason (sources/cluster.py), so the
snapshot path, which holds whatever a file holds, is the one that can grow.

Each round builds a snapshot from the article-issue-1 golden with N FailedMount events,
one per istiod pod, in kubelet's own words (tests/upstream/events/article-failedmount-timeout.yaml;
kubelet lists the pod's unattached volumes, among them its projected service-account volume
kube-api-access-<5 random characters>, named by kubernetes plugin/pkg/admission/serviceaccount).
Every message is distinct, the worst case for deduplication. The snapshot is written as
JSON, and ``load_snapshot`` + ``analyse`` are timed in this process. Rounds alternate the
two sizes to cancel drift on a busy machine; the medians and their ratio are printed.
Linear is 20; before the fix (a list search per event in rules/checks/cluster.py) it measured 146.

    .venv/bin/python bench/events_speed.py [--rounds 3] [--small 2000] [--large 40000]
"""

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from azext_meshca.verbs.diagnose import analyse, load_snapshot  # noqa: E402  pylint: disable=wrong-import-position
from sandbox import golden  # noqa: E402  pylint: disable=wrong-import-position

SCENARIO = "article-issue-1"
WARN_DAYS = 30


TIMEOUT_TEXT = ("Unable to attach or mount volumes: unmounted volumes=[cacerts], unattached volumes=[cacerts "
                "istio-token kube-api-access-{suffix} local-certs], failed to process volumes=[]: timed out waiting "
                "for the condition")
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery pkg/util/rand String's alphabet


def _suffix(index):
    digits = []
    for _ in range(5):
        index, digit = divmod(index, len(_ALPHABET))
        digits.append(_ALPHABET[digit])
    return "".join(digits)


def snapshot_with_events(base, count):
    """``base`` with ``count`` kubelet mount-timeout events, each about its own istiod pod."""
    snapshot = copy.deepcopy(base)
    template = snapshot["kube"]["events"]["data"][0]
    pod = template["involvedName"]
    snapshot["kube"]["events"]["data"] = [
        dict(template, involvedName=f"{pod[:-5]}{_suffix(index)}", message=TIMEOUT_TEXT.format(suffix=_suffix(index)))
        for index in range(count)]
    snapshot["kube"]["providerLogs"] = {"ok": True, "data": [], "error": None}
    return snapshot


def time_analysis(path):
    start = time.perf_counter()
    result = analyse(load_snapshot(path), WARN_DAYS)
    elapsed = time.perf_counter() - start
    codes = {item["code"] for item in result["findings"]}
    if "MCA807" not in codes:
        raise SystemExit(f"{path}: the mount failure was not found ({sorted(codes)})")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--large", type=int, default=40000)
    options = parser.parse_args()
    base = golden.load(SCENARIO)
    times = {options.small: [], options.large: []}
    with tempfile.TemporaryDirectory() as workdir:
        paths = {}
        for count in times:
            paths[count] = os.path.join(workdir, f"events-{count}.json")
            with open(paths[count], "w", encoding="utf-8") as handle:
                json.dump(snapshot_with_events(base, count), handle)
        time_analysis(paths[options.small])  # warm imports and caches
        for _ in range(options.rounds):
            for count in times:
                times[count].append(time_analysis(paths[count]))
    small, large = statistics.median(times[options.small]), statistics.median(times[options.large])
    print(f"{options.small:>6} events: median {small:.3f}s over {options.rounds} rounds")
    print(f"{options.large:>6} events: median {large:.3f}s over {options.rounds} rounds")
    linear = options.large / options.small
    print(f"ratio ({options.large} / {options.small}): {large / small:.1f} (linear: {linear:.0f})")


if __name__ == "__main__":
    main()
