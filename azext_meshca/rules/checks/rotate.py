"""Guided plug-in CA rotation (``az aks mesh ca rotate``, MCA340-MCA359): the plan, the stage
machine, each stage's gate and the refusals, all pure over a snapshot.

The rotate verbs (azext_meshca/verbs/rotate/) read a snapshot as diagnose does, and
sources/rotation.py adds its ``rotation`` slot::

    rotation: {command: plan|advance|status,
               plan: <plan dict> | null, planError: "why the plan file could not be used" | null,
               newMaterial: null | {rootPem, rootFingerprints, caCertFingerprint, chainFingerprints,
                                   keyPublicSha256, sha256: {object: hex}, errors: [{code, object, title}]},
               versions: {object: [{version, created, enabled, tags}]},     # oldest first
               startRootPem: root-cert's value at the version the rotation starts from,
               operator: null | {objectId, assignments: [role assignment] | null, groups: [object id],
                                 error: "why the facts could not be read" | null,
                                 groupsError: "why the groups could not be read" | null}}

No value of ca-key is ever in it: the new key is known by its public key's SHA-256 only.

``operator`` holds facts only (sources/rotation.py ``operator_facts``): the principal's role
assignments and its groups' (custom roles with their ``permissions``, as sources/azure.py
attaches them); MCA345 judges them against the ``vault`` slot (access_model.operator_write_verdict).

Stages (issue #24): an intermediate rotation writes ``I1`` (ca-key, cert-chain, ca-cert); a
root rotation writes ``R1`` (root-cert = the live bytes + the new root), ``R2`` (the three
objects of the new intermediate) and ``R3`` (root-cert = the new root). Within a stage the
writes go ca-key, cert-chain, ca-cert: istiod reloads the mounted files only when
``util.VerifyAndSetAll`` accepts them together (istio/istio security/pkg/pki/util/
keycertbundle.go ``verify``: ca-cert must verify to root-cert through cert-chain, and
``tls.X509KeyPair(ca-cert, ca-key)`` must match; pilot/pkg/bootstrap/istio_ca.go
``handleEvent`` keeps the old bundle when it fails). A new ca-key first breaks the pair, so
every state until ca-cert lands is refused and the old CA keeps signing; cert-chain must
land before ca-cert, or istiod would accept the new pair and hand out the old chain.

Each gate is judged from the cluster alone: the CSI driver mounted the written versions in
every istiod pod, each of those pods logged an accepted reload after the last write (T is
the latest of those), the configmaps and webhooks hold the roots the stage needs, and every
sidecar renewed since T (capath.renewed_since).
"""

import hashlib
import json

from azext_meshca.model.plugin import OBJECT_FIELDS, PLUGIN_OBJECTS
from azext_meshca.model.rotation import INTERMEDIATE, PLAN_FORMAT, ROOT, STAGES
from azext_meshca.model.snapshot import iso_utc, ok_data, thaw
from azext_meshca.rules import capath, logparse
from azext_meshca.rules.access_model import operator_write_verdict
from azext_meshca.rules.checks.common import (csi_addon, kube_item, make, normalize_fingerprint, parse_time,
                                              plugin_config, short_fingerprint)
from azext_meshca.rules.registry import rule

PENDING, DONE = "pending", "done"
# The order of a stage's writes (module doc): the pair breaks first and completes last.
INTERMEDIATE_WRITES = ("ca-key", "cert-chain", "ca-cert")
# What each stage writes: (object, value) with value "new" (the new-dir file), "live+new"
# (root-cert's bytes at the start followed by the new root) or "new-root".
STAGE_WRITES = {
    "I1": tuple((obj, "new") for obj in INTERMEDIATE_WRITES),
    "R1": (("root-cert", "live+new"),),
    "R2": tuple((obj, "new") for obj in INTERMEDIATE_WRITES),
    "R3": (("root-cert", "new-root"),),
}
# Tags on every version a stage writes (Key Vault allows 15 tags of 256 characters).
# What the plan keeps of the new material: fingerprints and hashes, never a value.
PLANNED_FACTS = ("rootFingerprints", "caCertFingerprint", "chainFingerprints", "keyPublicSha256", "sha256")
TAG_ROTATION, TAG_STAGE, TAG_PRIOR, TAG_PLAN = "meshca-rotation", "meshca-stage", "meshca-prior", "meshca-plan"


