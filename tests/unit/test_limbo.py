"""The path engine and both consumer models against x509-limbo (C2SP/x509-limbo, commit
8a2e6f41023b1716dc16fe63335e4bb972e4c3f6; subset in ../shared/reference/x509-limbo, see its README).

Runs in-process over the 90 kept cases and prints the agreement figure ("N of M agree").
Disagreements are expected where a consumer itself departs from limbo's RFC 5280 / Web PKI
expectation: each is listed with its reason in docs/certificates.md, and LISTED below pins
that list so a new disagreement fails the test.
"""

import datetime
import json
import os

import pytest
from cryptography import x509

from azext_meshca.model import certs
from azext_meshca.rules.consumers import envoy, istiod

CASES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "reference", "x509-limbo",
                     "cases.json")


def _load_cases():
    path = os.path.normpath(CASES)
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)["testcases"]


def _parse(pems):
    parsed = []
    for pem in pems:
        parsed += certs.parse_pem_bundle(pem.encode("ascii"))
    return parsed


def _now(case):
    if case["validation_time"]:
        return datetime.datetime.fromisoformat(case["validation_time"].replace("Z", "+00:00"))
    return datetime.datetime.now(datetime.timezone.utc)


def verdicts(case):
    """{'istiod': bool, 'envoy': bool, 'mesh': bool}: True = accepted."""
    try:
        leaf = _parse([case["peer_certificate"]])[0]
        pool = _parse(case["untrusted_intermediates"])
        anchors = _parse(case["trusted_certs"])
    except certs.CertFormatError:
        return {"istiod": False, "envoy": False, "mesh": False}
    path = certs.build_path(leaf, pool, anchors)
    if path is None:
        return {"istiod": False, "envoy": False, "mesh": False}
    now = _now(case)
    go_ok = not istiod.verify_path(path, now)
    envoy_ok = not envoy.verify_path(path, 1, now, purposes=(envoy.SSL_SERVER,))
    return {"istiod": go_ok, "envoy": envoy_ok, "mesh": go_ok and envoy_ok}


def agreement():
    rows = {}
    for case in _load_cases():
        expected = case["expected_result"] == "SUCCESS"
        rows[case["id"]] = {name: got == expected for name, got in verdicts(case).items()}
    return rows


# Disagreements of the combined (mesh) verdict, each explained in docs/certificates.md.
LISTED = {
    "pathlen::validation-ignores-pathlen-in-leaf",
    "pathlen::self-issued-certs-pathlen",
    "pathlen::max-chain-depth-0-exhausted",
    "pathlen::max-chain-depth-1-exhausted",
    "rfc5280::aki::leaf-missing-aki",
    "rfc5280::aki::intermediate-missing-aki",
    "rfc5280::aki::cross-signed-root-missing-aki",
    "rfc5280::pc::ica-noncritical-pc",
    "rfc5280::serial::too-long",
    "rfc5280::serial::zero",
    "rfc5280::serial::negative",
    "rfc5280::ski::root-missing-ski",
    "rfc5280::ski::intermediate-missing-ski",
    "rfc5280::validity::notafter-fractional",
    "rfc5280::ca-empty-subject",
    "rfc5280::root-non-critical-basic-constraints",
    "rfc5280::leaf-ku-keycertsign",
    "rfc5280::ca-as-leaf",
    "webpki::aki::root-with-aki-missing-keyidentifier",
    "webpki::aki::root-with-aki-all-fields",
    "webpki::aki::root-with-aki-ski-mismatch",
    "webpki::eku::ee-anyeku",
    "webpki::eku::ee-critical-eku",
    "webpki::eku::ee-without-eku",
    "webpki::eku::root-has-eku",
    "webpki::explicit-curve",
    "webpki::forbidden-weak-rsa-key-in-root",
    "webpki::forbidden-rsa-not-divisible-by-8-in-root",
    "webpki::ee-basicconstraints-ca",
}


@pytest.mark.skipif(not _load_cases(), reason="x509-limbo cases not present")
def test_limbo_agreement(capsys):
    rows = agreement()
    total = len(rows)
    for name in ("istiod", "envoy", "mesh"):
        agree = sum(1 for row in rows.values() if row[name])
        with capsys.disabled():
            print("\nx509-limbo: {} model: {} of {} agree".format(name, agree, total))
    disagree = sorted(case_id for case_id, row in rows.items() if not row["mesh"])
    with capsys.disabled():
        print("mesh disagreements:", json.dumps(disagree, indent=1))
    assert set(disagree) == set(LISTED)
