"""The simulator's Key Vault takes SetSecret (``PUT /secrets/{name}``) as the real az and the
azure-keyvault-secrets SDK send it, and refuses a caller without secrets/set the way Key Vault
does (shapes: Azure/azure-rest-api-specs specification/keyvault/data-plane/Microsoft.KeyVault/
stable/7.4/secrets.json, SetSecret / SecretBundle). Issue #24's rotation writes through it, and
its tests count writes from the request log.
"""

import json

import pytest
from azure.core.exceptions import HttpResponseError

from sandbox import rotation

VAULT = "MyAzureKeyVault"
OPERATOR_OID = "11111111-1111-1111-1111-111111111111"

pytestmark = pytest.mark.e2e


def _ok(proc):
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-3000:]}"
    return proc


@pytest.mark.scenario("healthy", fresh=True)
def test_az_keyvault_secret_set_writes_a_new_version(sim, az_plain, tmp_path):
    pem = tmp_path / "root-cert.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    before = json.loads(_ok(az_plain.run("keyvault", "secret", "list-versions", "--vault-name", VAULT, "-n",
                                         "test-root-cert", "-o", "json")).stdout)
    written = json.loads(_ok(az_plain.run("keyvault", "secret", "set", "--vault-name", VAULT, "-n", "test-root-cert",
                                          "--file", str(pem), "--tags", "stage=R1", "rotation=r-1",
                                          "-o", "json")).stdout)
    version = written["id"].rstrip("/").split("/")[-1]
    # az's --file adds its own file-encoding tag (azure-cli keyvault custom.py set_secret)
    assert len(version) == 32 and written["tags"] == {"stage": "R1", "rotation": "r-1", "file-encoding": "utf-8"}
    assert written["attributes"]["created"] and written["attributes"]["enabled"] is True
    after = json.loads(_ok(az_plain.run("keyvault", "secret", "list-versions", "--vault-name", VAULT, "-n",
                                        "test-root-cert", "-o", "json")).stdout)
    assert len(after) == len(before) + 1
    shown = json.loads(_ok(az_plain.run("keyvault", "secret", "show", "--id", written["id"], "-o", "json")).stdout)
    assert shown["value"] == pem.read_text() and shown["tags"]["stage"] == "R1"
    current = json.loads(_ok(az_plain.run("keyvault", "secret", "show", "--vault-name", VAULT, "-n",
                                          "test-root-cert", "-o", "json")).stdout)
    assert current["id"] == written["id"]
    # the first PUT carries no token and gets Key Vault's 401 challenge (the SDK's challenge policy)
    puts = [entry for entry in sim.requests(service="kv:" + VAULT, method="PUT") if entry["status"] != 401]
    assert [(entry["path"], entry["status"]) for entry in puts] == [("/secrets/test-root-cert", 200)]
    assert not sim.requests(method="DELETE")


@pytest.mark.scenario("healthy", fresh=True)
def test_sdk_set_secret_and_a_caller_without_set_is_refused(sim):
    client = rotation.secret_client(sim, VAULT)
    bundle = client.set_secret("test-ca-cert", "new text", content_type="application/x-pem-file",
                               tags={"stage": "R2"})
    assert bundle.properties.tags == {"stage": "R2"}
    assert bundle.properties.content_type == "application/x-pem-file"
    assert client.get_secret("test-ca-cert", bundle.properties.version).value == "new text"
    policies = sim.world.find_vault(VAULT)["properties"]["accessPolicies"]
    operator = next(p for p in policies if p["objectId"] == OPERATOR_OID)
    operator["permissions"]["secrets"] = ["get", "list"]
    with pytest.raises(HttpResponseError) as refused:
        client.set_secret("test-ca-cert", "another")
    assert refused.value.status_code == 403
    assert "does not have secrets set permission" in str(refused.value)
    # (a 401 challenge first, unless this process's SDK already cached the vault's challenge)
    assert [e["status"] for e in sim.requests(service="kv:" + VAULT, method="PUT") if e["status"] != 401] \
        == [200, 403]


@pytest.mark.scenario("healthy-rbac", fresh=True)
def test_rbac_vault_needs_set_secret_action(sim):
    """Key Vault Secrets User reads but cannot write: ForbiddenByRbac naming setSecret/action."""
    for assignment in sim.world.role_assignments:
        if assignment["properties"]["principalId"] == OPERATOR_OID:
            assignment["properties"]["roleDefinitionId"] = sim.world.role_definition_id(
                "4633458b-17de-408a-b874-0445c86b69e6")
    client = rotation.secret_client(sim, VAULT)
    with pytest.raises(HttpResponseError) as refused:
        client.set_secret("test-ca-cert", "new text")
    assert refused.value.status_code == 403
    assert "secrets/setSecret/action" in str(refused.value)


@pytest.mark.scenario("rotation-world-group", fresh=True)
def test_a_group_policy_grants_set_and_graph_lists_the_group(sim, az_plain):
    """The operator's own policy cannot set; its group's can. Graph's getMemberObjects names
    the group (what rotate reads to explain the grant), through the real az rest."""
    graph = sim.arm_url + "/v1.0/directoryObjects/" + OPERATOR_OID + "/getMemberObjects"
    proc = _ok(az_plain.run("rest", "--method", "post", "--url", graph, "--resource", sim.arm_url + "/",
                            "--body", json.dumps({"securityEnabledOnly": False}), "-o", "json"))
    assert json.loads(proc.stdout)["value"] == ["66666666-6666-6666-6666-666666666666"]
    client = rotation.secret_client(sim, VAULT)
    assert client.set_secret("test-ca-cert", "new text").properties.version
    sim.world.groups["66666666-6666-6666-6666-666666666666"]["members"] = []
    with pytest.raises(HttpResponseError) as refused:
        client.set_secret("test-ca-cert", "another")
    assert refused.value.status_code == 403
