"""The operator's side of the rotation world (issue #24): write Key Vault the ways a person
does, and play a rotation against a running world.

* ``secret_client(sim, vault)``: azure-keyvault-secrets' ``SecretClient`` reaching the
  simulated vault at its own address (https://<name>.vault.loop.test/) through the
  simulator's proxy trap, with a token the simulator issues to the operator
  (sandbox/sim/identity.py ``issue_token``). What a script on the operator's machine uses.
* ``az_keyvault_set(sim, writes)``: the real ``az keyvault secret set`` commands, run one
  after the other through ONE in-process azure-cli (``get_default_cli().invoke``, as
  azure-cli's own ``__main__`` and tests/e2e/test_in_process_cli.py run it), so a shell
  script's back-to-back commands take a fraction of the world's CSI poll interval, as they do
  against a real 2-minute poll.
* ``play(sim, steps, on_step)``: a rotation as a list of steps (writes, then a wait), with a
  callback per step; ``./scripts/demo rotation`` and the tests call it.
"""

import json
import os
import subprocess
import tempfile
import time

from sandbox.sim.identity import issue_token


class SimCredential:  # pylint: disable=too-few-public-methods
    """An azure-core token credential for the simulator's operator (never a real identity)."""

    def __init__(self, world, identity=None):
        self._world = world
        self._identity = identity or world.identities[world.operator["objectId"]]

    def get_token(self, *scopes, **_kwargs):
        from azure.core.credentials import AccessToken
        resource = (scopes[0] if scopes else "").rsplit("/.default", 1)[0]
        token, expires = issue_token(self._world, self._identity, resource)
        return AccessToken(token, expires)


def secret_client(sim, vault_name):
    """A SecretClient for ``vault_name`` in ``sim``, over real HTTPS through the proxy trap."""
    from azure.keyvault.secrets import SecretClient
    return SecretClient(sim.vault_url(vault_name), SimCredential(sim.world),
                        proxies={"https": sim.proxy.url, "http": sim.proxy.url},
                        connection_verify=sim.pki.ca_file)


# Runs in az's own python with az's environment: each argv list through ONE CLI object.
_AZ_DRIVER = r"""
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
    codes.append(code if isinstance(code, int) else 1)
print(json.dumps(codes))
"""


def az_keyvault_set(runner, vault_name, writes):
    """Run ``az keyvault secret set --vault-name V --name N --file F`` for each (name, text) in
    ``writes``, in order, in one az process. Returns the exit codes."""
    from sandbox.azcli import AZ_PYTHON
    with tempfile.TemporaryDirectory(prefix="meshca-rotation-") as workdir:
        commands = []
        for index, (name, text) in enumerate(writes):
            path = os.path.join(workdir, f"{index}-{name}.pem")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            commands.append(["keyvault", "secret", "set", "--vault-name", vault_name, "--name", name,
                             "--file", path, "-o", "none", "--only-show-errors"])
        proc = subprocess.run([AZ_PYTHON, "-c", _AZ_DRIVER, json.dumps(commands)], capture_output=True, text=True,
                              env=runner.env, timeout=300, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"az keyvault secret set failed to run: {proc.stderr.strip()[-1500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def wait_until(predicate, timeout, interval=0.1):
    """Poll ``predicate`` until it is true; False when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
