"""Key Vault data plane for one vault (reached by name through the proxy trap: sandbox/sim/harness.py).

Answers like the real service as far as ``az keyvault secret ...`` and the
``azure-keyvault-secrets`` SDK can tell: the 401 bearer challenge on the first
unauthenticated call (Azure/azure-sdk-for-python ``sdk/keyvault/azure-keyvault-secrets/azure/keyvault/secrets/_shared/challenge_auth_policy.py``), secret bodies with ``value``/``id``/
``attributes``/``kid``/``managed``, and 403/404 error bodies decided by the
World so the operator, the add-on identity and the CSI mount model all agree.

With the scenario key ``keyVaultChecksTokenTenant: true`` (the fleet scenarios set it) a
vault whose ``tenantId`` is not the tenant that issued the caller's token answers every
authenticated request as Key Vault does: 401 AKV10032 "Invalid issuer" with a fresh
challenge naming the vault's tenant (learn.microsoft.com/azure/key-vault/general/
rest-error-codes; the text the add-on's mount gets, sandbox/sim/kube_model.py
``_tenant_denial``). Off by default, so the single-cluster
scenarios keep the snapshots their goldens hold.
"""

import re

from sandbox.sim.server import Response, json_error

_SECRET = re.compile(r"^/secrets/(?P<name>[^/]+)(?:/(?P<version>[^/]*))?/?$", re.I)
_VERSIONS = re.compile(r"^/secrets/(?P<name>[^/]+)/versions/?$", re.I)
_LIST = re.compile(r"^/secrets/?$", re.I)
_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")  # secrets.json: secret-name pattern ^[0-9a-zA-Z-]+$