# --------------------------------------------------------------------------- the plan

def combined_root(start_root_pem, new_root_pem):
    """R1's root-cert: the live bundle's exact bytes, then the new root. Never re-encoded:
    istiod 1.28/1.29 accept a root change only when one bundle ``bytes.Contains`` the other
    (capath.root_gate)."""
    start = start_root_pem or ""
    separator = "" if not start or start.endswith("\n") else "\n"
    return start + separator + (new_root_pem or "")


def stage_value(how, start_root_pem, new_root_pem):
    """The text R1/R3 write to root-cert; None for a new-dir file ("new")."""
    if how == "live+new":
        return combined_root(start_root_pem, new_root_pem)
    if how == "new-root":
        return new_root_pem
    return None


def sha256_text(text):
    return hashlib.sha256((text or "").encode("utf-8")).hexdigest()


def rotation_kind(live_root_pem, new_root_pem):
    """``intermediate`` when the new root-cert holds the same set of DER certificates as the
    live bundle, else ``root`` (issue #24's contract)."""
    return INTERMEDIATE if capath.der_set(live_root_pem or "") == capath.der_set(new_root_pem or "") else ROOT


def build_plan(*, target, vault, secret_names, revisions, start, start_root_pem, new_material):
    """The plan: what it starts from, what it writes per stage (hashes, never values) and its hash.

    ``start``: {object: version} the rotation starts from. Deterministic: planning again from the
    same start and the same new material gives the same hash and rotation id, which is how a
    rotation resumes on another machine (``recovered_start``)."""
    kind = rotation_kind(start_root_pem, new_material["rootPem"])
    stages = []
    for name in STAGES[kind]:
        writes = []
        for obj, how in STAGE_WRITES[name]:
            value = stage_value(how, start_root_pem, new_material["rootPem"])
            digest = sha256_text(value) if value is not None else new_material["sha256"].get(obj)
            writes.append({"object": obj, "value": how, "sha256": digest})
        stages.append({"name": name, "writes": writes})
    body = {
        "format": PLAN_FORMAT, "kind": kind, "target": dict(target), "vault": dict(vault),
        "secretNames": dict(secret_names), "revisions": sorted(revisions), "start": dict(start),
        "oldRootFingerprints": capath.fingerprints(start_root_pem or ""),
        "newMaterial": {key: new_material[key] for key in PLANNED_FACTS},
        "stages": stages,
    }
    plan_hash = hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()
    return dict(body, planHash=plan_hash, rotationId="mr-" + plan_hash[:12])


def plan_hash_of(plan):
    """The hash a plan's body gives now (a plan file edited by hand no longer matches its own)."""
    body = {key: thaw(value) for key, value in plan.items() if key not in ("planHash", "rotationId", "createdAt")}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


def tags_for(plan, stage, prior_version):
    return {TAG_ROTATION: plan["rotationId"], TAG_STAGE: stage, TAG_PRIOR: prior_version or "",
            TAG_PLAN: plan["planHash"]}


# --------------------------------------------------------------------------- Key Vault's versions

def current_version(versions):
    """The newest version (Key Vault serves it when no version is named)."""
    return versions[-1] if versions else None


def latest_rotation(versions_by_object):
    """(rotation id, plan hash) of the newest version written by a rotation whose version is
    still current for some object, or (None, None)."""
    best = None
    for versions in versions_by_object.values():
        current = current_version(versions)
        tags = (current or {}).get("tags") or {}
        if tags.get(TAG_ROTATION) and (best is None or (current.get("created") or "") > (best.get("created") or "")):
            best = current
    if best is None:
        return None, None
    return best["tags"][TAG_ROTATION], best["tags"].get(TAG_PLAN)


