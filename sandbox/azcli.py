"""Run the real ``az`` (azure-cli from PyPI) with meshca installed from its built wheel.

Every az call gets an isolated config dir, telemetry off and a pre-written version
check, so az never reaches for the network on its own (the versionCheck.json cache that Azure/azure-cli
`src/azure-cli-core/azure/cli/core/__init__.py` loads). The extension
is installed with ``az extension add --source <wheel>`` into an extension dir shared
by the session; its dependencies come from the local wheelhouse that scripts/setup
downloads, so installing never leaves the machine.
"""

import datetime
import glob
import json
import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Which az runs: by default the one in the venv of this Python; MESHCA_AZ_VENV names another
# venv holding azure-cli (scripts/setup makes .venv-az-min with the oldest release meshca
# supports, and scripts/test runs the release smoke through it). The wheel is always built
# with this Python; only az itself comes from that venv.
OTHER_AZ_VENV = os.path.abspath(os.environ["MESHCA_AZ_VENV"]) if os.environ.get("MESHCA_AZ_VENV") else None
VENV_BIN = os.path.join(OTHER_AZ_VENV, "bin") if OTHER_AZ_VENV else os.path.dirname(sys.executable)
AZ = os.path.join(VENV_BIN, "az")
AZ_PYTHON = os.path.join(VENV_BIN, "python")
WHEELHOUSE = os.path.join(REPO, ".work", "wheelhouse")


