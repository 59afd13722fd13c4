"""az aks mesh ca fix-access through the real az (extension from its wheel) against the
loopback simulator. Every claim is checked on the simulator's request log and World:
what was written, what was not, and that the add-on can then read its secrets.
"""

import copy
import json
import os
import pty
import ssl
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest

from sandbox import azcli

pytestmark = pytest.mark.e2e

RG = "myResourceGroup"
CLUSTER = "myAKSCluster"
VAULT = "MyAzureKeyVault"
ADDON_OID = "22222222-2222-2222-2222-222222222222"
OTHER_OID = "44444444-4444-4444-4444-444444444444"
SUB = "00000000-0000-0000-0000-000000000001"
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
KV_READER = "21090545-7ca7-4776-b22c-e363652d74d2"
SECRETS_USER_ID = "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{}".format(SUB, SECRETS_USER)
VAULT_ID = "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.KeyVault/vaults/{}".format(SUB, RG, VAULT)
WRITE_METHODS = ("PUT", "POST", "PATCH", "DELETE")


# --------------------------------------------------------------------------- helpers

def fix(az, *args, **kwargs):
    """Run fix-access; stdin is an empty pipe, so az never finds a terminal to prompt on."""
    kwargs.setdefault("input_text", "")
    return az.run("aks", "mesh", "ca", "fix-access", "-g", RG, "-n", CLUSTER, *args, **kwargs)


def fix_json(az, *args):
    proc = fix(az, *args, "-o", "json")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc


def now(sim):
    """A marker in the shared request log: entries at or after it belong to this test."""
    entries = sim.requests()
    return entries[-1]["time"] + 1e-6 if entries else 0.0


def writes_since(sim, since):
    return [entry for entry in sim.requests() if entry["time"] >= since and entry["method"] in WRITE_METHODS]


def successful_writes_since(sim, since):
    return [entry for entry in writes_since(sim, since) if 200 <= entry["status"] < 300]


def policies(sim):
    return copy.deepcopy(sim.world.find_vault(VAULT)["properties"]["accessPolicies"])


def policy_of(sim, object_id):
    found = [p for p in policies(sim) if p["objectId"].lower() == object_id.lower()]
    assert len(found) <= 1, found
    return found[0] if found else None


def addon_assignments(sim):
    return [a for a in sim.world.role_assignments if a["properties"]["principalId"] == ADDON_OID]


