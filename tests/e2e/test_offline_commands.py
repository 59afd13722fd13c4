"""validate-secrets and show-cert through the real az, extension installed from its wheel.

No simulator is needed: these forms read local files only.
"""

import base64
import json
import os
import re

import pytest

from sandbox import certfactory
from sandbox.azcli import new_az

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def az():
    return new_az("offline")


@pytest.fixture(scope="module")
def cert_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("certs")
    sets = {
        "good": certfactory.make_plugin_set(),
        "good-ec": certfactory.make_plugin_set(key_format="ec"),
        "good-three-tier": certfactory.make_plugin_set(tiers=3),
        "good-rotation": certfactory.make_plugin_set(rotation=True),
        "wrong-root": certfactory.make_plugin_set(wrong_root=True),
        "mismatched-key": certfactory.make_plugin_set(mismatched_key=True),
        "encrypted-key": certfactory.make_plugin_set(encrypted_key=True),
    }
    paths = {}
    for name, objects in sets.items():
        paths[name] = str(root / name)
        certfactory.write_cert_dir(paths[name], objects)
    paths["openssl"] = str(root / "openssl")
    certfactory.write_cert_dir(paths["openssl"], certfactory.make_plugin_set_with_openssl(str(root / "work")))
    return paths


def _json(proc):
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("name", ["good", "good-ec", "good-three-tier", "good-rotation", "openssl"])
def test_sound_sets_pass_with_exit_0(az, cert_dirs, name):
    proc = az.run("aks", "mesh", "ca", "validate-secrets", "--cert-dir", cert_dirs[name], "-o", "json")
    result = _json(proc)
    assert proc.returncode == 0, proc.stderr
    assert result["status"] in ("passed", "warnings")
    assert [item for item in result["findings"] if item["severity"] == "error"] == []
    assert {cert["object"] for cert in result["certificates"]} >= {"root-cert", "ca-cert", "cert-chain"}


@pytest.mark.parametrize("name, code", [("wrong-root", "MCA710"), ("mismatched-key", "MCA709"),
                                        ("encrypted-key", "MCA607")])
def test_problems_print_the_result_and_exit_4(az, cert_dirs, name, code):
    proc = az.run("aks", "mesh", "ca", "validate-secrets", "--cert-dir", cert_dirs[name], "-o", "json")
    result = _json(proc)
    assert proc.returncode == 4
    assert result["status"] == "failed"
    finding = next(item for item in result["findings"] if item["code"] == code)
    assert set(finding) >= {"code", "severity", "area", "object", "message", "remedy"}
    assert finding["severity"] == "error"


def test_four_file_form_matches_cert_dir_form(az, cert_dirs):
    folder = cert_dirs["wrong-root"]
    files = ["--root-cert", os.path.join(folder, "root-cert.pem"), "--ca-cert", os.path.join(folder, "ca-cert.pem"),
             "--ca-key", os.path.join(folder, "ca-key.pem"), "--cert-chain", os.path.join(folder, "cert-chain.pem")]
    by_files = _json(az.run("aks", "mesh", "ca", "validate-secrets", *files, "-o", "json"))
    by_dir = _json(az.run("aks", "mesh", "ca", "validate-secrets", "--cert-dir", folder, "-o", "json"))
    assert [item["code"] for item in by_files["findings"]] == [item["code"] for item in by_dir["findings"]]


def test_query_selects_errors(az, cert_dirs):
    proc = az.run("aks", "mesh", "ca", "validate-secrets", "--cert-dir", cert_dirs["wrong-root"],
                  "--query", "findings[?severity=='error'].code", "-o", "tsv")
    assert proc.returncode == 4
    assert proc.stdout.split() == ["MCA710"]


def test_table_output_is_a_findings_table(az, cert_dirs):
    proc = az.run("aks", "mesh", "ca", "validate-secrets", "--cert-dir", cert_dirs["wrong-root"], "-o", "table")
    assert proc.returncode == 4
    header = proc.stdout.splitlines()[0].split()
    assert header == ["Severity", "Code", "Root", "cause", "and", "fix"]
    assert "MCA710" in proc.stdout


def test_yaml_output(az, cert_dirs):
    proc = az.run("aks", "mesh", "ca", "validate-secrets", "--cert-dir", cert_dirs["good"], "-o", "yaml")
    assert proc.returncode == 0 and "status: passed" in proc.stdout


