"""Issue #23 in units: the fix-first table over every scenario, remedies filled in where
the snapshot knows the value, docs that resolve, explain for a reader, --suppress forms."""

import glob
import os
import re

import pytest
from tabulate import tabulate

from azext_meshca.output import tables

from azext_meshca.rules import catalog

from azext_meshca.output import pages

from azext_meshca.output import report
from azext_meshca.verbs.diagnose import analyse
from azext_meshca.model.plugin import secret_names
from azext_meshca.model.resource_ids import parse_vault_id
from sandbox import golden
from tests.unit import snapshots

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIOS = golden.scenarios()


@pytest.fixture(scope="module")
def analysed():
    results = {}
    for name in SCENARIOS:
        snapshot = golden.load(name)
        results[name] = (snapshot, analyse(snapshot, 30))
    return results


def _table(result, threshold="warning"):
    """What knack prints for -o table (knack/output.py _TableOutput.dump: tabulate, 'simple')."""
    return tabulate(tables.findings_table(result, threshold), headers="keys", tablefmt="simple",
                    disable_numparse=True)


def _words(text):
    return " ".join(str(text).split())


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_table_fits_120_columns_and_cuts_no_fix(analysed, name):
    _, result = analysed[name]
    for threshold in ("warning", "info"):
        table = _table(result, threshold)
        assert max(len(line) for line in table.splitlines()) <= 120, table
        # every word of every shown root cause's remedy and detail is there: wrapped, never cut
        joined = _words(" ".join(line[18:] for line in table.splitlines()))
        for item in result["findings"]:
            if item.get("explainedBy") or (threshold == "warning" and item["severity"] == "info"):
                continue
            for word in _words(item.get("remedy")).split() + _words(item.get("detail")).split():
                if len(word) <= 100:
                    assert word in joined, (item["code"], word)


def test_symptoms_are_grouped_under_their_root_cause(analysed):
    _, result = analysed["article-issue-1"]
    rows = tables.findings_table(result)
    assert [row["Code"] for row in rows if row["Code"]] == ["MCA401"]
    text = _words(rows[0]["Root cause and fix"])
    assert "Fix: az aks mesh ca fix-access -g myResourceGroup -n myAKSCluster" in text
    assert "Explains 2: MCA801" in text and "MCA802" in text
    assert "not shown" in _words(rows[-1]["Root cause and fix"])


def test_a_symptom_of_a_symptom_goes_under_the_root(analysed):
    """MCA801 explained by MCA812, which MCA710 explains: one row, MCA710's."""
    _, result = analysed["diag-cert-wrong-root"]
    codes = [row["Code"] for row in tables.findings_table(result) if row["Code"]]
    assert "MCA801" not in codes and "MCA812" not in codes, codes


@pytest.mark.parametrize("name, cause, symptom", [
    ("rot-root-refused", "MCA307", "MCA304"),   # the refused root is why the mesh keeps the old one
    ("rot-rotation-off", "MCA301", "MCA310"),   # rotation off is why the new versions are not mounted
])
def test_one_fix_is_one_row(analysed, name, cause, symptom):
    """Two rows with the same fix read as two problems: the symptom goes under its cause."""
    _, result = analysed[name]
    rows = [row for row in tables.findings_table(result) if row["Code"]]
    assert [row["Code"] for row in rows] == [cause], rows
    assert symptom in _words(rows[0]["Root cause and fix"]).split("Explains", 1)[1]


def test_a_cert_chain_without_ca_cert_is_one_row_with_the_agents_refusal_under_it():
    """MCA711 (cert-chain's head is not ca-cert) and MCA736 (so the agent refuses istiod's
    serving chain) have one fix: one row, MCA711's, with MCA736 as what it explains."""
    snapshot = snapshots.healthy_snapshot()
    secrets = snapshot["secrets"]
    secrets["cert-chain"]["data"]["value"] = secrets["root-cert"]["data"]["value"]
    result = analyse(snapshot, 30)
    rows = [row for row in tables.findings_table(result) if row["Code"]]
    assert "MCA736" not in [row["Code"] for row in rows], rows
    assert "MCA736" in _words(next(row for row in rows if row["Code"] == "MCA711")["Root cause and fix"])
    # MCA711 is a warning (order breaks no verifier), but the agent's refusal it explains is an
    # error: the verdict stays failed, and the one fix leads the table (issue i711).
    severity = {item["code"]: item["severity"] for item in result["findings"]}
    assert (severity["MCA711"], severity["MCA736"]) == ("warning", "error"), severity
    assert result["status"] == "failed" and report.exit_status(result) == report.EXIT_PROBLEMS
    assert rows[0]["Code"] == "MCA711", rows
    message = next(item["message"] for item in result["findings"] if item["code"] == "MCA711")
    assert "ca-cert is missing from it" in message, message


