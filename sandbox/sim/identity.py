"""Token endpoints: managed identity (App Service style: Azure/azure-sdk-for-python
``sdk/identity/azure-identity/azure/identity/_credentials/app_service.py``) and AAD v2.

Tokens are unsigned-but-well-formed JWTs; every simulated service reads the
``oid`` claim to know who is calling.  By default the MSI endpoint speaks for the
scenario's operator; ``client_id`` / ``principal_id`` / ``object_id`` /
``mi_res_id`` select another identity (e.g. the add-on identity, so a test can
prove Key Vault answers 200 to the add-on after a fix).
"""

import time
from urllib.parse import parse_qs

from sandbox.sim.server import Response, json_error, make_jwt

TOKEN_LIFETIME = 3600


def issue_token(world, identity, resource):
    """A JWT for ``identity`` with the claims az and our services look at."""
    now = int(time.time())
    claims = {
        "aud": resource,
        "iss": "https://sts.windows.net/%s/" % world.tenant,
        "iat": now,
        "nbf": now,
        "exp": now + TOKEN_LIFETIME,
        "oid": identity["objectId"],
        "sub": identity["objectId"],
        "tid": world.tenant,
        "appid": identity["clientId"],
        "azp": identity["clientId"],
        "idtyp": "app",
        "ver": "1.0",
    }
    if identity.get("resourceId"):
        claims["xms_mirid"] = identity["resourceId"]
    return make_jwt(claims), now + TOKEN_LIFETIME


class ManagedIdentityService:
    """``GET /msi/token?api-version=2019-08-01&resource=...`` (IDENTITY_ENDPOINT)."""

    def __init__(self, world):
        self.world = world

    def handle(self, req):
        if req.path.rstrip("/") != "/msi/token" or req.method != "GET":
            return json_error(404, "NotFound", "unknown MSI path")
        if not req.headers.get("x-identity-header"):
            # App Service's endpoint refuses callers without the secret header (IDENTITY_HEADER).
            return Response(401, {"statusCode": 401, "message": "Unauthorized: X-IDENTITY-HEADER is missing."})
        resource = req.arg("resource")
        if not resource:
            return Response(400, {"error": "invalid_request", "error_description": "resource is required"})
        identity = self._select(req)
        if identity is None:
            return Response(400, {"statusCode": 400, "message": "No User Assigned or Delegated Managed Identity "
                                  "found for specified ClientId/ResourceId/PrincipalId.",
                                  "error": "invalid_request",
                                  "error_description": "Identity not found"})
        token, expires_on = issue_token(self.world, identity, resource)
        return Response(200, {
            "access_token": token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity["clientId"],
        })

    def _select(self, req):
        client_id = req.arg("client_id")
        object_id = req.arg("principal_id") or req.arg("object_id")
        resource_id = req.arg("mi_res_id") or req.arg("msi_res_id")
        if not (client_id or object_id or resource_id):
            return self.world.identities[self.world.operator["objectId"]]
        return self.world.identity_by(client_id=client_id, object_id=object_id, resource_id=resource_id)


class AadService:
    """Enough of login.microsoftonline.com for MSAL service-principal login.

    Service principals come from the scenario's ``servicePrincipals`` list
    (clientId, secret, objectId).  Callers should set
    AZURE_CORE_INSTANCE_DISCOVERY=false; the instance-discovery path is still
    answered so a forgotten setting fails loudly in the log rather than hanging.
    """

    def __init__(self, world, base_url_getter):
        self.world = world
        self._base = base_url_getter

    def handle(self, req):
        parts = [p for p in req.path.split("/") if p]
        if req.path.startswith("/common/discovery/instance"):
            return self._instance_discovery(req)
        if req.path.endswith("/.well-known/openid-configuration"):
            return self._openid(parts[0])
        if len(parts) >= 3 and parts[-1] == "token" and req.method == "POST":
            return self._token(parts[0], req)
        return json_error(404, "NotFound", "unknown AAD path")

    def _openid(self, tenant):
        base = "%s/%s" % (self._base(), tenant)
        return Response(200, {
            "token_endpoint": base + "/oauth2/v2.0/token",
            "authorization_endpoint": base + "/oauth2/v2.0/authorize",
            "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
            "issuer": "%s/%s/v2.0" % (self._base(), self.world.tenant),
            "jwks_uri": base + "/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                      "client_secret_basic"],
            "tenant_region_scope": "NA",
        })

    def _instance_discovery(self, req):
        return Response(200, {
            "tenant_discovery_endpoint": "%s/%s/v2.0/.well-known/openid-configuration"
                                         % (self._base(), self.world.tenant),
            "api-version": "1.1",
            "metadata": [],
        })

    def _token(self, tenant, req):
        form = {k: v[0] for k, v in parse_qs(req.body.decode("utf-8")).items()}
        client_id = form.get("client_id", "")
        for sp in self.world.service_principals:
            if str(sp["clientId"]).lower() == client_id.lower() and str(sp.get("secret")) == form.get(
                    "client_secret"):
                identity = self.world.identity_by(object_id=str(sp["objectId"]))
                scope = form.get("scope", "").split(" ")[0]
                resource = scope[:-len("/.default")] if scope.endswith("/.default") else scope
                token, _ = issue_token(self.world, identity, resource)
                return Response(200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                                      "access_token": token})
        return Response(401, {"error": "invalid_client",
                              "error_description": "AADSTS7000215: Invalid client secret provided. "
                                                   "Ensure the secret being sent in the request is the client "
                                                   "secret value, not the client secret ID.",
                              "error_codes": [7000215]})
