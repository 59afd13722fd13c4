"""The golden grid: analyse() over every sandbox scenario's exported snapshot
(tests/testdata/golden, re-exported with ``.venv/bin/python -m sandbox.golden``), plus
rows that change one thing in a golden snapshot, plus the certificate grid of
test_validation. Meta-test: every catalog code has a row that emits it.

Each row pins the exact set of error and warning codes and names the infos it needs.
The end-to-end grid (tests/e2e/test_diagnose_scenarios.py) proves that live collection
through the real az still yields these snapshots.
"""

import copy
import datetime
import re

import pytest

from azext_meshca.rules import catalog
from azext_meshca.verbs.diagnose import analyse
from azext_meshca.rules import validation
from azext_meshca.rules.validation import validate_plugin_set
from sandbox import certfactory, golden
from sandbox.sim.scenario import list_scenarios
from tests.unit import mount_texts
from tests.unit import snapshots as s
from tests.unit import test_validation

WARN_DAYS = 30

# scenario: (exact error+warning codes, infos that must be there)
EXPECTED = {
    "healthy": ((), ("MCA303", "MCA719", "MCA813")),
    "healthy-rbac": ((), ("MCA303", "MCA719", "MCA813")),
    "healthy-aad": ((), ("MCA303", "MCA719", "MCA813")),
    "diag-mesh-disabled": (("MCA101",), ()),
    "fix-no-plugin": (("MCA102",), ()),
    "diag-plugin-incomplete": (("MCA103", "MCA801", "MCA805"), ()),
    "diag-bad-vault-id": (("MCA104", "MCA801", "MCA806"), ()),
    "fix-bad-vault-id": (("MCA104", "MCA801", "MCA806"), ()),
    "diag-vault-missing": (("MCA105", "MCA801", "MCA806"), ()),
    "diag-addon-disabled": (("MCA201", "MCA801", "MCA809"), ()),
    "fix-addon-disabled": (("MCA201", "MCA401", "MCA801", "MCA809"), ()),
    "diag-addon-no-identity": (("MCA202", "MCA801", "MCA802"), ()),
    "article-issue-2": (("MCA301",), ("MCA813",)),
    "diag-poll-interval-long": (("MCA302",), ("MCA813",)),
    "diag-root-not-picked-up": (("MCA304",), ("MCA303",)),
    "diag-cacerts-lag": (("MCA305",), ("MCA303",)),
    "diag-namespace-stale-root": (("MCA306",), ("MCA303",)),
    "article-issue-1": (("MCA401", "MCA801", "MCA802"), ("MCA303",)),
    "article-issue-1-azcore": (("MCA401", "MCA801", "MCA802"), ("MCA303",)),
    "rbac-no-access": (("MCA402", "MCA801", "MCA803"), ()),
    "rbac-reader-role": (("MCA403", "MCA801", "MCA803"), ()),
    "diag-rbac-policy-ignored": (("MCA402", "MCA404", "MCA801", "MCA803"), ()),
    "diag-policy-role-ignored": (("MCA401", "MCA405", "MCA801", "MCA802"), ()),
    # the provider's own 401 AKV10032 proves the tenant mismatch (MCA817, explained by MCA406)
    "diag-vault-other-tenant": (("MCA406", "MCA801", "MCA817"), ()),
    "fix-vault-other-tenant": (("MCA406", "MCA801", "MCA817"), ()),
    "diag-policy-compound-identity": (("MCA401", "MCA801", "MCA802"), ()),
    "fix-policy-others": (("MCA401", "MCA801", "MCA802"), ()),
    "fix-policy-partial": (("MCA401", "MCA801", "MCA802"), ()),
    "fix-wait-backoff": (("MCA401", "MCA801", "MCA802"), ()),
    "fix-wait-missing-secret": (("MCA401", "MCA601", "MCA801", "MCA802"), ()),
    "operator-cannot-write": (("MCA401", "MCA801", "MCA802"), ()),
    "fix-rbac-propagation": (("MCA402", "MCA801", "MCA803"), ()),
    "rbac-operator-cannot-write": (("MCA402", "MCA801", "MCA803"), ()),
    "rbac-custom-role": ((), ("MCA303", "MCA813")),
    "rbac-custom-role-no-secrets": (("MCA402", "MCA801", "MCA803"), ()),
    "rbac-custom-role-unreadable": (("MCA909",), ("MCA813",)),
    # Key Vault Secrets User on each secret's own scope grants those secrets (Key Vault RBAC guide)
    "rbac-secret-scope": ((), ("MCA303", "MCA813")),
    "rbac-secret-scope-partial": (("MCA402", "MCA801", "MCA803"), ()),
    "kv-private-endpoint-pending": (("MCA501", "MCA801", "MCA804", "MCA904"), ()),
    "diag-imds-unreachable": (("MCA801", "MCA816"), ()),
    "diag-rotation-failed": (("MCA401", "MCA802"), ("MCA813",)),
    "diag-root-rejected": (("MCA304", "MCA307", "MCA308"), ("MCA813",)),
    "diag-self-signed-busy": (("MCA811",), ()),
    "diag-key-from-certificate": ((), ("MCA613", "MCA813")),
    "private-cluster": (("MCA912",), ()),
    "ip-restricted-cluster": (("MCA912",), ()),
    "kv-public-access-disabled": (("MCA501", "MCA801", "MCA804", "MCA904"), ()),
    "kv-firewall": (("MCA502", "MCA801", "MCA804", "MCA904"), ()),
    "article-issue-3": (("MCA601", "MCA801", "MCA805"), ()),
    "article-issue-3-azcore": (("MCA601", "MCA801", "MCA805"), ()),
    "diag-secret-disabled": (("MCA611", "MCA801", "MCA807"), ()),
    "diag-secret-expired": (("MCA612",), ("MCA813",)),
    "diag-cert-wrong-root": (("MCA710", "MCA801", "MCA812"), ()),
    "diag-cert-mismatched-key": (("MCA709", "MCA801", "MCA812"), ()),
    "diag-cert-expired": (("MCA717", "MCA801", "MCA812"), ()),
    "diag-identity-not-found": (("MCA801", "MCA808"), ()),
    "diag-istio-1-19": ((), ("MCA813",)),
    "diag-istio-1-23": ((), ("MCA813",)),
    "diag-spc-stale": (("MCA815",), ("MCA813",)),
    "diag-self-signed-1-19": (("MCA811",), ()),
    "diag-self-signed-1-21": (("MCA811",), ()),
    "diag-self-signed-1-23": (("MCA811",), ()),
    "kube-unreachable": (("MCA905",), ("MCA303", "MCA719")),
    "diag-operator-no-secret-access": (("MCA904",), ("MCA303", "MCA813")),
    "diag-rbac-operator-no-secret-access": (("MCA904",), ("MCA303", "MCA813")),
    # today's add-on (#20): no cronjob, no cacerts secret; the CA's path per revision (rules/capath.py)
    "article-issue-1-asm-1-29": (("MCA401", "MCA801", "MCA802"), ("MCA303",)),
    "healthy-asm-1-28": ((), ("MCA303", "MCA719", "MCA813")),
    "healthy-asm-1-29": ((), ("MCA303", "MCA719", "MCA813")),
    "healthy-asm-1-30": ((), ("MCA303", "MCA719", "MCA813")),
    "rot-root-refused": (("MCA304", "MCA307", "MCA308"), ("MCA813",)),
    "rot-bytes-1-29": (("MCA309",), ("MCA813",)),
    "rot-bytes-1-30": ((), ("MCA813",)),
    "rot-rotation-off": (("MCA301", "MCA310"), ("MCA813",)),
    "rot-stale-sidecars": (("MCA312",), ("MCA813",)),
}

