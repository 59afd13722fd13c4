"""az aks mesh ca rotate plan|advance|status through the real az against the rotation world
(sandbox/sim/kube_rotation.py): intermediate and root rotations on asm-1-29 and asm-1-30 end at
``done`` with zero moments at which two sidecars cannot verify each other; an interrupted run
resumes from another directory without the plan file; every refusal exits 4 with zero write
requests (the simulator's request log); --dry-run writes nothing.

Short TTLs (4s SECRET_TTL, 1s CSI poll) and one az process per step keep each run to seconds.
"""

import json
import os

import pytest

from sandbox import certfactory, rotation
from sandbox.sim.harness import start_simulator

pytestmark = pytest.mark.e2e

VAULT = "MyAzureKeyVault"
CLUSTER = ("-g", "myResourceGroup", "-n", "myAKSCluster")
WRITES = ("PUT", "POST", "PATCH", "DELETE")


# ARM's read actions are POSTs: listClusterUserCredential returns the kubeconfig and changes
# nothing (azure-rest-api-specs specification/containerservice/resource-manager/Microsoft.ContainerService/
# aks/stable/2024-02-01/managedClusters.json, ManagedClusters_ListClusterUserCredentials). rotate reads
# the cluster as diagnose does, so that read is not a write. MS Graph's getMemberObjects (the
# operator's groups, asked when its own grants do not allow the write; in the sandbox Graph is served
# on ARM's host) is a read too (learn.microsoft.com/graph/api/directoryobject-getmemberobjects).
READ_ACTIONS = ("/listClusterUserCredential", "/getMemberObjects")


def is_write(entry):
    if entry["method"] not in WRITES:
        return False
    if entry["method"] == "POST" and entry["path"].endswith(READ_ACTIONS):
        return False
    return entry.get("service") in ("arm", "kube") or str(entry.get("service")).startswith("kv:")


def rotate(az, *args, cwd=None):
    proc = az.run("aks", "mesh", "ca", "rotate", *args, *CLUSTER, "-o", "json", cwd=cwd, timeout=600)
    body = json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc, body


def new_dir(path, objects):
    certfactory.write_cert_dir(str(path), {key: value.encode() if isinstance(value, str) else value
                                           for key, value in objects.items()})
    return str(path)


def root_material(sim):
    return rotation.new_root_material(sim.world)


def intermediate_material(sim, ca_id="A2"):
    """A new intermediate under the world's live root (same root, new key; one per ``ca_id``)."""
    from sandbox.sim.scenario import make_pki_set
    return make_pki_set({"set_id": "A", "ca_id": ca_id, "cluster": sim.world.cluster["name"]})


def run_to_done(az, plan_file, folder, cwd, expected_stages):
    """advance --wait until status says done; the stages written, in order."""
    seen = []
    for _ in range(2 * len(expected_stages) + 2):
        proc, body = rotate(az, "advance", "--plan-file", plan_file, "--new-dir", folder, "--yes", "--wait",
                            "--timeout", "30", cwd=cwd)
        assert proc.returncode == 0, proc.stderr
        if body["action"] == "write":
            seen.append(body["stage"])
        if body["action"] == "done" or (body["rotation"]["stage"] == "done"):
            break
    status_proc, status = rotate(az, "status", cwd=cwd)
    assert status_proc.returncode == 0, status_proc.stderr
    return seen, status


@pytest.mark.parametrize("scenario", ["rotation-world", "rotation-world-1-30"])
@pytest.mark.parametrize("kind", ["intermediate", "root"])
def test_rotation_ends_at_done_without_a_violation(tmp_path, scenario, kind):
    """A root rotation runs with leaves that live 16s (renewal every ~8s), longer than az's own
    pace between two advances: writing R2 before every sidecar renewed under R1 would then
    break the invariant, so a gate that did not wait for renewal shows here."""
    if kind == "root":
        scenario = rotation.world_scenario(tmp_path, base=scenario, secretTtl="16s")
    with start_simulator(scenario) as sim:
        az = sim.az()
        material = root_material(sim) if kind == "root" else intermediate_material(sim)
        folder = new_dir(tmp_path / "new", material)
        plan_file = str(tmp_path / "plan.json")
        proc, body = rotate(az, "plan", "--new-dir", folder, "--plan-file", plan_file)
        assert proc.returncode == 0, proc.stderr
        assert body["rotation"]["kind"] == kind
        assert oct(os.stat(plan_file).st_mode & 0o777) == "0o600"
        with open(plan_file, encoding="utf-8") as handle:
            text = handle.read()
        assert "PRIVATE KEY" not in text and "BEGIN CERTIFICATE" not in text
        stages, status = run_to_done(az, plan_file, folder, str(tmp_path), ["I1"] if kind == "intermediate"
                                     else ["R1", "R2", "R3"])
        assert stages == (["I1"] if kind == "intermediate" else ["R1", "R2", "R3"])
        assert status["rotation"]["stage"] == "done", json.dumps(status["rotation"], indent=1)
        assert status["rotation"]["gate"]["holds"] is True
        assert sim.rotation.violation_count() == 0, sim.rotation.violations()[:3]
        puts = sim.requests(service="kv:" + VAULT, method="PUT")
        assert all(entry["status"] in (200, 401) for entry in puts)


