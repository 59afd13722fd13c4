"""Azure-side collectors: the managed cluster, the vault, role assignments, the secrets.

The ``read_*`` functions do I/O and return ``collected`` items; the ``normalise_*``
functions are pure and turn REST-shaped JSON into the snapshot schema
(``azext_meshca/model/snapshot.py``), so they are tested without any network.
"""

from urllib.parse import quote

from azext_meshca.model import snapshot_schema
from azext_meshca._client_factory import ARM_CALL_OPTIONS, cf_arm
from azext_meshca.sources.errors import describe_error
from azext_meshca.sources.hostpin import arm_path
from azext_meshca.model.inputs import as_list, as_mapping
from azext_meshca.model.snapshot_schema import check as check_shape
from azext_meshca.model.plugin import PLUGIN_FIELDS
from azext_meshca.model.resource_ids import is_object_id, parse_vault_id
from azext_meshca.model.roles import KNOWN_ROLES, assignments_for, role_guid
from azext_meshca.model.snapshot import collected, collection_error, iso_utc

CSI_ADDON = "azureKeyvaultSecretsProvider"


def _obj(parent, key, where):
    """parent[key] as a JSON object ({} when absent or null); InputError naming the field
    when a service sent something else, so a malformed body is a collection finding."""
    return as_mapping(parent.get(key), f"{where}.{key}")


def _items(parent, key, where):
    """parent[key] as a list of JSON objects ([] when absent or null), or InputError."""
    path = f"{where}.{key}"
    values = as_list(parent.get(key), path)
    return [as_mapping(value, f"{path}[{index}]") for index, value in enumerate(values)]


def _lookup(mapping, key):
    """Addon profile keys come back in different casings; match case-insensitively."""
    for candidate, value in (mapping or {}).items():
        if str(candidate).lower() == key.lower():
            return value
    return None


def normalise_cluster(raw):
    """The parts of a managedCluster (REST JSON) that the checks judge.

    Any JSON in, the snapshot's cluster shape out (azext_meshca/model/snapshot_schema.py), or
    InputError/ShapeError naming the first field that does not fit."""
    raw = as_mapping(raw, "managedCluster")
    properties = _obj(raw, "properties", "managedCluster")
    mesh = _obj(properties, "serviceMeshProfile", "properties")
    istio = _obj(mesh, "istio", "serviceMeshProfile")
    plugin = _obj(_obj(istio, "certificateAuthority", "istio"), "plugin", "certificateAuthority") or None
    addons = _obj(properties, "addonProfiles", "properties")
    addon = as_mapping(_lookup(addons, CSI_ADDON), "addonProfiles." + CSI_ADDON)
    config = _obj(addon, "config", CSI_ADDON)
    identity = _obj(addon, "identity", CSI_ADDON) or None
    aad = _obj(properties, "aadProfile", "properties") or None
    result = {
        "id": raw.get("id"),
        "name": raw.get("name"),
        "location": raw.get("location"),
        "nodeResourceGroup": properties.get("nodeResourceGroup"),
        "meshMode": mesh.get("mode"),
        "revisions": list(as_list(istio.get("revisions"), "istio.revisions")),
        "plugin": {field: plugin.get(field) for field in PLUGIN_FIELDS} if plugin else None,
        "csiAddon": {
            "enabled": bool(addon.get("enabled")),
            "enableSecretRotation": _lookup(config, "enableSecretRotation"),
            "rotationPollInterval": _lookup(config, "rotationPollInterval"),
            "identity": {
                "objectId": identity.get("objectId"),
                "clientId": identity.get("clientId"),
                "resourceId": identity.get("resourceId"),
            } if identity else None,
        },
        # ARM's REST name is enableAzureRBAC (azure-rest-api-specs ManagedClusterAADProfile);
        # az prints the SDK's enableAzureRbac: accept either casing.
        "aad": {"managed": bool(_lookup(aad, "managed")),
                "enableAzureRbac": bool(_lookup(aad, "enableAzureRBAC"))} if aad else None,
        "powerState": _obj(properties, "powerState", "properties").get("code"),
        "apiServer": _api_server_access(_obj(properties, "apiServerAccessProfile", "properties")),
    }
    check_shape(result, snapshot_schema.CLUSTER, "managedCluster")
    return result


def _api_server_access(profile):
    """Whether the API server is private or limited to authorised IP ranges: the two
    reasons an operator's machine may not reach it. Field names from
    Azure/azure-rest-api-specs specification/containerservice (ManagedClusterAPIServerAccessProfile:
    enablePrivateCluster, authorizedIPRanges); matched in any casing, as aadProfile is."""
    if not profile:
        return None
    ranges = as_list(_lookup(profile, "authorizedIPRanges"), "apiServerAccessProfile.authorizedIPRanges")
    return {"privateCluster": bool(_lookup(profile, "enablePrivateCluster")),
            "authorizedIpRanges": [str(value) for value in ranges]}


