"""az aks mesh ca diagnose through the real az (extension from its wheel) against the
loopback simulator: one scenario per finding code, the article's three issues, the
healthy clusters, and an operator who cannot read the secrets.

Why a grid: each row names a live simulator scenario and the exact set of error and
warning codes diagnose must report for it (infos are checked loosely, they carry
times and counts). The healthy rows are the negative case for every code.

Speed: every row needs its own simulator and az login. ``diagnosed`` runs all rows
once, a few at a time, on the session's shared simulators (diagnose only reads), and
each test only looks at the stored result.
"""

import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from sandbox.sim.scenario import disagreements, expectations

pytestmark = pytest.mark.e2e

RG = "myResourceGroup"
CLUSTER = "myAKSCluster"
ADDON_OID = "22222222-2222-2222-2222-222222222222"
WORKERS = 3
EXIT_OK, EXIT_PROBLEMS, EXIT_INCOMPLETE = 0, 4, 5


# --------------------------------------------------------------------------- helpers (shared by the
# fault and snapshot modules)

def diagnose(az, *args, **kwargs):
    """Run ``az aks mesh ca diagnose -g RG -n CLUSTER ARGS``; return the CompletedProcess.

    The working directory is az's config dir, never the repository: the az script runs
    ``python -m azure.cli``, which puts the working directory first on sys.path, so from the
    repository root ``import azext_meshca`` would load the source tree instead of the wheel.
    """
    kwargs.setdefault("cwd", az.config_dir)
    return az.run("aks", "mesh", "ca", "diagnose", "-g", RG, "-n", CLUSTER, *args, **kwargs)


class Diagnosis:
    """One diagnose run: exit status, stderr and the parsed JSON result."""

    def __init__(self, proc):
        self.returncode = proc.returncode
        self.stderr = proc.stderr
        self.stdout = proc.stdout
        try:
            self.result = json.loads(proc.stdout) if proc.stdout.strip() else None
        except ValueError:
            self.result = None

    @property
    def findings(self):
        return (self.result or {}).get("findings") or []

    def codes(self, *severities):
        return {item["code"] for item in self.findings if not severities or item["severity"] in severities}

    def problems(self):
        """Error and warning codes: the part of a verdict the grid pins exactly."""
        return self.codes("error", "warning")

    def find(self, code):
        matches = [item for item in self.findings if item["code"] == code]
        assert matches, "no {} in {}".format(code, self.summary())
        return matches[0]

    def summary(self):
        return "exit {}: {}".format(self.returncode, ", ".join(
            "{}({})".format(item["code"], item["severity"]) for item in self.findings))


def diagnose_json(az, *args, **kwargs):
    """diagnose -o json as a Diagnosis; a traceback or unparsable output fails the test."""
    proc = diagnose(az, *args, "-o", "json", **kwargs)
    assert "Traceback" not in proc.stderr, proc.stderr
    run = Diagnosis(proc)
    assert run.result is not None, "no JSON result (exit {}):\n{}".format(proc.returncode, proc.stderr[-2000:])
    return run


_DURATION = re.compile(r"\b(\d+[dhms])+\b")


def comparable(findings):
    """(code, severity, object, message, explainedBy) with pod ages blanked: what must not change
    between two runs of the same cluster state."""
    return [(item["code"], item["severity"], item.get("object"), _DURATION.sub("<age>", item["message"]),
             tuple(item.get("explainedBy") or ())) for item in findings]


# --------------------------------------------------------------------------- the grid

def row(scenario, args=(), marks=(), row_id=None):
    """One grid row: a scenario run live. What diagnose must find there (error and warning codes,
    infos, exit status) is the scenario file's ``expect:`` block, the table the unit grid reads too
    (sandbox/sim/scenario.py expectations)."""
    return pytest.param(scenario, tuple(args), marks=marks, id=row_id or scenario)


