"""The golden grid: analyse() over every sandbox scenario's exported snapshot
(tests/testdata/golden, re-exported with ``.venv/bin/python -m sandbox.golden``), plus
rows that change one thing in a golden snapshot, plus the certificate grid of
test_validation. Meta-tests: every catalog code has a row that emits it; every rule reads
only the inputs it declares, and every collected input is read by some rule.

A scenario's row is the ``expect:`` block in its file (sandbox/sim/scenarios): the exact
error and warning codes, the infos it needs and diagnose's exit status. The end-to-end
grid (tests/e2e/test_diagnose_scenarios.py) reads the same blocks and proves that live
collection through the real az still yields these snapshots.
"""

import copy
import datetime
import re

import pytest

from azext_meshca.model.snapshot import freeze, ok_data
from azext_meshca.rules import catalog, checks, registry, runner
from azext_meshca.rules.registry import CA_SET, SNAPSHOT, run_rules
from azext_meshca.output.report import exit_status
from azext_meshca.verbs.diagnose import analyse
from azext_meshca.rules import validation
from sandbox import certfactory, golden
from sandbox.sim.scenario import ScenarioError, disagreements, expectations, list_scenarios, read_scenario
from tests.oracles import validate_plugin_set
from tests.unit import mount_texts
from tests.unit import reads
from tests.unit import snapshots as s
from tests.unit import test_validation
from tests.unit.test_rules import SNAPSHOT_INPUTS

WARN_DAYS = 30

# scenario: its expect block, the one expectations table (sandbox/sim/scenarios/<name>.yaml,
# read by sandbox/sim/scenario.py expectations; the e2e grid reads the same blocks).
EXPECTED = {name: expect for name, expect in ((name, expectations(name)) for name in list_scenarios())
            if expect is not None}

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
    """What scan's fleet snapshot adds (azext_meshca/sources/fleet.py): subscriptions it could not scan."""
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


@pytest.fixture(scope="module")
def rotation_rows(tmp_path_factory):
    """az aks mesh ca rotate's grid (issue 24): the golden cluster with a ``rotation`` slot, one
    snapshot per refusal code, a clean advance and a written stage whose gate holds
    (tests/unit/test_rotate.py refusal_snapshots, gate_snapshots)."""
    from tests.unit import test_rotate
    from sandbox import certfactory
    sets = {"live": certfactory.make_plugin_set(set_id="A"),
            "intermediate": certfactory.make_plugin_set(set_id="A", ca_id="A2"),
            "root": certfactory.make_plugin_set(set_id="B")}
    rows, clean = test_rotate.refusal_snapshots(sets, tmp_path_factory.mktemp("rotation"))
    return dict(rows, clean=clean, **test_rotate.gate_snapshots(sets, tmp_path_factory.mktemp("gates")))


@pytest.fixture(scope="module")
def changed(goldens):
    """{row: its snapshot}, each CHANGED row built once for every test here (analyse only reads it)."""
    snapshots = {}
    for row, (base, change, _, _) in CHANGED.items():
        snapshots[row] = copy.deepcopy(goldens[base])
        change(snapshots[row])
    return snapshots


def test_every_golden_snapshot_has_a_scenario_with_an_expect_block():
    """Scenarios whose cluster cannot be read export nothing (diagnose stops with an error);
    a scenario with an expect block and no snapshot is judged by the e2e grid alone."""
    exported = set(golden.scenarios())
    assert exported <= set(list_scenarios())
    assert exported <= set(EXPECTED), sorted(exported - set(EXPECTED))


def _golden_disagreements(snapshot, expect):
    result = analyse(snapshot, WARN_DAYS)
    return disagreements(expect, result["findings"], exit_status(result))


@pytest.mark.parametrize("scenario", sorted(set(EXPECTED) & set(golden.scenarios())))
def test_golden_verdict(goldens, scenario):
    assert not _golden_disagreements(goldens[scenario], EXPECTED[scenario])


def test_the_simulator_never_sees_an_expect_block():
    """The block is the tests': read_scenario drops it at every step of a base: chain, so
    article-issue-1 (base: healthy) neither serves nor inherits healthy's verdict."""
    assert "expect" not in read_scenario("healthy") and "expect" not in read_scenario("article-issue-1")
    assert EXPECTED["article-issue-1"] != EXPECTED["healthy"]


