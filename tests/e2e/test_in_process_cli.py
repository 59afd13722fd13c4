"""Several commands in one in-process CLI, the way ``az interactive``, azure-cli-testsdk's
``self.cmd`` and any program that embeds ``get_default_cli()`` run them.

meshca sets exit statuses 4 and 5 after its output is printed; that must concern only the
invocation that asked for it, never the commands the same CLI object runs next.
"""

import json

import pytest

from sandbox import certfactory
from sandbox.azcli import new_az, run_in_one_cli

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cert_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("certs")
    paths = {}
    for name, objects in {"good": certfactory.make_plugin_set(),
                          "wrong-root": certfactory.make_plugin_set(wrong_root=True)}.items():
        paths[name] = str(root / name)
        certfactory.write_cert_dir(paths[name], objects)
    return paths


def _invoke_in_one_cli(az, commands):
    proc = run_in_one_cli(az.env, commands)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def in_process_az():
    return new_az("in-process")


def test_exit_statuses_belong_to_the_invocation_that_set_them(in_process_az, cert_dirs):
    validate = ["aks", "mesh", "ca", "validate-secrets", "-o", "json", "--cert-dir"]
    runs = _invoke_in_one_cli(in_process_az, [
        validate + [cert_dirs["wrong-root"]],       # problems found: 4, result printed
        ["extension", "list", "-o", "json"],          # unrelated core command: 0
        validate + [cert_dirs["good"]],               # meshca again, nothing wrong: 0
        validate + [cert_dirs["wrong-root"]],         # and problems again: still 4
        ["aks", "mesh", "ca", "show-cert", "-o", "json", "--file", cert_dirs["good"] + "/root-cert.pem"],
    ])
    assert [run["code"] for run in runs] == [4, 0, 0, 4, 0]
    assert all(run["printed"] for run in runs)