# 2: a command-line mistake, as azure-cli's parser exits for one (the same status on
# every command); 1: the command ran and could not read what it was pointed at.
@pytest.mark.parametrize("args, expected_status, message", [
    (["--cert-dir", "/nonexistent/meshca"], 1, "is not a folder"),
    (["--root-cert", "/nonexistent/r.pem", "--ca-cert", "/x", "--ca-key", "/y", "--cert-chain", "/z"], 1,
     "does not exist"),
    (["--root-cert", "/tmp/r.pem"], 2, "Give all four"),
    ([], 2, "Give --cert-dir"),
    (["--warn-days", "-3", "--cert-dir", "/tmp"], 2, "--warn-days"),
    (["--no-such-option"], 2, "unrecognized arguments"),
])
def test_bad_input_gives_one_line_error_and_a_distinct_status(az, args, expected_status, message):
    proc = az.run("aks", "mesh", "ca", "validate-secrets", *args)
    assert proc.returncode == expected_status, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_show_cert_describes_a_bundle(az, cert_dirs):
    chain = os.path.join(cert_dirs["good"], "cert-chain.pem")
    result = _json(az.run("aks", "mesh", "ca", "show-cert", "--file", chain, "-o", "json"))
    assert len(result["certificates"]) == 2
    first = result["certificates"][0]
    for key in ("subject", "issuer", "serialNumber", "notBefore", "notAfter", "daysLeft", "fingerprintSha256",
                "keyAlgorithm", "keySize", "isCa", "pathLength", "keyUsage", "extendedKeyUsage",
                "subjectAlternativeNames", "subjectKeyIdentifier", "authorityKeyIdentifier", "signatureAlgorithm"):
        assert key in first
    assert first["pathLength"] == 0 and first["isCa"] is True


def test_show_cert_tsv_fingerprints(az, cert_dirs):
    root = os.path.join(cert_dirs["good-rotation"], "root-cert.pem")
    proc = az.run("aks", "mesh", "ca", "show-cert", "--file", root, "--query",
                  "certificates[].fingerprintSha256", "-o", "tsv")
    assert proc.returncode == 0
    fingerprints = proc.stdout.split()
    assert len(fingerprints) == 2 and fingerprints[0] != fingerprints[1]


def test_show_cert_table_and_cert_dir(az, cert_dirs):
    """A chain is drawn as a tree from its root: cert-chain holds [ca-cert, root]; the table
    shows the root, then the intermediate under it."""
    proc = az.run("aks", "mesh", "ca", "show-cert", "--cert-dir", cert_dirs["good"], "-o", "table")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:3] == ["Object", "Certificate", "NotAfter"]
    assert "ca-key" not in proc.stdout
    chain = [line for line in lines if line.startswith("cert-chain")]
    assert len(chain) == 2 and "└─ " in chain[1] and "└─" not in chain[0], proc.stdout
    assert "Root CA" in chain[0] and "Intermediate CA" in chain[1], proc.stdout
    assert max(len(line) for line in lines) <= 120, proc.stdout


def _der_root():
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    pem = certfactory.make_plugin_set()["root-cert"]
    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)


def test_show_cert_shows_a_der_certificate(az, tmp_path):
    path = tmp_path / "root.der"
    path.write_bytes(_der_root())
    proc = az.run("aks", "mesh", "ca", "show-cert", "--file", str(path), "-o", "json")
    result = _json(proc)
    assert proc.returncode == 0, proc.stderr
    assert [cert["subject"] for cert in result["certificates"]] == ["CN=Root CA,O=Istio"], result
    assert [item for item in result["findings"] if item["severity"] == "error"] == []


def test_show_cert_exits_0_on_an_expired_certificate_unless_asked(az, tmp_path):
    """fp=$(az aks mesh ca show-cert --file x -o tsv) must work under set -e: show-cert shows
    an expired certificate and exits 0; --failure-threshold opts into a verdict. Its findings
    stand in their own section of the table, not in the Subject column."""
    certfactory.write_cert_dir(str(tmp_path), certfactory.make_plugin_set(expired=True))
    path = str(tmp_path / "ca-cert.pem")
    base = ("aks", "mesh", "ca", "show-cert", "--file", path)
    shown = az.run(*base, "--query", "certificates[0].fingerprintSha256", "-o", "tsv")
    assert shown.returncode == 0, shown.stderr
    assert len(shown.stdout.strip()) == 95, shown.stdout
    judged = az.run(*base, "--failure-threshold", "error", "-o", "json")
    assert judged.returncode == 4, judged.stderr
    assert "MCA717" in {item["code"] for item in _json(judged)["findings"]}
    table = az.run(*base, "-o", "table")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert any(line.startswith("FINDINGS") for line in lines), table.stdout
    [cert_row] = [line for line in lines if line.startswith("file")]
    assert "MCA717" not in cert_row
    assert any("error MCA717" in line for line in lines), table.stdout


