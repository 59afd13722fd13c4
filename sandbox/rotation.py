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


def az_keyvault_set(runner, vault_name, writes):
    """Run ``az keyvault secret set --vault-name V --name N --file F`` for each (name, text) in
    ``writes``, in order, in one az process. Returns the exit codes."""
    from sandbox.azcli import run_in_one_cli
    with tempfile.TemporaryDirectory(prefix="meshca-rotation-") as workdir:
        commands = []
        for index, (name, text) in enumerate(writes):
            path = os.path.join(workdir, f"{index}-{name}.pem")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            commands.append(["keyvault", "secret", "set", "--vault-name", vault_name, "--name", name,
                             "--file", path, "-o", "none", "--only-show-errors"])
        proc = run_in_one_cli(runner.env, commands)
    if proc.returncode != 0:
        raise RuntimeError(f"az keyvault secret set failed to run: {proc.stderr.strip()[-1500:]}")
    return [item["code"] if isinstance(item["code"], int) else 1
            for item in json.loads(proc.stdout.strip().splitlines()[-1])]


def wait_until(predicate, timeout, interval=0.1):
    """Poll ``predicate`` until it is true; False when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def world_scenario(directory, base="rotation-world", **overrides):
    """A scenario file in ``directory`` that is ``base`` with ``rotationWorld`` keys overridden
    (e.g. secretTtl="12s", multiRootMesh=False); returns its path for start_simulator."""
    import yaml
    path = os.path.join(str(directory), f"{base}-{'-'.join(sorted(overrides)) or 'copy'}.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump({"base": base, "rotationWorld": overrides}, handle)
    return path


def new_root_material(world, set_id="B"):
    """{part: PEM text} of a new plug-in set under a new root (certfactory, Istio's tools/certs
    recipe), for the world's cluster."""
    from sandbox.sim.scenario import make_pki_set
    return make_pki_set({"set_id": set_id, "cluster": world.cluster["name"]})


def doc_root_rotation(world, new):
    """The AKS doc's root rotation, step 1 (azure-aks-docs articles/aks/istio-plugin-ca.md,
    "Root certificate authority rotation", commit 0526c69c): all four objects at once,
    root-cert = old + new roots, in the doc's command order. [(object name, text)]."""
    names = {obj.file[:-4]: obj.object_name for obj in world.plugin_objects()}
    _, old_root = world.secret_value(world.plugin_objects()[0].vault_name, names["root-cert"])
    return [(names["root-cert"], old_root + new["root-cert"]), (names["ca-cert"], new["ca-cert"]),
            (names["ca-key"], new["ca-key"]), (names["cert-chain"], new["cert-chain"])]


def new_intermediate_material(world, ca_id="A2"):
    """{part: PEM text} of a new intermediate under the world's current root (set A's root,
    byte for byte: certfactory's roots are deterministic), for an intermediate rotation."""
    from sandbox.sim.scenario import make_pki_set
    return make_pki_set({"set_id": "A", "ca_id": ca_id, "cluster": world.cluster["name"]})


def intermediate_rotation(world, new):
    """Issue #24's intermediate stage I1: ca-key, cert-chain, ca-cert; root-cert untouched."""
    names = {obj.file[:-4]: obj.object_name for obj in world.plugin_objects()}
    return [("I1", [(names["ca-key"], new["ca-key"]), (names["cert-chain"], new["cert-chain"]),
                    (names["ca-cert"], new["ca-cert"])])]


def safe_root_rotation(world, new):
    """Issue #24's root stages: R1 trust both roots (the live bytes + the new root), R2 sign
    under the new root (ca-key, cert-chain, ca-cert: every state in between fails istiod's
    Verify, so the old CA signs until the set is whole), R3 trust only the new root.
    [(stage, [(object name, text)])]."""
    names = {obj.file[:-4]: obj.object_name for obj in world.plugin_objects()}
    _, old_root = world.secret_value(world.plugin_objects()[0].vault_name, names["root-cert"])
    return [("R1", [(names["root-cert"], old_root + new["root-cert"])]),
            ("R2", [(names["ca-key"], new["ca-key"]), (names["cert-chain"], new["cert-chain"]),
                    (names["ca-cert"], new["ca-cert"])]),
            ("R3", [(names["root-cert"], new["root-cert"])])]


