"""Azure Resource Manager as far as meshca and the az commands it mirrors need.

Covers: subscriptions/tenants (``az login``), managed clusters (show, list,
listClusterUserCredential/AdminCredential), Key Vault vaults (show, list,
PUT with whole-body semantics as ``az keyvault set-policy`` uses it, and the
``accessPolicies/{add|replace|remove}`` merge operation), role assignments and
role definitions (with the ``$filter`` forms azure-cli sends), and Microsoft
Graph ``directoryObjects/getByIds`` (``az role assignment list`` fills principal
names through it; the Loop cloud points Graph at this server).
"""

import base64
import copy
import re
import uuid

import yaml

from sandbox.sim.server import Response, json_error

P = r"(?i)"
SUB = r"/subscriptions/(?P<sub>[^/]+)"
RG = SUB + r"/resourceGroups/(?P<rg>[^/]+)"
MC = RG + r"/providers/Microsoft\.ContainerService/managedClusters"
KV = RG + r"/providers/Microsoft\.KeyVault/vaults"
AUTHZ = r"(?P<scope>.*?)/providers/Microsoft\.Authorization"

AAD_SERVER_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"


def not_found(kind, name, resource_group):
    return json_error(404, "ResourceNotFound", "The Resource '%s/%s' under resource group '%s' was not found. For "
                      "more details please go to https://aka.ms/ARMResourceNotFoundFix" % (kind, name, resource_group))


