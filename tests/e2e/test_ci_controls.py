"""Through the real az (extension from its wheel): the CI controls (--failure-threshold,
--suppress in every form), the fix-first table, and the explain / list-checks commands.

The diagnose runs use the session's shared simulators of the article's issues 1 (errors)
and 2 (a warning only), and run concurrently.
"""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from azext_meshca.rules.checks import ALL_RULES
from sandbox import certfactory
from sandbox.azcli import new_az
from tests.e2e.test_diagnose_scenarios import diagnose

pytestmark = pytest.mark.e2e

RUNS = {
    "warning-default": ("article-issue-2", ("-o", "json")),
    "warning-threshold": ("article-issue-2", ("--failure-threshold", "warning", "-o", "json")),
    "warning-suppressed": ("article-issue-2", ("--failure-threshold", "warning", "--suppress", "MCA301", "-o", "json")),
    "errors": ("article-issue-1", ("-o", "json")),
    "errors-suppressed": ("article-issue-1", ("--suppress", "MCA401", "--suppress", "MCA801",
                                              "--suppress", "MCA802=ca-cert", "-o", "json")),
    # space-separated values and wildcards, as --subscriptions and --secret-permissions take theirs
    "errors-suppressed-spaced": ("article-issue-1", ("--suppress", "MCA4*", "MCA80?", "-o", "json")),
    "errors-suppressed-commas": ("article-issue-1", ("--suppress", "MCA401,MCA8*", "-o", "json")),
    "errors-table": ("article-issue-1", ("-o", "table")),
    "errors-table-info": ("article-issue-1", ("-o", "table", "--output-threshold", "info")),
    "warning-table": ("article-issue-2", ("-o", "table")),
}


@pytest.fixture(scope="module")
def runs(sim_factory):
    sims = {scenario: sim_factory.shared(scenario) for scenario, _ in RUNS.values()}
    azs = {scenario: sim_factory.az_for(sim) for scenario, sim in sims.items()}

    def run(item):
        name, (scenario, args) = item
        return name, diagnose(azs[scenario], *args)

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(pool.map(run, RUNS.items()))


def _result(proc):
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


def test_failure_threshold_warning_turns_a_warning_only_result_into_exit_4(runs):
    default, strict = runs["warning-default"], runs["warning-threshold"]
    assert [item["code"] for item in _result(default)["findings"] if item["severity"] == "warning"] == ["MCA301"]
    assert default.returncode == 0, default.stderr
    assert strict.returncode == 4, strict.stderr
    assert _result(strict)["status"] == "warnings"


def test_suppress_moves_the_finding_to_summary_and_changes_the_exit_status(runs):
    proc = runs["warning-suppressed"]
    result = _result(proc)
    assert proc.returncode == 0, proc.stderr
    assert "MCA301" not in {item["code"] for item in result["findings"]}
    assert [item["code"] for item in result["summary"]["suppressed"]] == ["MCA301"]
    assert result["status"] == "passed"


def test_suppressing_the_errors_by_code_and_object(runs):
    """MCA802 is suppressed only for the object named; article-issue-1's 403 is on Key Vault
    secret test-ca-cert, which the finding calls by its plug-in object, ca-cert (one object,
    one name), keeping the secret's name in secretName."""
    before, after = _result(runs["errors"]), _result(runs["errors-suppressed"])
    assert runs["errors"].returncode == 4
    suppressed = [(item["code"], item["object"]) for item in after["summary"]["suppressed"]]
    assert ("MCA401", "vault") in suppressed and ("MCA801", "istiod") in suppressed
    left = {(item["code"], item["object"]) for item in after["findings"] if item["severity"] == "error"}
    assert ("MCA401", "vault") not in left
    assert len(after["findings"]) + len(after["summary"]["suppressed"]) == len(before["findings"])
    assert runs["errors-suppressed"].returncode == (4 if left else 0), after["findings"]


@pytest.mark.parametrize("run", ["errors-suppressed-spaced", "errors-suppressed-commas"])
def test_suppress_takes_space_and_comma_separated_values_and_wildcards(runs, run):
    proc = runs[run]
    result = _result(proc)
    assert {item["code"] for item in result["summary"]["suppressed"]} == {"MCA401", "MCA801", "MCA802"}
    assert [item for item in result["findings"] if item["severity"] == "error"] == []
    assert proc.returncode == 0, proc.stderr


def test_one_object_has_one_name(runs):
    """The provider's log names Key Vault secret test-ca-cert; the finding is about ca-cert."""
    [mount] = [item for item in _result(runs["errors"])["findings"] if item["code"] == "MCA802"]
    assert (mount["object"], mount["secretName"]) == ("ca-cert", "test-ca-cert")
    assert "test-ca-cert" in mount["message"]


def test_the_table_leads_with_the_fix_in_120_columns(runs):
    """One row per root cause: its decisive fact, its fix and the symptoms it explains;
    infos hidden below --output-threshold (default warning); nothing cut, no line past 120."""
    table = runs["errors-table"]
    assert table.returncode == 4, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["Severity", "Code", "Root", "cause", "and", "fix"], table.stdout
    assert max(len(line) for line in lines) <= 120, table.stdout
    text = " ".join(" ".join(line.split()) for line in lines)
    assert "Fix: az aks mesh ca fix-access -g myResourceGroup -n myAKSCluster" in text, table.stdout
    assert "22222222-2222-2222-2222-222222222222 lacks secret get" in text, table.stdout
    assert "Explains 2: MCA801" in text and "MCA802" in text, table.stdout
    assert [line.split()[1] for line in lines[2:] if line.startswith("error")] == ["MCA401"], table.stdout
    assert "MCA719" not in text and "--output-threshold info" in text, table.stdout
    assert "…" not in table.stdout
    shown = runs["errors-table-info"].stdout
    assert "MCA719" in shown and "MCA303" in shown, shown
    warning = runs["warning-table"]
    assert warning.returncode == 0, warning.stderr
    assert "enableSecretRotation false" in warning.stdout and "Fix: az aks addon update" in warning.stdout