def normalise_vault(raw):
    """The parts of a vault (REST JSON) that decide whether the add-on can read it.

    Any JSON in, the snapshot's vault shape out, or InputError/ShapeError."""
    raw = as_mapping(raw, "vault")
    properties = _obj(raw, "properties", "vault")
    parsed = parse_vault_id(raw.get("id")) or {}
    acls = _obj(properties, "networkAcls", "properties") or None
    result = {
        "id": raw.get("id"),
        "name": raw.get("name"),
        "resourceGroup": parsed.get("resourceGroup"),
        "subscriptionId": parsed.get("subscriptionId"),
        "location": raw.get("location"),
        "tenantId": properties.get("tenantId"),
        "vaultUri": properties.get("vaultUri"),
        "enableRbacAuthorization": bool(properties.get("enableRbacAuthorization")),
        "accessPolicies": [{
            "tenantId": policy.get("tenantId"),
            "objectId": policy.get("objectId"),
            "applicationId": policy.get("applicationId"),   # compound identity: see rules/access_model.py
            "permissions": {"secrets": list(as_list(_obj(policy, "permissions", "accessPolicy").get("secrets"),
                                                    "accessPolicy.permissions.secrets"))},
        } for policy in _items(properties, "accessPolicies", "properties")],
        "publicNetworkAccess": properties.get("publicNetworkAccess"),
        "networkAcls": {
            "defaultAction": acls.get("defaultAction"),
            "bypass": acls.get("bypass"),
            "ipRules": [rule.get("value") for rule in _items(acls, "ipRules", "networkAcls")],
            "virtualNetworkRules": [rule.get("id") for rule in _items(acls, "virtualNetworkRules", "networkAcls")],
        } if acls else None,
        "privateEndpointCount": _approved_private_endpoints(as_list(properties.get("privateEndpointConnections"),
                                                                    "properties.privateEndpointConnections")),
    }
    check_shape(result, snapshot_schema.VAULT, "vault")
    return result


def _approved_private_endpoints(connections):
    """How many private endpoint connections give the nodes a path: only ``Approved`` ones.

    Each item's ``properties.privateLinkServiceConnectionState.status`` is one of
    Pending, Approved, Rejected, Disconnected (azure-rest-api-specs keyvault
    ``PrivateEndpointServiceConnectionStatus``); a Pending or Rejected connection
    carries no traffic.
    """
    count = 0
    for item in connections or ():
        properties = item.get("properties") if isinstance(item, dict) else None
        state = properties.get("privateLinkServiceConnectionState") if isinstance(properties, dict) else None
        if isinstance(state, dict) and str(state.get("status") or "").lower() == "approved":
            count += 1
    return count


def normalise_role_assignment(raw):
    raw = as_mapping(raw, "roleAssignment")
    properties = _obj(raw, "properties", "roleAssignment") or raw
    result = {
        "id": raw.get("id"),
        "scope": properties.get("scope"),
        "roleDefinitionId": properties.get("roleDefinitionId"),
        "principalId": properties.get("principalId"),
        "principalType": properties.get("principalType"),
    }
    check_shape(result, snapshot_schema.ROLE_ASSIGNMENT, "roleAssignment")
    return result


def read_cluster(cli_ctx, resource_group, name, subscription_id=None):
    """The managed cluster, as a plain ARM GET (``arm_get_json``): the SDK would build its
    model from the same JSON only for diagnose to turn it back into JSON, CPU spent on the
    critical path between the cluster read and the vault read that waits for it."""
    from azure.cli.core.commands.client_factory import get_subscription_id
    try:
        subscription = subscription_id or get_subscription_id(cli_ctx)
        path = (f"/subscriptions/{subscription}/resourceGroups/{quote(resource_group, safe='')}"
                f"/providers/Microsoft.ContainerService/managedClusters/{quote(name, safe='')}")
        return collected(normalise_cluster(arm_get_json(cli_ctx, subscription_id, path, CLUSTER_API_VERSION)))
    except Exception as error:  # pylint: disable=broad-except
        return collected(error=describe_error(error))


# REST versions of the reads made as plain GETs (arm_get_json): stable versions whose
# bodies hold every field the normalisers read (azure-rest-api-specs
# specification/containerservice/resource-manager/Microsoft.ContainerService/aks/stable/2025-10-01/managedClusters.json;
# specification/keyvault/resource-manager/Microsoft.KeyVault/stable/2023-07-01/keyvault.json;
# specification/authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/
# authorization-RoleAssignmentsCalls.json and authorization-RoleDefinitionsCalls.json).
CLUSTER_API_VERSION = "2025-10-01"
VAULT_API_VERSION = "2023-07-01"
AUTHORIZATION_API_VERSION = "2022-04-01"
# A role-assignment list is followed over at most this many pages (ARM pages hold 1,000
# assignments or more; one principal's assignments near one vault fill a fraction of one).
MAX_ASSIGNMENT_PAGES = 20