def written_by(versions_by_object, rotation_id):
    """{stage: {object: version record}} of every version ``rotation_id`` wrote."""
    written = {}
    for obj, versions in versions_by_object.items():
        for record in versions:
            tags = record.get("tags") or {}
            if rotation_id and tags.get(TAG_ROTATION) == rotation_id:
                written.setdefault(tags.get(TAG_STAGE), {})[obj] = record
    return written


def recovered_start(versions_by_object, rotation_id):
    """{object: version} the rotation started from: for an object it wrote, the prior version
    of its first write; else the current version (its tags say where a rotation began, so no
    plan file is needed)."""
    start = {}
    for obj, versions in versions_by_object.items():
        mine = [record for record in versions if ((record.get("tags") or {}).get(TAG_ROTATION) == rotation_id
                                                  and rotation_id)]
        if mine:
            start[obj] = (mine[0].get("tags") or {}).get(TAG_PRIOR) or None
        else:
            current = current_version(versions)
            start[obj] = current.get("version") if current else None
    return start


def stage_kind(stage):
    return INTERMEDIATE if str(stage).startswith("I") else ROOT


def progress(versions_by_object, rotation_id, kind):
    """Where the rotation stands: {stage (last stage with a write, or PENDING), complete (every
    write of that stage done), missing ([objects still to write in that stage]), writtenAt}."""
    written = written_by(versions_by_object, rotation_id)
    stage, index = PENDING, -1
    for position, name in enumerate(STAGES[kind]):
        if written.get(name):
            stage, index = name, position
    if index < 0:
        return {"stage": PENDING, "index": -1, "complete": True, "missing": [], "writtenAt": None, "written": {}}
    done = written[stage]
    missing = [obj for obj, _ in STAGE_WRITES[stage] if obj not in done]
    written_at = max((record.get("created") or "") for record in done.values()) or None
    return {"stage": stage, "index": index, "complete": not missing, "missing": missing,
            "writtenAt": written_at, "written": {obj: record.get("version") for obj, record in done.items()}}


def next_action(plan, state, gate_holds):
    """What advance does now: ("write", stage, [objects]) / ("wait", stage) / ("done", stage)."""
    stages = [item["name"] for item in plan["stages"]]
    if state["stage"] == PENDING:
        return "write", stages[0], [item["object"] for item in plan["stages"][0]["writes"]]
    if not state["complete"]:
        return "write", state["stage"], list(state["missing"])
    if not gate_holds:
        return "wait", state["stage"], []
    if state["index"] + 1 >= len(stages):
        return "done", state["stage"], []
    following = plan["stages"][state["index"] + 1]
    return "write", following["name"], [item["object"] for item in following["writes"]]


# --------------------------------------------------------------------------- gates

def _secret_objects(snapshot):
    plugin = plugin_config(snapshot) or {}
    return {plugin.get(OBJECT_FIELDS[obj]): obj for obj in PLUGIN_OBJECTS if plugin.get(OBJECT_FIELDS[obj])}


def _revisions(snapshot):
    return list(((ok_data(snapshot.get("cluster")) or {}).get("revisions")) or [])


def _pods_by_revision(snapshot):
    pods = {}
    for pod in kube_item(snapshot, "istiodPods") or ():
        pods.setdefault(pod.get("revision"), []).append(pod.get("name"))
    return pods


def _mount_waits(snapshot, written):
    """What the CSI driver has not mounted yet: a line per istiod pod behind a written version."""
    objects, waits = _secret_objects(snapshot), []
    statuses = kube_item(snapshot, "mountStatuses")
    if statuses is None:
        return ["the istiod pods' mounted versions (SecretProviderClassPodStatus) could not be read"]
    for status in statuses:
        if not str(status.get("secretProviderClass") or "").startswith("istio-spc-"):
            continue
        mounted = {objects.get(item.get("name")): str(item.get("version") or "").lower()
                   for item in status.get("objects") or ()}
        behind = [obj for obj, version in written.items() if mounted.get(obj) != str(version or "").lower()]
        if behind:
            waits.append(f"pod {status.get('pod')} to mount the new {', '.join(behind)} (CSI poll)")
    return waits