def test_json_keeps_every_finding_and_docs_resolve(runs):
    result = _result(runs["errors"])
    assert {"MCA401", "MCA801", "MCA802", "MCA719", "MCA303"} <= {item["code"] for item in result["findings"]}
    for item in result["findings"]:
        assert item["docs"] == "az aks mesh ca explain " + item["code"]


@pytest.fixture(scope="module")
def offline_az():
    return new_az("ci-controls")


def test_explain_prints_the_page_of_a_code_for_a_reader(offline_az):
    proc = offline_az.run("aks", "mesh", "ca", "explain", "MCA401", cwd=offline_az.config_dir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("MCA401: ")
    for heading in ("What it means", "How meshca decides", "Confirm it by hand", "Fix", "Related codes"):
        assert "\n" + heading + "\n" + "-" * len(heading) + "\n" in proc.stdout
    assert "az keyvault show" in proc.stdout and "Explains: MCA801, MCA802, MCA807." in proc.stdout
    assert "{" not in proc.stdout.replace("{name:", "")
    assert "<the vault's name>" in proc.stdout
    assert "Generated by" not in proc.stdout and "```" not in proc.stdout and "##" not in proc.stdout


def test_explain_gives_the_structured_entry_with_o_json(offline_az):
    proc = offline_az.run("aks", "mesh", "ca", "explain", "MCA401", "-o", "json", cwd=offline_az.config_dir)
    assert proc.returncode == 0, proc.stderr
    entry = json.loads(proc.stdout)
    assert (entry["code"], entry["severity"], entry["area"]) == ("MCA401", "error", "access")
    assert entry["placeholders"]["vault_name"] == "the vault's name"
    assert entry["explains"] == ["MCA801", "MCA802", "MCA807"] and entry["rules"] == ["access-policy"]


def test_explain_refuses_an_unknown_code_in_one_line(offline_az):
    proc = offline_az.run("aks", "mesh", "ca", "explain", "MCA999", cwd=offline_az.config_dir)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "MCA999 is not a meshca finding code" in proc.stderr


def test_list_checks_lists_every_rule_and_its_codes(offline_az):
    proc = offline_az.run("aks", "mesh", "ca", "list-checks", "-o", "json", cwd=offline_az.config_dir)
    assert proc.returncode == 0, proc.stderr
    rules = {item["rule"]: item for item in json.loads(proc.stdout)}
    assert rules["access-policy"]["codes"] == ["MCA401", "MCA405"]
    assert rules["chains-to-root"]["subject"] == "caSet"
    # the optional inputs a rule also reads when collected (rules/registry.py), every rule's as declared
    assert {rule.name: list(rule.optional) for rule in ALL_RULES} == {
        name: item["optionalInputs"] for name, item in rules.items()}
    assert "kube.cronjobs" in rules["poll-interval"]["optionalInputs"]
    table = offline_az.run("aks", "mesh", "ca", "list-checks", "-o", "table", cwd=offline_az.config_dir)
    assert table.returncode == 0 and "MCA710 MCA712" in table.stdout, table.stderr


def test_validate_secrets_threshold_and_suppress(offline_az, tmp_path):
    """A sound set within --warn-days: a warning (MCA718), exit 0; exit 4 with
    --failure-threshold warning; exit 0 again once MCA718 is suppressed."""
    certfactory.write_cert_dir(str(tmp_path), certfactory.make_plugin_set())
    base = ("aks", "mesh", "ca", "validate-secrets", "--cert-dir", str(tmp_path), "--warn-days", "100000",
            "-o", "json")
    with ThreadPoolExecutor(max_workers=3) as pool:
        default, strict, suppressed = pool.map(lambda extra: offline_az.run(*base, *extra, cwd=offline_az.config_dir), [
            (), ("--failure-threshold", "warning"), ("--failure-threshold", "warning", "--suppress", "MCA718")])
    assert default.returncode == 0 and "MCA718" in {item["code"] for item in _result(default)["findings"]}
    assert strict.returncode == 4, strict.stderr
    result = _result(suppressed)
    assert suppressed.returncode == 0, suppressed.stderr
    assert {item["code"] for item in result["summary"]["suppressed"]} == {"MCA718"}
    assert "MCA718" not in {item["code"] for item in result["findings"]}


def test_suppress_refuses_a_malformed_value(offline_az, tmp_path):
    proc = offline_az.run("aks", "mesh", "ca", "validate-secrets", "--cert-dir", str(tmp_path), "--suppress", "nope",
                          cwd=offline_az.config_dir)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--suppress" in proc.stderr


@pytest.mark.parametrize("command", [["diagnose", "-g", "rg", "-n", "aks"], ["scan"]])
def test_timeout_below_one_second_is_a_usage_error_before_any_request(offline_az, command):
    proc = offline_az.run("aks", "mesh", "ca", *command, "--timeout", "0", cwd=offline_az.config_dir)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--timeout must be 1 second or more." in proc.stderr
