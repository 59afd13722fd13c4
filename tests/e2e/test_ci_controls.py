"""Through the real az (extension from its wheel): the CI controls (--failure-threshold,
--suppress), the table's detail column, and the explain / list-checks commands.

The diagnose runs use the session's shared simulators of the article's issues 1 (errors)
and 2 (a warning only), and run concurrently.
"""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

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
                                              "--suppress", "MCA802=test-ca-cert", "-o", "json")),
    "errors-table": ("article-issue-1", ("-o", "table")),
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
    """MCA802 is suppressed only for the object named; article-issue-1's 403 is on test-ca-cert
    and the other secrets, so the finding for test-ca-cert goes and the exit follows the rest."""
    before, after = _result(runs["errors"]), _result(runs["errors-suppressed"])
    assert runs["errors"].returncode == 4
    suppressed = [(item["code"], item["object"]) for item in after["summary"]["suppressed"]]
    assert ("MCA401", "vault") in suppressed and ("MCA801", "istiod") in suppressed
    left = {(item["code"], item["object"]) for item in after["findings"] if item["severity"] == "error"}
    assert ("MCA401", "vault") not in left
    assert len(after["findings"]) + len(after["summary"]["suppressed"]) == len(before["findings"])
    assert runs["errors-suppressed"].returncode == (4 if left else 0), after["findings"]


def test_table_has_a_detail_column_from_the_findings_own_fields(runs):
    table = runs["warning-table"]
    assert table.returncode == 0, table.stderr
    header = table.stdout.splitlines()[0].split()
    assert header == ["Severity", "Code", "Object", "Finding", "Detail"], table.stdout
    [line] = [line for line in table.stdout.splitlines() if "MCA301" in line]
    assert "enableSecretRotation false" in line, table.stdout
    errors = runs["errors-table"].stdout
    assert any("MCA401" in line and "lacks secret get" in line for line in errors.splitlines()), errors


@pytest.fixture(scope="module")
def offline_az():
    return new_az("ci-controls")


def test_explain_prints_the_page_of_a_code(offline_az):
    proc = offline_az.run("aks", "mesh", "ca", "explain", "MCA401", cwd=offline_az.config_dir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# MCA401: ")
    for heading in ("## What it means", "## How meshca decides", "## Confirm it by hand", "## Fix",
                    "## Related codes"):
        assert heading in proc.stdout
    assert "az keyvault show" in proc.stdout and "Explains: MCA801, MCA802, MCA807." in proc.stdout


def test_explain_refuses_an_unknown_code_in_one_line(offline_az):
    proc = offline_az.run("aks", "mesh", "ca", "explain", "MCA999", cwd=offline_az.config_dir)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "MCA999 is not a meshca finding code" in proc.stderr


def test_list_checks_lists_every_rule_and_its_codes(offline_az):
    proc = offline_az.run("aks", "mesh", "ca", "list-checks", "-o", "json", cwd=offline_az.config_dir)
    assert proc.returncode == 0, proc.stderr
    rules = {item["rule"]: item for item in json.loads(proc.stdout)}
    assert rules["access-policy"]["codes"] == ["MCA401", "MCA405"]
    assert rules["chains-to-root"]["subject"] == "caSet"
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
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "--suppress" in proc.stderr