# Rows for codes whose verdict is known to be wrong today carry an xfail with the reason;
# the report to the lead lists them.
GRID = [
    # negative rows: nothing wrong, so none of the codes below may appear
    row("healthy"),
    row("healthy-rbac"),
    # config
    row("diag-mesh-disabled"),
    row("fix-no-plugin"),
    row("diag-plugin-incomplete"),
    row("diag-bad-vault-id"),
    row("diag-vault-missing"),
    # add-on
    row("diag-addon-disabled"),
    row("diag-addon-no-identity"),
    # rotation
    row("article-issue-2"),
    row("diag-poll-interval-long"),
    row("diag-root-not-picked-up"),
    row("diag-cacerts-lag"),
    row("diag-namespace-stale-root"),
    # access
    row("article-issue-1"),
    row("article-issue-1-azcore"),
    row("rbac-no-access"),
    row("rbac-reader-role"),
    row("diag-rbac-policy-ignored"),
    row("diag-policy-role-ignored"),
    row("diag-vault-other-tenant"),
    # network: the operator's own reads are refused too, which is MCA904 (not the add-on's)
    row("kv-public-access-disabled"),
    row("kv-firewall"),
    # secrets
    row("article-issue-3"),
    row("article-issue-3-azcore"),
    row("diag-secret-disabled"),
    row("diag-secret-expired"),
    # a Key Vault certificate's PEM secret is key-then-certificate: fine as ca-key, not as ca-cert
    row("diag-secret-is-certificate"),
    row("diag-key-from-certificate"),
    # certificates: istiod crash-loops with the Go error for each defect
    row("diag-cert-wrong-root"),
    row("diag-cert-mismatched-key"),
    row("diag-cert-expired"),
    # cluster
    row("diag-identity-not-found"),
    # No --revision asm-1-99 row: a revision the cluster does not list is an argument error (exit 2,
    # tests/e2e/test_first_ten_minutes.py). MCA810/MCA814 (a listed revision without its istiod and
    # SecretProviderClass) are judged by the unit grid's "revision-without-istiod" row; the kube
    # simulator deploys every listed revision, so no live scenario has one yet.
    row("diag-istio-1-19"),
    row("diag-istio-1-23"),
    # istiod fell back to its self-signed CA although a plug-in CA is configured, in the
    # words of each Istio version family (istio/istio pilot/pkg/bootstrap/istio_ca.go)
    row("diag-spc-stale"),
    row("diag-self-signed-1-19"),
    row("diag-self-signed-1-21"),
    row("diag-self-signed-1-23"),
    # today's add-on (#20): asm-1-28/29/30 without cronjob or cacerts secret, and the CA's
    # path per revision (Key Vault -> mounted -> loaded -> distributed -> sidecars)
    row("article-issue-1-asm-1-29"),
    row("healthy-asm-1-28"),
    row("healthy-asm-1-29"),
    row("healthy-asm-1-30"),
    row("rot-root-refused"),
    row("rot-bytes-1-29"),
    row("rot-bytes-1-30"),
    row("rot-rotation-off"),
    row("rot-stale-sidecars"),
    # collection
    row("kube-unreachable"),
    row("diag-operator-no-secret-access"),
    row("diag-rbac-operator-no-secret-access"),
]


def _grid_key(scenario, args):
    return (scenario, tuple(args))


# Scenarios whose snapshot diagnose rightly refuses to export: the ca-cert object is a Key
# Vault certificate's PEM secret, which holds the certificate's private key; diagnose
# never writes private-key material to a file (its golden snapshot is not kept either).
NOT_EXPORTABLE = {"diag-secret-is-certificate"}


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Where each plain row's run exports its snapshot (compared with the golden one)."""
    return tmp_path_factory.mktemp("exports")


@pytest.fixture(scope="module")
def diagnosed(sim_factory, exports):
    """{(scenario, args): Diagnosis} for every grid row, run a few at a time; rows
    without arguments also --export their snapshot into ``exports``.

    Simulators are started here, one after the other (starting one is cheap); the az
    logins and diagnose runs, which cost CPU in their own processes, overlap.
    """
    keys = []
    for param in GRID:
        key = _grid_key(param.values[0], param.values[1])
        if key not in keys:
            keys.append(key)
    sims = {scenario: sim_factory.shared(scenario) for scenario, _ in keys}
    sim_factory.az_for(sims[keys[0][0]])  # builds and installs the wheel once, before the pool

    def run(key):
        scenario, args = key
        az = sim_factory.az_for(sims[scenario])
        exported = not args and scenario not in NOT_EXPORTABLE
        export = ("--export", str(exports / (scenario + ".json"))) if exported else ()
        return key, Diagnosis(diagnose(az, *args, *export, "-o", "json"))

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return dict(pool.map(run, keys))