def arm_get_json(cli_ctx, subscription_id, path, api_version=None, **params):
    """The JSON body of one ARM GET (``path`` relative to ARM, or a nextLink URL).

    Why not the SDKs: importing azure-mgmt-keyvault and azure-mgmt-authorization and
    building their clients costs more CPU than the reads themselves, and diagnose parses
    the REST JSON either way (``_as_rest_dict``). The request goes through the pipeline of
    the management client the cluster read already built (same credential, retries within
    the run's deadline, transport); a non-200 answer raises azure-core's HttpResponseError
    with ARM's error body parsed, as the SDKs' operations raise it.
    """
    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest
    from azure.mgmt.core.exceptions import ARMErrorFormat
    if api_version:
        params["api-version"] = api_version
    path = arm_path(cli_ctx, path)   # an absolute URL only on ARM's host (sources/hostpin.py)
    client = cf_arm(cli_ctx, subscription_id)
    # TypeSpec clients (azure-cli 2.91) name it send_request; AutoRest ones (2.81) _send_request.
    send = getattr(client, "send_request", None) or client._send_request  # pylint: disable=protected-access
    response = send(HttpRequest("GET", path, params=params), **ARM_CALL_OPTIONS)
    if response.status_code != 200:
        raise HttpResponseError(response=response, error_format=ARMErrorFormat)
    return response.json()


def read_vault(cli_ctx, vault_id):
    parsed = parse_vault_id(vault_id)
    try:
        path = (f"/subscriptions/{parsed['subscriptionId']}/resourceGroups/{parsed['resourceGroup']}"
                f"/providers/Microsoft.KeyVault/vaults/{parsed['name']}")
        return collected(normalise_vault(arm_get_json(cli_ctx, parsed["subscriptionId"], path, VAULT_API_VERSION)))
    except Exception as error:  # pylint: disable=broad-except
        return collected(error=describe_error(error))


def read_role_assignments(cli_ctx, vault_id, principal_id):
    """The principal's role assignments that apply to the vault or to one of its secrets
    (vault scope, parents, and secret scopes ``<vault-id>/secrets/<name>``).

    ARM's ``principalId eq`` filter returns the principal's assignments "at, above or
    below the scope" (azure-rest-api-specs specification/authorization/resource-manager/
    Microsoft.Authorization/stable/2022-04-01/authorization-RoleAssignmentsCalls.json,
    RoleAssignments_ListForScope ``$filter``), so secret-scope assignments come back too.

    Assignments of roles other than the well-known Key Vault ones carry ``roleName`` and
    ``permissions`` copied from their role definition, so the rules (rules/rbac.py) judge
    whether a custom role reads secret values, from a live read or a snapshot alike
    (``roleDefinitionError`` says why when the definition could not be read).
    """
    parsed = parse_vault_id(vault_id)
    subscription = parsed["subscriptionId"]
    if not is_object_id(principal_id):
        # It goes into an OData $filter: a value that is not a GUID is never sent.
        return collected(error=collection_error(
            f"the add-on identity's objectId {ascii(str(principal_id))[:60]} is not a GUID, so its role "
            "assignments were not asked for", code="NotAnObjectId"))
    try:
        assignments_path = f"{vault_id.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments"
        raw = _list_pages(cli_ctx, subscription, assignments_path, AUTHORIZATION_API_VERSION,
                          **{"$filter": f"principalId eq '{principal_id}'"})
        assignments = [normalise_role_assignment(item) for item in raw]
        applying = assignments_for(assignments, principal_id, vault_id)
    except Exception as error:  # pylint: disable=broad-except
        return collected(error=describe_error(error))
    annotate_roles_from_arm(cli_ctx, subscription, applying)
    return collected(applying)


def annotate_roles_from_arm(cli_ctx, subscription_id, assignments):
    """annotate_unknown_roles with each definition read from ARM: the principal's own assignments
    here, and its groups' in sources/rotation.py (rotate's operator), so a custom role is judged
    from its permissions whoever holds it."""
    annotate_unknown_roles(assignments, lambda role_id: _read_role_definition(cli_ctx, subscription_id, role_id))
    return assignments