def addon_secret_status(sim, secret_name="test-ca-cert"):
    """HTTP status Key Vault gives the add-on identity itself (token from the MSI endpoint
    for the add-on's client id), reading one plug-in object. The value is never printed."""
    identity = sim.world.addon_identity()
    context = ssl.create_default_context(cafile=sim.pki.ca_file)
    # The vault is reached by name, through the simulator's proxy (sandbox/sim/proxytrap.py).
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"https": sim.proxy.url}),
                                         urllib.request.HTTPSHandler(context=context))
    query = urllib.parse.urlencode({"api-version": "2019-08-01", "resource": "https://vault.azure.net",
                                    "client_id": identity["clientId"]})
    token_request = urllib.request.Request(sim.msi_url + "/msi/token?" + query,
                                           headers={"X-IDENTITY-HEADER": sim.env["IDENTITY_HEADER"]})
    with opener.open(token_request, timeout=10) as response:
        token = json.load(response)["access_token"]
    url = "{}/secrets/{}?api-version=7.5".format(sim.vault_url(VAULT).rstrip("/"), secret_name)
    try:
        with opener.open(urllib.request.Request(url, headers={"Authorization": "Bearer " + token}),
                         timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def istiod_statuses(sim):
    """What kubectl says about istiod (the simulated mount decides Running vs Init:0/2)."""
    env = dict(os.environ)
    env.update(sim.env)
    proc = subprocess.run(["kubectl", "--kubeconfig", sim.kubeconfig(), "get", "pods", "-n", "aks-istio-system",
                           "-l", "app=istiod", "--no-headers"], capture_output=True, text=True, env=env,
                          timeout=60, check=True)
    return [line.split()[2] for line in proc.stdout.splitlines() if line.strip()]


def diagnose_codes(az):
    proc = az.run("aks", "mesh", "ca", "diagnose", "-g", RG, "-n", CLUSTER, "-o", "json")
    assert "Traceback" not in proc.stderr, proc.stderr
    return {item["code"] for item in json.loads(proc.stdout)["findings"]}


def assert_one_line_refusal(proc, expected):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    # (after a typed answer the error follows the prompt on the same captured line)
    errors = [line[line.index("ERROR:"):] for line in proc.stderr.splitlines() if "ERROR:" in line]
    assert len(errors) == 1, proc.stderr
    assert expected in errors[0], errors[0]
    assert proc.stdout.strip() == ""


# --------------------------------------------------------------------------- access-policy vaults

@pytest.mark.scenario("fix-policy-others", fresh=True)
def test_policy_vault_adds_get_and_keeps_every_other_policy_byte_identical(sim, az):
    others_before = [json.dumps(p, sort_keys=True) for p in policies(sim) if p["objectId"] != ADDON_OID]
    assert addon_secret_status(sim) == 403
    since = now(sim)

    result, proc = fix_json(az, "--yes")

    assert result["outcome"] == "applied"
    assert result["mode"] == "policy"
    assert result["change"]["kind"] == "accessPolicyAdd"
    assert result["change"]["addSecretPermissions"] == ["get"]
    assert result["applied"]["secretPermissionsNow"] == ["get"]
    assert "fix-access plan:" in proc.stderr and "diagnose" in proc.stderr
    writes = writes_since(sim, since)
    assert [(w["method"], w["path"].rsplit("/", 2)[-2:]) for w in writes] == [("PUT", ["accessPolicies", "add"])]
    assert policy_of(sim, ADDON_OID)["permissions"]["secrets"] == ["get"]
    others_after = [json.dumps(p, sort_keys=True) for p in policies(sim) if p["objectId"] != ADDON_OID]
    assert others_after == others_before
    assert addon_secret_status(sim) == 200

    since = now(sim)
    again, _ = fix_json(az, "--yes")
    assert again["outcome"] == "unchanged"
    assert again["change"] is None
    assert writes_since(sim, since) == []


@pytest.mark.scenario("fix-policy-partial", fresh=True)
def test_partial_policy_is_extended_not_replaced(sim, az):
    result, _ = fix_json(az, "--yes")
    assert result["current"]["secretPermissions"] == ["list"]
    assert result["change"]["addSecretPermissions"] == ["get"]
    assert result["change"]["secretPermissionsAfter"] == ["get", "list"]
    addon = policy_of(sim, ADDON_OID)
    assert sorted(addon["permissions"]["secrets"]) == ["get", "list"]
    assert addon["permissions"]["keys"] == ["get"]


@pytest.mark.scenario("article-issue-1", fresh=True)
def test_secret_permissions_get_list_reproduces_the_runbook_then_a_run_without_it_is_a_no_op(sim, az):
    result, _ = fix_json(az, "--mode", "policy", "--secret-permissions", "get", "list", "--yes")
    assert result["change"]["addSecretPermissions"] == ["get", "list"]
    assert sorted(policy_of(sim, ADDON_OID)["permissions"]["secrets"]) == ["get", "list"]
    since = now(sim)
    again, _ = fix_json(az, "--yes")
    assert again["outcome"] == "unchanged"
    assert writes_since(sim, since) == []


@pytest.mark.scenario("article-issue-1", fresh=True)
def test_a_policy_added_between_our_read_and_our_write_is_kept(sim, az):
    def concurrent_writer(_request):
        sim.world.add_access_policy(VAULT, OTHER_OID, ["get", "list"])

    hook = sim.before_next("PUT", r"/accessPolicies/add$", concurrent_writer)
    result, _ = fix_json(az, "--yes")
    assert hook.hits == 1, "the concurrent writer did not run between the read and the write"
    assert result["outcome"] == "applied"
    assert policy_of(sim, OTHER_OID)["permissions"]["secrets"] == ["get", "list"]
    assert policy_of(sim, ADDON_OID)["permissions"]["secrets"] == ["get"]
    assert sim.requests(method="PUT", path_regex=r"/vaults/[^/]+/?$") == []


@pytest.mark.scenario("article-issue-1", fresh=True)
def test_outcome_after_fix_keyvault_answers_istiod_runs_and_diagnose_is_clear(sim, az):
    assert any(status.startswith("Init") for status in istiod_statuses(sim))
    assert "MCA401" in diagnose_codes(az)

    fix_json(az, "--yes")

    assert addon_secret_status(sim) == 200
    current = [status for status in istiod_statuses(sim) if status != "Terminating"]
    assert current and all(status == "Running" for status in current), current
    codes = diagnose_codes(az)
    assert "MCA401" not in codes and "MCA402" not in codes


# --------------------------------------------------------------------------- RBAC vaults

@pytest.mark.scenario("rbac-no-access", fresh=True)
def test_rbac_vault_gets_exactly_one_secrets_user_assignment_then_nothing(sim, az):
    assert addon_secret_status(sim) == 403
    since = now(sim)

    result, _ = fix_json(az, "--yes")

    assert result["mode"] == "rbac"
    assert result["change"]["roleDefinitionId"] == SECRETS_USER_ID
    assert result["applied"]["result"] == "created"
    writes = writes_since(sim, since)
    assert len(writes) == 1 and writes[0]["method"] == "PUT" and "/roleAssignments/" in writes[0]["path"]
    created = addon_assignments(sim)
    assert len(created) == 1
    props = created[0]["properties"]
    assert props["roleDefinitionId"] == SECRETS_USER_ID
    assert props["principalType"] == "ServicePrincipal"
    assert props["scope"].lower() == VAULT_ID.lower()
    assert addon_secret_status(sim) == 200

    since = now(sim)
    again, _ = fix_json(az, "--yes")
    assert again["outcome"] == "unchanged"
    assert writes_since(sim, since) == []
    assert len(addon_assignments(sim)) == 1


@pytest.mark.scenario("rbac-reader-role", fresh=True)
def test_key_vault_reader_alone_is_not_enough_secrets_user_is_added(sim, az):
    assert addon_secret_status(sim) == 403
    result, proc = fix_json(az, "--yes")
    assert result["current"]["roles"][0]["roleName"] == "Key Vault Reader"
    assert any("Key Vault Reader" in note for note in result["notes"])
    assert "Key Vault Reader" in proc.stderr
    roles = sorted(a["properties"]["roleDefinitionId"].rsplit("/", 1)[-1] for a in addon_assignments(sim))
    assert roles == sorted([KV_READER, SECRETS_USER])  # the Reader assignment is left in place
    assert addon_secret_status(sim) == 200


@pytest.mark.scenario("fix-rbac-propagation", fresh=True)
def test_role_assignment_is_retried_while_the_principal_propagates(sim, az):
    result, proc = fix_json(az, "--yes")
    assert result["applied"]["result"] == "created"
    puts = sim.requests(method="PUT", path_regex=r"/roleAssignments/")
    assert [entry["status"] for entry in puts] == [400, 400, 201]
    assert len({entry["path"] for entry in puts}) == 1  # the same assignment name each time
    assert proc.stderr.count("PrincipalNotFound") == 2
    assert len(addon_assignments(sim)) == 1


# --------------------------------------------------------------------------- dry run, output

@pytest.mark.parametrize("scenario, kind", [("article-issue-1", "accessPolicyAdd"),
                                            ("rbac-no-access", "roleAssignment")])
def test_dry_run_prints_the_plan_and_writes_nothing(sim_factory, scenario, kind):
    sim = sim_factory.shared(scenario)
    az = sim_factory.az_for(sim)
    since = now(sim)
    result, _ = fix_json(az, "--dry-run")
    assert result["outcome"] == "planned"
    assert result["change"]["kind"] == kind
    assert result["identity"]["objectId"] == ADDON_OID
    assert result["vault"]["name"] == VAULT
    assert writes_since(sim, since) == []


@pytest.mark.scenario("healthy")
def test_nothing_to_do_reads_well_as_a_table(sim, az):
    since = now(sim)
    proc = fix(az, "-o", "table")
    assert proc.returncode == 0, proc.stderr
    assert "unchanged" in proc.stdout and VAULT in proc.stdout
    assert "Nothing to do" in proc.stderr
    assert writes_since(sim, since) == []


def fix_on_a_terminal(az, answer):
    """Run fix-access with a pseudo-terminal as stdin and type ``answer`` at the prompt."""
    master, slave = pty.openpty()
    try:
        os.write(master, (answer + "\n").encode("ascii"))
        return subprocess.run([azcli.AZ, "aks", "mesh", "ca", "fix-access", "-g", RG, "-n", CLUSTER, "-o", "json"],
                              stdin=slave, capture_output=True, text=True, env=az.env, timeout=300)
    finally:
        os.close(slave)
        os.close(master)


@pytest.mark.scenario("article-issue-1", fresh=True)
def test_confirmation_no_writes_nothing_and_yes_applies(sim, az):
    since = now(sim)
    declined = fix_on_a_terminal(az, "n")
    assert_one_line_refusal(declined, "Cancelled: nothing was changed.")
    assert "Apply this change? (y/N)" in declined.stderr
    assert writes_since(sim, since) == []

    accepted = fix_on_a_terminal(az, "y")
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(accepted.stdout)["outcome"] == "applied"  # the prompt stays off stdout
    assert policy_of(sim, ADDON_OID)["permissions"]["secrets"] == ["get"]


# --------------------------------------------------------------------------- refusals

REFUSALS = [
    ("operator-cannot-write", ["--yes"], "Key Vault Contributor or Owner"),
    ("rbac-operator-cannot-write", ["--yes"],
     "Role Based Access Control Administrator, User Access Administrator or Owner"),
    ("fix-vault-other-tenant", ["--yes"], "MCA406"),
    ("fix-addon-disabled", ["--yes"], "MCA201 The Azure Key Vault secrets provider add-on is disabled"),
    ("fix-no-plugin", ["--yes"], "MCA102 No plug-in CA is configured"),
    ("fix-bad-vault-id", ["--yes"], "MCA104 keyVaultId is not a Key Vault resource ID"),
    ("article-issue-1", [], "re-run with --yes"),
    ("article-issue-1", ["--secret-permissions", "list", "--yes"], "must include get"),
]


@pytest.mark.parametrize("scenario, args, expected", REFUSALS, ids=[
    "policy-write-forbidden", "role-write-forbidden", "other-tenant", "addon-disabled", "no-plugin",
    "malformed-vault-id", "no-tty-without-yes", "permissions-without-get"])
def test_refusals_are_one_line_nonzero_and_write_nothing(sim_factory, scenario, args, expected):
    sim = sim_factory.shared(scenario)
    az = sim_factory.az_for(sim)
    before = (policies(sim), copy.deepcopy(sim.world.role_assignments))
    since = now(sim)
    proc = fix(az, *args)
    assert_one_line_refusal(proc, expected)
    assert proc.returncode == 1
    assert successful_writes_since(sim, since) == []
    assert (policies(sim), sim.world.role_assignments) == before


def test_missing_cluster_exits_3(sim_factory):
    sim = sim_factory.shared("article-issue-1")
    az = sim_factory.az_for(sim)
    since = now(sim)
    proc = az.run("aks", "mesh", "ca", "fix-access", "-g", RG, "-n", "noSuchCluster", "--yes", input_text="")
    assert_one_line_refusal(proc, "was not found")
    assert proc.returncode == 3
    assert writes_since(sim, since) == []


@pytest.mark.scenario("article-issue-1", fresh=True)
def test_addon_without_identity_is_refused(sim, az):
    addon = sim.world.cluster["properties"]["addonProfiles"]["azureKeyvaultSecretsProvider"]
    addon.pop("identity")
    since = now(sim)
    proc = fix(az, "--yes")
    assert_one_line_refusal(proc, "MCA202 The secrets provider add-on has no identity")
    assert writes_since(sim, since) == []


# --------------------------------------------------------------------------- --wait

@pytest.mark.scenario("fix-wait-backoff", fresh=True)
def test_wait_polls_istiod_until_ready(sim, az):
    assert any(status.startswith("Init") for status in istiod_statuses(sim))  # kubelet has seen the failure
    result, proc = fix_json(az, "--yes", "--wait-for-istiod", "--timeout", "90")
    assert result["wait"]["ready"] is True, result["wait"]
    assert result["wait"]["seconds"] >= 5  # the simulated back-off held istiod in Init for a while
    assert "Waiting for istiod" in proc.stderr
    assert all(pod["status"] == "Running" for pod in result["wait"]["pods"] if pod["status"] != "Terminating")


@pytest.mark.scenario("fix-wait-missing-secret", fresh=True)
def test_wait_times_out_with_exit_4_when_istiod_stays_in_init(sim, az):
    # The old name, --wait, still works: azure-cli's deprecation warning names the new one.
    proc = fix(az, "--yes", "--wait", "--timeout", "3", "-o", "json")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Option '--wait' has been deprecated" in proc.stderr and "'--wait-for-istiod'" in proc.stderr
    assert proc.returncode == 4
    result = json.loads(proc.stdout)
    assert result["outcome"] == "applied"
    assert result["wait"]["ready"] is False and result["wait"]["timedOut"] is True
    assert policy_of(sim, ADDON_OID)["permissions"]["secrets"] == ["get"]
