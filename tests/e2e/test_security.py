"""Issue 22 through the real az against the simulators: credentials stay where they belong.

- No body holding a cluster credential reaches az's network logging: neither --debug's
  stderr nor az's own log file ($AZURE_CONFIG_DIR/logs/az.log, with
  ``logging.enable_log_file``) holds the cluster user's token, its client key, or a
  runCommand's clusterToken (an AKS AAD token).

docs/security.md says where each credential goes and which test shows it.
"""

import base64
import glob
import json
import os
import re

import pytest

from tests.e2e.test_diagnose_scenarios import diagnose

pytestmark = pytest.mark.e2e

# The AKS AAD server app: the audience of the token a runCommand carries for an AAD
# cluster (az aks command invoke's _get_dataplane_aad_token; sources/runcommand.py).
AKS_AAD_SERVER = "6dae42f8-4368-4678-94ff-3960e28e3630"
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.(eyJ[A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*")


def _audiences(text):
    """The ``aud`` of every JWT that appears in ``text``."""
    found = []
    for match in _JWT.finditer(text):
        payload = match.group(1)
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            continue
        found.append(str(claims.get("aud")))
    return found


def _logged(az, *args, **kwargs):
    """diagnose ARGS --debug with az's file log on: (stdout + stderr, az.log's text)."""
    env = {"AZURE_LOGGING_ENABLE_LOG_FILE": "yes"}
    for path in glob.glob(os.path.join(az.config_dir, "logs", "*")):
        os.remove(path)
    proc = diagnose(az, *args, "--debug", "-o", "json", env=env, **kwargs)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    files = glob.glob(os.path.join(az.config_dir, "logs", "*.log"))
    assert files, "az wrote no log file: the test would prove nothing"
    log_text = ""
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as handle:
            log_text += handle.read()
    return proc.stdout + proc.stderr, log_text


def test_cluster_user_credential_is_not_logged(sim_factory):
    """A local-account cluster: listClusterUserCredential's kubeconfig (token and client key)."""
    sim = sim_factory.fresh("healthy")
    sim.world.raw["clusterUserClientKey"] = True
    az = sim_factory.az_for(sim)
    output, log_text = _logged(az)
    assert "listClusterUserCredential" in output, "the credential was asked for (so its body could be logged)"
    arm = sim.servers["arm"].service
    key_lines = [line for line in arm.client_key_pem.decode().splitlines() if not line.startswith("-----")]
    secrets = [sim.world.kube_user_token, base64.b64encode(arm.client_key_pem).decode()[:60],
               base64.b64encode(sim.world.kube_user_token.encode()).decode()[:24], *key_lines, "kubeconfigs"]
    for where, text in (("--debug output", output), ("az.log", log_text)):
        leaked = [secret[:16] + "..." for secret in secrets if secret and secret in text]
        assert not leaked, f"a cluster credential in {where}: {leaked}"


def test_run_command_token_is_not_logged(sim_factory):
    """An AAD private cluster read through runCommand: its request carries clusterToken."""
    sim = sim_factory.fresh("private-cluster-aad")
    az = sim_factory.az_for(sim)
    output, log_text = _logged(az, "--via-run-command")
    assert sim.servers["arm"].service.run_commands.submitted[-1]["clusterToken"], "the request carried a token"
    for where, text in (("--debug output", output), ("az.log", log_text)):
        assert "clusterToken" not in text and "cluster_token" not in text, f"runCommand's body in {where}"
        assert AKS_AAD_SERVER not in _audiences(text), f"an AKS AAD token in {where}"
        assert "@@" not in text, f"the command's output (its framing lines) in {where}"


def test_scan_read_secrets_logs_no_token_and_no_value(sim_factory):
    """scan --read-secrets --debug (its lean reader: sources/keyvault.py, _client_factory.cf_vault_reader):
    neither the Key Vault token nor any secret's value reaches --debug's output or az.log."""
    sim = _scenario_sim(sim_factory, "healthy")
    az = sim_factory.az_for(sim)
    for path in glob.glob(os.path.join(az.config_dir, "logs", "*")):
        os.remove(path)
    sim.log.clear()
    proc = az.run("aks", "mesh", "ca", "scan", "--read-secrets", "--debug", "-o", "json", cwd=az.config_dir,
                  env={"AZURE_LOGGING_ENABLE_LOG_FILE": "yes"})
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    authorised = [entry for entry in sim.requests(service=KV_SERVICE) if entry["principal"] and entry["status"] == 200]
    assert len(authorised) == 4, "the four objects were read (so their values and the token could leak)"
    log_text = ""
    for path in glob.glob(os.path.join(az.config_dir, "logs", "*.log")):
        with open(path, encoding="utf-8", errors="replace") as handle:
            log_text += handle.read()
    assert log_text, "az wrote no log file: the test would prove nothing"
    plugin = sim.world.cluster["properties"]["serviceMeshProfile"]["istio"]["certificateAuthority"]["plugin"]
    key_lines = [line for line in sim.world.secret_value(VAULT, plugin["keyObjectName"])[1].splitlines()
                 if line and not line.startswith("-----")]
    for where, text in (("--debug output", proc.stdout + proc.stderr), ("az.log", log_text)):
        assert not [aud for aud in _audiences(text) if "vault" in aud], f"a Key Vault token in {where}"
        assert "PRIVATE KEY" not in text and not [line for line in key_lines if line in text], \
            f"ca-key's value in {where}"


# --------------------------------------------------------------------------- the sanitiser

# OSC 52 (writes the clipboard), ESC[2J (clears the screen), BEL, and U+009B (the
# one-character CSI) that -o json used to print raw.
_HOSTILE = "\x1b]52;c;aGk=\x07\x1b[2J\x9b31m"
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT")


def _poisoned(value):
    """Every string of a snapshot with the hostile sequences in it (timestamps kept, so the
    snapshot still loads and every check runs)."""
    if isinstance(value, str):
        return value if _TIMESTAMP.match(value) else value + _HOSTILE
    if isinstance(value, dict):
        return {key: _poisoned(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_poisoned(item) for item in value]
    return value


@pytest.mark.parametrize("output", ["table", "tsv", "json", "yaml"])
def test_no_control_character_reaches_the_terminal(sim_factory, tmp_path, output):
    """A shared snapshot whose names, objectId, tenant and settings carry escape sequences."""
    from sandbox import golden
    az = sim_factory.az_for(sim_factory.shared("healthy"))
    snapshot = _poisoned(golden.load("diag-spc-stale"))
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(snapshot), encoding="utf-8")
    # tsv prints only a result's top-level scalars: ask for the findings' texts.
    query = ["--query", "findings[].[code, object, message]"] if output == "tsv" else []
    proc = az.run("aks", "mesh", "ca", "diagnose", "--from-snapshot", str(path), "-o", output, *query,
                  cwd=az.config_dir)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stdout.strip(), proc.stderr[-2000:]
    assert "\\x1b" in proc.stdout, "the poisoned fields were printed (so the test could catch them)"
    for char in "\x1b\x07\x9b":
        assert char not in proc.stdout and char not in proc.stderr, f"{char!r} reached -o {output}"


# --------------------------------------------------------------------------- fix-access's objectId

WRITE_METHODS = ("PUT", "POST", "PATCH", "DELETE")
ADDON_OID = "22222222-2222-2222-2222-222222222222"
BAD_OBJECT_IDS = {
    "not-a-guid": "not-a-guid",
    "zero": "00000000-0000-0000-0000-000000000000",
    "35-characters": ADDON_OID[:-1],
    "padded": f" {ADDON_OID} ",
    "odata-injection": f"{ADDON_OID}' or principalId ne '",
}


@pytest.mark.parametrize("scenario", ["fix-policy-partial", "rbac-no-access"])
@pytest.mark.parametrize("bad", sorted(BAD_OBJECT_IDS))
def test_fix_access_refuses_an_object_id_that_is_not_a_guid(sim_factory, scenario, bad):
    """ARM's answer names the principal; one that is not a GUID gets a one-line error and no write."""
    sim = _scenario_sim(sim_factory, scenario)
    az = sim_factory.az_for(sim)
    identity = sim.world.cluster["properties"]["addonProfiles"]["azureKeyvaultSecretsProvider"]["identity"]
    identity["objectId"] = BAD_OBJECT_IDS[bad]
    before = len(sim.requests())
    try:
        proc = az.run("aks", "mesh", "ca", "fix-access", "-g", "myResourceGroup", "-n", "myAKSCluster", "--yes",
                      input_text="", cwd=az.config_dir)
    finally:
        identity["objectId"] = ADDON_OID
    made = sim.requests()[before:]
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and "is not a GUID" in errors[0], proc.stderr[-2000:]
    assert [entry for entry in made if entry["method"] in WRITE_METHODS] == []
    assert not [entry for entry in made if "roleAssignments" in entry["path"]], "no filter with that value is sent"


_SIMS = {}


def _scenario_sim(sim_factory, scenario):
    """One private simulator per scenario for this module (tests restore what they change)."""
    if scenario not in _SIMS:
        _SIMS[scenario] = sim_factory.fresh(scenario)
    return _SIMS[scenario]


# --------------------------------------------------------------------------- kubeconfig

def _kubeconfig_variants(sim, tmp_path):
    """{name: path} of kubeconfigs kubectl refuses, made from the simulator's own."""
    import yaml
    with open(sim.kubeconfig(), encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    config["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    insecure = tmp_path / "insecure-with-ca"
    insecure.write_text(yaml.safe_dump(config), encoding="utf-8")
    looped = tmp_path / "self-referencing"
    looped.write_text("current-context: &loop [*loop]\ncontexts: &c [*c]\nclusters: []\n", encoding="utf-8")
    return {"insecure-with-ca": (insecure, "kubectl refuses"), "self-referencing": (looped, "not text")}


@pytest.mark.parametrize("variant", ["insecure-with-ca", "self-referencing"])
def test_a_kubeconfig_kubectl_refuses_is_refused_in_one_line(sim_factory, tmp_path, variant):
    """A kubeconfig kubectl refuses is the caller's argument mistake (issue 23: exit 2, as a
    missing kubeconfig is), said in one line, and no connection is made without verification."""
    sim = sim_factory.shared("healthy")
    az = sim_factory.az_for(sim)
    path, said = _kubeconfig_variants(sim, tmp_path)[variant]
    before = len(sim.requests(service="kube"))
    proc = diagnose(az, "--kubeconfig", str(path), "-o", "json")
    assert "Traceback" not in proc.stderr and "TypeError" not in proc.stdout + proc.stderr, proc.stderr[-2000:]
    assert proc.returncode == 2 and proc.stdout == "", (proc.returncode, proc.stdout)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and "--kubeconfig" in errors[0] and said in errors[0], proc.stderr
    assert len(sim.requests(service="kube")) == before, "no connection is made without verification"


# --------------------------------------------------------------------------- --export

def test_export_is_private_and_never_follows_a_symlink(sim_factory, tmp_path):
    import stat
    sim = sim_factory.shared("healthy")
    az = sim_factory.az_for(sim)
    path = tmp_path / "snapshot.json"
    path.write_text("old", encoding="utf-8")
    os.chmod(path, 0o644)
    proc = diagnose(az, "--export", str(path), "-o", "none")
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert json.loads(path.read_text(encoding="utf-8"))["version"], "the snapshot was written"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, oct(os.stat(path).st_mode)
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".meshca-export-")], "no temporary left"

    target = tmp_path / "victim"
    target.write_text("precious", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    proc = diagnose(az, "--export", str(link), "-o", "none")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and "symbolic link" in errors[0], proc.stderr[-2000:]
    assert target.read_text(encoding="utf-8") == "precious" and link.is_symlink()


# --------------------------------------------------------------------------- where tokens go

VAULT = "MyAzureKeyVault"
KV_SERVICE = "kv:" + VAULT


def _codes(proc):
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return {item["code"]: item for item in json.loads(proc.stdout)["findings"]}


def test_a_vault_uri_elsewhere_is_a_finding_and_gets_no_request(sim_factory):
    """ARM reports the vault's listener at its loopback address: another host than the
    vault's name under the cloud's suffix. diagnose and validate-secrets send it nothing."""
    sim = _scenario_sim(sim_factory, "healthy")
    az = sim_factory.az_for(sim)
    elsewhere = sim.servers[KV_SERVICE].url
    sim.point_vault_at(VAULT, elsewhere)
    try:
        sim.log.clear()
        findings = _codes(diagnose(az, "-o", "json"))
        target = ["-g", "myResourceGroup", "-n", "myAKSCluster", "-o", "json"]
        live = az.run("aks", "mesh", "ca", "validate-secrets", *target, cwd=az.config_dir)
        shown = az.run("aks", "mesh", "ca", "show-cert", *target, cwd=az.config_dir)
        scanned = az.run("aks", "mesh", "ca", "scan", "--read-secrets", "-o", "json", cwd=az.config_dir)
        authorised = [entry for entry in sim.requests(service=KV_SERVICE)
                      if entry.get("status") != 401 and "/secrets/" in entry["path"]]
    finally:
        sim.point_vault_at(VAULT, None)
    assert "MCA530" in findings and "MCA904" not in findings, sorted(findings)
    assert elsewhere.split("//")[1] in findings["MCA530"]["message"]
    assert authorised == [], "a secret read reached the vault (only the challenge, at its own address, may)"
    assert "MCA530" in _codes(live), live.stderr[-2000:]
    assert "MCA530" in _codes(shown), shown.stderr[-2000:]
    assert "Traceback" not in scanned.stderr, scanned.stderr[-2000:]
    rows = json.loads(scanned.stdout)["clusters"]
    assert rows and all("MCA530" in {item["code"] for item in row["findings"]} for row in rows), rows


def _redirected_role_definition(sim, target_url):
    """Point the custom role's assignment at ``target_url``/<its roleDefinitionId>; undo()."""
    assignment = next(item for item in sim.world.role_assignments
                      if item["properties"]["roleDefinitionId"].rsplit("/", 1)[-1].lower() not in KNOWN_ROLE_GUIDS)
    original = assignment["properties"]["roleDefinitionId"]
    assignment["properties"]["roleDefinitionId"] = target_url.rstrip("/") + original
    return lambda: assignment["properties"].__setitem__("roleDefinitionId", original)


# Key Vault Secrets User, Key Vault Reader, Key Vault Administrator, Key Vault Secrets Officer
KNOWN_ROLE_GUIDS = {"4633458b-17de-408a-b874-0445c86b69e6", "21090545-7ca7-4776-b22c-e363652d74d2",
                    "00482a5a-887f-4fb3-b363-3b7fe8e74483", "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"}


def test_absolute_urls_in_arm_answers_get_no_arm_token_elsewhere(sim_factory):
    """A roleDefinitionId and a nextLink naming another host (the Key Vault listener, which
    logs whatever reaches it): not followed, in diagnose and fix-access --dry-run."""
    sim = _scenario_sim(sim_factory, "rbac-custom-role")
    az = sim_factory.az_for(sim)
    elsewhere = sim.servers[KV_SERVICE].url
    undo = _redirected_role_definition(sim, elsewhere)
    try:
        sim.log.clear()
        role_read = _codes(diagnose(az, "-o", "json"))
        dry = az.run("aks", "mesh", "ca", "fix-access", "-g", "myResourceGroup", "-n", "myAKSCluster", "--dry-run",
                     "-o", "json", input_text="", cwd=az.config_dir)
        sim.world.raw["roleAssignmentsNextLink"] = elsewhere + "/subscriptions/x/roleAssignments?page=2"
        paged = _codes(diagnose(az, "-o", "json"))
    finally:
        undo()
        sim.world.raw.pop("roleAssignmentsNextLink", None)
    stray = [entry for entry in sim.requests(service=KV_SERVICE) if "role" in entry["path"].lower()]
    assert stray == [], f"an ARM link was followed to another host: {stray[:2]}"
    assert "not on ARM" in role_read["MCA909"]["message"], sorted(role_read)
    assert "Traceback" not in dry.stderr, dry.stderr[-2000:]
    assert "not on ARM" in paged["MCA903"]["message"], sorted(paged)


# --------------------------------------------------------------------------- run-command's allowlist

# Keys a cacerts secret may hold besides the three certificates: the key under istiod's two
# layouts (ca-key.pem; tls.key beside tls.crt and ca.crt: istio/istio security/pkg/pki/ca
# ca.go, TLSSecretCACertFile and friends), and spellings no exact match should let through.
WITHHELD_KEYS = ("ca-key.pem", "tls.key", "CA-KEY.PEM", "Ca-Key.pem", "key.pem", "tls.crt", "ca.crt")


def _cacerts_scenario(tmp_path):
    """private-cluster, with a cacerts secret holding the certificates and WITHHELD_KEYS,
    each withheld value a distinct private-key marker. (path, {key: marker})."""
    import yaml
    from sandbox import certfactory
    objects = certfactory.make_plugin_set()
    markers = {key: f"-----BEGIN PRIVATE KEY-----\nMESHCA-MARKER-{index}-{'x' * 40}\n-----END PRIVATE KEY-----\n"
               for index, key in enumerate(WITHHELD_KEYS)}
    data = {name + ".pem": base64.b64encode(objects[name]).decode() for name in ("root-cert", "ca-cert", "cert-chain")}
    data.update({key: base64.b64encode(text.encode()).decode() for key, text in markers.items()})
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": data,
              "metadata": {"name": "cacerts", "namespace": "aks-istio-system"}}
    path = tmp_path / "private-cacerts.yaml"
    path.write_text(yaml.safe_dump({"description": "private-cluster with a cacerts secret of many keys",
                                    "base": "private-cluster",
                                    "kubernetes": {"cacertsSecret": False, "objects": [secret]}}),
                    encoding="utf-8")
    return path, markers


def test_run_command_carries_only_the_three_certificates_out_of_the_cluster(sim_factory, tmp_path):
    path, markers = _cacerts_scenario(tmp_path)
    sim = sim_factory.fresh(str(path))
    az = sim_factory.az_for(sim)
    export = tmp_path / "rc.json"
    output, log_text = _logged(az, "--via-run-command", "--export", str(export))
    logs = sim.servers["arm"].service.run_commands.logs()
    assert logs and "cert-chain.pem" in logs[-1], "the command ran and read cacerts"
    encoded = {key: base64.b64encode(text.encode()).decode() for key, text in markers.items()}
    for where, text in [("the run-command result AKS keeps", "\n".join(logs)), ("--debug output", output),
                        ("az.log", log_text), ("the snapshot", export.read_text(encoding="utf-8"))]:
        leaked = [key for key in WITHHELD_KEYS if encoded[key][:40] in text or "MESHCA-MARKER" in text]
        assert not leaked, f"{leaked} left the cluster in {where}"
    snapshot = json.loads(export.read_text(encoding="utf-8"))
    assert set(WITHHELD_KEYS) <= set(snapshot["kube"]["cacerts"]["data"]["keys"]), "every key is named"
    withheld = {item["key"]: item["bytes"] for item in snapshot["kube"]["access"]["data"]["runCommand"]["withheld"]}
    assert set(withheld) == set(WITHHELD_KEYS)
    for key, text in markers.items():
        assert withheld[key] - len(text.encode()) in (0, 1, 2), "the size, up to base64's padding"
    assert snapshot["kube"]["cacerts"]["data"]["caCertFingerprint"], "the certificates' values did come"


def test_a_challenge_for_another_resource_never_earns_a_token(sim_factory):
    """The vault, at its own address, names another resource in its challenge. The SDK az
    bundles caches that challenge before refusing it; meshca forgets it, so no later read
    asks for a token for that resource or sends one (every Key Vault request stays
    unauthenticated), and the secrets are reported unread."""
    sim = _scenario_sim(sim_factory, "healthy")
    az = sim_factory.az_for(sim)
    sim.world.raw["keyVaultChallengeResource"] = "https://attacker.example"
    try:
        sim.log.clear()
        findings = _codes(diagnose(az, "-o", "json"))
        vault_requests = sim.requests(service=KV_SERVICE)
    finally:
        sim.world.raw.pop("keyVaultChallengeResource", None)
    assert vault_requests and [entry for entry in vault_requests if entry["principal"]] == [], vault_requests
    assert "does not match the requested domain" in findings["MCA904"]["message"], sorted(findings)


def test_a_run_command_polled_elsewhere_gets_no_arm_token(sim_factory):
    """ARM's 202 names another host (the Key Vault listener, which logs what reaches it) as the
    runCommand's Location: the ARM clients' pipelines send nothing there."""
    sim = sim_factory.fresh("private-cluster")
    az = sim_factory.az_for(sim)
    sim.world.raw["runCommandLocationHost"] = sim.servers[KV_SERVICE].url.split("//", 1)[1]
    sim.log.clear()
    findings = _codes(diagnose(az, "--via-run-command", "-o", "json"))
    assert [entry for entry in sim.requests(service=KV_SERVICE) if "commandResults" in entry["path"]] == []
    assert "not on ARM" in findings["MCA914"]["message"], sorted(findings)
