"""The snapshot builder records an unexpected collector exception in the right shape."""

from concurrent.futures import Future

from azext_meshca.collectors.snapshot_builder import _result


def _failed_future():
    future = Future()
    future.set_exception(RuntimeError("collector bug"))
    return future


def test_a_raising_collector_is_recorded_in_the_shape_of_its_slot():
    vault, secrets, key_facts = _result(_failed_future(), lambda failed: (failed, {}, None))
    assert vault["ok"] is False and "collector bug" in vault["error"]["reason"]
    assert (secrets, key_facts) == ({}, None)
    kube = _result(_failed_future(), lambda failed: {"access": failed})
    assert set(kube) == {"access"} and kube["access"]["ok"] is False