@pytest.mark.parametrize("content, code", [
    (b"", "MCA602"),
    (b"hello, I am not a certificate\n", "MCA604"),
    (b"-----BEGIN CERTIFICATE-----\n!!!!not base64!!!!\n-----END CERTIFICATE-----\n", "MCA605"),
    (b"x" * (3 * 1024 * 1024), "MCA608"),
])
def test_show_cert_on_unusable_files_reports_a_finding(az, tmp_path, content, code):
    """Nothing could be shown: the finding says why, and the exit status is diagnose's."""
    path = tmp_path / "input.pem"
    path.write_bytes(content)
    proc = az.run("aks", "mesh", "ca", "show-cert", "--file", str(path), "-o", "json")
    result = _json(proc)
    assert proc.returncode == 4
    assert [item["code"] for item in result["findings"] if item["severity"] == "error"] == [code]


def _key_material_markers(key_pem):
    """Strings that would betray the key: its PEM armour and every base64 line of its body."""
    text = key_pem.decode("ascii")
    lines = [line for line in text.splitlines() if line and not line.startswith("-----")]
    der = base64.b64decode("".join(lines))
    return [line for line in lines if len(line) >= 16] + [der.hex()[:64]]


@pytest.mark.parametrize("variant", ["good", "mismatched-key", "encrypted-key"])
def test_no_private_key_bytes_in_any_output_even_with_debug(az, cert_dirs, variant):
    folder = cert_dirs[variant]
    with open(os.path.join(folder, "ca-key.pem"), "rb") as handle:
        markers = _key_material_markers(handle.read())
    runs = [
        az.run("aks", "mesh", "ca", "validate-secrets", "--cert-dir", folder, "--debug", "-o", "json"),
        az.run("aks", "mesh", "ca", "validate-secrets", "--cert-dir", folder, "-o", "table"),
        az.run("aks", "mesh", "ca", "show-cert", "--cert-dir", folder, "--debug"),
        # The key handed over where a certificate belongs must not be echoed either.
        az.run("aks", "mesh", "ca", "show-cert", "--file", os.path.join(folder, "ca-key.pem"), "--debug"),
        az.run("aks", "mesh", "ca", "validate-secrets", "--debug",
               "--root-cert", os.path.join(folder, "ca-key.pem"), "--ca-cert", os.path.join(folder, "ca-key.pem"),
               "--ca-key", os.path.join(folder, "ca-key.pem"), "--cert-chain", os.path.join(folder, "ca-key.pem")),
    ]
    for proc in runs:
        output = proc.stdout + proc.stderr
        assert "Traceback" not in output
        for marker in markers:
            assert marker not in output, "private-key material leaked: {!r}".format(marker[:20])
        assert not re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", output)


def test_az_runs_the_installed_wheel_not_the_source_tree(az, tmp_path):
    """A decoy azext_meshca in the working directory must not be what az imports."""
    decoy = tmp_path / "azext_meshca"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise ImportError('the source tree was imported, not the wheel')\n")
    proc = az.run("aks", "mesh", "ca", "validate-secrets", "-h", cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "source tree was imported" not in proc.stderr
    assert "validate-secrets" in proc.stdout


@pytest.mark.parametrize("missing, code", [("cert-chain", "MCA601"), ("ca-key", "MCA601")])
def test_a_missing_local_file_gets_a_files_remedy_not_a_key_vault_one(az, cert_dirs, tmp_path, missing, code):
    """Remedies fit the source: a folder without <object>.pem is not told to run az keyvault."""
    folder = tmp_path / "incomplete"
    folder.mkdir()
    for name in ("root-cert", "ca-cert", "ca-key", "cert-chain"):
        if name != missing:
            (folder / (name + ".pem")).write_bytes(open(os.path.join(cert_dirs["good"], name + ".pem"), "rb").read())
    proc = az.run("aks", "mesh", "ca", "validate-secrets", "--cert-dir", str(folder), "-o", "json")
    assert proc.returncode == 4, proc.stderr
    [found] = [item for item in _json(proc)["findings"] if item["code"] == code]
    assert found["object"] == missing
    assert "keyvault" not in found["remedy"] and missing + ".pem" in found["remedy"]


def test_an_empty_local_file_gets_a_files_remedy(az, cert_dirs, tmp_path):
    # An empty ca-cert: an empty cert-chain is no format error (istiod starts; MCA733).
    folder = tmp_path / "empty-ca-cert"
    folder.mkdir()
    for name in ("root-cert", "ca-key", "cert-chain"):
        (folder / (name + ".pem")).write_bytes(open(os.path.join(cert_dirs["good"], name + ".pem"), "rb").read())
    (folder / "ca-cert.pem").write_bytes(b"")
    result = _json(az.run("aks", "mesh", "ca", "validate-secrets", "--cert-dir", str(folder), "-o", "json"))
    [found] = [item for item in result["findings"] if item["code"] == "MCA602"]
    assert "keyvault" not in found["remedy"]