def _pods_behind(waits):
    """The pods a mount wait names."""
    return {line.split(" ")[1] for line in waits if line.startswith("pod ")}


def _reload_after(lines, since):
    """(time of the first accepted reload at or after ``since``, the refusal logged last after
    it when no acceptance came after that refusal)."""
    accepted, refused = None, None
    for event in logparse.istiod_timed_events(lines):
        moment = parse_time(event["time"])
        if moment is None or moment < since:
            continue
        if event["kind"] in (logparse.INTERMEDIATE_UPDATED, logparse.ROOT_UPDATED):
            accepted = accepted or moment
            refused = None
        elif event["kind"] in (logparse.ROOT_REJECTED, logparse.UPDATE_FAILED):
            refused = event["line"]
    return accepted, refused


def reload_evidence(snapshot, since, behind=()):
    """(T, waits, refusals): T the latest over every istiod pod of every revision of its first
    accepted reload at or after ``since``; None while some pod has not logged one. A refusal
    counts only for a pod that mounts every written version (``behind``: the pods that do not):
    a poll that fell between two writes of a stage mounts a set istiod refuses on purpose."""
    logs = {log.get("pod"): log.get("lines") for log in kube_item(snapshot, "istiodLogs") or ()}
    latest, waits, refusals = None, [], []
    for revision, pods in sorted(_pods_by_revision(snapshot).items()):
        for pod in sorted(pods):
            accepted, refused = _reload_after(logs.get(pod) or (), since)
            if refused and pod not in behind:
                refusals.append(f"istiod-{revision} pod {pod} refused the new files: {refused}")
            if accepted is None:
                waits.append(f"istiod-{revision} pod {pod} to log an accepted reload after {iso_utc(since)}")
                continue
            latest = max(latest, accepted) if latest else accepted
    if not _pods_by_revision(snapshot):
        waits.append("istiod's pods could not be listed")
    return (None if waits else latest), waits, refusals


def _root_waits(snapshot, expected, exact):
    """Configmaps and webhooks that do not carry ``expected`` (only those when ``exact``)."""
    expected = {normalize_fingerprint(fp) for fp in expected}
    waits = []
    configmaps = kube_item(snapshot, "rootConfigMaps")
    if configmaps is None:
        return ["the istio-ca-root-cert configmaps could not be read"]
    holders = [(f"configmap istio-ca-root-cert in {item.get('namespace')}", item.get("rootFingerprints"))
               for item in configmaps]
    holders += [(f"webhook {item.get('name')} caBundle", item.get("caBundleFingerprints"))
                for item in kube_item(snapshot, "webhooks") or ()]
    for where, fingerprints in holders:
        held = {normalize_fingerprint(fp) for fp in fingerprints or ()}
        if (held != expected) if exact else not expected <= held:
            want = "only" if exact else "both"
            waits.append(f"{where} to hold {want} {', '.join(short_fingerprint(fp) for fp in sorted(expected))}")
    return waits


def _sidecar_waits(snapshot, since, now):
    sidecars = kube_item(snapshot, "sidecars")
    if sidecars is None:
        return ["the injected pods could not be listed"]
    stale, deadline = 0, None
    for pod in sidecars.get("pods") or ():
        ttl = capath.sidecar_ttl(pod)
        if capath.renewed_since(parse_time(pod.get("startedAt")), since, now, ttl) is not True:
            stale += 1
            candidate = capath.renew_deadline(since, ttl)
            deadline = max(deadline, candidate) if deadline else candidate
    waits = [f"{stale} sidecar(s) to renew their leaf after {iso_utc(since)} (by {iso_utc(deadline)})"] if stale else []
    if sidecars.get("truncated"):
        waits.append("every sidecar to be listed (the list was cut)")
    return waits


