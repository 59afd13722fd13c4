"""Issue #23 through the real az (extension from its wheel): wrong arguments are
one-line errors with azure-cli's usage status (2), the same for the same mistake on
every command; scan resolves subscription names as az does, never passes silently
when it found nothing, takes --suppress and puts the worst first."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.test_diagnose_scenarios import CLUSTER, RG, diagnose

pytestmark = pytest.mark.e2e

USAGE = 2
NOT_VISIBLE = "99999999-9999-9999-9999-999999999999"


def _one_error_line(proc):
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, proc.stderr
    assert proc.stdout.strip() == "", proc.stdout
    return errors[0]


@pytest.fixture(scope="module")
def healthy(sim_factory):
    sim = sim_factory.shared("healthy")
    return sim, sim_factory.az_for(sim)


@pytest.fixture(scope="module")
def argument_runs(healthy, tmp_path_factory):
    sim, az = healthy
    kubeconfig = sim.kubeconfig(str(tmp_path_factory.mktemp("kube") / "config"))
    runs = {
        "no-kubeconfig": lambda: diagnose(az, "--kubeconfig", "/nonexistent/kubeconfig"),
        "bad-context": lambda: diagnose(az, "--kubeconfig", kubeconfig, "--context", "no-such-context"),
        "context-alone": lambda: diagnose(az, "--context", CLUSTER, "-o", "json", env={"KUBECONFIG": kubeconfig}),
        "bad-revision": lambda: diagnose(az, "--revision", "asm-9-99"),
        "diagnose-no-name": lambda: az.run("aks", "mesh", "ca", "diagnose", cwd=az.config_dir),
        "fix-access-no-name": lambda: az.run("aks", "mesh", "ca", "fix-access", cwd=az.config_dir),
        "bad-suppress": lambda: diagnose(az, "--suppress", "MCA99*"),
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(run) for name, run in runs.items()}
        return {name: future.result() for name, future in futures.items()}


def test_a_missing_kubeconfig_is_an_argument_error(argument_runs):
    proc = argument_runs["no-kubeconfig"]
    assert proc.returncode == USAGE, proc.stderr
    assert "/nonexistent/kubeconfig does not exist" in _one_error_line(proc)


def test_an_unknown_context_is_an_argument_error(argument_runs):
    proc = argument_runs["bad-context"]
    assert proc.returncode == USAGE, proc.stderr
    line = _one_error_line(proc)
    assert "no-such-context is not a context of" in line and CLUSTER in line


def test_context_alone_reads_the_default_kubeconfig_as_kubectl_does(argument_runs):
    proc = argument_runs["context-alone"]
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert not [item for item in result["findings"] if item["area"] == "collection" and item["severity"] != "info"]


def test_a_revision_the_cluster_does_not_run_is_an_argument_error(argument_runs):
    proc = argument_runs["bad-revision"]
    assert proc.returncode == USAGE, proc.stderr
    line = _one_error_line(proc)
    assert "asm-9-99 is not a revision of this cluster" in line and "MCA81" not in proc.stderr


def test_the_same_mistake_has_the_same_status_on_every_command(argument_runs):
    diagnose_, fix_access = argument_runs["diagnose-no-name"], argument_runs["fix-access-no-name"]
    assert diagnose_.returncode == fix_access.returncode == USAGE, (diagnose_.stderr, fix_access.stderr)
    assert "Traceback" not in diagnose_.stderr + fix_access.stderr
    assert argument_runs["bad-suppress"].returncode == USAGE
    assert "MCA99* matches no meshca finding code" in _one_error_line(argument_runs["bad-suppress"])


# --------------------------------------------------------------------------- remedies filled in

@pytest.mark.parametrize("source", [["-g", RG, "-n", CLUSTER],
                                    ["--vault-name", "MyAzureKeyVault", "--root-cert-object-name", "test-root-cert",
                                     "--ca-cert-object-name", "test-ca-cert", "--ca-key-object-name", "test-ca-key",
                                     "--cert-chain-object-name", "test-cert-chain"]])
def test_validate_secrets_remedy_names_the_vault_and_the_secret(sim_factory, source):
    """Before: az keyvault secret set --vault-name <vault> --name <cert-chain-name>, with both known."""
    az = sim_factory.az_for(sim_factory.shared("article-issue-3"))
    proc = az.run("aks", "mesh", "ca", "validate-secrets", *source, "-o", "json", cwd=az.config_dir)
    assert proc.returncode == 4, proc.stderr
    [missing] = [item for item in json.loads(proc.stdout)["findings"] if item["code"] == "MCA601"]
    assert ("az keyvault secret set --vault-name MyAzureKeyVault --name test-cert-chain --file cert-chain.pem"
            in missing["remedy"]), missing["remedy"]


# --------------------------------------------------------------------------- scan

def _scan(az, *args):
    return az.run("aks", "mesh", "ca", "scan", *args, cwd=az.config_dir)


@pytest.fixture(scope="module")
def scan_runs(sim_factory):
    healthy = sim_factory.shared("healthy")
    broken = sim_factory.shared("article-issue-1")
    empty = sim_factory.shared("fix-no-plugin")
    azs = {name: sim_factory.az_for(sim) for name, sim in
           (("healthy", healthy), ("broken", broken), ("empty", empty))}
    runs = {
        "by-name": ("healthy", ("--subscriptions", "Simulated Subscription", "-o", "json")),
        "unknown-name": ("healthy", ("--subscriptions", "fleet-4", "-o", "json")),
        "worst-first": ("healthy", ("--subscriptions", "Simulated Subscription", NOT_VISIBLE, "-o", "table")),
        "empty": ("empty", ("-o", "json")),
        "empty-table": ("empty", ("-o", "table")),
        "broken": ("broken", ("-o", "json")),
        "broken-suppressed": ("broken", ("--suppress", "MCA4*", "MCA2*", "-o", "json")),
        "help": ("healthy", ("-h",)),
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(_scan, azs[sim], *args) for name, (sim, args) in runs.items()}
        return {name: future.result() for name, future in futures.items()}


def test_scan_resolves_a_subscription_name_as_az_account_does(scan_runs):
    proc = scan_runs["by-name"]
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [row["cluster"] for row in result["clusters"]] == [CLUSTER]
    assert result["clusters"][0]["subscriptionName"] == "Simulated Subscription"
    # the scan's one note: it reads no cluster's API server (MCA908, once, not on the row)
    assert [item["code"] for item in result["findings"]] == ["MCA908"]


def test_an_unknown_subscription_name_is_an_argument_error_not_mca910(scan_runs):
    proc = scan_runs["unknown-name"]
    assert proc.returncode == USAGE, proc.stderr
    line = _one_error_line(proc)
    assert "Subscription 'fleet-4' not found" in line and "MCA910" not in proc.stderr


def test_a_scan_that_finds_no_cluster_says_so_and_fails(scan_runs):
    proc = scan_runs["empty"]
    result = json.loads(proc.stdout)
    assert proc.returncode == 5, proc.stderr
    assert result["status"] == "incomplete" and result["clusters"] == []
    assert [item["code"] for item in result["findings"]] == ["MCA930"]
    table = scan_runs["empty-table"]
    assert table.returncode == 5 and "No plug-in CA cluster found" in table.stdout, table.stdout


def test_the_unscanned_subscription_comes_before_the_clusters_that_passed(scan_runs):
    proc = scan_runs["worst-first"]
    assert proc.returncode == 5, proc.stderr
    rows = [line for line in proc.stdout.splitlines()[2:] if line.strip()]
    assert "(not scanned)" in rows[0] and "MCA910" in rows[0], proc.stdout
    assert CLUSTER in rows[1] and "passed" in rows[1], proc.stdout
    assert rows[1].startswith("Simulated Subscription"), proc.stdout   # the name, as az account list shows it


def test_scan_takes_suppress(scan_runs):
    before, after = scan_runs["broken"], scan_runs["broken-suppressed"]
    assert before.returncode == 4, before.stderr
    assert json.loads(before.stdout)["clusters"][0]["rootCause"] == "MCA401"
    result = json.loads(after.stdout)
    assert after.returncode == 0, after.stderr
    assert "MCA401" in {item["code"] for item in result["summary"]["suppressed"]}
    assert result["clusters"][0]["status"] in ("passed", "warnings")


def test_scan_failure_threshold_is_a_ci_argument(scan_runs):
    text = scan_runs["help"].stdout
    ci = text[text.index("CI Arguments"):]
    assert "--failure-threshold" in ci and "--suppress" in ci, text


# --------------------------------------------------------------------------- the demo

def test_the_demo_refuses_an_unknown_scenario_without_a_diagnose_status(tmp_path):
    """Before: 'diagnose exit status: 2' for a diagnose that never ran."""
    import subprocess
    from sandbox.azcli import REPO
    proc = subprocess.run([f"{REPO}/scripts/demo", "no-such-scenario"], capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "diagnose exit status" not in proc.stdout + proc.stderr
    assert "no scenario named 'no-such-scenario'" in proc.stderr and "article-issue-1" in proc.stderr


def test_the_sandbox_says_what_it_is_doing_while_it_starts():
    import subprocess
    import sys
    from sandbox.azcli import REPO
    proc = subprocess.run([sys.executable, "-m", "sandbox", "healthy", "--run", "true"], cwd=REPO,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    for line in ("sandbox: starting the simulators of scenario healthy", "sandbox: building meshca's wheel",
                 "sandbox: ready"):
        assert line in proc.stderr, proc.stderr


def _finding(result, code):
    (item,) = [item for item in result["findings"] if item["code"] == code]
    return item


def test_mca801_through_az_fits_a_crash_loop_and_takes_its_restart_step_from_the_model(sim_factory):
    """Item 3: istiod crash-looping on a certificate is not 'stuck initialising', and the remedy
    does not say kubelet retries a mount. The restart step is the CA-path model's
    (catalog.istiod_step): on this 2023 cluster a restart changes no trusted root."""
    sim = sim_factory.shared("diag-cert-wrong-root")
    proc = diagnose(sim_factory.az_for(sim), "-o", "json")
    assert "Traceback" not in proc.stderr, proc.stderr
    pods = _finding(json.loads(proc.stdout), "MCA801")
    assert "initialising" not in pods["title"] and "CrashLoopBackOff" in pods["message"], pods
    assert "CrashLoopBackOff" in pods["remedy"] and "kubectl rollout restart deployment/istiod-asm-" in pods["remedy"]


def test_mca303_through_az_says_restart_once_and_none_on_todays_add_on(sim_factory):
    """Item 12: MCA303 said 'restart' twice; on asm-1-29, with no cronjob, istiod hot-reloads."""
    old = sim_factory.shared("healthy")
    proc = diagnose(sim_factory.az_for(old), "-o", "json")
    message = _finding(json.loads(proc.stdout), "MCA303")["message"]
    assert message.count("restart") == 1, message
    current = sim_factory.shared("healthy-asm-1-29")
    proc = diagnose(sim_factory.az_for(current), "-o", "json")
    message = _finding(json.loads(proc.stdout), "MCA303")["message"]
    assert "restart" not in message and "hot-reloads" in message, message
