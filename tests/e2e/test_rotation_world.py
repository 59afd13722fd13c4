"""Issue #24's evidence that the rotation world can tell a safe order from an unsafe one.

The world (sandbox/sim/kube_rotation.py) runs in wall-clock time: the CSI driver polls Key
Vault every second, each istiod pod hot-reloads by its revision's rule, and sidecars renew at
half their SECRET_TTL. After every event it checks that every ordered pair of sidecars can
verify each other with real signatures.

* The AKS doc's root rotation (all four objects at once, root-cert = old + new), replayed with
  the real ``az keyvault secret set``, breaks the invariant: istiod signs under the new root
  before the sidecars trust it (istio#44932).
* The same rotation in issue #24's stages, played by hand (R1, wait, R2, wait, R3, wait),
  never does, on asm-1-29 (bytes rule) and asm-1-30 (DER sets).
"""

import base64
import os

import pytest
import requests

from sandbox import rotation
from sandbox.sim.harness import start_simulator
from sandbox.sim.kube_rotation import UNKNOWN_ROOT

pytestmark = pytest.mark.e2e

VAULT = "MyAzureKeyVault"


@pytest.fixture
def world_sim(request):
    simulator = start_simulator(getattr(request, "param", "rotation-world"))
    yield simulator
    simulator.stop()


def _kube_get(sim, path):
    """A GET on the simulated API server, as any client with the cluster user's token makes it."""
    response = requests.get(sim.kube_url + path, headers={"Authorization": "Bearer " + sim.world.kube_user_token},
                            verify=sim.pki.ca_file, timeout=10)
    response.raise_for_status()
    return response.json() if "/log" not in path else response.text


def test_the_aks_doc_order_breaks_the_invariant(tmp_path):
    """Leaves that live 12s (renewal every ~6s) against a 1s poll: the doc's four commands,
    back to back in one az, land within one or two polls, as they do against a real 2-minute
    poll and a 24h SECRET_TTL."""
    with start_simulator(rotation.world_scenario(tmp_path, secretTtl="12s")) as sim:
        world = sim.rotation
        writes = rotation.doc_root_rotation(sim.world, rotation.new_root_material(sim.world))
        assert rotation.wait_until(lambda: world.tick >= 4, 10)  # the world runs ...
        assert world.violation_count() == 0  # ... and holds before anybody writes
        codes = rotation.az_keyvault_set(sim.az(with_extension=False), VAULT, writes)
        assert codes == [0, 0, 0, 0]
        assert rotation.wait_until(lambda: world.violation_count() > 0, 15), world.events()
        violation = world.violations()[0]
        assert violation["reason"] == UNKNOWN_ROOT, violation
        assert {"tick", "time", "presenter", "verifier", "detail"} <= set(violation)
        puts = [e for e in sim.requests(service="kv:" + VAULT, method="PUT") if e["status"] == 200]
        assert len(puts) == 4


@pytest.mark.parametrize("world_sim", ["rotation-world", "rotation-world-1-30"], indirect=True)
def test_the_safe_order_by_hand_keeps_every_pair_verifying(world_sim):
    sim, world = world_sim, world_sim.rotation
    new = rotation.new_root_material(sim.world)
    client = rotation.secret_client(sim, VAULT)
    for stage, writes in rotation.safe_root_rotation(sim.world, new):
        for name, text in writes:
            client.set_secret(name, text, tags={"stage": stage})
        assert world.wait_for_gate(timeout=20), (stage, world.state())
    assert world.violation_count() == 0, world.violations()[:5]
    reloads = world.events("reload")
    assert reloads and all(event["accepted"] for event in reloads), reloads
    # the world did rotate: every sidecar holds a leaf under the new root and trusts it alone
    new_root = new["root-cert"]
    assert world.configmap_root() == new_root
    for sidecar in world.sidecars:
        assert sidecar.bundle_text == new_root
        assert rotation.chain_trusted_by(sidecar.chain, new_root)


def test_the_product_sees_the_world_through_real_apis(world_sim):
    """What i24p's gates read: the mount status versions, istiod's log with the reload's
    timestamp, the configmaps and the webhook, all changing after a write (R1)."""
    sim, world = world_sim, world_sim.rotation
    old_root = sim.world.secret_value(VAULT, "test-root-cert")[1]
    new = rotation.new_root_material(sim.world)
    version = rotation.secret_client(sim, VAULT).set_secret("test-root-cert", old_root + new["root-cert"]) \
        .properties.version
    assert world.wait_for_gate(timeout=20)
    statuses = _kube_get(sim, "/apis/secrets-store.csi.x-k8s.io/v1/namespaces/aks-istio-system/"
                              "secretproviderclasspodstatuses")["items"]
    assert len(statuses) == 2
    for status in statuses:
        assert {"id": "secret/test-root-cert", "version": version} in status["status"]["objects"]
    pods = _kube_get(sim, "/api/v1/namespaces/aks-istio-system/pods?labelSelector=app%3Distiod")["items"]
    for pod in pods:
        log = _kube_get(sim, f"/api/v1/namespaces/aks-istio-system/pods/{pod['metadata']['name']}/log"
                             "?container=discovery")
        assert "\tinfo\tUpdating new ROOT-CA" in log and "Update trust anchor with new root cert" in log
    for namespace in ("a", "b", "aks-istio-system"):
        configmap = _kube_get(sim, f"/api/v1/namespaces/{namespace}/configmaps/istio-ca-root-cert")
        assert configmap["data"]["root-cert.pem"] == old_root + new["root-cert"]
    hook = _kube_get(sim, "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/"
                          "istio-sidecar-injector-asm-1-29")
    assert base64.b64decode(hook["webhooks"][0]["clientConfig"]["caBundle"]).decode() == old_root + new["root-cert"]
    proxies = _kube_get(sim, "/api/v1/namespaces/a/pods")["items"]
    env = {e["name"]: e["value"] for e in proxies[0]["spec"]["containers"][1]["env"]}
    assert env["SECRET_TTL"] == "4s"


