"""The real az (and kubectl) accept what the simulator's Azure side answers.

Each test runs az 2.91 as a subprocess against the loopback simulator and asserts
what the scenario says.  Passing here is the check that the simulator speaks
ARM / Key Vault / token-endpoint well enough that tests built on it mean something.
"""

import json
import os
import shutil
import subprocess

import pytest

RG = "myResourceGroup"
CLUSTER = "myAKSCluster"
VAULT = "MyAzureKeyVault"
OPERATOR_OID = "11111111-1111-1111-1111-111111111111"
ADDON_OID = "22222222-2222-2222-2222-222222222222"
ADDON_CLIENT_ID = "22222222-bbbb-2222-bbbb-222222222222"
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"

pytestmark = pytest.mark.e2e


def ok(proc):
    """Assert az/kubectl succeeded; show stderr (never secret values) when it did not."""
    assert proc.returncode == 0, "exit %d: %s" % (proc.returncode, proc.stderr[-3000:])
    return proc


def az_json(az, *args):
    return json.loads(ok(az.run(*args, "-o", "json")).stdout)


def addon_az(sim):
    """A second az logged in as the add-on identity (MSI endpoint selects it by client id)."""
    runner = sim.az(name="addon", with_extension=False, login=False)
    ok(runner.run("login", "--identity", "--client-id", ADDON_CLIENT_ID, "-o", "none"))
    return runner


# --------------------------------------------------------------------------- ARM reads


def test_login_lands_on_the_simulated_subscription(sim, az_plain):
    account = az_json(az_plain, "account", "show")
    assert account["id"] == sim.world.subscription
    assert account["environmentName"] == "Loop"
    assert account["user"]["assignedIdentityInfo"] == "MSI"


def test_aks_show_returns_plugin_config_and_addon_identity(sim, az_plain):
    cluster = az_json(az_plain, "aks", "show", "-g", RG, "-n", CLUSTER)
    plugin = cluster["serviceMeshProfile"]["istio"]["certificateAuthority"]["plugin"]
    assert plugin["keyVaultId"].endswith("/vaults/" + VAULT)
    assert plugin["certChainObjectName"] == "test-cert-chain"
    assert cluster["serviceMeshProfile"]["istio"]["revisions"] == ["asm-1-21"]
    addon = cluster["addonProfiles"]["azureKeyvaultSecretsProvider"]
    assert addon["identity"]["objectId"] == ADDON_OID
    assert addon["config"]["enableSecretRotation"] == "true"


@pytest.mark.scenario("article-issue-2")
def test_aks_show_reports_rotation_disabled(az_plain):
    rotation = az_json(az_plain, "aks", "show", "-g", RG, "-n", CLUSTER, "--query",
                       "addonProfiles.azureKeyvaultSecretsProvider.config.enableSecretRotation")
    assert rotation == "false"


def test_aks_show_unknown_cluster_is_a_clean_error(az_plain):
    proc = az_plain.run("aks", "show", "-g", RG, "-n", "nope")
    assert proc.returncode != 0
    assert "ResourceNotFound" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on PATH")
def test_get_credentials_then_kubectl_reaches_the_simulated_cluster(sim, az_plain, tmp_path):
    kubeconfig = str(tmp_path / "kubeconfig")
    ok(az_plain.run("aks", "get-credentials", "-g", RG, "-n", CLUSTER, "--file", kubeconfig))
    proc = ok(subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "get", "pods", "-n", "aks-istio-system",
                              "-o", "name"], capture_output=True, text=True, timeout=60))
    assert "pod/istiod-asm-1-21-" in proc.stdout
    assert any(e["service"] == "kube" for e in sim.requests())


def test_keyvault_show_gives_the_simulated_vault_uri(sim, az_plain):
    vault = az_json(az_plain, "keyvault", "show", "-n", VAULT)
    assert vault["properties"]["vaultUri"] == sim.vault_url(VAULT)
    assert vault["properties"]["enableRbacAuthorization"] is False
    policies = {p["objectId"]: p for p in vault["properties"]["accessPolicies"]}
    assert "get" in policies[ADDON_OID]["permissions"]["secrets"]


