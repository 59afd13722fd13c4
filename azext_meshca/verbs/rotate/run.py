"""rotate's I/O: read the new material, the cluster and Key Vault, judge (checks/rotate.py),
then write at most one stage. Nothing here decides whether a write is safe.

Refusals are findings in diagnose's shape with exit 4, and come before any write request:
the writes happen only after every refusal rule ran on what was read just now.
"""

import json
import os
import sys
import time

from azure.cli.core.azclierror import ValidationError

from azext_meshca.rules.checks import rotate as rules
from azext_meshca.output.report import EXIT_PROBLEMS, build_result, exit_after_output
from azext_meshca.model.plugin import PLUGIN_OBJECTS
from azext_meshca.model.snapshot import iso_utc, now_utc, ok_data

MAX_PLAN_BYTES = 1024 * 1024


def stderr(line):
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------- the new material

def read_new_material(new_dir, now):
    """Facts of the new material: fingerprints, hashes of the public files, the new key's public
    SHA-256, validate-secrets' error findings. ca-key's bytes are reduced to key facts at once."""
    from azext_meshca.rules import capath
    from azext_meshca.model import certs
    from azext_meshca.rules import plugin_set
    from azext_meshca.sources import files as sources
    found = sources.read_cert_dir(new_dir)
    findings, _ = plugin_set.validate(found, now, 30)
    texts = {obj: _public_text(found["objects"].get(obj)) for obj in ("root-cert", "ca-cert", "cert-chain")}
    try:
        first = certs.parse_pem_bundle(texts["ca-cert"].encode("utf-8"))[0]
        ca_cert_fingerprint = certs.fingerprint(first)
    except (certs.CertFormatError, IndexError):
        ca_cert_fingerprint = None
    key = found["objects"].get("ca-key") or {}
    return {"rootPem": texts["root-cert"], "rootFingerprints": capath.fingerprints(texts["root-cert"]),
            "caCertFingerprint": ca_cert_fingerprint, "chainFingerprints": capath.fingerprints(texts["cert-chain"]),
            "keyPublicSha256": key.get("publicKeySha256"),
            "sha256": {obj: rules.sha256_text(text) for obj, text in texts.items()},
            "errors": [{"code": item["code"], "object": item.get("object"), "title": item.get("title")}
                       for item in findings if item["severity"] == "error"]}


def _public_text(data):
    if data is None:
        return ""
    return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)


def read_new_file(new_dir, obj):
    """The exact text of one new-dir file, read at the moment it is written to Key Vault."""
    from azext_meshca.sources import files as sources
    from azext_meshca.model.plugin import file_name
    return sources.read_capped(os.path.join(new_dir, file_name(obj))).decode("utf-8")


# --------------------------------------------------------------------------- the plan file

def read_plan(path):
    """(plan, None) or (None, why it cannot be used): missing, unreadable, not a plan."""
    from azext_meshca.model.inputs import InputError, read_regular_file, utf8_text
    try:
        data = read_regular_file(path, MAX_PLAN_BYTES)
        plan = json.loads(utf8_text(data, path))
    except InputError as error:
        return None, str(error).rstrip(".")
    except ValueError as error:
        return None, f"it is not JSON ({str(error).splitlines()[0]})"
    if not isinstance(plan, dict) or plan.get("format") != rules.PLAN_FORMAT:
        return None, f"it is not a {rules.PLAN_FORMAT} file"
    why = _plan_shape_error(plan)
    if why:
        return None, why
    return plan, None  # an edited plan (its hash) is judged by the rules: MCA346


def _plan_shape_error(plan):
    """Why a JSON object is not a plan rotate wrote, or None: every field the rules read has its type."""
    shapes = {"kind": str, "stages": list, "start": dict, "rotationId": str, "planHash": str, "newMaterial": dict,
              "revisions": list, "secretNames": dict, "oldRootFingerprints": list}
    for key, kind in shapes.items():
        if not isinstance(plan.get(key), kind):
            return f"its {key} is missing or not a {kind.__name__}"
    if plan["kind"] not in rules.STAGES or [stage.get("name") if isinstance(stage, dict) else None
                                             for stage in plan["stages"]] != list(rules.STAGES[plan["kind"]]):
        return "its kind and stages are not a rotation's"
    if not all(isinstance(value, (str, type(None))) for value in list(plan["start"].values()) + plan["revisions"]):
        return "its start versions or revisions are not text"
    if set(plan["secretNames"]) != set(PLUGIN_OBJECTS):
        return "its secretNames do not name the four plug-in objects"
    return None