# The keys every finding carries (azext_meshca/output/report.py, the output contract).
FINDING_KEYS = {"code", "severity", "area", "object", "title", "message", "remedy", "evidence"}


def test_every_grid_row_has_an_expect_block():
    missing = [param.values[0] for param in GRID if expectations(param.values[0]) is None]
    assert not missing, "give these scenarios an expect: block (sandbox/sim/scenarios): {}".format(missing)


@pytest.mark.parametrize("scenario, args", GRID)
def test_scenario_verdict(diagnosed, scenario, args):
    """The output contract (no traceback, one JSON result), then the scenario's expect block:
    the exact error and warning codes, the infos named, and the exit status."""
    run = diagnosed[_grid_key(scenario, args)]
    assert "Traceback" not in run.stderr, run.stderr
    assert run.result is not None, run.stderr[-2000:]
    assert run.result["status"] in ("passed", "warnings", "failed", "incomplete"), run.result["status"]
    for item in run.findings:
        assert FINDING_KEYS <= set(item), (item["code"], sorted(FINDING_KEYS - set(item)))
    assert not disagreements(expectations(scenario), run.findings, run.returncode), run.summary()


def test_live_collection_yields_the_golden_snapshot(diagnosed, exports):
    """Each plain row's live snapshot, collected through the real az, equals the golden one
    in tests/testdata/golden, run-varying values aside (sandbox.golden.comparable); the
    unit grid (tests/unit/test_golden.py) judges the golden files. After changing a
    scenario or a collector: .venv/bin/python -m sandbox.golden"""
    from sandbox import golden
    compared, differ = [], []
    for (scenario, args) in diagnosed:
        path = exports / (scenario + ".json")
        if args or not path.exists() or scenario not in golden.scenarios():
            continue
        live = golden.comparable(json.loads(path.read_text(encoding="utf-8")))
        expected = golden.comparable(golden.load(scenario))
        if live != expected:
            differ.append("{}:\n{}".format(scenario, golden.difference(expected, live)))
        compared.append(scenario)
    assert len(compared) >= 30, compared
    assert not differ, "live snapshots differ from tests/testdata/golden (re-export with " \
        ".venv/bin/python -m sandbox.golden if the change is intended):\n{}".format("\n".join(differ))


def test_every_grid_code_is_absent_when_healthy(diagnosed):
    """The negative half of each row: no code the grid produces shows up on a healthy cluster."""
    produced = set()
    for param in GRID:
        expect = expectations(param.values[0])
        produced |= set(expect["errors"]) | set(expect["warnings"])
    for scenario in ("healthy", "healthy-rbac"):
        run = diagnosed[_grid_key(scenario, ())]
        assert not (run.codes() & produced), run.summary()
        assert run.result["status"] == "passed"


def test_grid_covers_the_codes_the_brief_names(diagnosed):
    """Guard against a row silently dropping a code from coverage."""
    produced = set()
    for key, run in diagnosed.items():
        produced |= run.codes()
    wanted = {"MCA101", "MCA102", "MCA103", "MCA104", "MCA105", "MCA201", "MCA202", "MCA301", "MCA302",
              "MCA303", "MCA304", "MCA305", "MCA306", "MCA401", "MCA402", "MCA403", "MCA404", "MCA405",
              "MCA406", "MCA501", "MCA502", "MCA601", "MCA611", "MCA612", "MCA613", "MCA614", "MCA709", "MCA710",
              "MCA717", "MCA719", "MCA801", "MCA802", "MCA803", "MCA804", "MCA805", "MCA806", "MCA807",
              "MCA808", "MCA809", "MCA811", "MCA812", "MCA813", "MCA815", "MCA904", "MCA905"}
    assert wanted <= produced, sorted(wanted - produced)


# --------------------------------------------------------------------------- the article's issues

ARTICLE = [
    ("article-issue-1", "MCA401", ["MCA801", "MCA802"]),
    ("article-issue-1-azcore", "MCA401", ["MCA801", "MCA802"]),
    ("article-issue-3", "MCA601", ["MCA801", "MCA805"]),
    ("article-issue-3-azcore", "MCA601", ["MCA801", "MCA805"]),
]


