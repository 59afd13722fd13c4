"""rotate's run: read the new material, the cluster and Key Vault through sources/rotation.py,
judge with the one runner (the rotate rules, checks/rotate.py; the new material with the
certificate rules, as validate-secrets), then write at most one stage through
sources/rotation.py. Nothing here decides whether a write is safe.

Refusals are findings in diagnose's shape with exit 4, and come before any write request:
the writes happen only after every refusal rule ran on what was read just now.
"""

import json
import sys
import time

from azure.cli.core.azclierror import ValidationError

from azext_meshca.model.snapshot import iso_utc, now_utc, ok_data
from azext_meshca.output.report import EXIT_PROBLEMS, build_result, exit_after_output
from azext_meshca.rules.checks import rotate as rules
from azext_meshca.sources import rotation as kv

# The new material is judged as validate-secrets judges a set by default (--warn-days 30).
NEW_MATERIAL_WARN_DAYS = 30


def stderr(line):
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------- the new material

def new_material(new_dir):
    """Facts of the new material: fingerprints, hashes of the public files, the new key's public
    SHA-256, and the error findings of the certificate rules validate-secrets runs (the one
    runner over the pluginSet snapshot sources/certsets.py builds, as verbs/validate_secrets.py)."""
    from azext_meshca.model import certs
    from azext_meshca.rules import capath
    from azext_meshca.rules.registry import CA_SET
    from azext_meshca.rules.runner import run_rules
    from azext_meshca.sources.certsets import set_snapshot
    found, texts = kv.read_new_dir(new_dir)
    findings = run_rules(set_snapshot(found, NEW_MATERIAL_WARN_DAYS), select=(CA_SET,)).findings
    try:
        ca_cert_fingerprint = certs.fingerprint(certs.parse_pem_bundle(texts["ca-cert"].encode("utf-8"))[0])
    except (certs.CertFormatError, IndexError):
        ca_cert_fingerprint = None
    key = found["objects"].get("ca-key") or {}
    return {"rootPem": texts["root-cert"], "rootFingerprints": capath.fingerprints(texts["root-cert"]),
            "caCertFingerprint": ca_cert_fingerprint, "chainFingerprints": capath.fingerprints(texts["cert-chain"]),
            "keyPublicSha256": key.get("publicKeySha256"),
            "sha256": {obj: rules.sha256_text(text) for obj, text in texts.items()},
            "errors": [{"code": item["code"], "object": item.get("object"), "title": item.get("title")}
                       for item in findings if item["severity"] == "error"]}


# --------------------------------------------------------------------------- the plan file

def write_plan(path, plan):
    """0600, via a temporary file and a rename (diagnose.write_private_file, as --export)."""
    from azext_meshca.verbs.diagnose import write_private_file
    write_private_file(path, json.dumps(dict(plan, createdAt=iso_utc(now_utc())), indent=2, sort_keys=True) + "\n")


# --------------------------------------------------------------------------- reading the world

def gather(cli_ctx, opts, plan=None, material=None):
    """The snapshot rotate judges: diagnose's collection plus the ``rotation`` slot, read by
    sources/rotation.py; which rotation it is about (and so where it starts) is the rules' call."""
    from azext_meshca.verbs import diagnose
    from azext_meshca.rules.checks.common import plugin_config
    from azext_meshca.sources.deadline import run_within
    from azext_meshca.model.plugin import secret_names
    with run_within(cli_ctx):
        snapshot = diagnose.collect(cli_ctx, opts.resource_group, opts.name)
        plugin, vault = plugin_config(snapshot), ok_data(snapshot.get("vault"))
        if not plugin or not vault:
            raise ValidationError(f"{opts.resource_group}/{opts.name} has no readable plug-in CA vault: run az aks "
                                  f"mesh ca diagnose -g {opts.resource_group} -n {opts.name}.")
        names = secret_names(plugin)
        try:
            client = kv.secret_client(cli_ctx, vault)
            kv.add_versions(snapshot, client, names, command=opts.command, plan_path=opts.plan_file)
        except Exception as error:  # pylint: disable=broad-except
            raise ValidationError(f"Key Vault {vault.get('name')}: the plug-in secrets' versions could not be "
                                  f"read: {kv.failure(error)}") from None
        rotation_id = _rotation_id(snapshot, opts.command, plan)
        versions = snapshot["rotation"]["versions"]
        start = plan["start"] if plan else rules.recovered_start(versions, rotation_id)
        operator = operator_facts(cli_ctx, vault) if opts.command in ("plan", "advance") else None
        try:
            kv.add_start(snapshot, client, names, plan=plan, material=material, rotation_id=rotation_id,
                         start=start, operator=operator)
        except Exception as error:  # pylint: disable=broad-except
            raise ValidationError(f"root-cert's version {start.get('root-cert')}, where the rotation started, could "
                                  f"not be read: {kv.failure(error)}") from None
    return snapshot, client, names


def _rotation_id(snapshot, command, plan):
    """The rotation the run is about: the plan's; for a new plan, the one whose tags are on a
    current version and that is not done (it resumes), else None; for status, the latest."""
    if plan:
        return plan["rotationId"]
    rotation_id, _ = rules.latest_rotation(snapshot["rotation"]["versions"])
    if command != "plan" or not rotation_id:
        return rotation_id
    # the slot holds nothing planned yet: rotation_status judges the tags and the cluster alone
    return None if rules.rotation_status(snapshot)["stage"] == rules.DONE else rotation_id


def operator_facts(cli_ctx, vault):
    """What sources/rotation.py reads of the signed-in principal's grants (facts only: MCA345
    judges them). Its groups are read only when its own grants do not allow the write, which
    access_model.own_write_grant decides, as it decides the rest of the verdict."""
    from azext_meshca.rules.access_model import RBAC, own_write_grant, permission_model
    return kv.operator_facts(cli_ctx, vault, lambda facts: own_write_grant(vault, facts),
                             rbac=permission_model(vault) == RBAC)


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
    material = new_material(opts.new_dir)
    snapshot, _, _ = gather(cmd.cli_ctx, opts, material=material)
    plan = plan_from(snapshot)
    under_way = snapshot["rotation"].get("underWay")
    kv.add_planned(snapshot, plan["rotationId"])
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
        plan, error = kv.read_plan(opts.plan_file)
        if error:
            stderr(f"The plan file {opts.plan_file} is not used ({error}): reading the rotation from Key Vault's "
                   "tags.")
    snapshot, _, _ = gather(cmd.cli_ctx, opts, plan=plan)
    view, _ = status_view(snapshot)
    return {"rotation": view, "target": dict(snapshot.get("target") or {}),
            "collectedAt": snapshot.get("collectedAt")}


def run_advance(cmd, opts):
    plan, error = kv.read_plan(opts.plan_file)
    material = new_material(opts.new_dir)
    if error:  # nothing is read from Azure or the cluster for a plan that cannot be used
        snapshot = kv.plan_error_snapshot(opts.resource_group, opts.name, error, opts.plan_file)
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
            value = kv.read_new_file(new_dir, obj)
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