def stage_gate(snapshot, stage, state, new_roots=(), old_roots=()):
    """{holds, waitingFor, refusals, reloadedAt} for ``stage`` written as ``state`` says."""
    if state["stage"] == PENDING:
        return {"holds": False, "waitingFor": ["the first stage to be written"], "refusals": [], "reloadedAt": None}
    if not state["complete"]:
        return {"holds": False, "waitingFor": [f"{stage}'s writes of {', '.join(state['missing'])}"],
                "refusals": [], "reloadedAt": None}
    since = parse_time(state["writtenAt"])
    now = parse_time(snapshot.get("collectedAt"))
    waits = _mount_waits(snapshot, state["written"])
    reloaded, reload_waits, refusals = reload_evidence(snapshot, since, _pods_behind(waits))
    waits += reload_waits
    if stage == "R1":
        waits += _root_waits(snapshot, set(old_roots) | set(new_roots), exact=False)
    elif stage == "R3":
        waits += _root_waits(snapshot, new_roots, exact=True)
    if stage != "R3":
        waits += _sidecar_waits(snapshot, reloaded, now) if reloaded else []
    return {"holds": not waits and not refusals, "waitingFor": waits + refusals, "refusals": refusals,
            "reloadedAt": iso_utc(reloaded)}


def root_sets(plan_or_versions_roots):
    """(old roots, new roots) from a plan."""
    plan = plan_or_versions_roots
    return plan.get("oldRootFingerprints") or [], (plan.get("newMaterial") or {}).get("rootFingerprints") or []


def rotation_status(snapshot):
    """``rotation`` of status/advance: {rotationId, kind, stage, gate, next}, from the plan when
    there is one and from Key Vault's tags otherwise."""
    slot = snapshot.get("rotation") or {}
    versions = slot.get("versions") or {}
    plan = slot.get("plan")
    if plan:
        rotation_id, kind = plan["rotationId"], plan["kind"]
    else:
        rotation_id, _ = latest_rotation(versions)
        written = written_by(versions, rotation_id)
        kind = stage_kind(next(iter(written))) if written else None
    if not kind:
        return {"rotationId": None, "kind": None, "stage": PENDING,
                "gate": {"holds": False, "waitingFor": ["a rotation plan (az aks mesh ca rotate plan)"]}}
    state = progress(versions, rotation_id, kind)
    old_roots, new_roots = root_sets(plan) if plan else _roots_from_versions(slot)
    gate = stage_gate(snapshot, state["stage"], state, new_roots=new_roots, old_roots=old_roots)
    stage = state["stage"]
    if stage == STAGES[kind][-1] and gate["holds"]:
        stage = DONE
    return {"rotationId": rotation_id, "kind": kind, "stage": stage, "writtenStage": state["stage"],
            "complete": state["complete"], "missing": state["missing"], "writtenAt": state["writtenAt"],
            "gate": {"holds": gate["holds"], "waitingFor": gate["waitingFor"], "reloadedAt": gate["reloadedAt"]},
            "state": state}


def _roots_from_versions(slot):
    """(old, new) roots without a plan: the old from root-cert at the start version, the new
    from the new material or, without it, what root-cert holds now beyond the old (R1's
    bundle holds both; after R3 it holds the new root only)."""
    old = capath.fingerprints(slot.get("startRootPem") or "")
    new = (slot.get("newMaterial") or {}).get("rootFingerprints") or []
    if not new:
        new = [fp for fp in capath.fingerprints(slot.get("currentRootPem") or "") if fp not in old]
    return old, new


# --------------------------------------------------------------------------- refusals

def _slot(snapshot):
    return snapshot.get("rotation") or {}


def _acting(snapshot):
    """Refusals judge plan and advance; status only reports."""
    return _slot(snapshot).get("command") in ("plan", "advance")


def _kind(snapshot):
    slot = _slot(snapshot)
    if slot.get("plan"):
        return slot["plan"]["kind"]
    material = slot.get("newMaterial")
    return rotation_kind(slot.get("startRootPem"), material["rootPem"]) if material else None


@rule("MCA346", inputs=("rotation",))
def check_plan_file(snapshot, context):
    """MCA346: the plan file is missing, unreadable, not a plan, or edited since it was written."""
    slot = _slot(snapshot)
    if slot.get("command") != "advance":
        return []
    reason = slot.get("planError")
    plan = slot.get("plan")
    if not reason and plan and plan.get("planHash") != plan_hash_of(plan):
        reason = "its content no longer matches its planHash (edited by hand?)"
    if not reason:
        return []
    return [make(context, "MCA346", "plan", evidence=[reason], path=slot.get("planPath") or "?", reason=reason)]


