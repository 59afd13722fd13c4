"""Key Vault reads and writes of ``az aks mesh ca rotate`` (the only writes meshca makes to Key Vault).

Every call goes through ``_client_factory.cf_secret_client``, so the host pin of
collectors/hostpin.py holds: a token goes to the vault's own address only.

- ``read_versions``: each plug-in object's versions with their tags (azure-keyvault-secrets
  ``list_properties_of_secret_versions``, GET /secrets/{name}/versions; azure-rest-api-specs
  specification/keyvault/data-plane/Microsoft.KeyVault/stable/7.4/secrets.json
  ``GetSecretVersions``);
- ``read_version_value``: one version's value, for root-cert only (public certificates);
- ``write_secret``: ``set_secret(name, value, tags=..., content_type=...)`` (PUT /secrets/{name},
  ``SetSecret``): a new version, never a delete, disable or purge;
- ``operator_facts``: the signed-in principal's object id (the ``oid`` claim of its own ARM
  token, read locally), its role assignments, and, when its own grants do not allow the write,
  its groups (MS Graph getMemberObjects) and their assignments at the vault's scope, custom
  roles with their permissions; facts only: MCA345 judges them (access_model.operator_write_verdict).

The reads that make rotate's snapshot are here too, so the verb (verbs/rotate/run.py) judges
and writes only:

- ``read_new_dir``: the new material in --new-dir (files.read_cert_dir: ca-key reduced to its
  key facts at once) and the public files' texts;
- ``read_plan``: the plan file, refused with a one-line reason when it is not rotate's own
  (model/rotation.py ``plan_shape_error``);
- ``add_versions`` then ``add_start``: the ``rotation`` slot (rules/checks/rotate.py's module
  doc) over diagnose's snapshot, in two steps because where the rotation starts is the rules'
  call (the verb asks them between the two);
- ``plan_error_snapshot``: the snapshot advance judges when the plan file cannot be used
  (nothing is read from Azure or the cluster for it).
"""

import base64
import json
import os

from azext_meshca.model.certs import CertFormatError, fingerprint, parse_pem_bundle
from azext_meshca.model.inputs import InputError, read_regular_file, utf8_text
from azext_meshca.model.plugin import CERTIFICATE_OBJECTS, file_name
from azext_meshca.model.resource_ids import is_object_id
from azext_meshca.model.rotation import plan_shape_error
from azext_meshca.model.snapshot import iso_utc, new_snapshot, ok_data
from azext_meshca.sources.errors import describe_error

MAX_PLAN_BYTES = 1024 * 1024


# --------------------------------------------------------------------------- the new material

def read_new_dir(new_dir):
    """(the plug-in set files.read_cert_dir reads, {certificate object: its text}): ca-key is
    already reduced to its key facts, so no private byte leaves files.py."""
    from azext_meshca.sources import files
    found = files.read_cert_dir(new_dir)
    return found, {obj: _public_text(found["objects"].get(obj)) for obj in CERTIFICATE_OBJECTS}


def _public_text(data):
    if data is None:
        return ""
    return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)


def read_new_file(new_dir, obj):
    """The exact text of one new-dir file, read at the moment it is written to Key Vault."""
    from azext_meshca.sources import files
    return files.read_capped(os.path.join(new_dir, file_name(obj))).decode("utf-8")


# --------------------------------------------------------------------------- the plan file

def read_plan(path):
    """(plan, None) or (None, why it cannot be used): missing, unreadable, not a plan."""
    try:
        plan = json.loads(utf8_text(read_regular_file(path, MAX_PLAN_BYTES), path))
    except InputError as error:
        return None, str(error).rstrip(".")
    except ValueError as error:
        return None, f"it is not JSON ({str(error).splitlines()[0]})"
    why = plan_shape_error(plan)
    return (None, why) if why else (plan, None)


def plan_error_snapshot(resource_group, name, error, plan_path):
    """advance's snapshot when the plan file cannot be used: only the ``rotation`` slot, so
    MCA346 refuses it and nothing is read from Azure or the cluster."""
    snapshot = new_snapshot({"resourceGroup": resource_group, "cluster": name}, {})
    snapshot["rotation"] = {"command": "advance", "plan": None, "planError": error, "planPath": plan_path}
    return snapshot


# --------------------------------------------------------------------------- the rotation slot

