"""diagnose --export / --from-snapshot through the real az against the loopback simulator.

What must hold: the findings from a snapshot are the live findings (analysis is pure);
reading a snapshot touches no service at all (the simulator's request log stays empty,
and it works with the simulator stopped); and no private-key material leaves the
process: not in the exported file, not in ``--debug`` output. Bad snapshot files give
one line of error and exit 1.

The key material to look for comes from the scenario's World: every pki set's ca-key
PEM (its base64 lines) and the private exponent in decimal and hex.
"""

import base64
import os

import pytest
from cryptography.hazmat.primitives import serialization

from tests.e2e.test_diagnose_scenarios import Diagnosis, EXIT_PROBLEMS, comparable, diagnose, diagnose_json

pytestmark = pytest.mark.e2e

SCENARIOS = ["article-issue-1", "diag-root-not-picked-up"]
BAD_SNAPSHOTS = {
    "not-json": "this is not JSON {",
    "wrong-version": '{"version": 99, "collectedAt": "2026-01-01T00:00:00Z"}',
    "not-an-object": "[1, 2, 3]",
    "empty": "",
}


def from_snapshot(az, path, *args):
    """``az aks mesh ca diagnose --from-snapshot PATH`` (offline: no -g/-n); the CompletedProcess."""
    return az.run("aks", "mesh", "ca", "diagnose", "--from-snapshot", str(path), *args, cwd=az.config_dir)


def from_snapshot_json(az, path):
    proc = from_snapshot(az, path, "-o", "json")
    assert "Traceback" not in proc.stderr, proc.stderr
    run = Diagnosis(proc)
    assert run.result is not None, "no JSON result (exit {}):\n{}".format(proc.returncode, proc.stderr[-2000:])
    return run


def key_markers(world):
    """Strings that would betray a CA private key of this scenario if they appeared anywhere."""
    markers = []
    for set_name in world.pki:
        pem = world.pki_part(set_name, "ca-key")
        lines = [line.strip() for line in pem.splitlines() if line.strip() and not line.startswith("-----")]
        markers += [line for line in lines if len(line) >= 32]
        key = serialization.load_pem_private_key(pem.encode("ascii"), None)
        numbers = key.private_numbers()
        secret = getattr(numbers, "d", None) or getattr(numbers, "private_value")
        markers += [str(secret), "{:x}".format(secret), "{:X}".format(secret)]
        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        markers.append(base64.b64encode(der).decode("ascii")[100:160])  # a slice from the middle
    return markers


def assert_no_key_material(text, markers, where):
    assert "PRIVATE KEY" not in text, "a PEM private-key header in " + where
    leaked = [marker[:12] + "..." for marker in markers if marker in text]
    assert not leaked, "ca-key material in {}: {}".format(where, leaked)


class Exported:
    """Everything one scenario's export round trip produced."""

    def __init__(self, sim, az, tmpdir):
        self.markers = key_markers(sim.world)
        self.path = os.path.join(tmpdir, "snapshot.json")
        self.live = diagnose_json(az, "--export", self.path)
        with open(self.path, encoding="utf-8") as handle:
            self.file_text = handle.read()
        before = len(sim.requests())
        self.offline = from_snapshot_json(az, self.path)
        self.requests_during_offline = sim.requests()[before:]
        self.debug = diagnose(az, "--debug", "-o", "json")
        sim.stop()
        self.stopped = from_snapshot_json(az, self.path)


@pytest.fixture(scope="module")
def exported(sim_factory, tmp_path_factory):
    """{scenario: Exported}: live run with --export, offline runs, a --debug live run, then the
    simulator stopped and the snapshot read again."""
    results = {}
    for scenario in SCENARIOS:
        sim = sim_factory.fresh(scenario)
        results[scenario] = Exported(sim, sim_factory.az_for(sim), str(tmp_path_factory.mktemp(scenario)))
    return results


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_snapshot_gives_the_live_findings(exported, scenario):
    result = exported[scenario]
    assert result.live.returncode == EXIT_PROBLEMS, result.live.summary()
    assert result.offline.returncode == result.live.returncode
    assert comparable(result.offline.findings) == comparable(result.live.findings)
    exact = [(item["code"], item.get("object"), item["message"]) for item in result.live.findings]
    assert [(item["code"], item.get("object"), item["message"]) for item in result.offline.findings] == exact
    assert result.offline.result["certificates"] == result.live.result["certificates"]
    assert result.offline.result["summary"] == result.live.result["summary"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_snapshot_reading_makes_no_request(exported, scenario):
    assert exported[scenario].requests_during_offline == []


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_snapshot_reading_works_with_the_simulator_stopped(exported, scenario):
    result = exported[scenario]
    assert result.stopped.returncode == result.live.returncode, result.stopped.stderr
    assert [(item["code"], item.get("object"), item["message"]) for item in result.stopped.findings] == \
        [(item["code"], item.get("object"), item["message"]) for item in result.live.findings]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_exported_snapshot_holds_no_key_material(exported, scenario):
    result = exported[scenario]
    assert result.markers, "the scenario's ca-key could not be found to compare against"
    assert "test-ca-key" in result.file_text, "the ca-key object was read (its facts are in the snapshot)"
    assert_no_key_material(result.file_text, result.markers, "the exported snapshot")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_debug_output_holds_no_key_material(exported, scenario):
    """--debug logs requests and responses; the Key Vault client must not log secret bodies."""
    debug = exported[scenario].debug
    assert debug.returncode == EXIT_PROBLEMS, debug.stderr[-2000:]
    assert "Traceback" not in debug.stderr
    assert "test-ca-key" in debug.stderr, "the debug log shows the ca-key request (so it was read)"
    assert_no_key_material(debug.stdout + debug.stderr, exported[scenario].markers, "--debug output")


def test_root_change_verdict_survives_the_snapshot(exported):
    """MCA304 needs both fingerprints; the snapshot carries them, not just the verdict."""
    result = exported["diag-root-not-picked-up"]
    assert "MCA304" in result.stopped.codes("error")


# --------------------------------------------------------------------------- bad snapshot files

def error_lines(stderr):
    """stderr without az's preview notice: what the user is told."""
    return [line for line in stderr.splitlines() if line.strip() and "is in preview" not in line]


@pytest.mark.parametrize("kind", sorted(BAD_SNAPSHOTS))
def test_bad_snapshot_file_is_one_line_error(sim_factory, tmp_path, kind):
    az = sim_factory.az_for(sim_factory.shared("healthy"))
    path = tmp_path / "bad.json"
    path.write_text(BAD_SNAPSHOTS[kind], encoding="utf-8")
    proc = from_snapshot(az, path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("ERROR:"), proc.stderr
    assert str(path) in lines[0]
    assert proc.stdout.strip() == ""


def test_missing_snapshot_file_is_one_line_error(sim_factory, tmp_path):
    az = sim_factory.az_for(sim_factory.shared("healthy"))
    path = tmp_path / "does-not-exist.json"
    proc = from_snapshot(az, path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("ERROR:"), proc.stderr
    assert "does-not-exist.json" in lines[0]


def test_unwritable_export_path_is_one_line_error(sim_factory, tmp_path):
    az = sim_factory.az_for(sim_factory.shared("healthy"))
    path = tmp_path / "no-such-dir" / "snapshot.json"
    proc = diagnose(az, "--export", str(path))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("ERROR:"), proc.stderr