# A golden snapshot with one thing changed: (base scenario, change, exact error+warning codes, infos).


def _fail(path, reason, status=None, code=None):
    def change(snapshot):
        s.fail(snapshot, path, reason, status, code)
    return change


def _secrets_failed(reason, code):
    def change(snapshot):
        for obj in list(snapshot["secrets"]):
            s.fail(snapshot, ("secrets", obj), reason, None, code)
    return change


def _skip_cluster(snapshot):
    snapshot["kube"] = None
    snapshot["options"]["skipCluster"] = True


def _no_revision(snapshot):
    """--revision asm-1-99: neither istiod-asm-1-99 nor istio-spc-asm-1-99 exists."""
    snapshot["kube"]["secretProviderClasses"]["data"] = {"asm-1-99": None}
    snapshot["kube"]["istiodDeployments"]["data"] = {"asm-1-99": None}
    snapshot["kube"]["istiodLogs"]["data"] = []


def _fleet_gaps(snapshot):
    """What scan's fleet snapshot adds (azext_meshca/verbs/scan.py): subscriptions it could not scan."""
    snapshot["fleet"] = {"subscriptionsNotScanned": [
        {"subscriptionId": "s1", "reason": "not among the subscriptions Resource Graph returns for you",
         "queryFailed": False},
        {"subscriptionId": "s2", "reason": "429 Too Many Requests", "queryFailed": True}]}