def write_plan(path, plan):
    """0600, via a temporary file and a rename (diagnose.write_private_file, as --export)."""
    from azext_meshca.verbs.diagnose import write_private_file
    write_private_file(path, json.dumps(dict(plan, createdAt=iso_utc(now_utc())), indent=2, sort_keys=True) + "\n")


# --------------------------------------------------------------------------- reading the world

def gather(cli_ctx, opts, plan=None, material=None):
    """The snapshot rotate judges: diagnose's collection plus the ``rotation`` slot."""
    from azext_meshca.verbs import diagnose
    from azext_meshca.rules.checks.common import plugin_config
    from azext_meshca.sources import rotation as kv
    from azext_meshca.sources.deadline import DEFAULT_TIMEOUT, Deadline, attach, detach
    from azext_meshca.model.plugin import secret_names
    attach(cli_ctx, Deadline(DEFAULT_TIMEOUT))
    try:
        snapshot = diagnose.collect(cli_ctx, opts.resource_group, opts.name)
        plugin, vault = plugin_config(snapshot), ok_data(snapshot.get("vault"))
        if not plugin or not vault:
            raise ValidationError(f"{opts.resource_group}/{opts.name} has no readable plug-in CA vault: run az aks "
                                  f"mesh ca diagnose -g {opts.resource_group} -n {opts.name}.")
        names = secret_names(plugin)
        try:
            client = kv.secret_client(cli_ctx, vault)
            versions = kv.read_versions(client, names)
        except Exception as error:  # pylint: disable=broad-except
            raise ValidationError(f"Key Vault {vault.get('name')}: the plug-in secrets' versions could not be "
                                  f"read: {kv.failure(error)}") from None
        slot = {"command": opts.command, "plan": plan, "newMaterial": material, "versions": versions,
                "planPath": opts.plan_file, "planError": None}
        _add_start(slot, snapshot, client, names, plan)
        if opts.command in ("plan", "advance"):
            slot["operator"] = operator_verdict(cli_ctx, vault)
    finally:
        detach(cli_ctx)
    snapshot["rotation"] = slot
    return snapshot, client, names


def operator_verdict(cli_ctx, vault):
    """{objectId, canSet, via, reason}: may the signed-in principal set secrets on the vault,
    by its own grants or a group's (access_model.secret_write_verdict decides)."""
    from azext_meshca.rules.access_model import secret_write_verdict
    from azext_meshca.sources import rotation as kv

    def direct(facts):
        return secret_write_verdict(vault, facts["assignments"], facts["objectId"])["canSet"] is True
    facts = kv.operator_facts(cli_ctx, vault, direct)
    if facts["error"]:
        return {"objectId": facts["objectId"], "canSet": None, "via": None, "reason": facts["error"]}
    verdict = secret_write_verdict(vault, facts["assignments"], facts["objectId"], groups=facts["groups"])
    if verdict["canSet"] is not True and facts.get("groupsError"):
        verdict = dict(verdict, canSet=None, reason=f"{verdict['reason']}; {facts['groupsError']}")
    return dict(verdict, objectId=facts["objectId"])


def _add_start(slot, snapshot, client, names, plan):
    """The versions the rotation starts from (the plan's, else recovered from Key Vault's tags)
    and root-cert's text at that version."""
    from azext_meshca.sources import rotation as kv
    versions = slot["versions"]
    if plan:
        rotation_id = plan["rotationId"]
    elif slot["command"] == "plan":  # a new plan starts from the live versions unless one is under way
        rotation_id = slot["underWay"] = _rotation_under_way(snapshot, versions)
    else:  # status: the latest rotation, done or not
        rotation_id, _ = rules.latest_rotation(versions)
    start = dict(plan["start"]) if plan else rules.recovered_start(versions, rotation_id)
    slot["start"], slot["inRotation"] = start, bool(rotation_id)
    current_root = ok_data((snapshot.get("secrets") or {}).get("root-cert")) or {}
    slot["currentRootPem"] = current_root.get("value") or ""
    root_start = start.get("root-cert")
    if root_start and root_start != current_root.get("version"):
        try:
            slot["startRootPem"] = kv.read_version_value(client, names["root-cert"], root_start)
        except Exception as error:  # pylint: disable=broad-except
            raise ValidationError(f"root-cert's version {root_start}, where the rotation started, could not be "
                                  f"read: {kv.failure(error)}") from None
    else:
        slot["startRootPem"] = slot["currentRootPem"]
    slot["liveFingerprints"] = {"ca-cert": _ca_cert_fingerprint(snapshot)}


