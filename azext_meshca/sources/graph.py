"""A small dependency-graph executor for collection.

diagnose's reads form a graph: the cluster and the user credential first; then the vault
and the role assignments, which need the cluster; then the secrets (need the vault) and
the in-cluster objects (need the kubeconfig); then logs, which need pod names. Each read is
a node that names the nodes it needs; it starts the moment the last of them finishes,
so the run takes as long as its longest chain (its critical path), not the sum of
its stages.

Nodes never raise into the graph: a node function that raises anyway has its error
recorded as its result (``collected(error=...)``), and nodes that need it still run
and see that failed item. One place waits for the whole run (``Graph.run``), so the
run's deadline (sources/deadline.py) hangs off it: a node still running when it
passes, and every node that was still waiting, is a failed item saying so (a partial
result, never a hang).
"""

import threading
from concurrent.futures import ThreadPoolExecutor

from azext_meshca.sources.errors import describe_error
from azext_meshca.model.snapshot import collected

# Every node is I/O-bound; enough threads that no ready node waits for a free one.
MAX_WORKERS = 16
# Seconds past the deadline the graph still waits: each request's own timeout is capped
# by the deadline, so a node cut that way ends a moment later and says which service
# did not answer, which is more than "not finished" can say.
DEADLINE_GRACE_SECONDS = 2


class Graph:
    """Named nodes, each run once on a thread pool as soon as the nodes it needs are done.

    ``add(name, function, needs)``: ``function`` is called with one positional argument
    per needed node, in the order of ``needs``, each the result of that node.
    ``run(deadline)`` returns ``{name: result}`` for every node; with a deadline, a node
    not done by then has a failed item as its result.
    """

    def __init__(self, max_workers=MAX_WORKERS):
        self._max_workers = max_workers
        self._nodes = {}
        self._order = []

    def add(self, name, function, needs=()):
        if name in self._nodes:
            raise ValueError(f"node {name} added twice")
        missing = [need for need in needs if need not in self._nodes]
        if missing:
            raise ValueError(f"node {name} needs unknown node(s) {', '.join(missing)}")
        self._nodes[name] = (function, tuple(needs))
        self._order.append(name)
        return name

    def run(self, deadline=None):
        results, waiting = {}, {name: set(needs) for name, (_, needs) in self._nodes.items()}
        dependents = {name: [] for name in self._nodes}
        for name, (_, needs) in self._nodes.items():
            for need in needs:
                dependents[need].append(name)
        lock, all_done = threading.Lock(), threading.Event()
        if not self._nodes:
            return results

        pool = ThreadPoolExecutor(max_workers=self._max_workers)

        def start(name):
            try:
                pool.submit(run_node, name)
            except RuntimeError:  # the pool was shut down: the deadline passed
                pass

        def run_node(name):
            function, needs = self._nodes[name]
            try:
                result = function(*[results[need] for need in needs])
            except Exception as error:  # pylint: disable=broad-except
                result = collected(error=describe_error(error))
            ready = []
            with lock:
                if all_done.is_set():
                    return  # too late: the run has been answered without this node
                results[name] = result
                for dependent in dependents[name]:
                    waiting[dependent].discard(name)
                    if not waiting[dependent]:
                        ready.append(dependent)
                finished = len(results) == len(self._nodes)
                if finished:
                    all_done.set()
            for dependent in ready:
                start(dependent)

        # Decide the first nodes before starting any: once one runs, it may empty
        # another's needs and start it itself.
        for name in [name for name in self._order if not waiting[name]]:
            start(name)
        timeout = None if deadline is None else deadline.remaining() + DEADLINE_GRACE_SECONDS
        if all_done.wait(timeout):
            pool.shutdown(wait=True)
            return results
        with lock:
            all_done.set()
            answered = dict(results)
        # Threads still running end by their own capped timeouts; nobody waits for them.
        pool.shutdown(wait=False, cancel_futures=True)
        for name in self._order:
            if name not in answered:
                answered[name] = collected(error=_cut(name, deadline))
        return answered


def _cut(name, deadline):
    """A node the deadline cut: the same error item a read cut by it gives (describe_error)."""
    from azext_meshca.sources.deadline import DeadlineExceeded
    return describe_error(DeadlineExceeded(deadline.cut("the read of " + name)))


def fan_out(function, items, max_workers=8):
    """``[function(item) for item in items]``, concurrently, in the items' order.

    For the few reads whose number is known only at run time (one log per pod, one
    secret per plug-in object); runs on its own short-lived threads so a graph node
    can wait for it without taking the graph's threads.
    """
    items = list(items)
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(items))) as pool:
        return list(pool.map(function, items))
