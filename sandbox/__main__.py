"""Run a simulated Azure subscription + AKS cluster locally, no Azure account needed.

    python -m sandbox --list
    python -m sandbox article-issue-1                  # prints export lines, then waits
    python -m sandbox article-issue-1 --run "az aks mesh ca diagnose -g myResourceGroup -n myAKSCluster"

With ``--run`` the command runs in the simulator's environment (a fresh az config
dir logged in to the loopback cloud, meshca installed from its wheel, KUBECONFIG
for the simulated cluster) and the sandbox exits with the command's status.
"""

import argparse
import shlex
import signal
import subprocess
import sys
import threading


def _parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", nargs="?", help="scenario name (see --list)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--run", metavar="COMMAND", help="run this shell command inside the sandbox and exit")
    parser.add_argument("--no-extension", action="store_true",
                        help="do not build/install meshca (only built-in az commands)")
    parser.add_argument("--kube-unreachable", action="store_true", help="leave the Kubernetes API port closed")
    return parser.parse_args(argv)


def _progress(message):
    """A progress line on stderr, so a start of tens of seconds is not silent (stdout stays
    the export lines or the command's output)."""
    print(f"sandbox: {message}", file=sys.stderr, flush=True)


def _environment(sim, runner):
    env = dict(runner.env)
    env["KUBECONFIG"] = sim.kubeconfig()
    return env


def _print_exports(env, sim):
    keys = ["AZURE_CONFIG_DIR", "AZURE_EXTENSION_DIR", "REQUESTS_CA_BUNDLE", "IDENTITY_ENDPOINT", "IDENTITY_HEADER",
            "AZURE_CORE_COLLECT_TELEMETRY", "AZURE_CORE_INSTANCE_DISCOVERY", "HTTPS_PROXY", "HTTP_PROXY",
            "NO_PROXY", "KUBECONFIG", "PATH", "PYTHONSAFEPATH"]
    for key in keys:
        if key in env:
            print(f"export {key}={shlex.quote(env[key])}")
    print(f"# scenario {sim.scenario}: ARM {sim.arm_url}  Kubernetes {sim.kube_url}  control {sim.arm_url}/_sim/log")
    print(f"# resource group {sim.world.cluster['resourceGroup']}, cluster {sim.world.cluster['name']}; "
          "Ctrl-C stops the sandbox")
    sys.stdout.flush()


def main(argv=None):
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    from sandbox.sim.scenario import ScenarioError, list_scenarios, read_scenario
    if args.list:
        for name in list_scenarios():
            print(f"{name:28} {read_scenario(name).get('description', '')}")
        return 0
    if not args.scenario:
        print("error: name a scenario (see --list)", file=sys.stderr)
        return 2
    from sandbox.sim.harness import start_simulator
    _progress(f"starting the simulators of scenario {args.scenario}")
    try:
        sim = start_simulator(args.scenario, kube_unreachable=args.kube_unreachable)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        _progress("building meshca's wheel, installing it into a fresh az config and logging in "
                  "(about 15 to 45 s)" if not args.no_extension else "logging a fresh az config in")
        try:
            runner = sim.az(name="sandbox", with_extension=not args.no_extension)
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            print(f"error: could not prepare az: {str(exc).splitlines()[0]}", file=sys.stderr)
            return 3
        env = _environment(sim, runner)
        _progress("ready")
        if args.run:
            return subprocess.run(args.run, shell=True, env=env).returncode
        _print_exports(env, sim)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(1):
                pass
        except KeyboardInterrupt:
            pass
        return 0
    finally:
        sim.stop()


if __name__ == "__main__":
    sys.exit(main())