def _rotation_under_way(snapshot, versions):
    """The id of a rotation whose tags are on a current version and that is not done, else None."""
    rotation_id, _ = rules.latest_rotation(versions)
    if not rotation_id:
        return None
    current_root = (ok_data((snapshot.get("secrets") or {}).get("root-cert")) or {}).get("value") or ""
    probe = dict(snapshot, rotation={"versions": versions, "currentRootPem": current_root, "startRootPem": ""})
    return None if rules.rotation_status(probe)["stage"] == rules.DONE else rotation_id


def _ca_cert_fingerprint(snapshot):
    from azext_meshca.model import certs
    value = (ok_data((snapshot.get("secrets") or {}).get("ca-cert")) or {}).get("value")
    try:
        return certs.fingerprint(certs.parse_pem_bundle(value.encode("utf-8"))[0]) if value else None
    except (certs.CertFormatError, IndexError):
        return None


def plan_from(snapshot):
    """The plan the live state and the new material give (the same one on every machine)."""
    from azext_meshca.rules.checks.common import plugin_config
    from azext_meshca.model.plugin import secret_names
    slot, vault = snapshot["rotation"], ok_data(snapshot.get("vault")) or {}
    cluster = ok_data(snapshot.get("cluster")) or {}
    return rules.build_plan(
        target={"resourceGroup": snapshot["target"].get("resourceGroup"), "cluster": snapshot["target"].get("cluster")},
        vault={"id": vault.get("id"), "name": vault.get("name")}, secret_names=secret_names(plugin_config(snapshot)),
        revisions=cluster.get("revisions") or [], start=slot["start"], start_root_pem=slot["startRootPem"],
        new_material=slot["newMaterial"])


# --------------------------------------------------------------------------- judging

def judge(snapshot):
    """(refusal findings, rules that could not run): the rotate rules only, in diagnose's shape."""
    from azext_meshca.rules.runner import run_rules
    run = run_rules(snapshot, select=tuple(function.rule.name for function in rules.CHECKS))
    return run.findings, run.not_run


def refused_result(cmd, snapshot, findings, not_run, rotation=None):
    """diagnose's shape, exit 4: nothing was written."""
    result = build_result(findings, [], target=dict(snapshot.get("target") or {}),
                          collectedAt=snapshot.get("collectedAt"))
    result["summary"]["notRun"] = not_run
    result["rotation"] = dict(rotation or {}, refused=True, written=[])
    exit_after_output(cmd, EXIT_PROBLEMS)
    return result


def refuses(findings, not_run):
    return any(item["severity"] == "error" for item in findings) or bool(not_run)


def status_view(snapshot):
    status = rules.rotation_status(snapshot)
    return {key: status[key] for key in ("rotationId", "kind", "stage", "gate") if key in status}, status


# --------------------------------------------------------------------------- the verbs

def run_plan(cmd, opts):
    material = read_new_material(opts.new_dir, now_utc())
    snapshot, _, _ = gather(cmd.cli_ctx, opts, material=material)
    plan = plan_from(snapshot)
    under_way = snapshot["rotation"].get("underWay")
    snapshot["rotation"]["planRotationId"] = plan["rotationId"]
    findings, not_run = judge(snapshot)
    summary = {"rotationId": plan["rotationId"], "kind": plan["kind"], "planHash": plan["planHash"],
               "stages": [stage["name"] for stage in plan["stages"]], "planFile": opts.plan_file,
               "start": plan["start"], "resumes": bool(under_way)}
    if refuses(findings, not_run):
        return refused_result(cmd, snapshot, findings, not_run, summary)
    write_plan(opts.plan_file, plan)
    stderr(f"Plan {plan['rotationId']} ({plan['kind']} rotation: {', '.join(summary['stages'])}) written to "
           f"{opts.plan_file}. Next: az aks mesh ca rotate advance -g {opts.resource_group} -n {opts.name} "
           f"--plan-file {opts.plan_file} --new-dir {opts.new_dir}")
    result = build_result(findings, [], target=dict(snapshot.get("target") or {}),
                          collectedAt=snapshot.get("collectedAt"))
    result["rotation"] = summary
    return result


def run_status(cmd, opts):  # pylint: disable=unused-argument
    plan = None
    if opts.plan_file:
        plan, error = read_plan(opts.plan_file)
        if error:
            stderr(f"The plan file {opts.plan_file} is not used ({error}): reading the rotation from Key Vault's "
                   "tags.")
    snapshot, _, _ = gather(cmd.cli_ctx, opts, plan=plan)
    view, _ = status_view(snapshot)
    return {"rotation": view, "target": dict(snapshot.get("target") or {}),
            "collectedAt": snapshot.get("collectedAt")}