def _run_command_failed(code, reason):
    """diagnose --via-run-command whose runCommand did not give the in-cluster items
    (sources/runcommand.py puts the code on kube.access)."""
    def change(snapshot):
        snapshot["options"]["viaRunCommand"] = True
        snapshot["kube"] = {"access": {"ok": False, "data": None,
                                       "error": {"reason": reason, "status": None, "code": code}}}
    return change


def _run_command_cut(snapshot):
    """The events lists did not fit in the run-command output (AKS's 512 KB cap)."""
    snapshot["options"]["viaRunCommand"] = True
    snapshot["kube"]["access"]["data"].update(source="runCommand", runCommand={"cut": ["/api/v1/.../events"]})
    snapshot["kube"]["events"] = {"ok": False, "data": None, "error": {
        "reason": "GET /api/v1/.../events: its answer (700000 bytes) was left out", "status": None,
        "code": "RunCommandOutput"}}


def _mount_text(cause, index):
    """The healthy cluster's events and provider log replaced by one case of mount_texts."""
    def change(snapshot):
        changed = mount_texts.snapshot_with(snapshot, mount_texts.CASES[cause][index])
        snapshot["kube"].update(events=changed["kube"]["events"], providerLogs=changed["kube"]["providerLogs"])
    return change


def _events_cut(snapshot):
    """The events list stopped at its page cap (sources/cluster.py read_events)."""
    snapshot["kube"]["events"]["cut"] = [{"reason": "FailedMount", "pages": 4, "bytes": 3145728, "eventsRead": 2000,
                                          "remainingItemCount": 38000}]


def _holds(**variant):
    """Key Vault holds another CA set (made for the snapshot's own time); in-cluster state is
    dropped, so only the certificate rules judge the change."""
    def change(snapshot):
        now = datetime.datetime.fromisoformat(snapshot["collectedAt"].replace("Z", "+00:00"))
        objects = certfactory.make_plugin_set(now=now, **variant)
        for obj in ("root-cert", "ca-cert", "cert-chain"):
            snapshot["secrets"][obj]["data"]["value"] = objects[obj].decode("ascii")
        snapshot["keyFacts"] = s.key_facts(objects["ca-key"])
        _skip_cluster(snapshot)
    return change


def _signs_with_another_intermediate(snapshot):
    """istiod's DNS chain is signed by an intermediate that Key Vault no longer holds, and its
    last reload failed (istio pilot/pkg/bootstrap/istio_ca.go handleEvent: "Failed to update new
    Plug-in CA certs"): the mount is current, istiod did not load it (MCA311)."""
    for log in snapshot["kube"]["istiodLogs"]["data"]:
        lines = [re.sub(r"SN: [0-9a-f]+", "SN: abc123", line) if "Subject: \"L=myAKSCluster,CN=Intermediate CA" in line
                 else line for line in log["lines"]]
        stamp = lines[-1].split("\t")[0].replace("T00:3", "T01:3")
        lines.append(f"{stamp}\terror\tFailed to update new Plug-in CA certs: x509: certificate signed by unknown "
                     "authority")
        log["lines"] = lines