def build_wheel(out_dir):
    """Build meshca's wheel from the working tree; return its path."""
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    build_dir = os.path.join(out_dir, "build-tree")
    shutil.rmtree(build_dir, ignore_errors=True)
    # Copy the sources so that setuptools' build/ and egg-info stay out of the repo.
    shutil.copytree(REPO, build_dir, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".venv-*", ".work", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--disable-pip-version-check", "-w", out_dir, build_dir],
                   check=True, cwd=out_dir)
    wheels = glob.glob(os.path.join(out_dir, "meshca-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


_AZ_VERSIONS = {}


def az_versions():
    """{distribution: version} of the az that runs (azure-cli, -core, -telemetry), read in its venv."""
    if not _AZ_VERSIONS:
        probe = ("import json; from importlib.metadata import version; print(json.dumps({name: version(name) "
                 "for name in ('azure-cli', 'azure-cli-core', 'azure-cli-telemetry')}))")
        proc = subprocess.run([AZ_PYTHON, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
        _AZ_VERSIONS.update(json.loads(proc.stdout))
    return dict(_AZ_VERSIONS)


def write_version_check(config_dir):
    """az checks PyPI for updates once a day; a fresh record tells it not to."""
    versions = az_versions()
    record = {"versions": {"azure-cli": {"local": versions["azure-cli"]},
                           "core": {"local": versions["azure-cli-core"]},
                           "telemetry": {"local": versions["azure-cli-telemetry"]}},
              "update_time": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")}
    with open(os.path.join(config_dir, "versionCheck.json"), "w", encoding="utf-8") as handle:
        json.dump(record, handle)


class AzCli:
    """One isolated az installation: its own config dir, a shared extension dir."""

    def __init__(self, config_dir, extension_dir, extra_env=None):
        self.config_dir = config_dir
        self.extension_dir = extension_dir
        os.makedirs(config_dir, exist_ok=True)
        os.makedirs(extension_dir, exist_ok=True)
        write_version_check(config_dir)
        self.env = self._base_env()
        self.env.update(extra_env or {})

    def _base_env(self):
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("AZURE_", "IDENTITY_", "MSI_", "KUBECONFIG"))}
        env.update({
            "AZURE_CONFIG_DIR": self.config_dir,
            "AZURE_EXTENSION_DIR": self.extension_dir,
            "AZURE_CORE_COLLECT_TELEMETRY": "false",
            "AZURE_CORE_NO_COLOR": "true",
            "AZURE_CORE_ONLY_SHOW_ERRORS": "false",
            "PATH": VENV_BIN + os.pathsep + env.get("PATH", ""),
            # The extension's dependencies come from the local wheelhouse only.
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": WHEELHOUSE,
            "PYTHONWARNINGS": "ignore",
            # az is `python -m azure.cli`, which puts the working directory first on
            # sys.path: run from the repo root it would import azext_meshca from the source
            # tree instead of the installed wheel. Python 3.11's safe-path mode stops that.
            "PYTHONSAFEPATH": "1",
        })
        return env

    def run(self, *args, input_text=None, timeout=300, env=None, cwd=None):
        """Run ``az ARGS``; return the CompletedProcess (text mode)."""
        full_env = dict(self.env)
        full_env.update(env or {})
        return subprocess.run([AZ, *args], env=full_env, input=input_text, capture_output=True,
                              text=True, timeout=timeout, cwd=cwd)

    def json(self, *args, **kwargs):
        """Run ``az ARGS -o json`` and parse stdout; fail loudly on a non-zero exit."""
        proc = self.run(*args, "-o", "json", **kwargs)
        if proc.returncode != 0:
            raise AssertionError(f"az {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
        return json.loads(proc.stdout)

    def install_extension(self, wheel):
        if not os.path.isdir(WHEELHOUSE):
            raise RuntimeError(f"No wheelhouse at {WHEELHOUSE}: run scripts/setup first.")
        proc = self.run("extension", "add", "--source", wheel, "--yes")
        if proc.returncode != 0:
            raise RuntimeError("az extension add failed:\n" + proc.stderr)


_SHARED = {}


def shared_extension_dir():
    """Build the wheel and install it into one extension dir, once per test process.

    Every AzCli in the session points AZURE_EXTENSION_DIR here, so the wheel is built
    and installed once. Returns ``(extension_dir, wheel_path)``.
    """
    if "extension_dir" not in _SHARED:
        import atexit
        import tempfile
        root = tempfile.mkdtemp(prefix="meshca-az-")
        atexit.register(shutil.rmtree, root, True)
        wheel = build_wheel(os.path.join(root, "dist"))
        extension_dir = os.path.join(root, "extensions")
        AzCli(os.path.join(root, "install-config"), extension_dir).install_extension(wheel)
        _SHARED.update(root=root, extension_dir=extension_dir, wheel=wheel)
    return _SHARED["extension_dir"], _SHARED["wheel"]


def new_az(name, extra_env=None):
    """A fresh, isolated az (own config dir) with meshca already installed."""
    extension_dir, _ = shared_extension_dir()
    config_dir = os.path.join(_SHARED["root"], "config-" + name)
    shutil.rmtree(config_dir, ignore_errors=True)
    return AzCli(config_dir, extension_dir, extra_env)


# Runs in the az venv's python with az's environment (the installed wheel, isolated config).
# Each argv in sys.argv[1] goes through ONE get_default_cli() object; a SystemExit from an
# invocation is its exit status, as azure/cli/__main__.py treats it. Prints, as its last line,
# [{code, printed}] per argv.
_IN_ONE_CLI = r"""
import io, json, sys
from azure.cli.core import get_default_cli
cli = get_default_cli()
codes = []
for args in json.loads(sys.argv[1]):
    out = io.StringIO()
    try:
        code = cli.invoke(args, out_file=out)
    except SystemExit as exc:
        code = exc.code
    codes.append({"code": code, "printed": bool(out.getvalue().strip())})
print(json.dumps(codes))
"""


def run_in_one_cli(env, commands, timeout=300):
    """Run each argv of ``commands`` through one in-process azure-cli object (as
    azure-cli-testsdk and programs embedding get_default_cli() do), in a subprocess with
    ``env``; the CompletedProcess, whose last stdout line is the JSON list above."""
    return subprocess.run([AZ_PYTHON, "-c", _IN_ONE_CLI, json.dumps(commands)], env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