def add_versions(snapshot, client, names, *, command, plan_path):
    """Step one of the ``rotation`` slot: Key Vault's versions and tags and root-cert's value
    now, with nothing planned yet (what the rules need to say which rotation is under way).
    Raises the SDK's error when the versions cannot be listed."""
    snapshot["rotation"] = {"command": command, "plan": None, "newMaterial": None, "planPath": plan_path,
                            "planError": None, "versions": read_versions(client, names),
                            "currentRootPem": _secret_value(snapshot, "root-cert") or "", "startRootPem": ""}
    return snapshot


def add_start(snapshot, client, names, *, plan, material, rotation_id, start, operator=None):
    """Step two: the plan, the new material, the rotation the verb found (its plan's, the one
    under way for plan, the latest for status: the rules' call), the versions it starts from
    (``start``), root-cert's text at that version, the live ca-cert's fingerprint and the
    operator's facts (operator_facts). Raises the SDK's error when root-cert's start version cannot be read."""
    slot = snapshot["rotation"]
    slot.update(plan=plan, newMaterial=material, start=dict(start), inRotation=bool(rotation_id))
    if slot["command"] == "plan" and not plan:  # a new plan resumes the rotation under way, if any
        slot["underWay"] = rotation_id
    current = ok_data((snapshot.get("secrets") or {}).get("root-cert")) or {}
    root_start = start.get("root-cert")
    if root_start and root_start != current.get("version"):
        slot["startRootPem"] = read_version_value(client, names["root-cert"], root_start)
    else:
        slot["startRootPem"] = slot["currentRootPem"]
    slot["liveFingerprints"] = {"ca-cert": _first_fingerprint(_secret_value(snapshot, "ca-cert"))}
    if operator is not None:
        slot["operator"] = operator
    return snapshot


def add_planned(snapshot, rotation_id):
    """The rotation id plan would write (MCA350 compares it with the one under way)."""
    snapshot["rotation"]["planRotationId"] = rotation_id
    return snapshot


def _secret_value(snapshot, obj):
    return (ok_data((snapshot.get("secrets") or {}).get(obj)) or {}).get("value")


def _first_fingerprint(value):
    try:
        return fingerprint(parse_pem_bundle(value.encode("utf-8"))[0]) if value else None
    except (CertFormatError, IndexError):
        return None


def secret_client(cli_ctx, vault):
    from azext_meshca._client_factory import cf_secret_client
    return cf_secret_client(cli_ctx, vault)


def read_versions(client, secret_names):
    """{object: [{version, created, enabled, tags}]} oldest first, or raises the SDK's error."""
    result = {}
    for obj, name in secret_names.items():
        records = []
        for properties in client.list_properties_of_secret_versions(name):
            records.append({"version": properties.version, "created": iso_utc(properties.created_on),
                            "createdEpoch": properties.created_on.timestamp() if properties.created_on else 0,
                            "enabled": properties.enabled, "tags": dict(properties.tags or {})})
        records.sort(key=lambda record: (record["createdEpoch"], record["version"] or ""))
        result[obj] = records
    return result


def read_version_value(client, name, version):
    """A root-cert version's text (a public bundle; never called for ca-key)."""
    return client.get_secret(name, version).value


def write_secret(client, name, value, tags, content_type=None):
    """One new version; returns its version id. The value is never logged or returned."""
    secret = client.set_secret(name, value, tags=dict(tags), content_type=content_type)
    return secret.properties.version


def signed_in_object_id(cli_ctx):
    """The ``oid`` claim of the signed-in principal's ARM token, or None (a token that is not
    a JWT). Read locally: azure-cli's ``az ad signed-in-user show`` asks MS Graph /me, which a
    service principal cannot call."""
    from azure.cli.core._profile import Profile
    try:
        creds, _, _ = Profile(cli_ctx=cli_ctx).get_raw_token()
        payload = creds[1].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except Exception:  # pylint: disable=broad-except
        return None
    return claims.get("oid")


