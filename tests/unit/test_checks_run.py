"""run_checks end to end on snapshots: the healthy cluster, the article's three issues in
both Key Vault error formats, cause/symptom links, order, and no secret in the output."""

import json

import pytest

from azext_meshca.rules import checks

from azext_meshca.output import report
from azext_meshca.model.snapshot import from_json, to_json
from tests.unit import snapshots as s

FORMATS = ("legacy", "azcore")


def run(snapshot):
    return checks.run_checks(snapshot)


def by_code(findings, code):
    [found] = [item for item in findings if item["code"] == code]
    return found


def test_healthy_snapshot_has_no_error_and_no_warning():
    findings, certificates = run(s.healthy_snapshot())
    assert [item for item in findings if item["severity"] != "info"] == []
    assert sorted(item["code"] for item in findings) == ["MCA303", "MCA719", "MCA813"]
    assert report.build_result(findings, certificates)["status"] == "passed"
    assert {row["object"] for row in certificates} == {"root-cert", "ca-cert", "cert-chain"}


@pytest.mark.parametrize("error_format", FORMATS)
def test_article_issue_1_no_access(error_format):
    """Access policy missing: MCA401 first, and it explains the stuck pods and the 403."""
    snapshot = s.healthy_snapshot()
    s.vault(snapshot)["accessPolicies"] = []
    s.mount_fails(snapshot, error_format, "AccessDenied")
    s.add_event(snapshot, s.MOUNT_TIMEOUT)
    findings, _ = run(snapshot)
    result = report.build_result(findings)
    assert result["findings"][0]["code"] == "MCA401"
    assert by_code(findings, "MCA801")["explainedBy"] == ["MCA401"]
    assert by_code(findings, "MCA802")["explainedBy"] == ["MCA401"]
    assert by_code(findings, "MCA401")["explains"] == ["MCA801", "MCA802"]
    assert {item["code"] for item in findings if item["severity"] == "error"} == {"MCA401", "MCA801", "MCA802"}


def test_article_issue_2_rotation_disabled():
    snapshot = s.healthy_snapshot()
    s.addon(snapshot)["enableSecretRotation"] = "false"
    findings, _ = run(snapshot)
    assert by_code(findings, "MCA301")["severity"] == "warning"
    assert [item["code"] for item in findings if item["severity"] != "info"] == ["MCA301"]


@pytest.mark.parametrize("error_format", FORMATS)
def test_article_issue_3_missing_cert_chain(error_format):
    snapshot = s.healthy_snapshot()
    s.secret_missing(snapshot, "cert-chain")
    s.mount_fails(snapshot, error_format, "SecretNotFound", "cert-chain")
    findings, _ = run(snapshot)
    missing = by_code(findings, "MCA601")
    assert (missing["object"], missing["explains"]) == ("cert-chain", ["MCA801", "MCA805"])
    mount = by_code(findings, "MCA805")
    assert (mount["object"], mount["explainedBy"]) == ("test-cert-chain", ["MCA601"])
    assert report.build_result(findings)["findings"][0]["code"] == "MCA601"


@pytest.mark.parametrize("error_format", FORMATS)
def test_key_vault_reader_as_the_article_advises(error_format):
    snapshot = s.set_rbac(s.healthy_snapshot(), [s.KEY_VAULT_READER])
    s.mount_fails(snapshot, error_format, "ForbiddenByRbac")
    findings, _ = run(snapshot)
    assert by_code(findings, "MCA803")["explainedBy"] == ["MCA403"]
    assert "MCA402" not in {item["code"] for item in findings}


def test_operator_403_is_not_the_add_ons():
    findings, certificates = run(s.operator_forbidden(s.healthy_snapshot()))
    codes = {item["code"] for item in findings}
    assert "MCA904" in codes
    assert not codes & {"MCA401", "MCA402", "MCA403", "MCA404", "MCA405", "MCA802", "MCA803", "MCA601"}
    assert certificates == []
    assert report.build_result(findings)["status"] == "incomplete"


def test_network_cause_explains_the_mount_failure():
    snapshot = s.healthy_snapshot()
    s.vault(snapshot)["publicNetworkAccess"] = "Disabled"
    s.mount_fails(snapshot, "azcore", "ForbiddenByConnection")
    findings, _ = run(snapshot)
    assert by_code(findings, "MCA804")["explainedBy"] == ["MCA501"]


def test_rejected_ca_is_explained_by_certificate_errors():
    snapshot = s.healthy_snapshot()
    objects = s.plugin_set(wrong_root=True)
    snapshot["secrets"]["root-cert"]["data"]["value"] = objects["root-cert"].decode("ascii")
    for log in s.kube_data(snapshot, "istiodLogs"):
        log["lines"].append("error\tFailed to update new Plug-in CA certs: x509: certificate signed by unknown "
                            "authority")
    findings, _ = run(snapshot)
    assert "MCA710" in by_code(findings, "MCA812")["explainedBy"]


def test_findings_are_ordered_cause_first():
    snapshot = s.healthy_snapshot()
    s.vault(snapshot)["accessPolicies"] = []
    s.addon(snapshot)["enableSecretRotation"] = "false"
    s.mount_fails(snapshot, "legacy", "AccessDenied")
    s.fail(snapshot, ("kube", "cronjobs"), "403 Forbidden", 403)
    findings, _ = run(snapshot)
    ranks = [checks.AREA_ORDER.index(item["area"]) for item in findings]
    assert ranks == sorted(ranks)


def test_the_snapshot_is_not_changed_and_survives_json():
    snapshot = s.healthy_snapshot()
    s.mount_fails(snapshot, "azcore", "AccessDenied")
    before = json.dumps(snapshot, sort_keys=True)
    first, _ = checks.run_checks(snapshot)
    assert json.dumps(snapshot, sort_keys=True) == before
    again, _ = checks.run_checks(from_json(to_json(snapshot)))
    assert first == again


def test_no_private_key_material_in_the_output():
    findings, certificates = run(s.healthy_snapshot())
    text = json.dumps([findings, certificates])
    key_pem = s.plugin_set()["ca-key"].decode("ascii")
    key_body = "".join(key_pem.splitlines()[1:-1])
    assert "PRIVATE KEY" not in text
    assert all(key_body[start:start + 40] not in text for start in range(0, len(key_body) - 40, 40))


def test_every_check_tolerates_an_empty_snapshot():
    """Nothing collected at all: no traceback, no finding invented."""
    findings, certificates = checks.run_checks({"version": 1, "collectedAt": s.COLLECTED_AT})
    assert (findings, certificates) == ([], [])


def test_registry_holds_every_check_once():
    names = [check.__name__ for check in checks.ALL_CHECKS]
    assert len(names) == len(set(names))
    assert all(name.startswith("check_") for name in names)