# --------------------------------------------------------------------------- Key Vault data plane


def test_secret_show_by_id_goes_through_the_bearer_challenge(sim, az_plain):
    url = sim.vault_url(VAULT) + "secrets/test-root-cert"
    seen_before = len(sim.requests(service="kv:" + VAULT, path_regex="test-root-cert"))
    secret = az_json(az_plain, "keyvault", "secret", "show", "--id", url)
    assert secret["value"] == sim.world.pki_part("good", "root-cert")
    assert secret["id"].startswith(url + "/")
    assert secret["attributes"]["enabled"] is True
    statuses = [e["status"] for e in sim.requests(service="kv:" + VAULT, path_regex="test-root-cert")]
    assert statuses[seen_before:] == [401, 200]


@pytest.mark.scenario("article-issue-3")
def test_missing_secret_is_secret_not_found(sim, az_plain):
    proc = az_plain.run("keyvault", "secret", "show", "--id", sim.vault_url(VAULT) + "secrets/test-cert-chain")
    assert proc.returncode != 0
    assert "SecretNotFound" in proc.stderr or "was not found in this key vault" in proc.stderr


@pytest.mark.scenario("article-issue-1")
def test_addon_identity_without_policy_gets_access_denied(sim):
    runner = addon_az(sim)
    proc = runner.run("keyvault", "secret", "show", "--id", sim.vault_url(VAULT) + "secrets/test-root-cert")
    assert proc.returncode != 0
    assert "does not have secrets get permission on key vault 'MyAzureKeyVault;location=eastus'" in proc.stderr


@pytest.mark.scenario("rbac-reader-role")
def test_key_vault_reader_role_cannot_read_secret_values(sim):
    proc = addon_az(sim).run("keyvault", "secret", "show", "--id", sim.vault_url(VAULT) + "secrets/test-root-cert")
    assert proc.returncode != 0
    assert "Caller is not authorized to perform action on resource" in proc.stderr


@pytest.mark.scenario("healthy", fresh=True)
def test_disabled_secret_is_forbidden_secret_disabled(sim, az_plain):
    sim.world.set_secret(VAULT, "test-root-cert", {"value": "old"}, enabled=False)
    proc = az_plain.run("keyvault", "secret", "show", "--id", sim.vault_url(VAULT) + "secrets/test-root-cert")
    assert proc.returncode != 0
    assert "disabled secret" in proc.stderr


def test_secret_versions_list(sim, az_plain):
    versions = az_json(az_plain, "keyvault", "secret", "list-versions", "--id",
                       sim.vault_url(VAULT) + "secrets/test-ca-cert")
    assert len(versions) == 1 and versions[0]["attributes"]["enabled"] is True
    assert "value" not in versions[0]


# --------------------------------------------------------------------------- ARM writes


@pytest.mark.scenario("article-issue-1", fresh=True)
def test_set_policy_grants_the_addon_and_keeps_other_policies(sim, az_plain):
    assert sim.world.principal_can_get_secret(VAULT, ADDON_OID).reason == "AccessDenied"
    ok(az_plain.run("keyvault", "set-policy", "--name", VAULT, "--object-id", ADDON_OID,
                    "--secret-permissions", "get", "list", "-o", "none"))
    assert sim.world.principal_can_get_secret(VAULT, ADDON_OID) is None
    policies = {p["objectId"]: p for p in az_json(az_plain, "keyvault", "show", "-n", VAULT)
                ["properties"]["accessPolicies"]}
    assert set(policies) == {OPERATOR_OID, ADDON_OID}
    assert set(policies[OPERATOR_OID]["permissions"]["secrets"]) == {"get", "list", "set", "delete"}
    # The add-on now reads the secret through the real data plane, with its own token.
    proc = addon_az(sim).run("keyvault", "secret", "show", "--id", sim.vault_url(VAULT) + "secrets/test-root-cert",
                             "--query", "attributes.enabled")
    assert ok(proc).stdout.strip() == "true"