def _fleet_found_nothing(snapshot):
    snapshot["fleet"] = {"clustersFound": 0, "scope": "subscription(s) fleet-4"}


CHANGED = {
    "scan-found-no-cluster": ("healthy", _fleet_found_nothing, ("MCA930",), ()),
    "cluster-unreadable": ("healthy", _fail(("cluster",), "403 Forbidden (AuthorizationFailed)", 403,
                                            "AuthorizationFailed"), ("MCA901",), ()),
    "vault-unreadable": ("healthy", _fail(("vault",), "403 Forbidden (AuthorizationFailed)", 403,
                                          "AuthorizationFailed"), ("MCA902",), ()),
    "role-assignments-unreadable": ("healthy-rbac", _fail(("roleAssignments",), "403 Forbidden", 403),
                                    ("MCA903",), ()),
    "no-credentials": ("healthy", _fail(("kube", "access"), "403 Forbidden (AuthorizationFailed)", 403,
                                        "AuthorizationFailed"), ("MCA906",), ()),
    "events-unreadable": ("healthy", _fail(("kube", "events"), "403 Forbidden", 403, "Kubernetes403"),
                          ("MCA907",), ()),
    # the CA-path reads refused (403): the rules that need them are skipped, MCA907 says so
    "mount-statuses-unreadable": ("rot-rotation-off", _fail(("kube", "mountStatuses"), "403 Forbidden", 403,
                                                            "Kubernetes403"), ("MCA301", "MCA907"), ()),
    "webhooks-unreadable": ("rot-root-refused", _fail(("kube", "webhooks"), "403 Forbidden", 403, "Kubernetes403"),
                            ("MCA304", "MCA907"), ()),
    "sidecars-unreadable": ("rot-stale-sidecars", _fail(("kube", "sidecars"), "403 Forbidden", 403,
                                                        "Kubernetes403"), ("MCA907",), ()),
    "skip-cluster": ("healthy", _skip_cluster, (), ("MCA908", "MCA719")),
    "revision-without-istiod": ("healthy", _no_revision, ("MCA810", "MCA814"), ()),
    "fleet-subscriptions-not-scanned": ("healthy", _fleet_gaps, ("MCA910", "MCA911"), ()),
    "run-command-forbidden": ("private-cluster", _run_command_failed("RunCommandForbidden", "403 Forbidden"),
                              ("MCA913",), ()),
    "run-command-failed": ("private-cluster", _run_command_failed("RunCommandFailed", "exit code 1"),
                           ("MCA914",), ()),
    "run-command-cluster-stopped": ("private-cluster", _run_command_failed("ClusterStopped", "stopped"),
                                    ("MCA915",), ()),
    "run-command-output-cut": ("healthy", _run_command_cut, ("MCA916",), ()),
    # texts read by their parts (issue 21): one row per cause that has a code of its own
    "text-entra-token": ("healthy", _mount_text("token", 1), ("MCA830",), ()),
    "text-spc-not-found": ("healthy", _mount_text("spc-not-found", 0), ("MCA831",), ()),
    "text-provider-not-running": ("healthy", _mount_text("provider-not-running", 0), ("MCA832",), ()),
    "text-no-identity": ("healthy", _mount_text("no-identity", 0), ("MCA833",), ()),
    "events-cut": ("healthy", _events_cut, ("MCA834",), ()),
    # ARM's vaultUri is not the vault's own address: no secret is read there (sources/hostpin.py)
    "vault-uri-foreign": ("healthy", _secrets_failed("vaultUri https://elsewhere.example/ is not the vault's own "
                                                     "address", "VaultUriForeign"), ("MCA530",), ()),
    "mounted-not-loaded": ("healthy-asm-1-29", _signs_with_another_intermediate, ("MCA311", "MCA812"), ()),
}
for _name, (_variant, _codes) in test_validation.DEFECTS.items():
    CHANGED["key-vault-holds-" + _name] = (
        "healthy", _holds(**_variant), tuple(code for code in _codes if catalog.CATALOG[code].severity != "info"),
        tuple(code for code in _codes if catalog.CATALOG[code].severity == "info"))


