"""Grid for the rotation checks (MCA301-MCA306): poll settings, and whether Key Vault's
roots and certificates reached the cacerts secret, istiod and the workload namespaces."""

import datetime

import pytest

from azext_meshca.rules.checks import rotation
from tests.unit import snapshots as s


def _addon(**values):
    return lambda snapshot: s.addon(snapshot).update(values)


_key_vault_holds = s.key_vault_holds  # Key Vault updated; the cluster still holds the healthy set


def _configmaps(roots_by_namespace):
    def mutate(snapshot):
        s.kube_data(snapshot, "rootConfigMaps")[:] = [
            {"namespace": namespace, "rootFingerprints": roots} for namespace, roots in roots_by_namespace.items()]
    return mutate


def _cacerts_from(**variant):
    def mutate(snapshot):
        snapshot["kube"]["cacerts"]["data"] = s._cacerts(s.plugin_set(**variant))
    return mutate


ROOT_A = s.fingerprints(s.plugin_set()["root-cert"])
ROOT_B = s.fingerprints(s.plugin_set(set_id="B")["root-cert"])
SYSTEM = "aks-istio-system"


def _root_changed_not_picked_up(snapshot):
    """Key Vault and cacerts moved to root B; istiod (configmaps) still trusts root A."""
    _key_vault_holds(set_id="B")(snapshot)
    _cacerts_from(set_id="B")(snapshot)
    _configmaps({SYSTEM: ROOT_A, "default": ROOT_A})(snapshot)


GRID = [
    ("healthy", [], ["MCA303"]),
    ("rotation off", [_addon(enableSecretRotation="false")], ["MCA301"]),
    ("rotation unset", [_addon(enableSecretRotation=None)], ["MCA301"]),
    ("rotation True (case)", [_addon(enableSecretRotation="True")], ["MCA303"]),
    ("poll 15m", [_addon(rotationPollInterval="15m")], ["MCA302"]),
    ("poll 1h30m", [_addon(rotationPollInterval="1h30m")], ["MCA302"]),
    ("poll 120s", [_addon(rotationPollInterval="120s")], ["MCA303"]),
    ("poll 10m (limit)", [_addon(rotationPollInterval="10m")], ["MCA303"]),
    ("poll 10m1s", [_addon(rotationPollInterval="10m1s")], ["MCA302"]),
    ("poll unset: default 2m", [_addon(rotationPollInterval=None)], ["MCA303"]),
    ("add-on disabled: MCA201 covers it", [_addon(enabled=False)], []),
    ("root changed, not picked up", [_root_changed_not_picked_up], ["MCA303", "MCA304"]),
    ("rotation under way: KV old+new, configmap old", [_key_vault_holds(rotation=True), _cacerts_from(rotation=True)],
     ["MCA303"]),
    ("old root retired: KV new, configmap old+new",
     [_key_vault_holds(set_id="B"), _cacerts_from(set_id="B"), _configmaps({SYSTEM: ROOT_A + ROOT_B})],
     ["MCA303"]),
    ("cacerts lags (new intermediate)", [_key_vault_holds(ca_id="A2")], ["MCA303", "MCA305"]),
    ("cacerts lags, rotation off", [_key_vault_holds(ca_id="A2"), _addon(enableSecretRotation="false")],
     ["MCA301", "MCA305"]),
    ("no cacerts secret (newer add-on)", [lambda snap: snap["kube"]["cacerts"].update(data=None)], ["MCA303"]),
    ("one namespace on another root", [_configmaps({SYSTEM: ROOT_A, "default": ROOT_A, "shop": ROOT_B})],
     ["MCA303", "MCA306"]),
    ("configmaps not collected", [_root_changed_not_picked_up,
                                  lambda snap: s.fail(snap, ("kube", "rootConfigMaps"), "403", 403)], ["MCA303"]),
    ("cluster skipped", [_root_changed_not_picked_up, lambda snap: snap.update(kube=None)], ["MCA303"]),
    ("no plug-in CA", [_addon(enableSecretRotation="false"), lambda snap: s.cluster(snap).update(plugin=None)], []),
]


@pytest.mark.parametrize("mutators, expected", [case[1:] for case in GRID], ids=[case[0] for case in GRID])
def test_rotation_grid(mutators, expected):
    assert s.codes(s.run_module(rotation.CHECKS, s.applied(*mutators))) == expected


