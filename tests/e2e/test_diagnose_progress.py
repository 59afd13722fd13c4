"""diagnose shows progress on stderr only when a person is watching (stderr is a TTY)."""

import os
import pty
import subprocess

import pytest

from sandbox.azcli import AZ

pytestmark = pytest.mark.e2e
DIAGNOSE = ["aks", "mesh", "ca", "diagnose", "-g", "myResourceGroup", "-n", "myAKSCluster", "-o", "none"]


def _run_with_terminal_stderr(az, args):
    """Run az with stderr on a pseudo-terminal; return (exit status, what the terminal showed)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([AZ, *args], env=az.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=slave)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    return proc.wait(timeout=120), shown.decode("utf-8", "replace")


@pytest.mark.scenario("healthy")
def test_progress_on_a_terminal(az):
    status, shown = _run_with_terminal_stderr(az, DIAGNOSE)
    assert status == 0
    assert "meshca: reading cluster myAKSCluster" in shown


@pytest.mark.scenario("healthy")
def test_no_progress_when_stderr_is_not_a_terminal(az):
    proc = az.run(*DIAGNOSE)
    assert proc.returncode == 0
    assert "meshca:" not in proc.stderr