def _problems(result):
    return {item["code"] for item in result["findings"] if item["severity"] in ("error", "warning")}


def _infos(result):
    return {item["code"] for item in result["findings"] if item["severity"] == "info"}


@pytest.fixture(scope="module")
def goldens():
    return {name: golden.load(name) for name in golden.scenarios()}


def test_every_scenario_has_a_golden_snapshot_and_a_row():
    """Scenarios whose cluster cannot be read export nothing (diagnose stops with an error)."""
    exported = set(golden.scenarios())
    assert exported <= set(list_scenarios())
    assert set(EXPECTED) <= exported, sorted(set(EXPECTED) - exported)


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_golden_verdict(goldens, scenario):
    problems, infos = EXPECTED[scenario]
    result = analyse(goldens[scenario], WARN_DAYS)
    assert _problems(result) == set(problems), result["findings"]
    assert set(infos) <= _infos(result)


@pytest.mark.parametrize("row", sorted(CHANGED))
def test_changed_golden_verdict(goldens, row):
    base, change, problems, infos = CHANGED[row]
    snapshot = copy.deepcopy(goldens[base])
    change(snapshot)
    result = analyse(snapshot, WARN_DAYS)
    assert _problems(result) == set(problems), result["findings"]
    assert set(infos) <= _infos(result)


def test_every_catalog_code_has_a_grid_row_that_emits_it(goldens):
    """Codes emitted by running the rows (not read from their expectations): the golden
    rows, the changed rows, and the certificate grid of test_validation (what a snapshot
    cannot carry, such as binary DER, is judged there from files)."""
    emitted = set()
    for scenario in goldens:
        emitted |= {item["code"] for item in analyse(goldens[scenario], WARN_DAYS)["findings"]}
    for base, change, _, _ in CHANGED.values():
        snapshot = copy.deepcopy(goldens[base])
        change(snapshot)
        emitted |= {item["code"] for item in analyse(snapshot, WARN_DAYS)["findings"]}
    objects = test_validation.cf.make_plugin_set()
    for make, codes in test_validation.FORMAT_DEFECTS.values():
        for name in codes:
            findings, _ = test_validation._run(dict(objects, **{name: make(objects, name)}))  # pylint: disable=protected-access
            emitted |= {item["code"] for item in findings}
    # ca-cert-only defects (issue 8): a key-first ca-cert, and x509-limbo's duplicated extension
    from tests.unit import test_consumers
    for data in (objects["ca-key"] + objects["ca-cert"], test_consumers._duplicate_extension_pem()):  # pylint: disable=protected-access
        findings, _ = test_validation._run(dict(objects, **{"ca-cert": data}))  # pylint: disable=protected-access
        emitted |= {item["code"] for item in findings}
    # istiod's start-up classes (issue 21): the Go differential grid's sets, judged by meshca alone
    from sandbox.casets import BASE, NOW, make_set
    from tests.differential.test_go_istiod import GRID
    for changes, *_ in GRID.values():
        findings, _ = validate_plugin_set(make_set(dict(BASE, **changes)), NOW)
        emitted |= {item["code"] for item in findings}
    # MCA735/MCA736 are the start-up rule's backstops: reconcile_with_startup drops them whenever
    # another rule explains the refusal, as it does for every set above, so the rule's own output counts
    for variant, _ in test_validation.DEFECTS.values():
        ca_set = validation.CaSet(certfactory.make_plugin_set(now=NOW, **variant))
        emitted |= {item["code"] for item in validation.check_istiod_startup(ca_set, {"now": NOW})}
    live = {code for code in catalog.CATALOG if code not in catalog.RETIRED}
    assert live <= emitted, sorted(live - emitted)


def test_golden_snapshots_hold_no_private_key():
    for name in golden.scenarios():
        with open(golden.golden_path(name), encoding="utf-8") as handle:
            assert "PRIVATE KEY" not in handle.read(), name