class KeyVaultService:
    """Data plane of the vault named ``vault_name`` in the World."""

    def __init__(self, world, vault_name, aad_url_getter, own_url_getter):
        self.world = world
        self.vault_name = vault_name
        self._aad = aad_url_getter
        self._own = own_url_getter

    def handle(self, req):
        if "authorization" not in req.headers:
            return self._challenge(req)
        if req.principal is None:
            return json_error(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.",
                              headers=self._challenge_headers(req))
        refusal = self._issuer_refusal(req)
        if refusal:
            return refusal
        if req.method == "PUT":
            match = _SECRET.match(req.path)
            if match and not match.group("version"):
                return self._set(req, match.group("name"))
            return json_error(405, "BadParameter", "The simulator's Key Vault takes only PUT /secrets/{name}.")
        if req.method != "GET":
            # No DELETE, purge or update path: a rotation never removes or disables a version.
            return json_error(405, "BadParameter", "The simulator's Key Vault serves GET and PUT /secrets/{name} only.")
        match = _VERSIONS.match(req.path)
        if match:
            return self._versions(req, match.group("name"))
        if _LIST.match(req.path):
            return self._list(req)
        match = _SECRET.match(req.path)
        if match:
            return self._get(req, match.group("name"), match.group("version") or None)
        return json_error(400, "BadParameter", "Unknown Key Vault operation.")

    # ------------------------------------------------------------------ auth

    def _challenge_headers(self, req):
        # Key Vault names the cloud's resource, the vault's host without its first label
        # (https://vault.azure.net for https://<name>.vault.azure.net/), which passes the
        # SDK's domain check (azure-keyvault-secrets _shared/challenge_auth_policy.py
        # on_challenge). The host is the one the request was sent to: for a vault reached
        # at 127.0.0.1:<port> (sim.point_vault_at) the same rule gives https://0.0.1:<port>,
        # which passes that check too.
        host_port = req.headers.get("host") or self._own().split("://", 1)[1].rstrip("/")
        resource = "https://" + host_port.split(".", 1)[1]
        # A scenario may make the vault name another resource (tests of the SDK's challenge
        # check: azext_meshca/sources/vaultchallenge.py ``forget``).
        resource = self.world.raw.get("keyVaultChallengeResource") or resource
        # The challenge names the tenant the vault trusts (its tenantId) when tokens are checked.
        tenant = self._vault_tenant() if self.world.raw.get("keyVaultChecksTokenTenant") else self.world.tenant
        value = 'Bearer authorization="%s/%s", resource="%s"' % (self._aad(), tenant, resource)
        return {"WWW-Authenticate": value}

    def _vault_tenant(self):
        found = self.world.find_vault(self.vault_name)
        return str(((found or {}).get("properties") or {}).get("tenantId") or self.world.tenant)

    def _issuer_refusal(self, req):
        """Key Vault's 401 AKV10032 for a token from another tenant than the vault's (every
        token the simulator issues comes from ``world.tenant``: sandbox/sim/identity.py)."""
        if not self.world.raw.get("keyVaultChecksTokenTenant"):
            return None
        tenant = self._vault_tenant()
        if tenant.lower() == str(self.world.tenant).lower():
            return None
        return json_error(401, "Unauthorized", "AKV10032: Invalid issuer. Expected one of "
                          "https://sts.windows.net/%s/, found https://sts.windows.net/%s/."
                          % (tenant, self.world.tenant), headers=self._challenge_headers(req))

    def _challenge(self, req):
        return json_error(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.",
                          headers=self._challenge_headers(req))

    # ------------------------------------------------------------------ bodies

    def _secret_url(self, name, version=None):
        base = "%s/secrets/%s" % (self._own().rstrip("/"), name)
        return base + "/" + version if version else base

    def _attributes(self, record):
        attributes = {
            "enabled": record["enabled"],
            "created": record["created"],
            "updated": record["updated"],
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": 90,
        }
        if record["exp"] is not None:
            attributes["exp"] = record["exp"]
        if record["nbf"] is not None:
            attributes["nbf"] = record["nbf"]
        return attributes

    def _item(self, name, record, with_version=True):
        item = {"id": self._secret_url(name, record["version"] if with_version else None),
                "attributes": self._attributes(record), "tags": record["tags"]}
        if record["contentType"]:
            item["contentType"] = record["contentType"]
        if record["kind"] in ("certificate", "key"):
            item["managed"] = True
        return item

    def _canonical_name(self, name):
        vault = self.world.find_vault(self.vault_name)
        for secret_name in vault["secrets"]:
            if secret_name.lower() == name.lower():
                return secret_name
        return name

    # ------------------------------------------------------------------ operations

    def _get(self, req, name, version):
        denial = self.world.secret_access(self.vault_name, req.principal, name, version)
        if denial:
            return Response(denial.status, denial.body())
        record, value = self.world.secret_value(self.vault_name, name, version)
        name = self._canonical_name(name)
        body = self._item(name, record)
        body["value"] = value
        if record["kind"] in ("certificate", "key"):
            body["kid"] = "%s/keys/%s/%s" % (self._own().rstrip("/"), name, record["version"])
        return Response(200, body)

    def _set(self, req, name):
        """SetSecret: ``PUT /secrets/{secret-name}?api-version=7.4`` with a SecretSetParameters
        body (value, contentType, tags, attributes {enabled, nbf, exp}), answered 200 with the
        new version's SecretBundle (Azure/azure-rest-api-specs specification/keyvault/data-plane/
        Microsoft.KeyVault/stable/7.4/secrets.json, operationId SetSecret). azure-keyvault-secrets
        ``SecretClient.set_secret`` and ``az keyvault secret set`` send exactly this. The caller
        needs secrets/set (access policy) or setSecret/action (RBAC)."""
        if not _NAME.match(name):
            return json_error(400, "BadParameter", "The request URI contains an invalid name: %s" % name)
        denial = self.world.principal_secret_denial(self.vault_name, req.principal, "set", name)
        if denial:
            return Response(denial.status, denial.body())
        try:
            body = req.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("value"), str):
            return json_error(400, "BadParameter", "Property value is required.")
        attributes = body.get("attributes") if isinstance(body.get("attributes"), dict) else {}
        tags = body.get("tags") if isinstance(body.get("tags"), dict) else {}
        record = self.world.add_secret_version(self.vault_name, name, body["value"], content_type=body.get(
            "contentType"), tags=tags, attributes=attributes)
        body = self._item(self._canonical_name(name), record)
        body["value"] = self.world.secret_value(self.vault_name, name, record["version"])[1]
        return Response(200, body)

    def _versions(self, req, name):
        denial = self.world.principal_can_list_secrets(self.vault_name, req.principal)
        if denial:
            return Response(denial.status, denial.body())
        versions = self.world.secret_versions(self.vault_name, name)
        if not versions:
            return self._get(req, name, None)  # produces the real SecretNotFound body
        name = self._canonical_name(name)
        return Response(200, {"value": [self._item(name, record) for record in versions], "nextLink": None})

    def _list(self, req):
        denial = self.world.principal_can_list_secrets(self.vault_name, req.principal)
        if denial:
            return Response(denial.status, denial.body())
        vault = self.world.find_vault(self.vault_name)
        items = [self._item(name, versions[-1], with_version=False)
                 for name, versions in sorted(vault["secrets"].items())]
        return Response(200, {"value": items, "nextLink": None})
