"""az aks mesh ca rotate's pure parts (checks/rotate.py): the plan, the order of a stage's writes,
the stage machine over Key Vault's tags, the gates, and one snapshot per refusal."""

import copy
import datetime
import json
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from azext_meshca.model.snapshot_schema import OPERATOR_FACTS, check as check_shape
from azext_meshca.rules import capath
from azext_meshca.rules.checks import rotate
from azext_meshca.rules.runner import run_rules
from azext_meshca.sources import rotation as source
from azext_meshca.verbs.rotate import run as verb
from sandbox import certfactory as cf

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(__file__)), "testdata", "golden", "healthy-asm-1-28.json")
NAMES = {"root-cert": "test-root-cert", "ca-cert": "test-ca-cert", "ca-key": "test-ca-key",
         "cert-chain": "test-cert-chain"}
START = {"root-cert": "r0", "ca-cert": "c0", "ca-key": "k0", "cert-chain": "h0"}
NOW = datetime.datetime(2026, 12, 7, 13, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module")
def sets():
    return {"live": cf.make_plugin_set(set_id="A"), "intermediate": cf.make_plugin_set(set_id="A", ca_id="A2"),
            "root": cf.make_plugin_set(set_id="B")}


def material(tmp_path, objects):
    cf.write_cert_dir(str(tmp_path), objects)
    return verb.new_material(str(tmp_path))


def golden():
    with open(GOLDEN, encoding="utf-8") as handle:
        return json.load(handle)


def versions(start=START, extra=None):
    """Key Vault's versions: the start ones, then ``extra`` [(object, version, created, tags)]."""
    result = {obj: [{"version": version, "created": "2026-12-01T00:00:00Z", "enabled": True, "tags": {}}]
              for obj, version in start.items()}
    for obj, version, created, tags in extra or ():
        result[obj].append({"version": version, "created": created, "enabled": True, "tags": tags})
    return result


def plan_for(live, new):
    return rotate.build_plan(target={"resourceGroup": "rg", "cluster": "c"}, vault={"id": "v", "name": "v"},
                             secret_names=NAMES, revisions=["asm-1-28"], start=START,
                             start_root_pem=live["root-cert"].decode(), new_material=new)


# The golden vault's access policy gives the operator get, list, set and delete.
OPERATOR = "11111111-1111-1111-1111-111111111111"


def operator_facts(**facts):
    """The ``operator`` facts sources/rotation.operator_facts reads (MCA345 judges them), in their
    documented shape (model/snapshot_schema.py OPERATOR_FACTS)."""
    facts = dict({"objectId": OPERATOR, "assignments": None, "groups": [], "error": None, "groupsError": None},
                 **facts)
    check_shape(facts, OPERATOR_FACTS)
    return facts


def with_slot(snapshot, **slot):
    base = {"command": "advance", "plan": None, "newMaterial": None, "versions": versions(), "operator":
            operator_facts(), "startRootPem": "", "currentRootPem": ""}
    base.update(slot)
    snapshot = copy.deepcopy(snapshot)
    snapshot["rotation"] = base
    return snapshot


def codes(snapshot):
    return {item["code"] for item in run_rules(snapshot, select=tuple(rotate.CHECKS)).findings}


# --------------------------------------------------------------------------- the plan

def test_kind_is_intermediate_only_for_the_same_set_of_roots(sets):
    live = sets["live"]["root-cert"].decode()
    assert rotate.rotation_kind(live, sets["intermediate"]["root-cert"].decode()) == rotate.INTERMEDIATE
    assert rotate.rotation_kind(live, live.replace("\n", "\r\n")) == rotate.INTERMEDIATE  # same DER set
    assert rotate.rotation_kind(live, sets["root"]["root-cert"].decode()) == rotate.ROOT


def test_r1_keeps_the_live_bytes_so_1_29_accepts_it(sets):
    live, new = sets["live"]["root-cert"].decode(), sets["root"]["root-cert"].decode()
    both = rotate.combined_root(live, new)
    assert both.startswith(live) and both.endswith(new)
    for version in ((1, 29), (1, 30)):
        assert capath.root_gate(version, True, live, both) == capath.ACCEPTED
        assert capath.root_gate(version, True, both, new) == capath.ACCEPTED


def test_the_plan_is_deterministic_and_holds_no_secret(tmp_path, sets):
    new = material(tmp_path, sets["root"])
    first, second = plan_for(sets["live"], new), plan_for(sets["live"], new)
    assert first == second and first["rotationId"] == "mr-" + first["planHash"][:12]
    assert [stage["name"] for stage in first["stages"]] == ["R1", "R2", "R3"]
    assert rotate.plan_hash_of(first) == first["planHash"]
    text = json.dumps(first)
    assert "PRIVATE KEY" not in text and "BEGIN CERTIFICATE" not in text


def _pair_and_chain_verify(objects):
    """istio keycertbundle.go ``verify``: ca-cert verifies to root-cert through cert-chain, and
    ca-cert matches ca-key (tls.X509KeyPair). True when istiod would accept the set."""
    from azext_meshca.model import certs
    cert = x509.load_pem_x509_certificate(objects["ca-cert"])
    key = serialization.load_pem_private_key(objects["ca-key"], None)
    if cert.public_key().public_numbers() != key.public_key().public_numbers():
        return False
    roots = certs.parse_pem_bundle(objects["root-cert"])
    pool = certs.parse_pem_bundle(objects["cert-chain"])
    current = cert
    for _ in range(len(pool) + 1):
        if any(certs.signed_by(current, root) for root in roots):
            return True
        current = next((item for item in pool if item != current and certs.signed_by(current, item)), None)
        if current is None:
            return False
    return False


@pytest.mark.parametrize("kind", ["intermediate", "root"])
def test_every_state_inside_a_stage_is_refused_until_the_set_is_whole(sets, kind):
    """The writes' order: each prefix of I1 (and of R2, over R1's two roots) leaves a set
    istiod's Verify refuses, so the old CA keeps signing until the last write."""
    old, new = dict(sets["live"]), sets[kind]
    if kind == "root":
        old["root-cert"] = rotate.combined_root(old["root-cert"].decode(), new["root-cert"].decode()).encode()
    mounted = dict(old)
    order = [obj for obj, _ in rotate.STAGE_WRITES["I1" if kind == "intermediate" else "R2"]]
    assert order == ["ca-key", "cert-chain", "ca-cert"]
    for position, obj in enumerate(order):
        mounted[obj] = new[obj]
        whole = position == len(order) - 1
        assert _pair_and_chain_verify(mounted) is whole, (obj, mounted.keys())
    # the other order that breaks: cert-chain first would be accepted with the old pair
    early = dict(old, **{"cert-chain": new["cert-chain"]})
    assert _pair_and_chain_verify(early) is True


# --------------------------------------------------------------------------- the stage machine

def _tags(plan, stage, prior):
    return rotate.tags_for(plan, stage, prior)


def test_progress_and_next_action_follow_the_tags(tmp_path, sets):
    plan = plan_for(sets["live"], material(tmp_path, sets["root"]))
    state = rotate.progress(versions(), plan["rotationId"], plan["kind"])
    assert state["stage"] == rotate.PENDING
    assert rotate.next_action(plan, state, False) == ("write", "R1", ["root-cert"])
    after_r1 = versions(extra=[("root-cert", "r1", "2026-12-07T12:00:00Z", _tags(plan, "R1", "r0"))])
    state = rotate.progress(after_r1, plan["rotationId"], plan["kind"])
    assert state["stage"] == "R1" and state["complete"]
    assert rotate.next_action(plan, state, False) == ("wait", "R1", [])
    assert rotate.next_action(plan, state, True) == ("write", "R2", ["ca-key", "cert-chain", "ca-cert"])
    # interrupted after R2's first write: advance finishes R2, in order
    partial = versions(extra=[("root-cert", "r1", "2026-12-07T12:00:00Z", _tags(plan, "R1", "r0")),
                              ("ca-key", "k1", "2026-12-07T12:05:00Z", _tags(plan, "R2", "k0"))])
    state = rotate.progress(partial, plan["rotationId"], plan["kind"])
    assert state["stage"] == "R2" and state["missing"] == ["cert-chain", "ca-cert"]
    assert rotate.next_action(plan, state, True) == ("write", "R2", ["cert-chain", "ca-cert"])
    # resuming without the plan: the tags give the rotation and where it started
    assert rotate.latest_rotation(partial) == (plan["rotationId"], plan["planHash"])
    assert rotate.recovered_start(partial, plan["rotationId"]) == START


def _cluster_after(snapshot, *, written, at, reload_at=None, started="2026-12-07T12:32:27Z", roots=None):
    """The golden cluster after a stage's write: mounts, istiod's reload lines, sidecars."""
    kube = snapshot["kube"]
    for status in kube["mountStatuses"]["data"]:
        for item in status["objects"]:
            obj = next(key for key, name in NAMES.items() if name == item["name"])
            item["version"] = written.get(obj, item["version"])
    for log in kube["istiodLogs"]["data"]:
        if reload_at:
            log["lines"].append(f"{reload_at[:-1]}.000001Z\tinfo\tx509 cert - Issuer: has detected the newly added "
                                "intermediate CA and updated its key and certs accordingly")
    for pod in kube["sidecars"]["data"]["pods"]:
        pod["startedAt"], pod["secretTtl"] = started, "4s"
    if roots is not None:
        for item in kube["rootConfigMaps"]["data"]:
            item["rootFingerprints"] = list(roots)
        for item in kube["webhooks"]["data"]:
            item["caBundleFingerprints"] = list(roots)
    snapshot["collectedAt"] = "2026-12-07T13:00:00Z"
    return snapshot


def test_the_gate_waits_for_mount_reload_and_renewal(tmp_path, sets):
    new = material(tmp_path, sets["intermediate"])
    plan = plan_for(sets["live"], new)
    written = {"ca-key": "k1", "cert-chain": "h1", "ca-cert": "c1"}
    extra = [(obj, version, "2026-12-07T12:50:00Z", _tags(plan, "I1", START[obj])) for obj, version in written.items()]
    state = rotate.progress(versions(extra=extra), plan["rotationId"], plan["kind"])
    waiting = rotate.stage_gate(golden(), "I1", state)
    assert not waiting["holds"] and any("CSI poll" in line for line in waiting["waitingFor"])
    mounted = _cluster_after(golden(), written=written, at="2026-12-07T12:50:00Z")
    gate = rotate.stage_gate(mounted, "I1", state)
    assert not gate["holds"] and any("accepted reload" in line for line in gate["waitingFor"])
    # reloaded; sidecars started before the reload with a 4s TTL have renewed by 13:00
    loaded = _cluster_after(golden(), written=written, at="2026-12-07T12:50:00Z", reload_at="2026-12-07T12:50:03Z")
    gate = rotate.stage_gate(loaded, "I1", state)
    assert gate["holds"], gate
    assert gate["reloadedAt"] == "2026-12-07T12:50:03Z"
    # one moment after the reload, a 24h-TTL sidecar has not renewed
    stale = _cluster_after(golden(), written=written, at="2026-12-07T12:50:00Z", reload_at="2026-12-07T12:50:03Z")
    stale["kube"]["sidecars"]["data"]["pods"][0]["secretTtl"] = None
    gate = rotate.stage_gate(stale, "I1", state)
    assert not gate["holds"] and any("1 sidecar(s) to renew" in line for line in gate["waitingFor"])


def test_status_without_a_plan_ends_at_done(tmp_path, sets):
    new = material(tmp_path, sets["root"])
    plan = plan_for(sets["live"], new)
    new_roots = new["rootFingerprints"]
    extra = [("root-cert", "r1", "2026-12-07T12:10:00Z", _tags(plan, "R1", "r0"))]
    extra += [(obj, obj[:2] + "2", "2026-12-07T12:20:00Z", _tags(plan, "R2", START[obj]))
              for obj in ("ca-key", "cert-chain", "ca-cert")]
    extra += [("root-cert", "r3", "2026-12-07T12:50:00Z", _tags(plan, "R3", "r1"))]
    snapshot = _cluster_after(golden(), written={"root-cert": "r3"}, at="2026-12-07T12:50:00Z",
                              reload_at="2026-12-07T12:50:02Z", roots=new_roots)
    snapshot = with_slot(snapshot, command="status", versions=versions(extra=extra),
                         startRootPem=sets["live"]["root-cert"].decode(),
                         currentRootPem=sets["root"]["root-cert"].decode())
    status = rotate.rotation_status(snapshot)
    assert (status["kind"], status["stage"], status["gate"]["holds"]) == ("root", "done", True), status


# --------------------------------------------------------------------------- refusals

def refusal_snapshots(sets_, tmp_path):
    """{code: a snapshot on which that refusal holds}: the golden cluster, one change each."""
    live, root = sets_["live"], sets_["root"]
    new = material(tmp_path / "root", root)
    plan = plan_for(live, new)
    base = golden()
    base["cluster"]["data"]["csiAddon"]["enableSecretRotation"] = "true"
    common = {"plan": plan, "newMaterial": new, "startRootPem": live["root-cert"].decode(),
              "currentRootPem": live["root-cert"].decode()}
    rows = {}
    off = copy.deepcopy(base)
    off["cluster"]["data"]["csiAddon"]["enableSecretRotation"] = "false"
    rows["MCA340"] = with_slot(off, **common)
    multi_off = copy.deepcopy(base)
    for deployment in multi_off["kube"]["istiodDeployments"]["data"].values():
        deployment["multiRootMesh"] = "false"
    rows["MCA341"] = with_slot(multi_off, **common)
    upgrade = copy.deepcopy(base)
    upgrade["cluster"]["data"]["revisions"] = ["asm-1-28", "asm-1-29"]
    rows["MCA342"] = with_slot(upgrade, **common)
    bad = material(tmp_path / "bad", cf.make_plugin_set(set_id="B", mismatched_key=True))
    rows["MCA343"] = with_slot(base, **dict(common, newMaterial=bad, plan=None, command="plan"))
    changed = versions(extra=[("ca-cert", "c9", "2026-12-07T12:00:00Z", {})])
    rows["MCA344"] = with_slot(base, **dict(common, versions=changed))
    rows["MCA345"] = with_slot(base, **dict(common, operator=operator_facts(objectId="op")))
    rows["MCA346"] = with_slot(base, **dict(common, plan=None, planError="No such file", planPath="x.json"))
    other = material(tmp_path / "other", sets_["intermediate"])
    rows["MCA347"] = with_slot(base, **dict(common, newMaterial=other))
    same = material(tmp_path / "same", live)
    rows["MCA348"] = with_slot(base, **dict(common, plan=None, command="plan", newMaterial=same,
                                            liveFingerprints={"ca-cert": same["caCertFingerprint"]}))
    written = versions(extra=[("root-cert", "r1", "2026-12-07T12:50:00Z", _tags(plan, "R1", "r0"))])
    refused = _cluster_after(copy.deepcopy(base), written={"root-cert": "r1"}, at="2026-12-07T12:50:00Z")
    for log in refused["kube"]["istiodLogs"]["data"]:
        log["lines"].append("2026-12-07T12:50:02.000001Z\tinfo\tMulti root is disabled, updating new ROOT-CA not "
                            "supported")
    rows["MCA349"] = with_slot(refused, **dict(common, versions=written))
    rows["MCA350"] = with_slot(base, **dict(common, plan=None, command="plan", underWay="mr-aaaaaaaaaaaa",
                                            planRotationId=plan["rotationId"]))
    return rows, with_slot(base, **common)


def gate_snapshots(sets_, tmp_path):
    """{name: a snapshot whose stage was written}: advance's view once I1 is mounted and
    reloaded, so the gate reads as far as the sidecars (the golden grid's inputs rows)."""
    new = material(tmp_path / "intermediate", sets_["intermediate"])
    plan = plan_for(sets_["live"], new)
    written = {"ca-key": "k1", "cert-chain": "h1", "ca-cert": "c1"}
    extra = [(obj, version, "2026-12-07T12:50:00Z", _tags(plan, "I1", START[obj])) for obj, version in written.items()]
    loaded = _cluster_after(golden(), written=written, at="2026-12-07T12:50:00Z", reload_at="2026-12-07T12:50:03Z")
    live = sets_["live"]["root-cert"].decode()
    return {"I1-loaded": with_slot(loaded, plan=plan, newMaterial=new, versions=versions(extra=extra),
                                   startRootPem=live, currentRootPem=live)}


def test_a_written_stage_whose_gate_holds_is_not_refused(tmp_path, sets):
    """advance after I1 reloaded everywhere: no refusal, and status says done."""
    snapshot = gate_snapshots(sets, tmp_path)["I1-loaded"]
    assert codes(snapshot) == set()
    assert rotate.rotation_status(snapshot)["stage"] == rotate.DONE


def test_a_clean_advance_is_not_refused(tmp_path, sets):
    _, clean = refusal_snapshots(sets, tmp_path)
    assert codes(clean) == set()


def test_each_refusal_holds_on_its_own_snapshot(tmp_path, sets):
    rows, _ = refusal_snapshots(sets, tmp_path)
    assert sorted(rows) == [f"MCA3{n}" for n in range(40, 51)]
    for code, snapshot in rows.items():
        assert code in codes(snapshot), code


# --------------------------------------------------------------------------- MCA345 from facts alone

VAULT_ID = "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/MyAzureKeyVault"
GROUP = "66666666-6666-6666-6666-666666666666"
OFFICER = "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
SECRETS_USER = "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6"
CUSTOM = "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/aaaaaaaa-0000-0000-0000-0000000005e7"
SETS = [{"actions": [], "notActions": [], "dataActions": ["Microsoft.KeyVault/vaults/secrets/setSecret/action"],
         "notDataActions": []}]
READS = [{"actions": [], "notActions": [], "dataActions": ["Microsoft.KeyVault/vaults/secrets/getSecret/action"],
          "notDataActions": []}]


def _held(role, principal=OPERATOR, **extra):
    """A role assignment at the vault's scope as sources/azure.py normalises it (custom roles carry
    the ``permissions`` annotate_unknown_roles copies, or ``roleDefinitionError``)."""
    return dict({"id": f"{VAULT_ID}/providers/Microsoft.Authorization/roleAssignments/{principal[:8]}",
                 "scope": VAULT_ID, "roleDefinitionId": role, "principalId": principal,
                 "principalType": "Group" if principal == GROUP else "User"}, **extra)


def _vault(rbac, policies=()):
    vault = golden()["vault"]["data"]
    vault.update(id=VAULT_ID, enableRbacAuthorization=rbac, accessPolicies=list(policies))
    return vault


def _policy(object_id, *permissions):
    return {"objectId": object_id, "tenantId": "00000000-0000-0000-0000-0000000000aa", "applicationId": None,
            "permissions": {"secrets": list(permissions)}}


# (row, vault is RBAC, access policies, operator facts, fires, words the evidence holds)
OPERATOR_ROWS = [
    ("policy-own-set", False, [_policy(OPERATOR, "get", "set")], {}, False, ()),
    ("policy-own-reads-only", False, [_policy(OPERATOR, "get", "list")], {}, True, ("no access policy",)),
    ("policy-group-set", False, [_policy(OPERATOR, "get"), _policy(GROUP, "set")], {"groups": [GROUP]}, False, ()),
    ("policy-groups-unread", False, [_policy(OPERATOR, "get"), _policy(GROUP, "set")],
     {"groupsError": "its group memberships could not be read from Microsoft Graph: 403"}, True, ("Graph",)),
    ("rbac-builtin-officer", True, [], {"assignments": [_held(OFFICER)]}, False, ()),
    ("rbac-builtin-secrets-user", True, [], {"assignments": [_held(SECRETS_USER)]}, True, ("setSecret",)),
    ("rbac-custom-sets", True, [], {"assignments": [_held(CUSTOM, permissions=SETS, roleName="Rotator")]}, False, ()),
    ("rbac-custom-reads-only", True, [], {"assignments": [_held(CUSTOM, permissions=READS, roleName="Reader")]},
     True, ("no role assignment",)),
    ("rbac-custom-unread", True, [], {"assignments": [_held(CUSTOM, roleDefinitionError="403 Forbidden")]}, True,
     ("could not be read", "403 Forbidden")),
    ("rbac-group-builtin", True, [], {"assignments": [_held(OFFICER, GROUP)], "groups": [GROUP]}, False, ()),
    ("rbac-group-custom-sets", True, [],
     {"assignments": [_held(SECRETS_USER), _held(CUSTOM, GROUP, permissions=SETS, roleName="Rotator")],
      "groups": [GROUP]}, False, ()),
    ("rbac-group-custom-reads-only", True, [],
     {"assignments": [_held(CUSTOM, GROUP, permissions=READS, roleName="Reader")], "groups": [GROUP]}, True,
     ("no role assignment",)),
    ("rbac-group-custom-unread", True, [],
     {"assignments": [_held(CUSTOM, GROUP, roleDefinitionError="403 Forbidden")], "groups": [GROUP]}, True,
     ("could not be read",)),
    ("rbac-group-not-a-member", True, [], {"assignments": [_held(OFFICER, GROUP)], "groups": []}, True,
     ("no role assignment",)),
    ("rbac-no-grant", True, [], {"assignments": []}, True, ("no role assignment",)),
    ("rbac-assignments-unread", True, [],
     {"error": "its role assignments could not be listed: 403 Forbidden"}, True, ("could not be listed",)),
    ("rbac-assignments-not-listed", True, [], {"assignments": None}, True, ("not listed",)),
]


@pytest.mark.parametrize("row, rbac, policies, facts, fires, words", OPERATOR_ROWS,
                         ids=[row[0] for row in OPERATOR_ROWS])
def test_mca345_judges_the_operators_facts_alone(row, rbac, policies, facts, fires, words):
    """MCA345 from the snapshot alone: the ``vault`` slot and the operator's facts (its own and
    its groups' grants, custom roles with the permissions their definitions hold), judged by
    rules/access_model.py; no verdict is read from the slot."""
    snapshot = golden()
    snapshot["vault"]["data"] = _vault(rbac, policies)
    snapshot = with_slot(snapshot, operator=operator_facts(**facts))
    found = [item for item in run_rules(snapshot, select=("MCA345",)).findings if item["code"] == "MCA345"]
    assert bool(found) is fires, (row, found)
    for word in words:
        assert word in " ".join(found[0]["evidence"]), (row, found[0]["evidence"])


def test_a_stored_verdict_is_not_read():
    """A slot that says ``canSet: true`` beside facts that grant nothing is refused: the verdict is
    the rule's, from the facts (the shape the verb stored before #24's follow-up)."""
    snapshot = golden()
    snapshot["vault"]["data"] = _vault(True)
    snapshot = with_slot(snapshot, operator=operator_facts(assignments=[], canSet=True, via="stored"))
    assert "MCA345" in codes(snapshot)


def test_the_verb_stores_the_operators_facts_not_a_verdict(monkeypatch):
    """verbs/rotate/run.operator_facts hands the rules what sources/rotation.py read: no ``canSet``,
    ``via`` or ``reason``; the groups are read only when the principal's own grants do not allow
    the write (access_model.own_write_grant). The two reads stand in for the token and Graph."""
    asked = []
    monkeypatch.setattr(source, "signed_in_object_id", lambda cli_ctx: OPERATOR)
    monkeypatch.setattr(source, "member_groups", lambda cli_ctx, oid: asked.append(oid) or ([GROUP], None))
    own = verb.operator_facts(None, _vault(False, [_policy(OPERATOR, "set")]))
    check_shape(own, OPERATOR_FACTS)
    assert own == operator_facts() and asked == []
    through_group = verb.operator_facts(None, _vault(False, [_policy(GROUP, "set")]))
    assert through_group == operator_facts(groups=[GROUP]) and asked == [OPERATOR]
    assert not {"canSet", "via", "reason"} & (set(own) | set(through_group))


@pytest.mark.parametrize("change", [
    lambda plan: plan.update(stages=5),
    lambda plan: plan.update(kind="sideways"),
    lambda plan: plan.update(revisions=[1]),
    lambda plan: plan["start"].update({"ca-cert": {"x": 1}}),
    lambda plan: plan.pop("secretNames"),
])
def test_a_plan_file_that_is_not_rotates_own_is_one_line_refusal(tmp_path, sets, change):
    """MCA346's input: a hand-edited or foreign plan file is refused by read_plan, never judged."""
    plan = plan_for(sets["live"], material(tmp_path / "new", sets["root"]))
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan), encoding="utf-8")
    assert source.read_plan(str(path)) == (plan, None)
    change(plan)
    path.write_text(json.dumps(plan), encoding="utf-8")
    found, why = source.read_plan(str(path))
    assert found is None and why and "\n" not in why
    path.write_text("[1, 2]", encoding="utf-8")
    assert source.read_plan(str(path))[0] is None
    assert source.read_plan(str(tmp_path / "missing.json"))[0] is None


def test_an_edited_plan_is_refused_by_its_hash(tmp_path, sets):
    rows, clean = refusal_snapshots(sets, tmp_path)
    edited = copy.deepcopy(clean)
    edited["rotation"]["plan"]["newMaterial"]["caCertFingerprint"] = "AA"
    assert "MCA346" in codes(edited) and "MCA346" not in codes(clean)
    assert rows


def test_a_refusal_before_the_set_is_mounted_is_not_mca349(tmp_path, sets):
    """A poll between two writes of a stage mounts a set istiod refuses on purpose; only a
    refusal by a pod that mounts every written version means waiting will not help."""
    rows, _ = refusal_snapshots(sets, tmp_path)
    behind = copy.deepcopy(rows["MCA349"])
    for status in behind["kube"]["mountStatuses"]["data"]:
        for item in status["objects"]:
            if item["name"] == NAMES["root-cert"]:
                item["version"] = "r0"
    assert "MCA349" in codes(rows["MCA349"]) and "MCA349" not in codes(behind)
