"""The snapshot builder records an unexpected collector exception in the right shape,
and its dependency graph runs each node once, after what it needs."""

import threading

from azext_meshca.collectors.graph import Graph
from azext_meshca.collectors.snapshot_builder import _shaped


def _raising_node_result():
    graph = Graph()

    def bug():
        raise RuntimeError("collector bug")

    graph.add("bug", bug)
    return graph.run()["bug"]


def test_a_raising_collector_is_recorded_in_the_shape_of_its_slot():
    vault, secrets, key_facts = _shaped(_raising_node_result(), lambda failed: (failed, {}, None))
    assert vault["ok"] is False and "collector bug" in vault["error"]["reason"]
    assert (secrets, key_facts) == ({}, None)
    kube = _shaped(_raising_node_result(), lambda failed: {"access": failed})
    assert set(kube) == {"access"} and kube["access"]["ok"] is False


def test_graph_starts_a_node_when_its_needs_are_done_and_not_before():
    order, lock = [], threading.Lock()
    both_started = threading.Barrier(2, timeout=10)

    def node(name, value, wait=False):
        def run(*needed):
            if wait:
                both_started.wait()  # b and c run at the same time: neither waits for the other
            with lock:
                order.append(name)
            return value + sum(needed)
        return run

    graph = Graph()
    graph.add("a", node("a", 1))
    graph.add("b", node("b", 10, wait=True), needs=("a",))
    graph.add("c", node("c", 100, wait=True), needs=("a",))
    graph.add("d", node("d", 1000), needs=("b", "c"))
    results = graph.run()
    assert results == {"a": 1, "b": 11, "c": 101, "d": 1112}
    assert order[0] == "a" and order[-1] == "d" and set(order[1:3]) == {"b", "c"}