def member_groups(cli_ctx, object_id):
    """The ids of every group the principal belongs to, transitively, or (None, why).

    MS Graph ``POST /v1.0/directoryObjects/{id}/getMemberObjects`` (a read for users and service
    principals alike; /me, which ``az ad signed-in-user show`` calls, is for users only;
    learn.microsoft.com/graph/api/directoryobject-getmemberobjects), sent with a token for
    Graph's own resource to Graph's host only (_client_factory ``cf_graph``). The object id comes
    from a token; one that is not a GUID is never put into a URL.

    ``securityEnabledOnly: true``: a vault's access policy names "a user, service principal or
    security group" (azure-rest-api-specs Microsoft.KeyVault keyvault.json, AccessPolicyEntry.objectId;
    as mirrored in paragonsean/openapi-directory APIs/azure.com/keyvault/2018-02-14-preview/
    javascript-client/docs/AccessPolicyEntry.md), so a Microsoft 365 group's entry never lets
    the operator set; counting it would say yes to a write Key Vault refuses."""
    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest
    from azext_meshca._client_factory import ARM_CALL_OPTIONS, cf_graph
    if not is_object_id(object_id):
        return None, "its group memberships were not read: its object id is not a GUID that names a principal"
    try:
        client = cf_graph(cli_ctx)
        response = client.send_request(
            HttpRequest("POST", client.format_url(f"/v1.0/directoryObjects/{object_id}/getMemberObjects"),
                        json={"securityEnabledOnly": True}), **ARM_CALL_OPTIONS)
        if response.status_code != 200:
            raise HttpResponseError(response=response)
        return [str(item) for item in response.json().get("value") or []], None
    except Exception as error:  # pylint: disable=broad-except
        return None, f"its group memberships could not be read from Microsoft Graph: {failure(error)}"


def vault_scope_assignments(cli_ctx, vault_id, principals):
    """The role assignments of ``principals`` (the operator's groups) at the vault's scope or above
    (``atScope()``; azure-rest-api-specs Microsoft.Authorization stable/2022-04-01
    RoleAssignments_ListForScope, any principal: a group's grant shows here), each custom role with
    its definition's ``permissions`` (sources/azure.py annotate_roles_from_arm, as for the
    principal's own), so rules/rbac.py judges a group's custom role as it judges the principal's."""
    from azext_meshca.model.resource_ids import parse_vault_id
    from azext_meshca.model.roles import same_principal
    from azext_meshca.sources.azure import (AUTHORIZATION_API_VERSION, _list_pages, annotate_roles_from_arm,
                                            normalise_role_assignment)
    subscription = parse_vault_id(vault_id)["subscriptionId"]
    path = f"{vault_id.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments"
    raw = _list_pages(cli_ctx, subscription, path, AUTHORIZATION_API_VERSION, **{"$filter": "atScope()"})
    held = [item for item in (normalise_role_assignment(each) for each in raw)
            if any(same_principal(item, principal) for principal in principals)]
    return annotate_roles_from_arm(cli_ctx, subscription, held)


def operator_facts(cli_ctx, vault, direct_grant, *, rbac):
    """{objectId, assignments, groups, error, groupsError}: facts only, which MCA345 judges
    (rules/access_model.py operator_write_verdict). ``direct_grant(facts)`` says whether the
    principal's own grants already suffice; only then are its groups (and their assignments) not
    read. ``rbac``: the vault authorises with Azure RBAC (access_model.permission_model, the verb's
    call), so role assignments are read. ``error``: the principal's own facts could not be read;
    ``groupsError``: its groups or their assignments could not be."""
    from azext_meshca.sources.azure import read_role_assignments
    object_id = signed_in_object_id(cli_ctx)
    facts = {"objectId": object_id, "assignments": None, "groups": [], "error": None, "groupsError": None}
    if not object_id:
        return dict(facts, error="the signed-in principal's object id could not be read from its token")
    if rbac:
        item = read_role_assignments(cli_ctx, vault["id"], object_id)
        if not item["ok"]:
            return dict(facts, error=f"its role assignments could not be listed: {item['error']['reason']}")
        facts["assignments"] = item["data"]
    if direct_grant(facts):
        return facts
    groups, why = member_groups(cli_ctx, object_id)
    if groups is None:
        return dict(facts, groupsError=why)
    facts["groups"] = groups
    if groups and rbac:
        try:
            facts["assignments"] = facts["assignments"] + vault_scope_assignments(cli_ctx, vault["id"], groups)
        except Exception as error:  # pylint: disable=broad-except
            return dict(facts, groupsError=f"the vault's role assignments could not be listed: {failure(error)}")
    return facts


def failure(error):
    """A one-line reason for a failed Key Vault call (never its body)."""
    return describe_error(error)["reason"]