@rule("MCA340", inputs=("rotation", "cluster"))
def check_rotation_on(snapshot, context):
    """MCA340: the add-on's secret rotation is off, so no written version would reach istiod."""
    if not _acting(snapshot) or str(csi_addon(snapshot).get("enableSecretRotation") or "").lower() == "true":
        return []
    value = csi_addon(snapshot).get("enableSecretRotation")
    return [make(context, "MCA340", "azureKeyvaultSecretsProvider",
                 evidence=[f"enableSecretRotation: {value if value is not None else 'not set'}"])]


def _bundle_steps(slot):
    """The root-cert changes a root rotation makes: (from, to, stage)."""
    start = slot.get("startRootPem") or ""
    new_root = (slot.get("newMaterial") or {}).get("rootPem") or ""
    both = combined_root(start, new_root)
    return ((start, both, "R1"), (both, new_root, "R3"))


@rule("MCA341", inputs=("rotation", "cluster", "kube.istiodDeployments"))
def check_root_accepted(snapshot, context):
    """MCA341: some revision's istiod would refuse a root-cert change the rotation makes
    (capath.root_gate: ISTIO_MULTIROOT_MESH off, or no bundle contains the other)."""
    slot = _slot(snapshot)
    if not _acting(snapshot) or _kind(snapshot) != ROOT or not slot.get("newMaterial"):
        return []
    deployments = kube_item(snapshot, "istiodDeployments") or {}
    findings = []
    for revision in _revisions(snapshot):
        multi_root = capath.env_true((deployments.get(revision) or {}).get("multiRootMesh"))
        for old, new, stage in _bundle_steps(slot):
            outcome = capath.root_gate(capath.istio_version(revision), multi_root, old, new)
            if outcome in capath.REFUSED:
                findings.append(make(context, "MCA341", "root-cert", revision=revision, stage=stage,
                                     outcome=outcome, evidence=[f"istiod-{revision}: {outcome} at {stage}",
                                                                f"ISTIO_MULTIROOT_MESH: {multi_root}"]))
                break
    return findings


@rule("MCA342", inputs=("rotation", "cluster"))
def check_rotation_revisions(snapshot, context):
    """MCA342: an upgrade is in progress (two revisions), or the revisions differ from the plan's."""
    if not _acting(snapshot):
        return []
    running = sorted(_revisions(snapshot))
    plan = _slot(snapshot).get("plan")
    if len(running) > 1:
        why = f"an upgrade is in progress: revisions {', '.join(running)}"
    elif plan and sorted(plan.get("revisions") or []) != running:
        why = f"the plan was made for {', '.join(plan.get('revisions') or []) or 'no revision'}"
    elif not running:
        why = "the cluster runs no revision"
    else:
        return []
    return [make(context, "MCA342", "revisions", why=why, evidence=[f"revisions: {', '.join(running) or 'none'}"])]


@rule("MCA343", inputs=("rotation",))
def check_new_material(snapshot, context):
    """MCA343: the new material fails a validate-secrets error rule (the same certificate rules)."""
    material = _slot(snapshot).get("newMaterial")
    if not _acting(snapshot) or material is None or not material.get("errors"):
        return []
    errors = material["errors"]
    return [make(context, "MCA343", "new-dir", codes=", ".join(sorted({item["code"] for item in errors})),
                 evidence=[f"{item['code']} {item.get('object') or ''}: {item['title']}" for item in errors[:10]])]


@rule("MCA344", inputs=("rotation",))
def check_live_unchanged(snapshot, context):
    """MCA344: a plug-in object's current version is neither the plan's start nor this rotation's."""
    slot = _slot(snapshot)
    plan = slot.get("plan")
    if slot.get("command") != "advance" or not plan:
        return []
    changed = []
    for obj, versions in (slot.get("versions") or {}).items():
        current = current_version(versions) or {}
        tags = current.get("tags") or {}
        if current.get("version") == plan["start"].get(obj) or tags.get(TAG_ROTATION) == plan["rotationId"]:
            continue
        changed.append(f"{obj}: current version {current.get('version')} (plan starts from "
                       f"{plan['start'].get(obj)}; tags {tags.get(TAG_ROTATION) or 'none'})")
    if not changed:
        return []
    return [make(context, "MCA344", "plan", evidence=changed, count=len(changed))]


