"""CI controls: --failure-threshold moves the bar for exit 4, --suppress sets known
findings aside into summary.suppressed (never dropped) and the verdict follows the rest."""

import pytest

from azext_meshca.rules import catalog

from azext_meshca.output import report


def _finding(code, obj="x"):
    params = {name: "v" for name in catalog.template_fields(catalog.CATALOG[code].message)
              | catalog.template_fields(catalog.CATALOG[code].remedy)}
    return catalog.finding(code, obj, **params)


WARNING_ONLY = [_finding("MCA301", "azureKeyvaultSecretsProvider"), _finding("MCA719", "ca-cert")]


@pytest.mark.parametrize("threshold, expected", [("error", 0), ("warning", 4), ("info", 4)])
def test_threshold_on_a_warning_only_result(threshold, expected):
    assert report.exit_status(report.build_result(WARNING_ONLY), threshold) == expected


def test_info_threshold_counts_infos():
    result = report.build_result([_finding("MCA719", "ca-cert")])
    assert (report.exit_status(result, "warning"), report.exit_status(result, "info")) == (0, 4)


def test_collection_findings_keep_exit_5_whatever_the_threshold():
    result = report.build_result([_finding("MCA904", "secrets")])
    assert result["status"] == "incomplete"
    assert report.exit_status(result, "warning") == 5


def test_suppress_moves_findings_and_the_verdict_follows_the_rest():
    findings = [_finding("MCA401", "vault"), _finding("MCA301", "azureKeyvaultSecretsProvider")]
    result = report.build_result(findings, suppress=["MCA401"])
    assert [item["code"] for item in result["findings"]] == ["MCA301"]
    assert [item["code"] for item in result["summary"]["suppressed"]] == ["MCA401"]
    assert result["status"] == "warnings" and report.exit_status(result) == 0
    assert report.exit_status(report.build_result(findings)) == 4


def test_suppress_by_object_leaves_the_same_code_on_other_objects():
    findings = [_finding("MCA718", "ca-cert"), _finding("MCA718", "root-cert")]
    result = report.build_result(findings, suppress=["mca718=root-cert"])
    assert [item["object"] for item in result["findings"]] == ["ca-cert"]
    assert [item["object"] for item in result["summary"]["suppressed"]] == ["root-cert"]


@pytest.mark.parametrize("text", ["MCA", "401", "MCA40", "XYZ401=a"])
def test_malformed_suppressions_are_refused(text):
    with pytest.raises(ValueError):
        report.parse_suppression(text)


def test_the_threshold_choices_are_the_catalogs_severities():
    """_params cannot import the catalog at load time, so its copy is pinned here."""
    from azext_meshca import _params
    from azext_meshca.rules import catalog
    assert list(_params.FAILURE_THRESHOLD_TYPE.settings["choices"]) == list(catalog.SEVERITIES)
