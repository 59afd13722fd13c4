"""``./scripts/demo rotate``: the product drives the rotation world (issue #24).

The world (sandbox/sim/kube_rotation.py, started by sandbox/rotation.py ``demo``) checks after
every event that every pair of sidecars can verify each other; here each stage is moved by the
real ``az aks mesh ca rotate`` (plan once, then ``advance --yes --wait`` until it writes the
stage), instead of writes by hand.
"""

import json
import tempfile
import time


def _rotate(state, *args):
    """One real az process: ``az aks mesh ca rotate ARGS``; the parsed JSON result."""
    proc = state["az"].run("aks", "mesh", "ca", "rotate", *args, "-g", "myResourceGroup", "-n", "myAKSCluster",
                           "-o", "json", "--only-show-errors", cwd=state["cwd"], timeout=600)
    for line in proc.stderr.splitlines():
        state["out"]("   az: " + line)
    if proc.returncode not in (0,):
        raise RuntimeError(f"az aks mesh ca rotate {args[0]} exited {proc.returncode}")
    return json.loads(proc.stdout)


def demo(scenario="rotation-world", kind="root", out=print, attempts=30):
    """The world's demo with the product's plan and advance; returns the violation count."""
    from sandbox import rotation
    state = {"out": out, "cwd": tempfile.mkdtemp(prefix="meshca-rotate-demo-")}

    def prepare(sim, new_dir):
        state["az"] = sim.az()
        body = _rotate(state, "plan", "--new-dir", new_dir)
        out(f"== plan {body['rotation']['rotationId']}: {body['rotation']['kind']} rotation, stages "
            f"{', '.join(body['rotation']['stages'])}")

    def advance(_sim, stage, _writes, new_dir):
        # advance writes only when the last stage's gate holds: until then it says what it waits for
        for _ in range(attempts):
            body = _rotate(state, "advance", "--plan-file", "meshca-rotation-plan.json", "--new-dir", new_dir,
                           "--yes", "--wait", "--timeout", "120")
            if body["action"] in ("write", "done"):
                out(f"   meshca wrote {body['stage']}; rotation stage now {body['rotation']['stage']}")
                return
            time.sleep(1)
        raise RuntimeError(f"stage {stage} was never written")

    return rotation.demo(scenario, kind=kind, prepare=prepare, advance=advance, out=out)


def main(argv=None):
    """``python -m sandbox.rotate_demo [root|intermediate] [--scenario NAME]``."""
    import argparse
    import sys
    parser = argparse.ArgumentParser(prog="python -m sandbox.rotate_demo", description=main.__doc__)
    parser.add_argument("kind", nargs="?", default="root", choices=("root", "intermediate"))
    parser.add_argument("--scenario", default="rotation-world")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    count = demo(args.scenario, kind=args.kind, out=lambda text: print(text, flush=True))
    return 0 if count == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