@pytest.mark.parametrize("scenario, cause, symptoms", ARTICLE)
def test_article_root_cause_comes_first(diagnosed, scenario, cause, symptoms):
    """The cause the article names leads the list; each symptom names it in explainedBy."""
    run = diagnosed[_grid_key(scenario, ())]
    assert run.returncode == EXIT_PROBLEMS, run.summary()
    assert run.findings[0]["code"] == cause, run.summary()
    assert run.result["summary"]["rootCauses"] == [cause]
    first = run.find(cause)
    assert set(symptoms) <= set(first.get("explains") or ())
    for code in symptoms:
        assert cause in (run.find(code).get("explainedBy") or ()), run.find(code)
    positions = [item["code"] for item in run.findings]
    assert all(positions.index(cause) < positions.index(code) for code in symptoms)


def test_article_issue_1_names_the_identity_and_the_fix(diagnosed):
    cause = diagnosed[_grid_key("article-issue-1", ())].find("MCA401")
    assert ADDON_OID in cause["message"]
    assert "fix-access" in cause["remedy"]


def test_article_issue_1_quotes_each_error_format(diagnosed):
    """Both provider formats reach MCA802 with the provider's own text as evidence."""
    legacy = " ".join(diagnosed[_grid_key("article-issue-1", ())].find("MCA802")["evidence"])
    azcore = " ".join(diagnosed[_grid_key("article-issue-1-azcore", ())].find("MCA802")["evidence"])
    assert "keyvault.BaseClient#GetSe" in legacy and "AccessDenied" in legacy
    assert "GET https://" in azcore and "AccessDenied" in azcore and "BaseClient" not in azcore


def test_article_issue_2_is_a_warning_only(diagnosed):
    run = diagnosed[_grid_key("article-issue-2", ())]
    assert run.result["status"] == "warnings"
    assert "--enable-secret-rotation" in run.find("MCA301")["remedy"]


def test_article_issue_3_names_the_missing_secret(diagnosed):
    run = diagnosed[_grid_key("article-issue-3", ())]
    assert "test-cert-chain" in run.find("MCA601")["message"]
    assert "test-cert-chain" in run.find("MCA805")["message"]


# --------------------------------------------------------------------------- other causes and symptoms

@pytest.mark.parametrize("scenario, cause, symptoms", [
    ("rbac-no-access", "MCA402", ["MCA801", "MCA803"]),
    ("rbac-reader-role", "MCA403", ["MCA801", "MCA803"]),
    ("kv-public-access-disabled", "MCA501", ["MCA801", "MCA804"]),
    ("kv-firewall", "MCA502", ["MCA801", "MCA804"]),
    ("diag-vault-missing", "MCA105", ["MCA801", "MCA806"]),
    ("diag-addon-disabled", "MCA201", ["MCA801", "MCA809"]),
    ("diag-addon-no-identity", "MCA202", ["MCA801", "MCA802"]),
    ("diag-secret-disabled", "MCA611", ["MCA801", "MCA807"]),
    ("diag-bad-vault-id", "MCA104", ["MCA801", "MCA806"]),
    ("diag-plugin-incomplete", "MCA103", ["MCA801", "MCA805"]),
])
def test_cause_explains_its_symptoms(diagnosed, scenario, cause, symptoms):
    run = diagnosed[_grid_key(scenario, ())]
    assert run.findings[0]["code"] == cause, run.summary()
    for code in symptoms:
        assert cause in (run.find(code).get("explainedBy") or ()), run.find(code)


@pytest.mark.parametrize("scenario, defect", [
    ("diag-cert-wrong-root", "MCA710"),
    ("diag-cert-mismatched-key", "MCA709"),
    ("diag-cert-expired", "MCA717"),
])
def test_certificate_defect_explains_istiod_rejection(diagnosed, scenario, defect):
    """istiod's own Go error (MCA812) is traced to the certificate rule that predicts it."""
    run = diagnosed[_grid_key(scenario, ())]
    assert run.findings[0]["code"] == defect, run.summary()
    assert defect in run.find("MCA812")["explainedBy"]
    assert "failed to create CA KeyCertBundle" in run.find("MCA812")["message"]


def test_identity_not_found_is_reported_as_such(diagnosed):
    run = diagnosed[_grid_key("diag-identity-not-found", ())]
    assert {"MCA801", "MCA808"} <= run.codes("error"), run.summary()
    assert "MCA808" in run.find("MCA801")["explainedBy"]


