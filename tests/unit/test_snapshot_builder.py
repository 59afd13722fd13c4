"""The snapshot builder records an unexpected collector exception in the right shape,
and its dependency graph runs each node once, after what it needs."""

import threading

from azext_meshca.sources.graph import Graph
from azext_meshca.sources.snapshot_builder import _shaped


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


def test_assembled_items_are_each_objects_own():
    """One secret named as both ca-cert and ca-key (a combined PEM), shared by two clusters
    (scan): the value text goes into ca-cert's item only, never into ca-key's or the shared read."""
    from azext_meshca.sources.snapshot_builder import assemble_secrets
    from azext_meshca.model.snapshot import collected
    shared = {"combined": (collected({"name": "combined", "enabled": True}), "PEM TEXT", {"type": "RSA"})}
    wanted = {"ca-cert": "combined", "ca-key": "combined"}
    first, facts = assemble_secrets(wanted, (shared, None))
    second, _ = assemble_secrets(wanted, (shared, None))
    assert first["ca-cert"]["data"]["value"] == "PEM TEXT"
    assert "value" not in first["ca-key"]["data"]
    assert "value" not in shared["combined"][0]["data"]
    first["ca-cert"]["data"]["value"] = "changed"
    assert second["ca-cert"]["data"]["value"] == "PEM TEXT"
    assert facts == {"type": "RSA"} and facts is not shared["combined"][2]