def chain_trusted_by(chain, root_text):
    """True when a verifier whose trust bundle is ``root_text`` accepts ``chain`` (leaf first)."""
    from sandbox.sim.kube_rotation import chain_refusal, parse_certificates
    return chain_refusal(chain, parse_certificates(root_text)) is None


def write_by_hand(sim, stage, writes, _new_dir=None):
    """The default ``advance``: one stage's writes with the SDK, tagged with the stage."""
    client = secret_client(sim, sim.world.plugin_objects()[0].vault_name)
    for name, text in writes:
        client.set_secret(name, text, tags={"stage": stage})


def _summary(sim):
    state = sim.rotation.state()
    sidecars = ", ".join(f"{item['sidecar']} trusts {item['bundleSha256'][:8]}" for item in state["sidecars"])
    return f"violations so far: {state['violations']}; {sidecars}"


# pylint: disable-next=too-many-locals,too-many-arguments  # the hooks are keyword-only
def demo(scenario="rotation-world", *, kind="root", advance=None, on_step=None, prepare=None, out=print, timeout=60.0):
    """Start the rotation world and rotate its CA stage by stage; returns the violation count.

    kind: "root" (R1, R2, R3), "intermediate" (I1) or "doc" (the AKS doc's all-at-once root
    rotation, the order that breaks the invariant). The new material is also written to a
    directory laid out as Istio's tools/certs makes it (root-cert.pem, ca-cert.pem, ca-key.pem,
    cert-chain.pem). ``prepare(sim, new_dir)`` runs once before the first stage (e.g. the
    product's ``rotate plan``); ``advance(sim, stage, writes, new_dir)`` moves one stage
    (default ``write_by_hand``; the product's ``rotate advance --wait`` can stand in and ignore
    ``writes``); ``on_step(sim, stage)`` runs once the stage's gate holds or ``timeout`` passes.
    """
    from sandbox.certfactory import write_cert_dir
    from sandbox.sim.harness import start_simulator
    advance = advance or write_by_hand
    with start_simulator(scenario) as sim, tempfile.TemporaryDirectory(prefix="meshca-new-ca-") as new_dir:
        world = sim.rotation
        if world is None:
            raise ValueError(f"scenario {scenario!r} has no rotationWorld")
        out(f"rotation world {scenario}: revisions {world.revisions}, {len(world.sidecars)} sidecars, "
            f"SECRET_TTL {world.secret_ttl:g}s, CSI poll {world.csi_poll:g}s")
        new = new_intermediate_material(sim.world) if kind == "intermediate" else new_root_material(sim.world)
        write_cert_dir(new_dir, {part: text.encode() for part, text in new.items()})
        if kind == "intermediate":
            stages = intermediate_rotation(sim.world, new)
        elif kind == "doc":
            stages = [("doc", doc_root_rotation(sim.world, new))]
        else:
            stages = safe_root_rotation(sim.world, new)
        if prepare is not None:
            prepare(sim, new_dir)
        for stage, writes in stages:
            started = time.monotonic()
            out(f"== {stage}: writing {', '.join(name for name, _ in writes)}")
            advance(sim, stage, writes, new_dir)
            held = world.wait_for_gate(timeout=timeout)
            out(f"   gate {'holds' if held else 'does not hold'} after {time.monotonic() - started:.1f}s; "
                f"{_summary(sim)}")
            if on_step is not None:
                on_step(sim, stage)
        count = world.violation_count()
        for violation in world.violations()[:5]:
            out(f"   violation at tick {violation['tick']}: {violation['verifier']} cannot verify "
                f"{violation['presenter']} ({violation['reason']}: {violation['detail']})")
        out(f"done: {count} violation(s), each a (tick, pair) at which a sidecar could not verify its peer")
        return count


def main(argv=None):
    """``python -m sandbox.rotation [root|intermediate|doc] [--scenario NAME]`` (./scripts/demo rotation)."""
    import argparse
    import sys
    parser = argparse.ArgumentParser(prog="python -m sandbox.rotation", description=main.__doc__)
    parser.add_argument("kind", nargs="?", default="root", choices=("root", "intermediate", "doc"))
    parser.add_argument("--scenario", default="rotation-world")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    count = demo(args.scenario, kind=args.kind, out=lambda text: print(text, flush=True))
    return 0 if (count == 0) != (args.kind == "doc") else 1


if __name__ == "__main__":
    raise SystemExit(main())