def test_an_incomplete_expect_block_is_refused(tmp_path):
    """A block missing a key would pin nothing about it: the loader says which keys it needs."""
    path = tmp_path / "partial.yaml"
    path.write_text("description: x\nexpect: {errors: [MCA101], warnings: []}\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="errors, warnings, infos, exit"):
        expectations(str(path))


def test_a_disagreeing_expect_block_fails_the_grid(goldens):
    """The planted violation: healthy's block with one code more, one info it lacks, or
    another exit status, each fails the verdict."""
    expect = EXPECTED["healthy"]
    for planted in (dict(expect, warnings=("MCA302",)), dict(expect, infos=("MCA811",)), dict(expect, exit=4)):
        assert len(_golden_disagreements(goldens["healthy"], planted)) == 1, planted


@pytest.mark.parametrize("row", sorted(CHANGED))
def test_changed_golden_verdict(changed, row):
    _, _, problems, infos = CHANGED[row]
    result = analyse(changed[row], WARN_DAYS)
    assert _problems(result) == set(problems), result["findings"]
    assert set(infos) <= _infos(result)


def test_every_catalog_code_has_a_grid_row_that_emits_it(goldens, changed, rotation_rows):
    """Codes emitted by running the rows (not read from their expectations): the golden
    rows, the changed rows, and the certificate grid of test_validation (what a snapshot
    cannot carry, such as binary DER, is judged there from files)."""
    emitted = set()
    for scenario in goldens:
        emitted |= {item["code"] for item in analyse(goldens[scenario], WARN_DAYS)["findings"]}
    for snapshot in changed.values():
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
    # az aks mesh ca rotate's refusals (issue 24): one snapshot per code, judged by the registry
    for snapshot in rotation_rows.values():
        emitted |= {item["code"] for item in analyse(snapshot, WARN_DAYS)["findings"]}
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


# --------------------------------------------------------------------------- declared inputs

# Collected inputs no rule reads yet: {input: why it stays for now}.
UNREAD_INPUTS = {}
# Declared inputs a rule needs collected but whose content it does not read (only their ok/error):
# {rule name: inputs}. The runner's skip is the point of declaring them.
GATES = {
    # MCA530 judges the secrets' VaultUriForeign errors, made only once the cluster and the vault were read
    "vault-address": {"cluster", "vault"},
    # the mount failures are judged only where the cluster's API answered (kube.access ok)
    "mount-failures": {"kube.access"},
}


def _ca_set_reads(declared):
    """A CA_SET rule reads the snapshot inputs its objects are parsed from (rules/checks/secrets.py
    read_objects: ca-key as keyFacts)."""
    return {"keyFacts" if obj == "ca-key" else "secrets." + obj for obj in declared.inputs}


def inputs_read(functions, snapshots):
    """{rule name: inputs it read} when each rule runs, alone, through the registry's loop on a
    recording view of each frozen snapshot (tests/unit/reads.py), wherever the runner would run it."""
    found = {function.rule.name: set() for function in functions}
    for snapshot in snapshots:
        frozen = freeze(snapshot)
        context = runner.build_context(frozen, WARN_DAYS)
        collected = {name for name, ok in runner.input_states(frozen).items() if ok}
        for function in functions:
            declared = function.rule
            if declared.subject == CA_SET:
                found[declared.name] |= _ca_set_reads(declared)
                continue
            log = set()
            run_rules((function,), {SNAPSHOT: reads.recording(frozen, log)}, {SNAPSHOT: collected}, context)
            found[declared.name] |= log
    return found


def undeclared_reads(functions, found):
    """{rule name: inputs it read but declares neither as inputs nor as optional}."""
    result = {}
    for function in functions:
        declared = function.rule
        extra = found[declared.name] - set(declared.inputs) - set(declared.optional)
        if declared.subject == SNAPSHOT and extra:
            result[declared.name] = sorted(extra)
    return result


@pytest.fixture(scope="module")
def rule_reads(goldens, changed, rotation_rows):
    """What every rule read over the whole grid: the golden snapshots, the changed rows and
    rotate's rows."""
    return inputs_read(checks.ALL_CHECKS, list(goldens.values()) + list(changed.values())
                       + list(rotation_rows.values()))


def test_rules_read_only_the_inputs_they_declare(rule_reads):
    """A rule that reads an undeclared input runs when it was not collected and judges a gap
    as if it were the cluster's state: declare it in ``inputs`` (the rule needs it) or in
    ``optional`` (it reads it when there), rules/registry.py."""
    undeclared = undeclared_reads(checks.ALL_CHECKS, rule_reads)
    assert not undeclared, f"rules read inputs they do not declare (add them to inputs= or optional=): {undeclared}"


def test_rules_read_every_input_they_declare(rule_reads):
    """istio's check is both ways (ConsistOf): a declared input no row reads is a stale
    declaration, or a rule the grid does not exercise; GATES lists the inputs declared to be skipped on."""
    stale = {}
    for declared in (item for item in checks.ALL_RULES if item.subject == SNAPSHOT):
        unread = set(declared.inputs) | set(declared.optional)
        unread -= rule_reads[declared.name] | GATES.get(declared.name, set())
        if unread:
            stale[declared.name] = sorted(unread)
    assert not stale, f"declared inputs no grid row saw read (drop them, or add a row that reaches the read): {stale}"


def test_every_collected_input_is_read_by_a_rule(rule_reads):
    """A collected input no rule reads costs time and, when it fails, an incomplete verdict
    (exit 5) about nothing: stop collecting it, or give it a rule."""
    read = set().union(*rule_reads.values())
    assert SNAPSHOT_INPUTS - read == set(UNREAD_INPUTS), "collected inputs no rule reads (or UNREAD_INPUTS to drop)"


def test_the_inputs_meta_test_catches_a_planted_undeclared_read(goldens):
    """The planted violation: a rule that declares the cluster and also reads the events."""
    def check_planted(snapshot, context):  # pylint: disable=unused-argument
        return [] if ok_data((snapshot.get("kube") or {}).get("events")) is None else []

    planted = registry.rule("MCA101", inputs=("cluster",))(check_planted)
    found = inputs_read((planted,), [goldens["healthy"]])
    assert undeclared_reads((planted,), found) == {"planted": ["kube.events"]}
