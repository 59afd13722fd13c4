"""diagnose through the real az against scenarios that show what real components print
(tests/upstream/): each test failed before the fix it names (issue 8, Build 4).

One simulator per scenario, all rows run a few at a time once per module.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.test_diagnose_scenarios import Diagnosis, diagnose

pytestmark = pytest.mark.e2e

SCENARIOS = ("diag-self-signed-busy", "diag-root-rejected", "diag-imds-unreachable", "kv-firewall",
             "kv-private-endpoint-pending", "diag-vault-other-tenant", "diag-rotation-failed")


@pytest.fixture(scope="module")
def runs(sim_factory):
    sims = {name: sim_factory.shared(name) for name in SCENARIOS}
    sim_factory.az_for(sims[SCENARIOS[0]])

    def run(name):
        return name, Diagnosis(diagnose(sim_factory.az_for(sims[name]), "-o", "json"))

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(pool.map(run, SCENARIOS))


def test_self_signed_istiod_is_found_beyond_a_busy_tail(runs):
    """istiod's CA lines come at startup; 30,000 traffic lines later a 5,000-line tail misses them."""
    run = runs["diag-self-signed-busy"]
    assert "MCA811" in run.codes("error"), run.summary()
    assert "Use roots from istio-ca-secret" in " ".join(run.find("MCA811")["evidence"])


def test_root_not_supported_is_a_rejection(runs):
    """'Updating new ROOT-CA not supported' contains the acceptance text; it is istiod refusing the root."""
    run = runs["diag-root-rejected"]
    assert "MCA304" in run.codes("error"), run.summary()
    assert any("Updating new ROOT-CA not supported" in item for item in run.find("MCA304")["evidence"])
    # istiod kept the old root; a restart would load the mounted new one, which no sidecar trusts
    # (issue 20): no remedy may say to restart it (capath.restart_breaks_trust, catalog.istiod_step)
    assert "MCA307" in run.codes("error") and "MCA308" in run.codes("error"), run.summary()
    for item in run.findings:
        assert "rollout restart deployment/istiod" not in item["remedy"], item


def test_imds_failure_is_not_blamed_on_the_vault_network(runs):
    run = runs["diag-imds-unreachable"]
    assert "MCA816" in run.codes("error"), run.summary()
    assert not run.codes() & {"MCA806", "MCA804", "MCA807"}, run.summary()


def test_firewall_proven_by_the_provider_is_the_first_error(runs):
    run = runs["kv-firewall"]
    first = run.findings[0]
    assert (first["code"], first["severity"]) == ("MCA502", "error"), run.summary()
    assert "MCA502" in run.result["summary"]["rootCauses"]
    assert any("ForbiddenByFirewall" in item for item in first["evidence"])


def test_a_pending_private_endpoint_gives_no_path(runs):
    run = runs["kv-private-endpoint-pending"]
    assert "MCA501" in run.codes("error"), run.summary()


def test_akv10032_is_the_tenant_mismatch(runs):
    run = runs["diag-vault-other-tenant"]
    assert {"MCA406", "MCA817"} <= run.codes("error"), run.summary()
    assert "MCA406" in (run.find("MCA817").get("explainedBy") or ())
    assert not run.codes() & {"MCA807", "MCA806"}, run.summary()


def test_mount_rotation_failed_events_are_read(runs):
    """Drivers up to v1.5 report a failed rotation poll as MountRotationFailed on a running pod."""
    run = runs["diag-rotation-failed"]
    assert {"MCA401", "MCA802"} <= run.codes("error") and "MCA801" not in run.codes(), run.summary()
    assert "MCA401" in run.find("MCA802")["explainedBy"]