@pytest.mark.parametrize("scenario, line", [
    ("diag-istio-1-19", "Use plugged-in cert at etc/cacerts/ca-key.pem"),
    ("healthy", "DNS certs use plugged-in cert at etc/cacerts/ca-key.pem"),
    ("diag-istio-1-23", "Use root cert from etc/cacerts/root-cert.pem"),
])
def test_plugin_ca_recognised_in_each_istio_version(diagnosed, scenario, line):
    """istiod says 'plug-in CA' differently per version family (istio/istio pilot/pkg/bootstrap/istio_ca.go); each is MCA813.
    The self-signed counterparts (MCA811) are rows of the grid (diag-self-signed-*)."""
    assert line in diagnosed[_grid_key(scenario, ())].find("MCA813")["message"]


def test_root_change_not_picked_up_names_both_roots(diagnosed):
    """MCA304 compares by fingerprint: sets A and B share the subject 'O=Istio, CN=Root CA'."""
    finding = diagnosed[_grid_key("diag-root-not-picked-up", ())].find("MCA304")
    assert "SHA-256" in finding["message"]
    assert any("Key Vault root-cert roots" in line for line in finding["evidence"])
    assert "rollout restart" in finding["remedy"]


def test_expired_secret_attribute_does_not_break_the_mount(diagnosed):
    """The mesh runs (istiod loaded the plug-in CA), so the finding cannot be an error."""
    run = diagnosed[_grid_key("diag-secret-expired", ())]
    assert "MCA813" in run.codes("info")
    assert "MCA801" not in run.codes()


def test_expired_secret_attribute_is_a_warning(diagnosed):
    """Key Vault serves secrets past their exp attribute (Azure/AzureKeyVault issue 19)."""
    run = diagnosed[_grid_key("diag-secret-expired", ())]
    assert run.find("MCA612")["severity"] == "warning"
    assert run.returncode == EXIT_OK


# --------------------------------------------------------------------------- the operator's own access

@pytest.mark.parametrize("scenario", ["diag-operator-no-secret-access", "diag-rbac-operator-no-secret-access"])
def test_operator_without_secret_access(diagnosed, scenario):
    """Azure-side checks still run; the secrets are 'could not check' (MCA904) with Key Vault's
    reason, worded as the operator's access; never MCA401/MCA402 for the add-on; exit 5."""
    run = diagnosed[_grid_key(scenario, ())]
    assert run.returncode == EXIT_INCOMPLETE, run.summary()
    assert run.result["status"] == "incomplete"
    assert "MCA303" in run.codes()
    assert not run.codes() & {"MCA401", "MCA402", "MCA403", "MCA802", "MCA803"}, run.summary()
    unread = run.find("MCA904")
    assert unread["severity"] == "warning"
    assert "403" in unread["message"]
    assert "your own access" in unread["message"]
    for name in ("test-root-cert", "test-ca-cert", "test-ca-key", "test-cert-chain"):
        assert name in unread["message"]
    assert run.result["summary"]["notChecked"] == ["MCA904"]


def test_operator_without_secret_access_gets_key_vault_reason(diagnosed):
    evidence = " ".join(diagnosed[_grid_key("diag-operator-no-secret-access", ())].find("MCA904")["evidence"])
    rbac = " ".join(diagnosed[_grid_key("diag-rbac-operator-no-secret-access", ())].find("MCA904")["evidence"])
    assert "AccessDenied" in evidence or "does not have secrets get permission" in evidence, evidence
    assert "ForbiddenByRbac" in rbac or "not authorized" in rbac, rbac


# --------------------------------------------------------------------------- healthy: output shapes

@pytest.mark.parametrize("scenario", ["healthy", "healthy-rbac"])
def test_healthy_is_clean(diagnosed, scenario):
    run = diagnosed[_grid_key(scenario, ())]
    assert run.returncode == EXIT_OK
    assert run.result["summary"]["errors"] == 0
    assert run.result["summary"]["warnings"] == 0
    assert run.result["status"] == "passed"
    assert run.result["certificates"], "the certificates read from Key Vault are described"


@pytest.mark.parametrize("scenario", ["healthy", "healthy-rbac"])
def test_healthy_table_and_query(sim_factory, scenario):
    az = sim_factory.az_for(sim_factory.shared(scenario))
    table = diagnose(az, "-o", "table", "--output-threshold", "info")   # MCA813 is an info
    assert table.returncode == EXIT_OK, table.stderr
    assert "Traceback" not in table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:2] == ["Severity", "Code"], table.stdout
    assert any("MCA813" in line for line in lines), table.stdout
    query = diagnose(az, "--query", "findings[?severity=='error']", "-o", "json")
    assert query.returncode == EXIT_OK, query.stderr
    assert json.loads(query.stdout) == []


