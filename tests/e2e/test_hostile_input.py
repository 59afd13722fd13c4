"""Local input that is not what it claims to be, through the real az (wheel installed).

Every path meshca reads (validate-secrets' four files and --cert-dir, show-cert --file,
diagnose --from-snapshot) is checked by type before it is opened: a named pipe would
block the open for ever, a device never ends. Each gives one error line saying what
was found, exit 1, and never a hang (the subprocess timeout is the hang detector) or a
traceback. Snapshot files are UTF-8 JSON of one schema version, checked field by field.

No simulator: these forms read local files only.
"""

import json
import os
import socket

import pytest

from sandbox import certfactory
from sandbox.azcli import new_az

pytestmark = pytest.mark.e2e

# Far above the seconds these runs take, far below "for ever".
HANG_GUARD = 120


@pytest.fixture(scope="module")
def az():
    return new_az("hostile-input")


@pytest.fixture(scope="module")
def good_set():
    return certfactory.make_plugin_set()


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip() and "is in preview" not in line]


def assert_one_line_error(proc, *expected):
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("ERROR:"), proc.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    assert proc.stdout.strip() == ""


def cert_dir_with(tmp_path, objects, odd_name, make_odd):
    folder = tmp_path / "certs"
    certfactory.write_cert_dir(str(folder), objects)
    target = folder / odd_name
    target.unlink()
    make_odd(str(target))
    return folder, target


def make_fifo(path):
    os.mkfifo(path)


def make_folder(path):
    os.mkdir(path)


def make_socket(path):
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)  # a bound socket file; nobody need listen
    server.close()


ODD_FILES = {
    "fifo": (make_fifo, "a named pipe (FIFO)"),
    "folder": (make_folder, "a folder"),
    "socket": (make_socket, "a socket"),
}


@pytest.mark.parametrize("odd_name", ["ca-key.pem", "cert-chain.pem"])
def test_cert_dir_with_a_named_pipe_is_one_line_error_not_a_hang(az, good_set, tmp_path, odd_name):
    """Before: validate-secrets --cert-dir blocked for ever in open() on the FIFO."""
    folder, target = cert_dir_with(tmp_path, good_set, odd_name, make_fifo)
    proc = az.run("aks", "mesh", "ca", "validate-secrets", "--cert-dir", str(folder), timeout=HANG_GUARD)
    assert_one_line_error(proc, str(target), "is a named pipe (FIFO), not a regular file")


@pytest.mark.parametrize("kind", sorted(ODD_FILES))
def test_four_file_form_refuses_what_is_not_a_regular_file(az, good_set, tmp_path, kind):
    make_odd, words = ODD_FILES[kind]
    folder, target = cert_dir_with(tmp_path, good_set, "root-cert.pem", make_odd)
    files = []
    for option, name in (("--root-cert", "root-cert.pem"), ("--ca-cert", "ca-cert.pem"),
                         ("--ca-key", "ca-key.pem"), ("--cert-chain", "cert-chain.pem")):
        files += [option, str(folder / name)]
    proc = az.run("aks", "mesh", "ca", "validate-secrets", *files, timeout=HANG_GUARD)
    assert_one_line_error(proc, str(target), words)


@pytest.mark.parametrize("path, words", [("/dev/zero", "a character device"), ("/dev/null", "a character device")])
def test_show_cert_refuses_a_device(az, path, words):
    proc = az.run("aks", "mesh", "ca", "show-cert", "--file", path, timeout=HANG_GUARD)
    assert_one_line_error(proc, path, words)


def test_show_cert_refuses_a_named_pipe(az, tmp_path):
    path = tmp_path / "pipe.pem"
    os.mkfifo(path)
    proc = az.run("aks", "mesh", "ca", "show-cert", "--file", str(path), timeout=HANG_GUARD)
    assert_one_line_error(proc, str(path), "a named pipe (FIFO)")


# --------------------------------------------------------------------------- snapshot files

def from_snapshot(az, path):
    return az.run("aks", "mesh", "ca", "diagnose", "--from-snapshot", str(path), "-o", "json",
                  timeout=HANG_GUARD, cwd=az.config_dir)


def test_snapshot_that_is_not_utf8_is_one_line_error(az, tmp_path):
    """Before: a UnicodeDecodeError traceback."""
    path = tmp_path / "latin1.json"
    path.write_bytes('{"version": 1, "target": "Köln"}'.encode("latin-1"))
    proc = from_snapshot(az, path)
    assert_one_line_error(proc, str(path), "is not UTF-8 text (byte 0xf6 at offset 27)")


def test_snapshot_that_is_a_named_pipe_is_one_line_error(az, tmp_path):
    path = tmp_path / "snapshot.json"
    os.mkfifo(path)
    assert_one_line_error(from_snapshot(az, path), str(path), "a named pipe (FIFO)")


def test_snapshot_that_is_a_device_is_one_line_error(az):
    assert_one_line_error(from_snapshot(az, "/dev/zero"), "/dev/zero", "a character device")


def minimal_snapshot(**changes):
    snapshot = {"version": 1, "collectedAt": "2026-11-29T15:00:00Z",
                "target": {"subscriptionId": None, "resourceGroup": "rg", "cluster": "aks", "tenantId": None},
                "options": {}, "cluster": {"ok": True, "data": {"meshMode": "Disabled"}, "error": None}}
    snapshot.update(changes)
    return snapshot


@pytest.mark.parametrize("changes, words", [
    ({"version": 0}, "snapshot version 0 is older than this meshca reads (1)"),
    ({"version": 2}, "snapshot version 2 is newer than this meshca reads (1): upgrade meshca"),
    ({"version": "1"}, "version: expected a whole number"),
    ({"collectedAt": "yesterday"}, "collectedAt: expected an ISO 8601 UTC time"),
    ({"cluster": {"ok": "yes"}}, "cluster.ok: expected true/false, found text"),
    ({"kube": {"access": {"ok": True, "data": {}, "error": None},
               "istiodPods": {"ok": True, "data": [{"name": "istiod-x", "ready": "no"}], "error": None}}},
     "kube.istiodPods.data[0].ready: expected true/false, found text"),
    ({"secrets": {"ca-cert": {"ok": False, "error": {"status": 403}}}}, "secrets.ca-cert.error.reason: missing"),
])
def test_snapshot_of_another_version_or_shape_names_the_problem(az, tmp_path, changes, words):
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(minimal_snapshot(**changes)), encoding="utf-8")
    assert_one_line_error(from_snapshot(az, path), str(path), words)


def test_minimal_snapshot_is_accepted(az, tmp_path):
    """The shape check is not stricter than the schema: a minimal valid file is judged."""
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(minimal_snapshot()), encoding="utf-8")
    proc = from_snapshot(az, path)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 4, 5), proc.stderr
    assert json.loads(proc.stdout)["findings"]