def run_advance(cmd, opts):
    plan, error = read_plan(opts.plan_file)
    material = read_new_material(opts.new_dir, now_utc())
    if error:  # nothing is read from Azure or the cluster for a plan that cannot be used
        from azext_meshca.model.snapshot import new_snapshot
        snapshot = new_snapshot({"resourceGroup": opts.resource_group, "cluster": opts.name}, {})
        snapshot["rotation"] = {"command": "advance", "plan": None, "planError": error, "planPath": opts.plan_file}
        findings, not_run = judge(snapshot)
        return refused_result(cmd, snapshot, findings, not_run)
    snapshot, client, _ = gather(cmd.cli_ctx, opts, plan=plan, material=material)
    findings, not_run = judge(snapshot)
    view, status = status_view(snapshot)
    if refuses(findings, not_run):
        return refused_result(cmd, snapshot, findings, not_run, view)
    action, stage, objects = rules.next_action(plan, status["state"], status["gate"]["holds"])
    result = {"rotation": view, "action": action, "stage": stage, "written": [], "dryRun": opts.dry_run,
              "target": dict(snapshot.get("target") or {})}
    if action == "done":
        stderr(f"Rotation {plan['rotationId']} is done: nothing to write.")
        return result
    if action == "wait":
        stderr(f"Stage {stage} is written; its gate does not hold yet. Waiting for:")
        for line in view["gate"]["waitingFor"]:
            stderr("  - " + line)
        return result
    writes = planned_writes(plan, snapshot, stage, objects, opts.new_dir)
    result["writes"] = [{key: item[key] for key in ("object", "secretName", "stage", "sha256", "tags")}
                        for item in writes]
    for item in writes:
        stderr(f"{'Would write' if opts.dry_run else 'Write'} {item['secretName']} ({item['object']}), stage "
               f"{stage}, sha256 {item['sha256'][:16]}…, prior version {item['tags'][rules.TAG_PRIOR] or 'none'}")
    if opts.dry_run:
        result["action"] = "planned"
        return result
    from azext_meshca.verbs.fixaccess.apply import confirm
    confirm(opts.yes)
    result["written"] = apply_writes(client, writes)
    if opts.wait:
        result["rotation"] = wait_for_gate(cmd.cli_ctx, opts, plan, material, opts.timeout)
    return result


def planned_writes(plan, snapshot, stage, objects, new_dir):
    """[{object, secretName, stage, value, sha256, tags, contentType}] in the stage's order."""
    slot = snapshot["rotation"]
    how_by_object = dict(rules.STAGE_WRITES[stage])
    writes = []
    for obj, _ in rules.STAGE_WRITES[stage]:
        if obj not in objects:
            continue
        value = rules.stage_value(how_by_object[obj], slot["startRootPem"], slot["newMaterial"]["rootPem"])
        if value is None:
            value = read_new_file(new_dir, obj)
        current = rules.current_version(slot["versions"].get(obj) or []) or {}
        secret = ok_data((snapshot.get("secrets") or {}).get(obj)) or {}
        writes.append({"object": obj, "secretName": plan["secretNames"][obj], "stage": stage, "value": value,
                       "sha256": (rules.sha256_text(value) if obj != "ca-key"
                                  else plan["newMaterial"]["keyPublicSha256"]),
                       "tags": rules.tags_for(plan, stage, current.get("version")),
                       "contentType": secret.get("contentType")})
    return writes


def apply_writes(client, writes):
    """The writes, in order; each value leaves memory only in its own PUT."""
    from azext_meshca.sources import rotation as kv
    done = []
    for item in writes:
        try:
            version = kv.write_secret(client, item["secretName"], item.pop("value"), item["tags"],
                                      content_type=item["contentType"])
        except Exception as error:  # pylint: disable=broad-except
            raise ValidationError(f"Writing {item['secretName']} failed after {len(done)} of {len(writes)} writes: "
                                  f"{kv.failure(error)}. Run advance again to finish the stage.") from None
        done.append({"object": item["object"], "secretName": item["secretName"], "version": version})
    return done


def wait_for_gate(cli_ctx, opts, plan, material, timeout):
    """Poll until the written stage's gate holds or ``timeout`` seconds pass; the last status."""
    from azext_meshca.verbs.rotate.options import DEFAULT_WAIT_SECONDS, POLL_SECONDS
    deadline = time.monotonic() + (timeout or DEFAULT_WAIT_SECONDS)
    view = None
    while True:
        snapshot, _, _ = gather(cli_ctx, opts._replace(command="status"), plan=plan, material=material)
        view, _ = status_view(snapshot)
        if view["gate"]["holds"] or time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    if not view["gate"]["holds"]:
        stderr(f"--timeout passed; stage {view['stage']}'s gate does not hold yet.")
    return view