@pytest.mark.scenario("article-issue-1", fresh=True)
def test_set_policy_whole_vault_put_loses_a_concurrent_edit(sim, az_plain):
    """azure-cli ``command_modules/keyvault/custom.py`` set_policy is GET-then-PUT of the whole vault: a policy added in between is lost."""
    other = "44444444-4444-4444-4444-444444444444"
    sim.before_next("PUT", r"/vaults/MyAzureKeyVault$", lambda req: sim.world.add_access_policy(VAULT, other))
    ok(az_plain.run("keyvault", "set-policy", "--name", VAULT, "--object-id", ADDON_OID,
                    "--secret-permissions", "get", "-o", "none"))
    ids = {p["objectId"] for p in sim.world.find_vault(VAULT)["properties"]["accessPolicies"]}
    assert other not in ids and ADDON_OID in ids


@pytest.mark.scenario("article-issue-1", fresh=True)
def test_access_policy_add_merges_and_keeps_a_concurrent_edit(sim, az_plain):
    """accessPolicies/add (what meshca uses) merges: a policy added concurrently survives."""
    other = "44444444-4444-4444-4444-444444444444"
    sim.before_next("PUT", r"/accessPolicies/add$", lambda req: sim.world.add_access_policy(VAULT, other))
    vault_id = sim.world.find_vault(VAULT)["id"]
    body = {"properties": {"accessPolicies": [{"tenantId": sim.world.tenant, "objectId": ADDON_OID,
                                               "permissions": {"secrets": ["get"]}}]}}
    ok(az_plain.run("rest", "--method", "put", "--url", vault_id + "/accessPolicies/add?api-version=2023-07-01",
                    "--body", json.dumps(body), "-o", "none"))
    # A second add for the operator merges permissions into its existing entry.
    body["properties"]["accessPolicies"][0].update(objectId=OPERATOR_OID, permissions={"secrets": ["Get", "purge"]})
    ok(az_plain.run("rest", "--method", "put", "--url", vault_id + "/accessPolicies/add?api-version=2023-07-01",
                    "--body", json.dumps(body), "-o", "none"))
    policies = {p["objectId"]: p for p in sim.world.find_vault(VAULT)["properties"]["accessPolicies"]}
    assert set(policies) == {OPERATOR_OID, ADDON_OID, other}
    assert policies[OPERATOR_OID]["permissions"]["secrets"] == ["get", "list", "set", "delete", "purge"]
    assert sim.world.principal_can_get_secret(VAULT, ADDON_OID) is None


@pytest.mark.scenario("rbac-no-access", fresh=True)
def test_role_assignment_create_then_list(sim, az_plain):
    vault_id = sim.world.find_vault(VAULT)["id"]
    assert sim.world.principal_can_get_secret(VAULT, ADDON_OID).reason == "ForbiddenByRbac"
    args = ("role", "assignment", "create", "--assignee-object-id", ADDON_OID,
            "--assignee-principal-type", "ServicePrincipal", "--role", "Key Vault Secrets User", "--scope", vault_id)
    created = az_json(az_plain, *args)
    assert created["principalId"] == ADDON_OID
    assert created["roleDefinitionId"].endswith("/" + SECRETS_USER)
    assert sim.world.principal_can_get_secret(VAULT, ADDON_OID) is None
    # Idempotent: the second create meets 409 RoleAssignmentExists and az returns the existing one.
    again = az_json(az_plain, *args)
    assert again["id"] == created["id"]
    assert [e["status"] for e in sim.requests(method="PUT", path_regex="roleAssignments/")] == [201, 409]
    listed = az_json(az_plain, "role", "assignment", "list", "--scope", vault_id)
    mine = [a for a in listed if a["principalId"] == ADDON_OID]
    assert len(mine) == 1 and mine[0]["roleDefinitionName"] == "Key Vault Secrets User"
    assert mine[0]["principalName"] == ADDON_CLIENT_ID  # az shows servicePrincipalNames[0], as for real MIs