def test_a_reordered_cert_chain_holding_ca_cert_is_a_warning_not_a_failure():
    """Issue i711: ca-cert last in cert-chain (root first) is accepted by Go and BoringSSL
    (tests/differential/test_go_istiod.py test_cert_chain_order_against_go_and_boringssl), so
    diagnose warns (MCA711) and exits 0, where it used to fail the cluster."""
    objects = dict(snapshots.plugin_set())
    blocks = [block + b"-----END CERTIFICATE-----\n"
              for block in objects["cert-chain"].split(b"-----END CERTIFICATE-----\n") if block.strip()]
    assert len(blocks) == 2
    objects["cert-chain"] = b"".join(reversed(blocks))
    result = analyse(snapshots.healthy_snapshot(objects), 30)
    severity = {item["code"]: item["severity"] for item in result["findings"]}
    assert severity.get("MCA711") == "warning" and "error" not in severity.values(), severity
    assert result["status"] == "warnings" and report.exit_status(result) == report.EXIT_OK
    message = next(item["message"] for item in result["findings"] if item["code"] == "MCA711")
    assert "ca-cert is certificate 2 of cert-chain" in message and "any order" in message


@pytest.mark.parametrize("with_root", [False, True])
def test_an_intermediate_in_root_cert_is_a_warning_not_a_failure(with_root):
    """Issue i701: root-cert holding ca-cert (not self-signed), alone or after the root, is trusted as an
    anchor by Go and BoringSSL (tests/differential/test_go_istiod.py
    test_root_cert_shapes_against_go_and_boringssl), so diagnose warns (MCA701) and exits 0."""
    objects = dict(snapshots.plugin_set())
    objects["root-cert"] = (objects["root-cert"] if with_root else b"") + objects["ca-cert"]
    result = analyse(snapshots.healthy_snapshot(objects), 30)
    severity = {item["code"]: item["severity"] for item in result["findings"]}
    assert severity.get("MCA701") == "warning" and "error" not in severity.values(), severity
    assert "MCA703" not in severity, severity
    assert result["status"] == "warnings" and report.exit_status(result) == report.EXIT_OK


# Placeholders a remedy may hold, and how to tell that the snapshot knows their value.
def _plugin(snapshot):
    return ((snapshot.get("cluster") or {}).get("data") or {}).get("plugin") or {}


KNOWN = {
    "<vault>": lambda snap, item: parse_vault_id(_plugin(snap).get("keyVaultId")),
    "<vault-id>": lambda snap, item: parse_vault_id(_plugin(snap).get("keyVaultId")),
    "<resource-group>": lambda snap, item: (snap.get("target") or {}).get("resourceGroup"),
    "<cluster>": lambda snap, item: (snap.get("target") or {}).get("cluster"),
    "<revision>": lambda snap, item: ((snap.get("cluster") or {}).get("data") or {}).get("revisions"),
    "<file>": lambda snap, item: item.get("object") in secret_names(_plugin(snap)),
}


def _placeholders(remedy):
    return re.findall(r"<[a-z][a-z-]*>", remedy or "")


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_remedy_keeps_a_placeholder_the_snapshot_fills(analysed, name):
    snapshot, result = analysed[name]
    for item in result["findings"]:
        for placeholder in _placeholders(item["remedy"]):
            known = KNOWN.get(placeholder)
            if placeholder.endswith("-name>") and placeholder[1:-6] in secret_names(_plugin(snapshot)):
                known = lambda snap, _item, obj=placeholder[1:-6]: secret_names(_plugin(snap)).get(obj)  # noqa: E731
            assert not (known and known(snapshot, item)), (item["code"], placeholder, item["remedy"])


def test_the_missing_secret_remedy_names_the_vault_and_the_secret(analysed):
    _, result = analysed["article-issue-3"]
    [missing] = [item for item in result["findings"] if item["code"] == "MCA601"]
    assert ("az keyvault secret set --vault-name MyAzureKeyVault --name test-cert-chain --file cert-chain.pem"
            in missing["remedy"])


def test_fill_remedy_puts_in_what_the_key_vault_source_knows():
    item = catalog.finding("MCA601", "root-cert", source="Key Vault secret x")
    assert "--vault-name <vault> --name <root-cert-name>" in item["remedy"]
    catalog.fill_remedy(item, {"vault_name": "MyAzureKeyVault", "secret_name": "test-root-cert"})
    assert "--vault-name MyAzureKeyVault --name test-root-cert --file root-cert.pem" in item["remedy"]


# --------------------------------------------------------------------------- docs resolve

def _markdown_files():
    return [os.path.join(REPO, "README.md"), os.path.join(REPO, "HISTORY.rst")] + sorted(
        glob.glob(os.path.join(REPO, "docs", "**", "*.md"), recursive=True))