class ArmService:
    """ARM + Graph handler bound to one World."""

    def __init__(self, world, kube_url_getter, kube_ca_pem, in_cluster_kube_url=None):
        self.world = world
        self._kube_url = kube_url_getter
        self._kube_ca_pem = kube_ca_pem
        # The cluster user's client pair, made on first use (``clusterUserClientKey``: _client_pair).
        self.client_cert_pem = self.client_key_pem = None
        from sandbox.sim.runcommand import RunCommands
        # The command pod reaches the API server at its in-cluster address, which a private
        # cluster's operator cannot (sandbox/sim/runcommand.py).
        self.run_commands = RunCommands(world, in_cluster_kube_url or kube_url_getter, kube_ca_pem)
        from sandbox.sim.resourcegraph import ResourceGraphService
        self.resource_graph = ResourceGraphService(world)
        self.principal_not_found_remaining = int((world.raw.get("armQuirks") or {}).get("principalNotFoundTimes", 0))
        self.routes = [
            ("GET", P + r"^/subscriptions/?$", self.list_subscriptions),
            ("GET", P + r"^/tenants/?$", self.list_tenants),
            ("GET", P + "^" + SUB + r"/?$", self.get_subscription),
            ("GET", P + "^" + SUB + r"/resources/?$", self.list_resources),
            ("GET", P + "^" + RG + r"/?$", self.get_resource_group),
            ("GET", P + "^" + SUB + r"/providers/Microsoft\.KeyVault/vaults/?$", self.list_vaults),
            ("GET", P + "^" + KV + r"/?$", self.list_vaults),
            ("GET", P + "^" + KV + r"/(?P<name>[^/]+)/?$", self.get_vault),
            ("PUT", P + "^" + KV + r"/(?P<name>[^/]+)/?$", self.put_vault),
            ("PATCH", P + "^" + KV + r"/(?P<name>[^/]+)/?$", self.patch_vault),
            ("PUT", P + "^" + KV + r"/(?P<name>[^/]+)/accessPolicies/(?P<kind>add|replace|remove)/?$",
             self.update_access_policy),
            ("GET", P + "^" + SUB + r"/providers/Microsoft\.ContainerService/managedClusters/?$", self.list_clusters),
            ("GET", P + "^" + MC + r"/?$", self.list_clusters),
            ("GET", P + "^" + MC + r"/(?P<name>[^/]+)/?$", self.get_cluster),
            ("POST", P + "^" + MC + r"/(?P<name>[^/]+)/listCluster(?P<who>User|Admin)Credential/?$",
             self.list_credentials),
            ("POST", P + "^" + MC + r"/(?P<name>[^/]+)/runCommand/?$", self.run_command),
            ("GET", P + "^" + MC + r"/(?P<name>[^/]+)/commandResults/(?P<command_id>[^/]+)/?$",
             self.command_result),
            ("GET", P + "^" + AUTHZ + r"/roleAssignments/?$", self.list_assignments),
            ("GET", P + "^" + AUTHZ + r"/roleAssignments/(?P<name>[^/]+)/?$", self.get_assignment),
            ("PUT", P + "^" + AUTHZ + r"/roleAssignments/(?P<name>[^/]+)/?$", self.put_assignment),
            ("DELETE", P + "^" + AUTHZ + r"/roleAssignments/(?P<name>[^/]+)/?$", self.delete_assignment),
            ("GET", P + "^" + AUTHZ + r"/roleDefinitions/?$", self.list_role_definitions),
            ("GET", P + "^" + AUTHZ + r"/roleDefinitions/(?P<guid>[^/]+)/?$", self.get_role_definition),
            ("POST", P + r"^/v1\.0/directoryObjects/getByIds/?$", self.graph_get_by_ids),
            ("POST", P + r"^/v1\.0/(?:directoryObjects|users|servicePrincipals)/(?P<oid>[^/]+)/"
                         r"getMember(?P<what>Objects|Groups)/?$", self.graph_member_objects),
            ("POST", P + r"^/providers/Microsoft\.ResourceGraph/resources/?$", self.resource_graph.query),
        ]
        self.routes = [(method, re.compile(pattern), fn) for method, pattern, fn in self.routes]

    # ------------------------------------------------------------------ dispatch

    def handle(self, req):
        if req.principal is None:
            return json_error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is "
                              "missing or the token is not a valid bearer token.",
                              headers={"WWW-Authenticate": 'Bearer authorization_uri="https://127.0.0.1/%s", '
                                       'error="invalid_token"' % self.world.tenant})
        for method, pattern, fn in self.routes:
            match = pattern.match(req.path)
            if match and method == req.method:
                groups = match.groupdict()
                if "sub" in groups and not self.world.has_subscription(groups["sub"]):
                    return json_error(404, "SubscriptionNotFound",
                                      "The subscription '%s' could not be found." % groups["sub"])
                forbidden = self._forbidden_subscription(req, groups, fn)
                if forbidden:
                    return forbidden
                with self.world.lock:
                    return fn(req, **groups)
        return json_error(404, "NoRegisteredProviderFound" if "/providers/" in req.path else "NotFound",
                          "The simulator does not implement %s %s." % (req.method, req.path))

    def _forbidden_subscription(self, req, groups, fn):
        """The operator may list a forbidden subscription (az login) but read nothing in it."""
        sub = groups.get("sub") or _subscription_of(groups.get("scope"))
        if not sub or fn == self.get_subscription or not self._is_operator(req):
            return None
        if not self.world.subscription_forbidden(sub):
            return None
        action = {"GET": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}.get(req.method, "action")
        return self._denied(req, "Microsoft.Resources/subscriptions/resources/" + action, req.path.split("?")[0])

    def _denied(self, req, action, scope):
        """403 AuthorizationFailed (real message shape) if the scenario withholds the right."""
        return json_error(403, "AuthorizationFailed", "The client '%s' with object id '%s' does not have "
                          "authorization to perform action '%s' over scope '%s' or the scope is invalid. If access "
                          "was recently granted, please refresh your credentials."
                          % (req.principal, req.principal, action, scope))

    def _is_operator(self, req):
        return (req.principal or "").lower() == self.world.operator["objectId"].lower()

    def _may(self, req, capability):
        return not self._is_operator(req) or self.world.operator_may(capability)

    def _resource_groups(self):
        groups = {cluster["resourceGroup"].lower() for cluster in self.world.clusters}
        groups.update(cluster["properties"]["nodeResourceGroup"].lower() for cluster in self.world.clusters)
        groups.update(v["resourceGroup"].lower() for v in self.world.vaults.values())
        groups.update(str(g).lower() for g in self.world.raw.get("resourceGroups") or [])
        return groups

    def _check_rg(self, rg):
        if rg.lower() not in self._resource_groups():
            return json_error(404, "ResourceGroupNotFound", "Resource group '%s' could not be found." % rg)
        return None

    # ------------------------------------------------------------------ subscriptions

    def _subscription_body(self, subscription=None):
        subscription = subscription or self.world.subscriptions[0]
        return {
            "id": "/subscriptions/" + subscription["id"],
            "subscriptionId": subscription["id"],
            "tenantId": self.world.tenant,
            "displayName": subscription.get("name") or self.world.subscription_name,
            "state": "Enabled",
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "Sim_2014-09-01",
                                     "spendingLimit": "Off"},
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
        }

    def list_subscriptions(self, req):
        bodies = [self._subscription_body(item) for item in self.world.subscriptions]
        return Response(200, {"value": bodies, "count": {"type": "Total", "value": len(bodies)}})

    def get_subscription(self, req, sub):
        found = next(item for item in self.world.subscriptions if item["id"].lower() == sub.lower())
        return Response(200, self._subscription_body(found))

    def list_tenants(self, req):
        return Response(200, {"value": [{"id": "/tenants/" + self.world.tenant, "tenantId": self.world.tenant,
                                         "tenantCategory": "Home", "displayName": "Simulated Tenant"}]})

    def get_resource_group(self, req, sub, rg):
        missing = self._check_rg(rg)
        if missing:
            return missing
        return Response(200, {"id": self.world.rg_id(rg), "name": rg, "type": "Microsoft.Resources/resourceGroups",
                              "location": "eastus", "properties": {"provisioningState": "Succeeded"}})

    def list_resources(self, req, sub):
        """Generic resource list; az keyvault show (no -g) filters on resourceType and name."""
        text = req.arg("$filter", "") or ""
        type_match = re.search(r"resourceType eq '([^']+)'", text, re.I)
        name_match = re.search(r"name eq '([^']+)'", text, re.I)
        items = [self._resource_stub(v) for v in self.world.vaults.values()]
        items.append({"id": self.world.cluster["id"], "name": self.world.cluster["name"],
                      "type": "Microsoft.ContainerService/managedClusters", "location": self.world.cluster["location"]})
        if type_match:
            items = [i for i in items if i["type"].lower() == type_match.group(1).lower()]
        if name_match:
            items = [i for i in items if i["name"].lower() == name_match.group(1).lower()]
        return Response(200, {"value": items})

    @staticmethod
    def _resource_stub(vault):
        return {"id": vault["id"], "name": vault["name"], "type": vault["type"], "location": vault["location"],
                "tags": vault["tags"]}

    # ------------------------------------------------------------------ key vault (management plane)

    @staticmethod
    def vault_body(vault):
        """The public ARM view of a vault (World-internal keys removed)."""
        body = {k: copy.deepcopy(v) for k, v in vault.items() if k not in ("secrets", "resourceGroup")}
        body["systemData"] = {"createdBy": "sim", "createdByType": "User"}
        return body

    def _vault_or_404(self, rg, name, sub=None):
        vault = self.world.find_vault(name)
        if vault is None or vault["resourceGroup"].lower() != rg.lower() or (
                sub and _subscription_of(vault["id"]) != sub.lower()):
            return None, self._check_rg(rg) or not_found("Microsoft.KeyVault/vaults", name, rg)
        return vault, None

    def list_vaults(self, req, sub, rg=None):
        if rg is not None:
            missing = self._check_rg(rg)
            if missing:
                return missing
        vaults = [v for v in self.world.vaults.values() if rg is None or v["resourceGroup"].lower() == rg.lower()]
        return Response(200, {"value": [self.vault_body(v) for v in vaults]})

    def get_vault(self, req, sub, rg, name):
        vault, error = self._vault_or_404(rg, name, sub)
        return error or Response(200, self.vault_body(vault))

    def put_vault(self, req, sub, rg, name):
        """Whole-body PUT: what az keyvault set-policy does after its GET (last writer wins)."""
        vault, error = self._vault_or_404(rg, name)
        if error:
            return error
        if not self._may(req, "canWritePolicies"):
            return self._denied(req, "Microsoft.KeyVault/vaults/write", vault["id"])
        body = req.json()
        properties = dict(body.get("properties") or {})
        properties["vaultUri"] = vault["properties"]["vaultUri"]  # service-owned
        properties.setdefault("provisioningState", "Succeeded")
        properties["accessPolicies"] = [self._normal_policy(p) for p in properties.get("accessPolicies") or []]
        vault["properties"] = properties
        if body.get("tags") is not None:
            vault["tags"] = body["tags"]
        return Response(200, self.vault_body(vault))

    def patch_vault(self, req, sub, rg, name):
        vault, error = self._vault_or_404(rg, name)
        if error:
            return error
        if not self._may(req, "canWritePolicies"):
            return self._denied(req, "Microsoft.KeyVault/vaults/write", vault["id"])
        body = req.json()
        for key, value in (body.get("properties") or {}).items():
            if key != "vaultUri":
                vault["properties"][key] = value
        return Response(200, self.vault_body(vault))

    def _normal_policy(self, policy):
        permissions = policy.get("permissions") or {}
        normal = {"tenantId": policy.get("tenantId", self.world.tenant), "objectId": policy.get("objectId"),
                  "permissions": {k: list(permissions.get(k) or []) for k in permissions}}
        if policy.get("applicationId"):
            normal["applicationId"] = policy["applicationId"]
        return normal

    def update_access_policy(self, req, sub, rg, name, kind):
        """accessPolicies/{add|replace|remove} with the service's merge semantics."""
        vault, error = self._vault_or_404(rg, name)
        if error:
            return error
        if not self._may(req, "canWritePolicies"):
            return self._denied(req, "Microsoft.KeyVault/vaults/accessPolicies/write", vault["id"])
        given = [self._normal_policy(p) for p in ((req.json().get("properties") or {}).get("accessPolicies") or [])]
        current = vault["properties"].setdefault("accessPolicies", [])
        kind = kind.lower()
        if kind == "replace":
            vault["properties"]["accessPolicies"] = copy.deepcopy(given)
        else:
            for policy in given:
                self._merge_policy(current, policy, remove=(kind == "remove"))
        return Response(200, {"id": vault["id"] + "/accessPolicies/" + kind,
                              "type": "Microsoft.KeyVault/vaults/accessPolicies",
                              "properties": {"accessPolicies": given}})

    @staticmethod
    def _same_principal(a, b):
        return (str(a.get("objectId", "")).lower() == str(b.get("objectId", "")).lower()
                and str(a.get("tenantId", "")).lower() == str(b.get("tenantId", "")).lower()
                and str(a.get("applicationId") or "").lower() == str(b.get("applicationId") or "").lower())

    def _merge_policy(self, current, policy, remove):
        existing = next((p for p in current if self._same_principal(p, policy)), None)
        if existing is None:
            if not remove:
                current.append(copy.deepcopy(policy))
            return
        perms = existing.setdefault("permissions", {})
        for kind, values in policy["permissions"].items():
            have = list(perms.get(kind) or [])
            lowered = {v.lower() for v in values}
            if remove:
                perms[kind] = [v for v in have if v.lower() not in lowered]
            else:
                perms[kind] = have + [v for v in values if v.lower() not in {h.lower() for h in have}]
        if remove and not any(perms.get(k) for k in perms):
            current.remove(existing)

    # ------------------------------------------------------------------ managed clusters

    def cluster_body(self, cluster=None):
        cluster = cluster or self.world.cluster
        return {k: copy.deepcopy(v) for k, v in cluster.items() if k not in ("resourceGroup", "subscription")}

    def _cluster_or_404(self, rg, name):
        cluster = self.world.cluster
        if cluster["name"].lower() != name.lower() or cluster["resourceGroup"].lower() != rg.lower():
            return self._check_rg(rg) or not_found("Microsoft.ContainerService/managedClusters", name, rg)
        return None

    def list_clusters(self, req, sub, rg=None):
        if rg is not None:
            missing = self._check_rg(rg)
            if missing:
                return missing
        clusters = [cluster for cluster in self.world.clusters if cluster["subscription"].lower() == sub.lower()
                    and (rg is None or cluster["resourceGroup"].lower() == rg.lower())]
        return Response(200, {"value": [self.cluster_body(cluster) for cluster in clusters]})

    def get_cluster(self, req, sub, rg, name):
        if not self._may(req, "canReadCluster"):
            return self._denied(req, "Microsoft.ContainerService/managedClusters/read", self.world.cluster["id"])
        cluster = self.world.find_cluster(sub, rg, name)
        if cluster is None:
            return self._check_rg(rg) or not_found("Microsoft.ContainerService/managedClusters", name, rg)
        return Response(200, self.cluster_body(cluster))

    def list_credentials(self, req, sub, rg, name, who):
        missing = self._cluster_or_404(rg, name)
        if missing:
            return missing
        action = "Microsoft.ContainerService/managedClusters/listCluster%sCredential/action" % who
        if not self._may(req, "canListCredentials"):
            return self._denied(req, action, self.world.cluster["id"])
        props = self.world.cluster["properties"]
        if who == "Admin" and props.get("disableLocalAccounts"):
            return json_error(400, "BadRequest", "Getting static credential is not allowed because this cluster "
                              "is set to disable local accounts.")
        kubeconfig = self._kubeconfig("clusterAdmin" if who == "Admin" else "clusterUser",
                                      aad=bool(props.get("aadProfile")) and who == "User")
        encoded = base64.b64encode(kubeconfig.encode("utf-8")).decode("ascii")
        return Response(200, {"kubeconfigs": [{"name": "clusterAdmin" if who == "Admin" else "clusterUser",
                                               "value": encoded}]})

    def run_command(self, req, sub, rg, name):
        """managedClusters/runCommand: 202 and a Location to poll (sandbox/sim/runcommand.py)."""
        from sandbox.sim.runcommand import RUN_COMMAND_ACTION, stopped_error_message
        missing = self._cluster_or_404(rg, name)
        if missing:
            return missing
        if not self._may(req, "canRunCommand"):
            return self._denied(req, RUN_COMMAND_ACTION, self.world.cluster["id"])
        power = ((self.world.cluster.get("properties") or {}).get("powerState") or {}).get("code")
        if str(power).lower() == "stopped":
            return json_error(400, "OperationNotAllowed", stopped_error_message(self.world.cluster))
        body = req.json()
        if not str(body.get("command") or "").strip():
            return json_error(400, "InvalidParameter", "The value of parameter command is invalid.")
        command_id = self.run_commands.submit(body)
        return Response(202, b"", headers={"Location": self._command_location(req, command_id), "Retry-After": "1"})

    def _command_location(self, req, command_id):
        version = req.arg("api-version", "2025-10-01")
        # runCommandLocationHost: tests make ARM name another host for the poll.
        host = self.world.raw.get("runCommandLocationHost") or req.headers.get('host', '127.0.0.1')
        return f"https://{host}{self.world.cluster['id']}/commandResults/{command_id}?api-version={version}"

    def command_result(self, req, sub, rg, name, command_id):
        """202 while the command runs (Location again), then 200 with the RunCommandResult."""
        missing = self._cluster_or_404(rg, name)
        if missing:
            return missing
        result = self.run_commands.result(command_id)
        if result is None:
            return json_error(404, "NotFound", f"Command {command_id} was not found.")
        if not self.run_commands.done(command_id):
            return Response(202, b"", headers={"Location": self._command_location(req, command_id),
                                               "Retry-After": "1"})
        return Response(200, result)

    def _kubeconfig(self, kind, aad):
        cluster = self.world.cluster
        name = cluster["name"]
        user_name = "%s_%s_%s" % (kind, cluster["resourceGroup"], name)
        if aad:
            user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "kubelogin",
                             "args": ["get-token", "--login", "devicecode", "--server-id", AAD_SERVER_ID,
                                      "--client-id", "80faf920-1908-4b52-b5ef-a8e7bedfc67a",
                                      "--tenant-id", self.world.tenant, "--environment", "AzurePublicCloud"],
                             "env": None, "provideClusterInfo": False, "interactiveMode": "IfAvailable"}}
        else:
            user = {"token": self.world.kube_user_token}
            user.update(self._client_pair() if self.world.raw.get("clusterUserClientKey") else {})
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [{"name": name, "cluster": {
                "certificate-authority-data": base64.b64encode(self._kube_ca_pem).decode("ascii"),
                "server": self._kube_url()}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": user_name}}],
            "current-context": name,
            "users": [{"name": user_name, "user": user}],
        }
        return yaml.safe_dump(config, default_flow_style=False, sort_keys=False)

    def _client_pair(self):
        """client-certificate-data / client-key-data, as AKS puts them in a local account's
        kubeconfig (Azure/azure-cli src/azure-cli/azure/cli/command_modules/acs/custom.py
        ``aks_get_credentials`` writes what listClusterUserCredential returns). The key is made
        once per simulator, and kept on it so tests can look for it where it must not be."""
        if self.client_key_pem is None:
            self.client_cert_pem, self.client_key_pem = _self_signed_pair("sim-cluster-user")
        return {"client-certificate-data": base64.b64encode(self.client_cert_pem).decode("ascii"),
                "client-key-data": base64.b64encode(self.client_key_pem).decode("ascii")}

    # ------------------------------------------------------------------ role assignments / definitions

    def _role_definition_body(self, guid):
        role = self.world.role_definition(guid)
        return {
            "id": self.world.role_definition_id(guid),
            "name": guid,
            "type": "Microsoft.Authorization/roleDefinitions",
            "properties": {"roleName": role["roleName"], "type": role["type"], "description": role["roleName"],
                           "assignableScopes": ["/"],
                           "permissions": [{"actions": role["actions"], "notActions": [],
                                            "dataActions": role["dataActions"],
                                            "notDataActions": role["notDataActions"]}],
                           "createdOn": "2020-01-01T00:00:00Z", "updatedOn": "2020-01-01T00:00:00Z"},
        }

    def list_role_definitions(self, req, scope):
        text = req.arg("$filter", "") or ""
        name_match = re.search(r"roleName eq '([^']+)'", text, re.I)
        guids = self.world.role_definition_guids()
        if name_match:
            guids = [g for g in guids
                     if self.world.role_definition(g)["roleName"].lower() == name_match.group(1).lower()]
        return Response(200, {"value": [self._role_definition_body(g) for g in guids]})

    def get_role_definition(self, req, scope, guid):
        if not self._may(req, "canReadRoleDefinitions"):
            return self._denied(req, "Microsoft.Authorization/roleDefinitions/read", scope or "/")
        if self.world.role_definition(guid) is None:
            return json_error(404, "RoleDefinitionDoesNotExist", "The specified role definition with ID '%s' does "
                              "not exist." % guid)
        return Response(200, self._role_definition_body(guid.lower()))

    @staticmethod
    def _scope_of(assignment):
        return assignment["properties"]["scope"].rstrip("/").lower()

    def list_assignments(self, req, scope):
        """list_for_scope / list_for_subscription with atScope(), principalId eq, assignedTo()."""
        scope_l = (scope or "/").rstrip("/").lower() or "/"
        text = req.arg("$filter", "") or ""
        principal = re.search(r"(?:principalId eq|assignedTo\()\s*'([^']+)'", text, re.I)
        result = []
        for assignment in self.world.role_assignments:
            at = self._scope_of(assignment)
            above_or_at = scope_l == at or scope_l.startswith(at + "/") or at == "/"
            below = at.startswith(scope_l + "/")
            if "atscope()" in text.lower().replace(" ", ""):
                keep = above_or_at
            else:
                keep = above_or_at or below
            if principal and assignment["properties"]["principalId"].lower() != principal.group(1).lower():
                keep = False
            if keep:
                result.append(copy.deepcopy(assignment))
        page = {"value": result}
        if self.world.raw.get("roleAssignmentsNextLink"):
            # A nextLink as the scenario gives it: tests point it at a host that is not ARM.
            page["nextLink"] = self.world.raw["roleAssignmentsNextLink"]
        return Response(200, page)

    def _find_assignment(self, scope, name):
        for assignment in self.world.role_assignments:
            if assignment["name"].lower() == name.lower() and self._scope_of(assignment) == scope.rstrip("/").lower():
                return assignment
        return None

    def get_assignment(self, req, scope, name):
        found = self._find_assignment(scope, name)
        if found is None:
            return json_error(404, "RoleAssignmentNotFound", "The role assignment '%s' is not found." % name)
        return Response(200, copy.deepcopy(found))

    def put_assignment(self, req, scope, name):
        if not self._may(req, "canWriteRoleAssignments"):
            return self._denied(req, "Microsoft.Authorization/roleAssignments/write", scope)
        props = req.json().get("properties") or {}
        role_guid = str(props.get("roleDefinitionId", "")).rstrip("/").split("/")[-1].lower()
        principal_id = str(props.get("principalId", ""))
        if self.world.role_definition(role_guid) is None:
            return json_error(400, "RoleDefinitionDoesNotExist", "The specified role definition with ID '%s' does "
                              "not exist." % role_guid)
        if self.principal_not_found_remaining > 0:
            self.principal_not_found_remaining -= 1
            return json_error(400, "PrincipalNotFound", "Principal %s does not exist in the directory %s. Check "
                              "that you have the correct principal ID. If you are creating this principal and then "
                              "immediately assigning a role, this error might be related to a replication delay. "
                              "In this case, set the role assignment principalType property to a value, such as "
                              "ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype"
                              % (principal_id.replace("-", ""), self.world.tenant))
        for assignment in self.world.role_assignments:
            p = assignment["properties"]
            if (self._scope_of(assignment) == scope.rstrip("/").lower() and p["principalId"].lower() ==
                    principal_id.lower() and p["roleDefinitionId"].rstrip("/").split("/")[-1].lower() == role_guid):
                return json_error(409, "RoleAssignmentExists", "The role assignment already exists.")
        assignment = self.world.make_assignment(scope, name, role_guid, principal_id,
                                                props.get("principalType") or "User")
        if props.get("description"):
            assignment["properties"]["description"] = props["description"]
        self.world.role_assignments.append(assignment)
        return Response(201, copy.deepcopy(assignment))

    def delete_assignment(self, req, scope, name):
        if not self._may(req, "canWriteRoleAssignments"):
            return self._denied(req, "Microsoft.Authorization/roleAssignments/delete", scope)
        found = self._find_assignment(scope, name)
        if found is None:
            return Response(204)
        self.world.role_assignments.remove(found)
        return Response(200, found)

    # ------------------------------------------------------------------ graph

    def graph_get_by_ids(self, req):
        ids = [str(i).lower() for i in req.json().get("ids") or []]
        value = []
        for identity in self.world.identities.values():
            if identity["objectId"].lower() in ids:
                value.append({"@odata.type": "#microsoft.graph.servicePrincipal", "id": identity["objectId"],
                              "displayName": identity["name"], "appId": identity["clientId"],
                              "servicePrincipalType": "ManagedIdentity",
                              "servicePrincipalNames": [identity["clientId"]]})
        return Response(200, {"@odata.context": "https://127.0.0.1/v1.0/$metadata#directoryObjects",
                              "value": value})

    def graph_member_objects(self, req, oid, what):
        """Microsoft Graph ``POST /v1.0/directoryObjects/{id}/getMemberObjects`` (and
        getMemberGroups): the ids of every group the object belongs to, transitively, with
        ``securityEnabledOnly`` honoured (learn.microsoft.com/graph/api/directoryobject-
        getmemberobjects). Scenario groups: ``groups: [{objectId, members, securityEnabled}]``.
        Directory roles and administrative units, which getMemberObjects also lists, are none here."""
        del what  # both answer the same shape; the world has groups only
        known = {identity.lower() for identity in self.world.identities} | set(self.world.groups)
        if oid.lower() not in known:
            return json_error(404, "Request_ResourceNotFound", "Resource '%s' does not exist or one of its queried "
                              "reference-property objects are not present." % oid)
        try:
            body = req.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict) or not isinstance(body.get("securityEnabledOnly"), bool):
            return json_error(400, "Request_BadRequest", "securityEnabledOnly is required.")
        ids = self.world.member_groups(oid, security_enabled_only=body["securityEnabledOnly"])
        return Response(200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
                              "value": ids})


def _subscription_of(resource_id):
    match = re.match(r"(?i)^/subscriptions/([^/]+)", str(resource_id or ""))
    return match.group(1).lower() if match else None


def new_assignment_name():
    return str(uuid.uuid4())


def _self_signed_pair(common_name):
    """(certificate PEM, PKCS#8 key PEM) of a fresh P-256 self-signed certificate."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))
