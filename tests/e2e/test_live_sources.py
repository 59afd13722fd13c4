"""validate-secrets and show-cert reading Key Vault and the cluster, through the real az
against the loopback simulator."""

import base64
import json

import pytest

pytestmark = pytest.mark.e2e

OPERATOR = "11111111-1111-1111-1111-111111111111"
CLUSTER_ARGS = ["-g", "myResourceGroup", "-n", "myAKSCluster"]
NAMED_OBJECTS = ["--root-cert-object-name", "test-root-cert", "--ca-cert-object-name", "test-ca-cert",
                 "--ca-key-object-name", "test-ca-key", "--cert-chain-object-name", "test-cert-chain"]


def _result(proc):
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


def _codes(result, severities=("error", "warning")):
    return sorted(item["code"] for item in result["findings"] if item["severity"] in severities)


@pytest.mark.scenario("healthy")
@pytest.mark.parametrize("source", [CLUSTER_ARGS, CLUSTER_ARGS + ["--in-cluster"],
                                    ["--vault-name", "MyAzureKeyVault"] + NAMED_OBJECTS])
def test_validate_secrets_live_sources_pass_on_a_healthy_cluster(az, source):
    proc = az.run("aks", "mesh", "ca", "validate-secrets", *source, "-o", "json")
    result = _result(proc)
    assert proc.returncode == 0
    assert _codes(result) == []
    assert {cert["object"] for cert in result["certificates"]} == {"root-cert", "ca-cert", "cert-chain"}


@pytest.mark.scenario("healthy")
def test_validate_secrets_by_key_vault_id(az, sim):
    vault_id = sim.world.vaults["myazurekeyvault"]["id"]
    proc = az.run("aks", "mesh", "ca", "validate-secrets", "--key-vault-id", vault_id, *NAMED_OBJECTS, "-o", "json")
    assert proc.returncode == 0, proc.stderr
    assert _result(proc)["source"]["vault"] == "MyAzureKeyVault"


@pytest.mark.scenario("article-issue-3")
def test_a_missing_secret_is_a_finding_with_exit_4(az):
    proc = az.run("aks", "mesh", "ca", "validate-secrets", *CLUSTER_ARGS, "-o", "json")
    result = _result(proc)
    assert proc.returncode == 4
    missing = [item for item in result["findings"] if item["code"] == "MCA601"]
    assert [item["object"] for item in missing] == ["cert-chain"]
    assert "test-cert-chain" in missing[0]["message"]
    assert "az keyvault secret set" in missing[0]["remedy"]  # the remedy fits the source


@pytest.mark.scenario("healthy", fresh=True)
def test_operator_without_data_access_is_could_not_check_not_a_verdict(az, sim):
    vault = sim.world.vaults["myazurekeyvault"]
    vault["properties"]["accessPolicies"] = [policy for policy in vault["properties"]["accessPolicies"]
                                             if policy["objectId"] != OPERATOR]
    proc = az.run("aks", "mesh", "ca", "validate-secrets", *CLUSTER_ARGS, "-o", "json")
    result = _result(proc)
    assert proc.returncode == 5
    assert result["status"] == "incomplete"
    assert _codes(result) == ["MCA904"]
    assert "AccessDenied" in result["findings"][0]["message"]
    shown = az.run("aks", "mesh", "ca", "show-cert", *CLUSTER_ARGS, "-o", "json")
    assert shown.returncode == 5 and _codes(_result(shown)) == ["MCA904"]


@pytest.mark.scenario("healthy")
def test_show_cert_live_never_reads_the_key(az, sim):
    before = len(sim.requests(path_regex="/secrets/test-ca-key"))
    proc = az.run("aks", "mesh", "ca", "show-cert", *CLUSTER_ARGS, "-o", "json")
    assert proc.returncode == 0, proc.stderr
    assert len(sim.requests(path_regex="/secrets/test-ca-key")) == before
    assert [cert["object"] for cert in _result(proc)["certificates"]] == ["root-cert", "ca-cert", "cert-chain",
                                                                          "cert-chain"]


@pytest.mark.scenario("healthy")
def test_show_cert_in_cluster_includes_the_trusted_root(az):
    proc = az.run("aks", "mesh", "ca", "show-cert", *CLUSTER_ARGS, "--in-cluster", "-o", "json")
    certificates = _result(proc)["certificates"]
    roots = {cert["fingerprintSha256"] for cert in certificates if cert["object"] in ("root-cert", "istio-ca-root-cert")}
    assert proc.returncode == 0 and len(roots) == 1


@pytest.mark.scenario("healthy")
@pytest.mark.parametrize("args, status, message", [
    (["-g", "myResourceGroup", "-n", "nosuch"], 3, "was not found"),
    (["-g", "myResourceGroup"], 2, "Give both"),
    (["--in-cluster"], 2, "--in-cluster needs"),
    (CLUSTER_ARGS + ["--vault-name", "MyAzureKeyVault"], 2, "exactly one source"),
    (["--vault-name", "NoSuchVault"], 3, "No vault named NoSuchVault"),
    (["--key-vault-id", "/subscriptions/x/vaults/y"], 1, "not a Key Vault resource ID"),
    (CLUSTER_ARGS + ["--root-cert-object-name", "x"], 2, "go with --key-vault-id"),
])
def test_live_source_mistakes_are_one_line_errors(az, args, status, message):
    proc = az.run("aks", "mesh", "ca", "validate-secrets", *args)
    assert proc.returncode == status, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.scenario("kube-unreachable")
def test_in_cluster_with_an_unreachable_api_server_is_a_one_line_error(az):
    proc = az.run("aks", "mesh", "ca", "validate-secrets", *CLUSTER_ARGS, "--in-cluster")
    assert proc.returncode == 1
    assert "Could not reach the cluster's API server" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) <= 2


@pytest.mark.scenario("healthy")
@pytest.mark.parametrize("args", [
    ["validate-secrets"] + CLUSTER_ARGS,
    ["validate-secrets"] + CLUSTER_ARGS + ["--in-cluster"],
    ["show-cert"] + CLUSTER_ARGS + ["--in-cluster"],
    ["validate-secrets", "--vault-name", "MyAzureKeyVault"] + NAMED_OBJECTS,
])
def test_live_reads_never_print_the_key_even_with_debug(az, sim, args):
    key_pem = sim.world.pki_part("good", "ca-key")
    key_pem = key_pem.decode("ascii") if isinstance(key_pem, bytes) else key_pem
    body_lines = [line for line in key_pem.splitlines() if line and not line.startswith("-----")]
    proc = az.run("aks", "mesh", "ca", *args, "--debug")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "PRIVATE KEY-----" not in output
    for line in body_lines:
        assert line not in output
    # In a Kubernetes secret the PEM is base64-encoded once more: look for that form too.
    assert base64.b64encode(key_pem.encode("ascii"))[:60].decode("ascii") not in output