def _only(code, *mutators):
    [found] = [item for item in s.run_module(rotation.CHECKS, s.applied(*mutators)) if item["code"] == code]
    return found


@pytest.mark.parametrize("text, seconds", [
    ("2m", 120), ("1h30m", 5400), ("120s", 120), ("1m30s", 90), ("500ms", 0.5), ("0", 0),
    ("", None), ("2 minutes", None), ("m", None), ("10", None), ("1h-5m", None),
])
def test_go_durations(text, seconds):
    assert rotation.parse_go_duration(text) == seconds


def test_info_says_how_long_a_change_takes():
    found = _only("MCA303")
    assert "within about 2m for an intermediate" in found["message"]
    # was "restarts istiod every 10 minutes": the cronjob checks every 10 minutes and restarts
    # istiod only when it sees a new root (the runbook, learn.microsoft.com/troubleshoot/azure/
    # azure-kubernetes/extensions/istio-add-on-plug-in-ca-certificates)
    assert ("cronjob istio-cert-validator-cronjob-asm-1-24 checks every 10 minutes and restarts istiod when it "
            "sees a new root") in found["message"]
    found = _only("MCA303", lambda snap: s.kube_data(snap, "cronjobs").update({s.REVISION: None}))
    # Without the cronjob istiod hot-reloads (istio_ca.go): no restart advice (issue #20).
    assert "hot-reloads" in found["message"] and "restart" not in found["message"]


def test_long_interval_message():
    found = _only("MCA302", _addon(rotationPollInterval="1h30m"))
    assert "takes up to 1h30m" in found["message"]
    assert "--rotation-poll-interval 2m" in found["remedy"]


def test_root_mismatch_names_both_roots_and_the_next_cronjob_run():
    found = _only("MCA304", _root_changed_not_picked_up)
    assert "SHA-256 " + ROOT_A[0][:23] in found["message"]
    assert "SHA-256 " + ROOT_B[0][:23] in found["message"]
    now = s.NOW.replace(second=0, microsecond=0)
    upcoming = now.replace(minute=0) + datetime.timedelta(minutes=(now.minute // 10 + 1) * 10)
    assert "next run is at about {}".format(s.iso(upcoming)) in found["message"]
    assert "rollout restart deployment/istiod-asm-1-24" in found["remedy"]


@pytest.mark.parametrize("cronjob, phrase", [
    (None, "a restart loads it without that check"),
    ({"name": "istio-cert-validator-cronjob-asm-1-24", "schedule": "*/10 * * * *", "suspend": True,
      "lastScheduleTime": None}, "is suspended"),
])
def test_root_mismatch_restart_mechanism(cronjob, phrase):
    found = _only("MCA304", _root_changed_not_picked_up,
                  lambda snap: s.kube_data(snap, "cronjobs").update({s.REVISION: cronjob}))
    assert phrase in found["message"]


def test_root_mismatch_quotes_istiod_multi_root_line():
    line = "2026-11-29T14:10:00Z\twarn\tMulti root is disabled, updating new ROOT-CA not supported"
    found = _only("MCA304", _root_changed_not_picked_up,
                  lambda snap: s.kube_data(snap, "istiodLogs")[0]["lines"].append(line))
    assert any("Multi root is disabled" in item for item in found["evidence"])


def test_lag_note_follows_rotation_setting():
    assert "within about 2m" in _only("MCA305", _key_vault_holds(ca_id="A2"))["message"]
    found = _only("MCA305", _key_vault_holds(ca_id="A2"), _addon(enableSecretRotation="false"))
    assert "rotation is disabled" in found["message"]
    assert "ca-cert, cert-chain" in found["message"]


def test_namespace_list_is_capped():
    roots = {SYSTEM: ROOT_A}
    roots.update({"team-{:02d}".format(number): ROOT_B for number in range(12)})
    found = _only("MCA306", _configmaps(roots))
    assert found["message"].startswith("12 namespace(s)")
    assert "team-09 (and 2 more)" in found["message"]


def test_next_cron_run():
    now = datetime.datetime(2026, 11, 29, 14, 57, 30, tzinfo=datetime.timezone.utc)
    assert rotation.next_cron_run("*/10 * * * *", now) == now.replace(hour=15, minute=0, second=0)
    assert rotation.next_cron_run("0 3 * * *", now) is None