@pytest.mark.scenario("healthy-rbac")
def test_role_assignment_list_for_assignee(sim, az_plain):
    listed = az_json(az_plain, "role", "assignment", "list", "--assignee", ADDON_OID, "--all")
    assert [a["roleDefinitionName"] for a in listed] == ["Key Vault Secrets User"]


@pytest.mark.scenario("operator-cannot-write")
def test_refused_policy_write_is_authorization_failed(sim, az_plain):
    proc = az_plain.run("keyvault", "set-policy", "--name", VAULT, "--object-id", ADDON_OID,
                        "--secret-permissions", "get")
    assert proc.returncode != 0
    assert "AuthorizationFailed" in proc.stderr
    assert "does not have authorization to perform action 'Microsoft.KeyVault/vaults/write'" in proc.stderr
    assert sim.world.principal_can_get_secret(VAULT, ADDON_OID) is not None


@pytest.mark.scenario("rbac-operator-cannot-write")
def test_refused_role_assignment_is_authorization_failed(sim, az_plain):
    proc = az_plain.run("role", "assignment", "create", "--assignee-object-id", ADDON_OID,
                        "--assignee-principal-type", "ServicePrincipal", "--role", SECRETS_USER,
                        "--scope", sim.world.find_vault(VAULT)["id"])
    assert proc.returncode != 0
    assert "Microsoft.Authorization/roleAssignments/write" in proc.stderr


# --------------------------------------------------------------------------- control path


def test_control_path_serves_the_log_to_other_processes(sim, az_plain):
    ok(az_plain.run("aks", "show", "-g", RG, "-n", CLUSTER, "-o", "none"))
    script = ("import json, os, urllib.request, ssl;"
              "ctx = ssl.create_default_context(cafile=os.environ['REQUESTS_CA_BUNDLE']);"
              "print(urllib.request.urlopen(os.environ['ARM'] + '/_sim/log', context=ctx).read().decode())")
    env = dict(os.environ, REQUESTS_CA_BUNDLE=sim.pki.ca_file, ARM=sim.arm_url, NO_PROXY="127.0.0.1")
    proc = ok(subprocess.run(["python3", "-c", script], capture_output=True, text=True, env=env, timeout=30))
    entries = json.loads(proc.stdout)["entries"]
    assert any(e["path"].endswith("/managedClusters/" + CLUSTER) and e["status"] == 200 for e in entries)


def test_service_principal_login_through_the_simulated_aad(sim):
    """az login --service-principal (MSAL, instance discovery off) gets a token for the SP's oid."""
    runner = sim.az(name="sp", with_extension=False, login=False)
    ok(runner.run("login", "--service-principal", "-u", "55555555-cccc-5555-cccc-555555555555",
                  "-p", "sim-sp-client-secret", "--tenant", sim.world.tenant, "-o", "none"))
    assert ok(runner.run("aks", "show", "-g", RG, "-n", CLUSTER, "--query", "name", "-o", "tsv")).stdout.strip() \
        == CLUSTER
    principals = {e["principal"] for e in sim.requests(service="arm", path_regex="managedClusters")}
    assert "55555555-5555-5555-5555-555555555555" in principals


def test_wrong_service_principal_secret_is_refused(sim):
    runner = sim.az(name="sp-bad", with_extension=False, login=False)
    proc = runner.run("login", "--service-principal", "-u", "55555555-cccc-5555-cccc-555555555555",
                      "-p", "wrong", "--tenant", sim.world.tenant)
    assert proc.returncode != 0 and "AADSTS7000215" in proc.stderr