def test_an_interrupted_stage_resumes_from_another_directory_without_the_plan(tmp_path):
    """I1's first write lands, the second is refused (a 403 from Key Vault, once): advance stops
    with one line. From another directory, with no plan file, status names the stage from Key
    Vault's tags; a plan for other material is refused (MCA350) while this one is under way;
    plan rebuilds the same plan, and advance finishes the stage and ends at done."""
    with start_simulator("rotation-world") as sim:
        az = sim.az()
        folder = new_dir(tmp_path / "new", intermediate_material(sim))
        first, other = tmp_path / "first", tmp_path / "other"
        first.mkdir()
        other.mkdir()
        proc, body = rotate(az, "plan", "--new-dir", folder, cwd=str(first))
        assert proc.returncode == 0, proc.stderr
        rotation_id = body["rotation"]["rotationId"]
        sim.add_fault("error", service="kv:" + VAULT, method="PUT", path="test-cert-chain", status=403, count=1)
        proc, _ = rotate(az, "advance", "--plan-file", "meshca-rotation-plan.json", "--new-dir", folder, "--yes",
                         "--debug", cwd=str(first))
        assert proc.returncode == 1 and "failed after 1 of 3 writes" in proc.stderr, proc.stderr[-2000:]
        key_lines = [line for line in intermediate_material(sim)["ca-key"].splitlines() if "-----" not in line]
        for text in (proc.stdout, proc.stderr):  # --debug logs requests, never the key written
            assert "PRIVATE KEY" not in text and not any(line in text for line in key_lines)
        proc, status = rotate(az, "status", cwd=str(other))
        assert proc.returncode == 0, proc.stderr
        assert status["rotation"]["rotationId"] == rotation_id and status["rotation"]["stage"] == "I1"
        assert status["rotation"]["gate"]["holds"] is False
        assert any("cert-chain, ca-cert" in line for line in status["rotation"]["gate"]["waitingFor"])
        # a plan for other material while this rotation is under way: MCA350, exit 4, nothing written
        rival = new_dir(tmp_path / "rival", intermediate_material(sim, ca_id="A3"))
        body = _refused(sim, az, "MCA350", "plan", "--new-dir", rival, cwd=str(other))
        assert rotation_id in json.dumps(body["findings"])
        assert not os.path.exists(other / "meshca-rotation-plan.json")
        proc, body = rotate(az, "plan", "--new-dir", folder, cwd=str(other))
        assert proc.returncode == 0, proc.stderr
        assert body["rotation"]["rotationId"] == rotation_id and body["rotation"]["resumes"] is True
        stages, status = run_to_done(az, "meshca-rotation-plan.json", folder, str(other), ["I1"])
        assert stages == ["I1"]
        assert status["rotation"]["stage"] == "done", json.dumps(status["rotation"], indent=1)
        assert sim.rotation.violation_count() == 0, sim.rotation.violations()[:3]
        written = [entry for entry in sim.requests(service="kv:" + VAULT, method="PUT") if entry["status"] == 200]
        assert len(written) == 3  # ca-key once, then cert-chain and ca-cert: nothing written twice


def _writes_during(sim, action):
    """(the command's result, the write requests made to Key Vault, ARM or the API server while it ran)."""
    before = len(sim.requests())
    result = action()
    made = [entry for entry in sim.requests()[before:] if is_write(entry)]
    return result, made