def _list_pages(cli_ctx, subscription_id, path, api_version, **params):
    """Every ``value`` item of an ARM list, following nextLink (which carries the query)."""
    page = arm_get_json(cli_ctx, subscription_id, path, api_version, **params)
    items = list(as_list(page.get("value") or [], "value"))
    for _ in range(MAX_ASSIGNMENT_PAGES - 1):
        if not page.get("nextLink"):
            break
        page = arm_get_json(cli_ctx, subscription_id, page["nextLink"])
        items.extend(as_list(page.get("value") or [], "value"))
    return items


def annotate_unknown_roles(assignments, read_definition):
    """Add roleName and permissions (see read_role_assignments) to each assignment of a
    role outside model/roles.py KNOWN_ROLES; ``read_definition(roleDefinitionId)`` gives
    them, once per role. diagnose reads definitions from ARM, scan from Resource Graph."""
    definitions = {}
    for item in assignments:
        if role_guid(item["roleDefinitionId"]) in KNOWN_ROLES:
            continue
        role_id = item["roleDefinitionId"]
        if role_id not in definitions:
            definitions[role_id] = read_definition(role_id)
        item.update(definitions[role_id])


# The lists of one permission block (azure-rest-api-specs specification/authorization/
# resource-manager/Microsoft.Authorization/stable/2022-04-01/authorization-RoleDefinitionsCalls.json
# ``Permission``), kept as ARM returns them.
PERMISSION_LISTS = ("actions", "notActions", "dataActions", "notDataActions")


def role_definition_facts(properties):
    """{roleName, permissions} from a role definition's properties (REST JSON), or
    InputError naming the field when ``permissions`` is not a list of permission blocks."""
    properties = as_mapping(properties, "roleDefinition.properties")
    blocks = _items(properties, "permissions", "roleDefinition.properties")
    permissions = [{name: [str(value) for value in as_list(block.get(name), f"permissions.{name}")]
                    for name in PERMISSION_LISTS} for block in blocks]
    return {"roleName": properties.get("roleName"), "permissions": permissions}


def unknown_role_definition(reason):
    """What annotate_unknown_roles records when a definition could not be read."""
    return {"roleName": None, "roleDefinitionError": reason}


def _read_role_definition(cli_ctx, subscription_id, role_definition_id):
    """{roleName, permissions} for one role, or its roleDefinitionError."""
    try:
        definition = arm_get_json(cli_ctx, subscription_id, role_definition_id, AUTHORIZATION_API_VERSION)
        return role_definition_facts(as_mapping(definition, "roleDefinition").get("properties"))
    except Exception as error:  # pylint: disable=broad-except
        return unknown_role_definition(describe_error(error)["reason"])


def read_secret(client, secret_name):
    """One Key Vault secret, read through ``client`` (a SecretClient shared by the
    four reads of one vault, so credentials and the auth challenge happen once).

    Returns ``(collected_metadata, value_bytes)``. The value is returned separately so
    the caller decides what may be kept: certificate values go into the snapshot,
    the key's value is reduced to key facts at once.
    """
    try:
        secret = client.get_secret(secret_name)
    except ValueError as error:
        # The SDK refused the vault's challenge (its resource is not the vault's domain), and
        # has cached it all the same: forget it, or the next read would send a token for it.
        from azext_meshca.sources.vaultchallenge import forget
        forget(getattr(client, "vault_url", None))
        return collected(error=describe_error(error)), None
    except Exception as error:  # pylint: disable=broad-except
        return collected(error=describe_error(error)), None
    try:
        return normalise_secret(secret_name, secret.properties, secret.value)
    except Exception as error:  # pylint: disable=broad-except
        return collected(error=describe_error(error)), None


def normalise_secret(secret_name, properties, value):
    """(collected metadata, value bytes) from a SecretBundle's properties and value.

    The value must be text (Key Vault secrets are strings) and is cut one byte past the
    certificate engine's cap, so an oversized object is judged "too large" without more
    of it kept. InputError/ShapeError when the service sent something else.
    """
    from azext_meshca.model.certs import MAX_OBJECT_BYTES
    from azext_meshca.model.inputs import InputError
    if value is not None and not isinstance(value, str):
        raise InputError(f"secret {secret_name}'s value is not text")
    metadata = {
        "name": secret_name,
        "enabled": properties.enabled,
        "notBefore": iso_utc(properties.not_before),
        "expires": iso_utc(properties.expires_on),
        "contentType": properties.content_type,
        "managed": bool(properties.managed),
        "kid": properties.key_id,
        # which version is current and since when: the CA-path model compares it with the
        # versions the CSI driver mounted (azext_meshca/rules/capath.py)
        "version": getattr(properties, "version", None),
        "updated": iso_utc(getattr(properties, "updated_on", None)),
    }
    check_shape(metadata, snapshot_schema.SECRET, "secret " + secret_name)
    return collected(metadata), (value or "").encode("utf-8")[:MAX_OBJECT_BYTES + 1]
