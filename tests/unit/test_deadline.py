"""The run's deadline (azext_meshca/sources/deadline.py) on a fake clock, and the token
retry rule with fake credentials (no network: the real clients are covered by
tests/e2e/test_fault_matrix.py through the real az)."""

import types

import pytest

from azext_meshca.sources import deadline as deadline_module
from azext_meshca.sources.deadline import (Deadline, DeadlineCredential, DeadlineExceeded, TokenRequestFailed,
                                           attach, deadline_of, detach)
from azext_meshca.sources.errors import describe_error


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_remaining_fits_and_check():
    clock = Clock()
    deadline = Deadline(10, clock=clock)
    assert deadline.remaining() == 10 and deadline.fits(9) and not deadline.fits(9.8)
    assert deadline.cap(30) == 10 and deadline.cap(3) == 3
    clock.now += 9.8
    with pytest.raises(DeadlineExceeded) as raised:
        deadline.check("Key Vault")
    assert str(raised.value) == "Key Vault did not answer within the run's --timeout of 10 s"
    assert describe_error(raised.value)["code"] == "Deadline"


def test_one_deadline_per_run_and_none_left_behind():
    cli_ctx = types.SimpleNamespace(data={})
    mine = attach(cli_ctx, Deadline(5))
    assert deadline_of(cli_ctx) is mine and deadline_of(cli_ctx) is mine
    detach(cli_ctx)
    assert deadline_of(cli_ctx) is not mine and deadline_of(cli_ctx).seconds == deadline_module.DEFAULT_TIMEOUT


class Flaky:
    """A credential factory whose first ``failures`` credentials fail."""

    def __init__(self, failures):
        self.failures, self.made = failures, 0

    def __call__(self):
        self.made += 1
        made = self.made

        class Credential:
            def get_token(self, *scopes, **kwargs):
                if made <= flaky.failures:
                    raise RuntimeError("503 from the identity endpoint")
                return "token"
        flaky = self
        return Credential()


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(deadline_module.time, "sleep", lambda seconds: None)


def test_two_token_failures_in_a_row_still_give_a_token_from_fresh_credentials():
    factory = Flaky(failures=2)
    assert DeadlineCredential(factory, Deadline(60), audience="Key Vault").get_token("https://vault.azure.net/.default") == "token"
    assert factory.made == 3  # a new credential each time: MSAL replays a cached 5xx otherwise


def test_lasting_token_failure_is_a_token_request_failure():
    credential = DeadlineCredential(Flaky(failures=99), Deadline(60), audience="Key Vault")
    with pytest.raises(TokenRequestFailed) as raised:
        credential.get_token("https://vault.azure.net/.default")
    assert str(raised.value) == "token request for Key Vault failed: 503 from the identity endpoint"
    described = describe_error(raised.value)
    assert described["code"] == "TokenRequestFailed" and "token request" in described["reason"]


def test_spent_deadline_asks_for_no_token():
    clock = Clock()
    deadline = Deadline(1, clock=clock)
    clock.now += 5
    factory = Flaky(failures=0)
    with pytest.raises(TokenRequestFailed, match="--timeout of 1 s"):
        DeadlineCredential(factory, deadline).get_token("https://management.azure.com/.default")
    assert factory.made == 0


@pytest.mark.parametrize("show", [False, True], ids=["validate-secrets", "show-cert"])
def test_a_live_certificate_source_is_read_within_one_run_deadline(monkeypatch, show):
    """validate-secrets and show-cert on a live source (verbs/certsource.py read_snapshot) read
    within one deadline for the whole read, as diagnose and scan do (deadline.run_within), and
    end it after. Without one, every lookup made a fresh default deadline, so a vault that never
    answered was bounded only per attempt: four attempts of READ_SECONDS per object."""
    from azext_meshca.sources import live
    from azext_meshca.verbs import certsource
    cli_ctx = types.SimpleNamespace(data={})
    seen = []

    def read_live_snapshot(ctx, warn_days, **_kwargs):
        seen.append((deadline_of(ctx), deadline_of(ctx)))
        return {"source": "live"}
    monkeypatch.setattr(live, "read_live_snapshot", read_live_snapshot)
    source = types.SimpleNamespace(cert_dir=None, named_files=None, object_names={}, resource_group="rg",
                                   name="aks", in_cluster=False, key_vault_id=None, vault_name=None)
    assert certsource.read_snapshot(cli_ctx, source, 30, show=show) == {"source": "live"}
    (first, again), = seen
    assert first is again and first.seconds == deadline_module.DEFAULT_TIMEOUT
    assert "meshca_deadline" not in cli_ctx.data        # ended with the read: no later command inherits it


def test_run_within_ends_the_deadline_when_the_block_fails():
    cli_ctx = types.SimpleNamespace(data={})
    with pytest.raises(RuntimeError):
        with deadline_module.run_within(cli_ctx, 7) as deadline:
            assert deadline_of(cli_ctx) is deadline and deadline.seconds == 7
            raise RuntimeError("a read failed")
    assert deadline_of(cli_ctx) is not deadline and cli_ctx.data == {}