@rule("MCA345", inputs=("rotation", "vault"))
def check_operator_can_set(snapshot, context):
    """MCA345: the signed-in operator may not set secrets on the vault (or that could not be confirmed).
    The slot holds the operator's facts; rules/access_model.py judges them against the vault."""
    operator = _slot(snapshot).get("operator")
    if not _acting(snapshot) or operator is None:
        return []
    verdict = operator_write_verdict(ok_data(snapshot.get("vault")), operator)
    if verdict["canSet"] is True:
        return []
    reason = verdict.get("reason") or "no grant of secret 'set' was found"
    return [make(context, "MCA345", "operator", operator=operator.get("objectId") or "the signed-in user",
                 reason=reason, evidence=[reason])]


@rule("MCA347", inputs=("rotation",))
def check_material_matches_plan(snapshot, context):
    """MCA347: the new material is not the material the plan was made for."""
    slot = _slot(snapshot)
    plan, material = slot.get("plan"), slot.get("newMaterial")
    if slot.get("command") != "advance" or not plan or not material:
        return []
    planned = plan["newMaterial"]
    differing = [key for key in PLANNED_FACTS if planned.get(key) != material.get(key)]
    if not differing:
        return []
    return [make(context, "MCA347", "new-dir", fields=", ".join(differing), evidence=differing)]


@rule("MCA348", inputs=("rotation",))
def check_something_to_rotate(snapshot, context):
    """MCA348: the new material is what Key Vault already holds: nothing to rotate."""
    slot = _slot(snapshot)
    material = slot.get("newMaterial")
    if slot.get("command") != "plan" or not material or slot.get("inRotation"):
        return []
    live = slot.get("liveFingerprints") or {}
    if (_kind(snapshot) == INTERMEDIATE and live.get("ca-cert")
            and normalize_fingerprint(live["ca-cert"]) == normalize_fingerprint(material["caCertFingerprint"])):
        return [make(context, "MCA348", "new-dir", evidence=[f"ca-cert {short_fingerprint(live['ca-cert'])}"])]
    return []


# The gate (rotation_status) reads the cluster's state where it was collected; a read that failed
# is a line the gate waits for, never a skipped refusal rule (judge() refuses on a skipped one).
@rule("MCA349", inputs=("rotation", "kube.istiodLogs"),
      optional=("cluster", "kube.istiodPods", "kube.mountStatuses", "kube.rootConfigMaps", "kube.webhooks",
                "kube.sidecars"))
def check_reload_refused(snapshot, context):
    """MCA349: an istiod refused the files the current stage wrote: waiting will not help."""
    status = rotation_status(snapshot)
    refused = [line for line in status["gate"]["waitingFor"] if " refused the new files: " in line]
    if not refused or status["stage"] in (PENDING, DONE):
        return []
    return [make(context, "MCA349", "istiod", stage=status["stage"], evidence=refused[:5])]


@rule("MCA350", inputs=("rotation",))
def check_other_rotation(snapshot, context):
    """MCA350: another rotation, with other material, is under way and not done."""
    slot = _slot(snapshot)
    under_way, planned = slot.get("underWay"), slot.get("planRotationId")
    if slot.get("command") != "plan" or not under_way or not planned or under_way == planned:
        return []
    return [make(context, "MCA350", "plan", rotation_id=under_way,
                 evidence=[f"Key Vault's current versions carry {TAG_ROTATION}={under_way}"])]


CHECKS = [check_plan_file, check_rotation_on, check_root_accepted, check_rotation_revisions, check_new_material,
          check_live_unchanged, check_operator_can_set, check_material_matches_plan, check_something_to_rotate,
          check_reload_refused, check_other_rotation]