def test_problem_table_exits_4(sim_factory):
    """-o table prints the findings and still exits with the verdict's status."""
    az = sim_factory.az_for(sim_factory.shared("article-issue-1"))
    table = diagnose(az, "-o", "table")
    assert table.returncode == EXIT_PROBLEMS, table.stderr
    assert "Traceback" not in table.stderr
    body = [line for line in table.stdout.splitlines() if line.startswith(("error", "warning", "info"))]
    assert body[0].split()[:2] == ["error", "MCA401"], table.stdout


@pytest.mark.parametrize("scenario, line", [
    ("diag-self-signed-1-19", "No plugged-in cert at etc/cacerts/ca-key.pem; self-signed cert is used"),
    ("diag-self-signed-1-21", "Use istio-generated cacerts at etc/cacerts/ca-key.pem or istio-ca-secret"),
    ("diag-self-signed-1-23", "Use roots from istio-ca-secret"),
])
def test_self_signed_recognised_in_each_istio_version(diagnosed, scenario, line):
    finding = diagnosed[_grid_key(scenario, ())].find("MCA811")
    assert line in finding["message"]
    assert "rollout restart" in finding["remedy"]


def test_a_snapshot_holding_a_private_key_is_not_exported(sim_factory, tmp_path):
    """A Key Vault certificate's PEM secret named as ca-cert carries the private key:
    --export refuses with one line and writes nothing."""
    az = sim_factory.az_for(sim_factory.shared("diag-secret-is-certificate"))
    target = tmp_path / "snap.json"
    proc = diagnose(az, "--export", str(target), "-o", "json")
    assert proc.returncode == 1, proc.stderr
    assert "Refusing to export" in proc.stderr and "Traceback" not in proc.stderr
    assert not target.exists()


# --------------------------------------------------------------------------- the CA's path (#20)

RESTART_ISTIOD = "rollout restart deployment/istiod"


@pytest.mark.parametrize("scenario, code", [("rot-root-refused", "MCA307"), ("rot-bytes-1-29", "MCA309")])
def test_a_refused_root_is_an_error_whose_remedy_never_restarts_istiod(diagnosed, scenario, code):
    """istiod refused the mounted root (istio_ca.go handleEvent): a restart would load it
    without the subset check and break mTLS, so no finding may advise one."""
    run = diagnosed[(scenario, ())]
    found = run.find(code)
    assert found["severity"] == "error" and "asm-1-29" in found["message"] and "Istio 1.29" in found["message"]
    assert ("Do not restart istiod-asm-1-29" if code == "MCA307" else "byte for byte") in found["remedy"]
    for item in run.findings:
        assert RESTART_ISTIOD not in item["remedy"], (item["code"], item["remedy"])


def test_the_1_29_bytes_rule_names_the_bytes(diagnosed):
    found = diagnosed[("rot-bytes-1-29", ())].find("MCA309")
    assert "bytes.Contains" in found["message"] and "byte for byte" in found["remedy"]


def test_newer_key_vault_versions_without_cacerts_secret_say_which_revision_and_why(diagnosed):
    run = diagnosed[("rot-rotation-off", ())]
    found = run.find("MCA310")
    assert "asm-1-29" in found["message"] and "rotation is off" in found["message"]
    assert "MCA305" not in run.codes()  # no cacerts secret: the mount statuses show it


@pytest.mark.parametrize("scenario", ["healthy-asm-1-28", "healthy-asm-1-29", "healthy-asm-1-30"])
def test_todays_add_on_gets_no_cronjob_or_restart_advice(diagnosed, scenario):
    note = diagnosed[(scenario, ())].find("MCA303")["message"]
    assert "hot-reloads" in note and "restart" not in note and "cronjob" not in note


def test_stale_sidecars_after_an_intermediate_change_are_counted_per_namespace(diagnosed):
    found = diagnosed[("rot-stale-sidecars", ())].find("MCA312")
    assert "8 sidecar(s)" in found["message"]
    assert "default (4)" in found["message"] and "shop (4)" in found["message"]