def test_a_refused_root_keeps_the_old_ca(tmp_path):
    """ISTIO_MULTIROOT_MESH off: istiod logs the refusal, keeps signing under the old CA, and
    the configmaps keep the old root (the refusal meshca's rotate must foresee)."""
    with start_simulator(rotation.world_scenario(tmp_path, multiRootMesh=False)) as sim:
        world = sim.rotation
        old_root = sim.world.secret_value(VAULT, "test-root-cert")[1]
        new = rotation.new_root_material(sim.world)
        rotation.secret_client(sim, VAULT).set_secret("test-root-cert", old_root + new["root-cert"])
        assert rotation.wait_until(lambda: len(world.events("reload")) == 2, 10)
        assert not any(event["accepted"] for event in world.events("reload"))
        assert world.configmap_root() == old_root
        lines = [text for _, _, text in world.pod_lines("asm-1-29", 0)]
        assert "Multi root is disabled, updating new ROOT-CA not supported" in lines
        assert not world.gate_holds()


@pytest.mark.parametrize("world_sim, accepted", [("rotation-world", False), ("rotation-world-1-30", True)],
                         indirect=["world_sim"])
def test_an_intermediate_rotation_that_rewrites_root_cert_in_crlf(world_sim, accepted):
    """Issue #24's I1 leaves root-cert alone because of this: the same root with other line
    endings is other bytes, which 1.28/1.29 refuse whole (bytes.Contains), intermediate
    included; 1.30 compares DER sets and takes it."""
    sim, world = world_sim, world_sim.rotation
    old_root = sim.world.secret_value(VAULT, "test-root-cert")[1]
    new = rotation.new_intermediate_material(sim.world)
    client = rotation.secret_client(sim, VAULT)
    written = {}
    for name, text in [("test-root-cert", old_root.replace("\n", "\r\n")), ("test-ca-key", new["ca-key"]),
                       ("test-cert-chain", new["cert-chain"]), ("test-ca-cert", new["ca-cert"])]:
        written[name] = client.set_secret(name, text).properties.version
    assert rotation.wait_until(lambda: world.mounted_versions() == written, 10)

    def reloads_since_the_last_mount():
        mounted = world.events("mounted")[-1]["at"]
        return [event for event in world.events("reload") if event["at"] > mounted]
    assert rotation.wait_until(lambda: len(reloads_since_the_last_mount()) == len(world.istiods), 5)
    last = reloads_since_the_last_mount()[-1]
    assert last["accepted"] is accepted and last["outcome"] == ("root-accepted" if accepted else "root-rejected")
    signer = new["ca-cert"] if accepted else sim.world.pki["good"]["ca-cert"]
    assert all(istiod.signer.files["ca-cert.pem"] == signer for istiod in world.istiods)
    if accepted:
        assert world.wait_for_gate(timeout=20)
    assert world.violation_count() == 0


def test_an_upgrade_in_progress_runs_two_revisions(tmp_path):
    """Two revisions (a canary upgrade): istiod pods and a webhook per revision; the
    configmaps come from the leader (the first revision listed)."""
    path = rotation.world_scenario(tmp_path, revisions=["asm-1-29", "asm-1-30"])
    with start_simulator(path) as sim:
        pods = _kube_get(sim, "/api/v1/namespaces/aks-istio-system/pods?labelSelector=app%3Distiod")["items"]
        assert sorted({pod["metadata"]["labels"]["istio.io/rev"] for pod in pods}) == ["asm-1-29", "asm-1-30"]
        assert len(sim.rotation.istiods) == 4
        for revision in ("asm-1-29", "asm-1-30"):
            _kube_get(sim, "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/"
                           f"istio-sidecar-injector-{revision}")


def test_the_demo_calls_back_per_stage_and_reports_over_the_control_path():
    """./scripts/demo rotation's function, as i24p wires the product into it: prepare once with
    the new material's directory, advance and on_step once per stage."""
    seen = []

    def prepare(_sim, new_dir):
        seen.append(("prepare", sorted(os.listdir(new_dir))))

    def on_step(sim, stage):
        report = requests.get(sim.arm_url + "/_sim/rotation", verify=sim.pki.ca_file, timeout=10).json()
        seen.append((stage, report["state"]["violations"], len(report["state"]["sidecars"])))

    count = rotation.demo("rotation-world-1-30", prepare=prepare, on_step=on_step, out=lambda text: None)
    assert count == 0
    assert seen == [("prepare", ["ca-cert.pem", "ca-key.pem", "cert-chain.pem", "root-cert.pem"]),
                    ("R1", 0, 4), ("R2", 0, 4), ("R3", 0, 4)]
