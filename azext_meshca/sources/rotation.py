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
  its groups (MS Graph getMemberObjects) and the vault's assignments; the verb judges them with
  access_model.secret_write_verdict.
"""

import base64
import json

from azext_meshca.sources.errors import describe_error
from azext_meshca.model.snapshot import iso_utc


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
    principals alike; /me, which ``az ad signed-in-user show`` calls, is for users only), sent by
    azure-cli's ``send_raw_request`` with a token for Graph's own resource to Graph's host."""
    from azure.cli.core.util import send_raw_request
    graph = cli_ctx.cloud.endpoints.microsoft_graph_resource_id.rstrip("/")
    try:
        response = send_raw_request(cli_ctx, "POST", f"{graph}/v1.0/directoryObjects/{object_id}/getMemberObjects",
                                    body=json.dumps({"securityEnabledOnly": False}), resource=graph)
        return [str(item) for item in response.json().get("value") or []], None
    except Exception as error:  # pylint: disable=broad-except
        return None, f"its group memberships could not be read from Microsoft Graph: {failure(error)}"


def vault_scope_assignments(cli_ctx, vault_id):
    """Role assignments at the vault's scope or above (``atScope()``; azure-rest-api-specs
    Microsoft.Authorization stable/2022-04-01 RoleAssignments_ListForScope), any principal:
    a group's grant shows here."""
    from azext_meshca.model.resource_ids import parse_vault_id
    from azext_meshca.sources.azure import AUTHORIZATION_API_VERSION, arm_get_json, normalise_role_assignment
    page = arm_get_json(cli_ctx, parse_vault_id(vault_id)["subscriptionId"],
                        f"{vault_id.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments",
                        AUTHORIZATION_API_VERSION, **{"$filter": "atScope()"})
    return [normalise_role_assignment(item) for item in page.get("value") or []]


def operator_facts(cli_ctx, vault, direct_grant):
    """{objectId, assignments, groups, error}: what the verb judges with
    access_model.secret_write_verdict. ``direct_grant(facts)`` says whether the principal's own
    grants already suffice; only then are its groups (and a group's assignments) not read."""
    from azext_meshca.sources.azure import read_role_assignments
    object_id = signed_in_object_id(cli_ctx)
    facts = {"objectId": object_id, "assignments": None, "groups": [], "error": None}
    if not object_id:
        return dict(facts, error="the signed-in principal's object id could not be read from its token")
    if vault.get("enableRbacAuthorization"):
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
    if groups and vault.get("enableRbacAuthorization"):
        try:
            facts["assignments"] = facts["assignments"] + vault_scope_assignments(cli_ctx, vault["id"])
        except Exception as error:  # pylint: disable=broad-except
            return dict(facts, groupsError=f"the vault's role assignments could not be listed: {failure(error)}")
    return facts


def failure(error):
    """A one-line reason for a failed Key Vault call (never its body)."""
    return describe_error(error)["reason"]