def _refused(sim, az, code, *args, cwd):
    (proc, body), made = _writes_during(sim, lambda: rotate(az, *args, cwd=cwd))
    assert proc.returncode == 4, (code, proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert code in {item["code"] for item in body["findings"]}, (code, body["findings"])
    assert made == [], (code, made)
    return body


def test_each_refusal_exits_4_and_writes_nothing(tmp_path):
    """One world, one refusal at a time (each undone before the next); the request log shows no
    write to Key Vault, ARM or the API server for any of them. --dry-run writes nothing either."""
    with start_simulator("rotation-world") as sim:
        az = sim.az()
        cwd = str(tmp_path)
        folder = new_dir(tmp_path / "new", root_material(sim))
        proc, _ = rotate(az, "plan", "--new-dir", folder, cwd=cwd)
        assert proc.returncode == 0, proc.stderr
        advance = ("advance", "--plan-file", "meshca-rotation-plan.json", "--new-dir", folder, "--yes")

        (proc, body), made = _writes_during(sim, lambda: rotate(az, *advance, "--dry-run", cwd=cwd))
        assert proc.returncode == 0 and body["action"] == "planned" and made == [], (proc.stderr, made)
        assert [item["object"] for item in body["writes"]] == ["root-cert"]

        _refused(sim, az, "MCA346", "advance", "--plan-file", "missing.json", "--new-dir", folder, cwd=cwd)
        other = new_dir(tmp_path / "other", intermediate_material(sim))
        _refused(sim, az, "MCA347", "advance", "--plan-file", "meshca-rotation-plan.json", "--new-dir", other,
                 cwd=cwd)
        bad = dict(root_material(sim))
        bad["ca-key"] = intermediate_material(sim)["ca-key"]  # a key that is not ca-cert's
        _refused(sim, az, "MCA343", "plan", "--new-dir", new_dir(tmp_path / "bad", bad), "--plan-file", "b.json",
                 cwd=cwd)
        _refused(sim, az, "MCA348", "plan", "--new-dir", new_dir(tmp_path / "same", sim_live_material(sim)),
                 "--plan-file", "s.json", cwd=cwd)

        config = sim.world.cluster["properties"]["addonProfiles"]["azureKeyvaultSecretsProvider"]["config"]
        config["enableSecretRotation"] = "false"
        _refused(sim, az, "MCA340", *advance, cwd=cwd)
        config["enableSecretRotation"] = "true"

        istio = sim.world.cluster["properties"]["serviceMeshProfile"]["istio"]
        istio["revisions"] = ["asm-1-29", "asm-1-30"]
        _refused(sim, az, "MCA342", *advance, cwd=cwd)
        istio["revisions"] = ["asm-1-29"]

        policies = sim.world.find_vault(VAULT)["properties"]["accessPolicies"]
        operator = next(item for item in policies if item["objectId"] == sim.world.operator["objectId"])
        granted = list(operator["permissions"]["secrets"])
        operator["permissions"]["secrets"] = ["get", "list"]
        _refused(sim, az, "MCA345", *advance, cwd=cwd)
        operator["permissions"]["secrets"] = granted

        client = rotation.secret_client(sim, VAULT)
        client.set_secret("test-ca-cert", sim_live_material(sim)["ca-cert"])  # someone else's write
        _refused(sim, az, "MCA344", *advance, cwd=cwd)
        assert sim.rotation.violation_count() == 0


def sim_live_material(sim):
    """The world's live set, as a tools/certs folder would hold it."""
    names = {obj.file[:-4]: obj.object_name for obj in sim.world.plugin_objects()}
    return {part: sim.world.secret_value(VAULT, name)[1] for part, name in names.items()}


def test_a_root_rotation_is_refused_while_multi_root_is_off(tmp_path):
    """MCA341: ISTIO_MULTIROOT_MESH off on the revision's istiod: plan exits 4, nothing written."""
    with start_simulator(rotation.world_scenario(tmp_path, multiRootMesh=False)) as sim:
        az = sim.az()
        folder = new_dir(tmp_path / "new", root_material(sim))
        _refused(sim, az, "MCA341", "plan", "--new-dir", folder, cwd=str(tmp_path))


GROUP = "66666666-6666-6666-6666-666666666666"  # kv-ca-rotators in sandbox/sim/scenarios/rotation-world-group.yaml


def _graph_asks(sim, since=0):
    """MS Graph getMemberObjects requests (Graph is served on ARM's host in the sandbox: the Loop
    cloud's microsoft_graph_resource_id is the simulator's ARM URL, sandbox/sim/harness.py)."""
    return [entry for entry in sim.requests(service="arm", method="POST")[since:]
            if entry["path"].endswith("/getMemberObjects")]


def _planned_without_refusal(sim, tmp_path):
    """(az, cwd, new material's folder) after a root rotation's plan that exits 0 without MCA345."""
    az = sim.az()
    cwd = str(tmp_path)
    folder = new_dir(tmp_path / "new", root_material(sim))
    proc, body = rotate(az, "plan", "--new-dir", folder, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    assert "MCA345" not in {item["code"] for item in body.get("findings") or []}
    return az, cwd, folder


def test_an_operator_who_may_set_only_through_a_group_is_not_refused(tmp_path):
    """rotation-world-group: the operator's own policy has get+list, its group's has set. plan asks
    Graph for the operator's groups (as the operator) and exits 0; with the membership dropped,
    plan refuses with MCA345, exit 4, and writes nothing; so it does while the group is not
    security-enabled."""
    with start_simulator("rotation-world-group") as sim:
        az, cwd, folder = _planned_without_refusal(sim, tmp_path)
        asked = _graph_asks(sim)
        assert [entry["principal"] for entry in asked] == [sim.world.operator["objectId"]], asked
        assert all(entry["status"] == 200 for entry in asked), asked

        # A Microsoft 365 (not security-enabled) group's policy does not count: an access policy
        # names "a user, service principal or security group" (AccessPolicyEntry.objectId).
        sim.world.groups[GROUP]["securityEnabled"] = False
        _refused(sim, az, "MCA345", "plan", "--new-dir", folder, "--plan-file", "m.json", cwd=cwd)
        sim.world.groups[GROUP]["securityEnabled"] = True

        sim.world.groups[GROUP]["members"] = []
        before = len(_graph_asks(sim))
        _refused(sim, az, "MCA345", "plan", "--new-dir", folder, "--plan-file", "g.json", cwd=cwd)
        assert len(_graph_asks(sim)) == before + 1  # the groups were asked, and none grants set
        assert not sim.requests(service="kv:" + VAULT, method="PUT")
        assert not os.path.exists(tmp_path / "g.json")


def test_a_debug_plan_through_a_group_shows_no_token(tmp_path):
    """--debug of a plan that asks Graph for the operator's groups: no token (a JWT's base64url
    header starts 'eyJ') on stdout or stderr; the Graph request was made in that run."""
    with start_simulator("rotation-world-group") as sim:
        az = sim.az()
        folder = new_dir(tmp_path / "new", root_material(sim))
        proc = az.run("aks", "mesh", "ca", "rotate", "plan", "--new-dir", folder, *CLUSTER, "-o", "json",
                      "--debug", cwd=str(tmp_path), timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert _graph_asks(sim), "the group lookup did not run"
        assert "getMemberObjects" in proc.stderr  # the debug log covers the Graph request
        assert "eyJ" not in proc.stderr and "eyJ" not in proc.stdout


ROTATOR = "aaaaaaaa-0000-0000-0000-0000000005e7"  # Mesh CA Rotator in sandbox/sim/scenarios/rotation-world-group-rbac.yaml


def test_an_operator_who_may_set_only_through_a_groups_custom_role_is_not_refused(tmp_path):
    """rotation-world-group-rbac: on an RBAC vault the operator holds Key Vault Secrets User; its
    group holds a custom role whose dataActions allow setSecret. plan reads the group's assignment
    and the custom role's definition and exits 0 (Key Vault would take the write: advance --yes
    writes the first stage); once the role lacks setSecret, plan refuses with MCA345, exit 4, and
    writes nothing."""
    with start_simulator("rotation-world-group-rbac") as sim:
        az, cwd, folder = _planned_without_refusal(sim, tmp_path)
        assert _graph_asks(sim), "the group lookup did not run"
        definitions = [entry for entry in sim.requests(service="arm", method="GET")
                       if entry["path"].lower().endswith("/roledefinitions/" + ROTATOR)]
        assert definitions, "the group's custom role was not read"
        proc, body = rotate(az, "advance", "--plan-file", "meshca-rotation-plan.json", "--new-dir", folder,
                            "--yes", cwd=cwd)
        assert proc.returncode == 0, proc.stderr
        assert body["action"] == "write" and body["written"], body

        sim.world.custom_roles[ROTATOR]["dataActions"] = ["Microsoft.KeyVault/vaults/secrets/getSecret/action"]
        body = _refused(sim, az, "MCA345", "plan", "--new-dir", folder, "--plan-file", "c.json", cwd=cwd)
        evidence = " ".join(next(item for item in body["findings"] if item["code"] == "MCA345")["evidence"])
        assert "setSecret" in evidence, evidence
        assert not os.path.exists(tmp_path / "c.json")
