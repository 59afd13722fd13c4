"""Grid for the secret checks: Key Vault object states (MCA601, MCA611-MCA613) and the
certificate rules run on the CA set parsed from the values read.

MCA719 (info: time before the first expiry) comes from validation whenever a
certificate was read, so it appears in most rows.
"""

import datetime

import pytest

from azext_meshca.rules.checks import secrets
from azext_meshca.rules.validation import CERTIFICATE_RULES
from tests.unit import snapshots as s

SECRET_RULES = secrets.CHECKS + list(CERTIFICATE_RULES)

PAST = s.iso(s.NOW - datetime.timedelta(days=2))
FUTURE = s.iso(s.NOW + datetime.timedelta(days=2))


def _attributes(obj, **values):
    return lambda snapshot: snapshot["secrets"][obj]["data"].update(values)


def _disabled_error(obj):
    return lambda snapshot: s.fail(snapshot, ("secrets", obj), "403 Forbidden (SecretDisabled): Operation get is "
                                   "not allowed on a disabled secret.", 403, "SecretDisabled")


_values_from = s.key_vault_holds  # Key Vault now holds a different set


GRID = [
    ("healthy", [], ["MCA719"]),
    ("cert-chain missing: one MCA601, not two", [lambda snap: s.secret_missing(snap, "cert-chain")],
     ["MCA601", "MCA719"]),
    ("ca-key missing", [lambda snap: s.secret_missing(snap, "ca-key")], ["MCA601", "MCA719"]),
    ("two missing", [lambda snap: s.secret_missing(snap, "root-cert"), lambda snap: s.secret_missing(snap, "ca-cert")],
     ["MCA601", "MCA601", "MCA719"]),
    ("disabled (Key Vault refused)", [_disabled_error("ca-cert")], ["MCA611", "MCA719"]),
    ("disabled (metadata)", [_attributes("root-cert", enabled=False)], ["MCA611", "MCA719"]),
    ("expired secret", [_attributes("ca-cert", expires=PAST)], ["MCA612", "MCA719"]),
    ("secret not active yet", [_attributes("cert-chain", notBefore=FUTURE)], ["MCA612", "MCA719"]),
    ("secret inside its dates", [_attributes("ca-cert", expires=FUTURE, notBefore=PAST)], ["MCA719"]),
    ("backed by a Key Vault certificate", [_attributes("ca-cert", managed=True,
                                                       kid="https://kv-mesh.vault.azure.net/keys/test-ca-cert/1")],
     ["MCA613", "MCA719"]),
    ("backed by a key (kid only)", [_attributes("root-cert", kid="https://kv-mesh.vault.azure.net/keys/k/1")],
     ["MCA613", "MCA719"]),
    ("operator 403 on all: nothing here (MCA904 is collection's)", [s.operator_forbidden], []),
    ("operator 403 on ca-key: no MCA601 for it", [lambda snap: s.operator_forbidden(snap, ["ca-key"])], ["MCA719"]),
    ("ca-cert expired", [_values_from(expired=True)], ["MCA717"]),
    ("wrong root", [_values_from(wrong_root=True)], ["MCA710", "MCA719"]),
    ("root rotation in progress", [_values_from(rotation=True)], ["MCA703", "MCA719"]),
    ("no plug-in CA", [lambda snap: s.secret_missing(snap, "ca-key"), lambda snap: s.cluster(snap).update(plugin=None)],
     []),
]


@pytest.mark.parametrize("mutators, expected", [case[1:] for case in GRID], ids=[case[0] for case in GRID])
def test_secrets_grid(mutators, expected):
    assert s.codes(s.run_module(SECRET_RULES, s.applied(*mutators))) == expected


def test_missing_object_names_the_secret():
    findings = s.run_module(SECRET_RULES, s.applied(lambda snap: s.secret_missing(snap, "cert-chain")))
    [missing] = [item for item in findings if item["code"] == "MCA601"]
    assert missing["object"] == "cert-chain"
    assert "(Key Vault secret test-cert-chain)" in missing["message"]


def test_disabled_remedy_enables_the_secret():
    [found] = [item for item in s.run_module(SECRET_RULES, s.applied(_disabled_error("ca-cert")))
               if item["code"] == "MCA611"]
    assert "--vault-name kv-mesh --name test-ca-cert --enabled true" in found["remedy"]


def test_window_is_described():
    [found] = [item for item in s.run_module(SECRET_RULES, s.applied(_attributes("ca-cert", expires=PAST)))
               if item["code"] == "MCA612"]
    assert "expired on " + PAST in found["message"]


def test_certificates_come_back_with_sources():
    from azext_meshca.rules.checks import run_rules
    run = run_rules(s.healthy_snapshot(), functions=SECRET_RULES)
    assert {row["object"] for row in run.certificates} == {"root-cert", "ca-cert", "cert-chain"}


def test_validation_findings_name_the_key_vault_secret():
    snapshot = s.applied(_attributes("ca-cert", value="this is not PEM"))
    [found] = [item for item in s.run_module(SECRET_RULES, snapshot) if item["code"] == "MCA604"]
    assert "(Key Vault secret test-ca-cert)" in found["message"]


def test_key_facts_reach_validation():
    """ca-key is checked through keyFacts: a mismatched key is MCA709."""
    snapshot = s.healthy_snapshot()
    _values_from(mismatched_key=True)(snapshot)
    assert "MCA709" in s.codes(s.run_module(SECRET_RULES, snapshot))
    assert s.codes(s.run_module(SECRET_RULES, s.healthy_snapshot())) == ["MCA719"]