def test_every_relative_link_in_the_docs_resolves():
    for path in _markdown_files():
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        assert "azure-cli-extensions/blob/main/src/meshca" not in text, path
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            resolved = os.path.normpath(os.path.join(os.path.dirname(path), target.split("#")[0]))
            assert os.path.exists(resolved), (path, target)


@pytest.mark.parametrize("code", sorted(catalog.CATALOG))
def test_every_findings_docs_field_names_an_existing_page(code):
    entry = catalog.CATALOG[code]
    item = catalog.finding(code, "x", **{name: "v" for template in (entry.message, entry.remedy, entry.detail)
                                         for name in catalog.template_fields(template)})
    assert item["docs"] == f"az aks mesh ca explain {code}"
    assert os.path.exists(os.path.join(REPO, "docs", "findings", code + ".md"))


@pytest.mark.parametrize("code", sorted(catalog.CATALOG))
def test_explain_reads_for_a_reader(code):
    text = pages.render_text(code)
    assert "Generated by" not in text and "```" not in text
    assert not re.search(r"\{[a-z_]+\}", text), text
    entry = pages.entry_dict(code)
    assert entry["code"] == code and set(entry["placeholders"]) >= (
        catalog.template_fields(catalog.CATALOG[code].remedy) - {"restart_note", "current_note", "lag_note"})


# --------------------------------------------------------------------------- --suppress forms

@pytest.mark.parametrize("values, kept", [
    ([["MCA401", "MCA301"]], ["MCA718"]),
    ([["MCA401,MCA301"]], ["MCA718"]),
    ([["MCA4*"], ["MCA3??"]], ["MCA718"]),
    ([["MCA7*=ca-*"]], ["MCA401", "MCA301"]),
    ([["MCA7*=root-cert"]], ["MCA401", "MCA301", "MCA718"]),
])
def test_suppress_takes_lists_commas_and_wildcards(values, kept):
    def make(code, obj):
        params = {name: "v" for name in catalog.template_fields(catalog.CATALOG[code].message)
                  | catalog.template_fields(catalog.CATALOG[code].remedy)}
        return catalog.finding(code, obj, **params)
    findings = [make("MCA401", "vault"), make("MCA301", "azureKeyvaultSecretsProvider"), make("MCA718", "ca-cert")]
    left, _ = report.split_suppressed(findings, values)
    assert sorted(item["code"] for item in left) == sorted(kept)


@pytest.mark.parametrize("text", ["MCA4x*", "MCA7777", "M*", "MCA12345*", "*"])
def test_malformed_wildcards_are_refused(text):
    with pytest.raises(ValueError):
        report.parse_suppression(text)


# --------------------------------------------------------------------------- smaller things

def test_mca303_says_restart_once(analysed):
    _, result = analysed["healthy"]
    [rotation] = [item for item in result["findings"] if item["code"] == "MCA303"]
    assert len(re.findall(r"restart", rotation["message"])) == 1, rotation["message"]


def test_mca801_fits_a_crash_loop_as_well_as_a_pod_stuck_in_init(analysed):
    entry = catalog.CATALOG["MCA801"]
    assert "initialising" not in entry.title
    assert "Init" in entry.remedy and "CrashLoopBackOff" in entry.remedy
    _, result = analysed["diag-cert-wrong-root"]
    [pods] = [item for item in result["findings"] if item["code"] == "MCA801"]
    assert "CrashLoopBackOff" in pods["message"]
    assert "kubectl rollout restart deployment/istiod-asm-" in pods["remedy"], pods["remedy"]


# --------------------------------------------------------------------------- README for users

def _readme():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as handle:
        return handle.read()


def test_readme_opens_for_users():
    """What meshca is, installing it into your own az, and the demo come before anything
    for contributors (pytest workers, azdev)."""
    text = _readme()
    contributors = text.index("## Contributing")
    first_screen = text[:text.index("## Supported az releases")]
    assert "plug-in CA" in "\n".join(text.splitlines()[2:5])
    assert "## Install into your own az" in first_screen and "AZ=az ./scripts/install-extension" in first_screen
    assert "./scripts/demo" in first_screen and "Fix: az aks mesh ca fix-access" in first_screen
    assert "./scripts/test" in first_screen   # the second newcomer command: set up and run the tests
    for word in ("pytest", "azdev", "workers"):
        assert word not in first_screen, word
    assert contributors > text.index("## Commands")


def test_readme_claims_hold():
    """Item 12: the output shape is not every command's; breaks is carried by what a verifier refuses."""
    text = _readme()
    assert "Every command returns the same shape" not in text
    from azext_meshca.rules.catalog import CATALOG
    assert CATALOG["MCA711"].breaks is None and "MCA711" in text[text.index('"breaks"'):][:600]
