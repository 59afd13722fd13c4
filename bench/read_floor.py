"""How fast could the Key Vault reads of scan --read-secrets be at 5,000 clusters? The floor.

#25 asks for ``scan --read-secrets`` at 5,000 clusters within 3x its time at 200
(bench/scan_speed.py). This bench measures how much of that budget the reads alone would
take with the least work any client can do, so the goal can be judged against the machine
rather than against meshca's code:

- the budget: 3 x the small fleet's ``scan --read-secrets`` wall time (best of ``--repeat``);
- what every large run spends besides the reads: the large fleet's plain ``scan`` wall time
  (az's start-up, Resource Graph, judging without secrets, output), best of ``--repeat``;
- the bare reads: the very requests az sends for the large fleet (one unauthenticated GET
  per vault for its challenge, then one GET per object name the vault's clusters name),
  sent by a separate process over raw TLS sockets through the same proxy, on one kept-alive
  connection per vault, ``--widths`` vaults at a time, with one token the simulator issued. It does
  no challenge parsing, no token check, no retry, no deadline, and only ``json.loads`` of
  each answer: nothing meshca must do to read a secret safely. Best of ``--repeat``.

The same simulators, latency and machine as bench/scan_speed.py. Printed: the budget, the
part of it left for reading and judging secrets, the bare reads' wall and CPU time at each
width, the simulator's CPU meanwhile (one Python process answers every vault, so its own
CPU bounds how fast any client can be answered), and the floor: the plain scan plus the
fastest bare reads. A floor above the budget means no reader meets the goal on this bench,
whatever it costs; one just below it says how little is left for everything a safe read
and the judging of secrets must do.

    .venv/bin/python bench/read_floor.py [--latency-ms 50] [--small 5x40x8] [--large 50x100x20]
                                         [--widths 96,192,256] [--repeat 3]
"""

# pylint: disable=protected-access  # bench/scan_speed.py's helpers: same fleets, runs and rules
import argparse
import json
import os
import subprocess
import sys
import tempfile
from urllib.parse import urlsplit

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "bench"))

import scan_speed  # noqa: E402  pylint: disable=wrong-import-position
from azext_meshca.sources.fleet import VAULT_WIDE_REFUSALS  # noqa: E402  pylint: disable=wrong-import-position
from sandbox.sim.identity import issue_token  # noqa: E402  pylint: disable=wrong-import-position

# The bare client, in a process of its own as az is. It reads its job from stdin (the token
# never appears on a command line) and prints one JSON line per width.
_BARE_CLIENT = r"""
import json, queue, socket, ssl, sys, threading, time

job = json.loads(sys.stdin.read())
context = ssl.create_default_context(cafile=job["ca_file"])


# A refusal that holds for the whole vault (a 401 to a token, a 403 with one of the job's
# vault_wide_refusals) ends the vault's reads, as sources/fleet.py refused_vault_wide ends az's.
VAULT_WIDE_REFUSALS = set(job["vault_wide_refusals"])


def answer(stream):
    status = int(stream.readline().split(b" ", 2)[1])
    length = 0
    while True:
        line = stream.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = stream.read(length)
    document = json.loads(body) if body else {}
    inner = ((document.get("error") or {}).get("innererror") or {}).get("code")
    return status, inner


def read_vault(host, names, counts):
    raw = socket.create_connection((job["proxy_host"], job["proxy_port"]))
    raw.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
    tunnel = raw.makefile("rb", buffering=0)
    while tunnel.readline() not in (b"\r\n", b""):
        pass
    sock = context.wrap_socket(raw, server_hostname=host)
    stream = sock.makefile("rb")
    requests = [(names[0], None)] + [(name, job["token"]) for name in names]
    for name, token in requests:
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        sock.sendall(f"GET /secrets/{name}/?api-version=7.4 HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n".encode())
        status, inner = answer(stream)
        counts[status] = counts.get(status, 0) + 1
        if token and (status == 401 or (status == 403 and inner in VAULT_WIDE_REFUSALS)):
            break
    sock.close()


for width in job["widths"]:
    todo = queue.Queue()
    for vault in job["vaults"]:
        todo.put(vault)
    counts = [{} for _ in range(width)]     # one per reader: no count is lost to a race

    def reader(own_counts):
        while True:
            try:
                host, names = todo.get_nowait()
            except queue.Empty:
                return
            read_vault(host, names, own_counts)

    cpu, wall = time.process_time(), time.perf_counter()
    threads = [threading.Thread(target=reader, args=(own,)) for own in counts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    answers = {}
    for own in counts:
        for status, count in own.items():
            answers[status] = answers.get(status, 0) + count
    print(json.dumps({"width": width, "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                      "answers": answers}), flush=True)
"""


def _vault_reads(world):
    """[(vault host, sorted object names)]: what az reads of each vault the clusters name
    (sources/fleet.py read_vault_objects: every object any cluster names, once per vault)."""
    names = {}
    for vault, plugin in scan_speed.readable_plugins(world):
        wanted = names.setdefault(urlsplit(world.vault_uri(vault["name"])).hostname, set())
        wanted.update(plugin[field] for field in scan_speed.OBJECT_FIELDS if plugin.get(field))
    return [(host, sorted(objects)) for host, objects in names.items()]


def _token(world, vault_host):
    """A token of the operator's identity for the resource the vault's challenge names (the
    host without its first label, sandbox/sim/keyvault.py _challenge_headers), issued by the
    simulator's own identity code, as its managed identity endpoint would."""
    operator = world.identities[world.operator["objectId"]]
    return issue_token(world, operator, "https://" + vault_host.split(".", 1)[1])[0]


def _bare_reads(sim, widths, repeat):
    """({width: best run} of the bare client over ``sim``'s fleet, Key Vault requests per run,
    vaults, the simulator's CPU seconds per run)."""
    env = sim.env
    proxy = urlsplit(env["HTTPS_PROXY"])
    vaults = _vault_reads(sim.world)
    job = {"ca_file": env["REQUESTS_CA_BUNDLE"], "proxy_host": proxy.hostname, "proxy_port": proxy.port,
           "token": _token(sim.world, vaults[0][0]), "vaults": vaults,
           "vault_wide_refusals": sorted(VAULT_WIDE_REFUSALS),
           "widths": [width for width in widths for _ in range(repeat)]}
    sim.log.clear()
    before = scan_speed._own_cpu()
    done = subprocess.run([sys.executable, "-c", _BARE_CLIENT], input=json.dumps(job), text=True,
                          capture_output=True, check=True, timeout=600)
    best = {}
    for line in done.stdout.splitlines():
        run = json.loads(line)
        if run["width"] not in best or run["wall"] < best[run["width"]]["wall"]:
            best[run["width"]] = run
    runs = len(job["widths"])
    sim_cpu = (scan_speed._own_cpu() - before) / runs
    logged = sum(1 for entry in sim.requests() if entry["service"].startswith("kv:"))
    return best, logged / runs, len(vaults), sim_cpu


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--small", default="5x40x8", help="subscriptions x clusters each x vaults each")
    parser.add_argument("--large", default="50x100x20")
    parser.add_argument("--widths", default="96,192,256", help="vaults read at a time by the bare client")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the fastest counts")
    options = parser.parse_args()
    widths = [int(width) for width in options.widths.split(",")]
    scan_speed._spawner()     # first, while this process is small
    load_before = os.getloadavg()
    secrets = ["aks", "mesh", "ca", "scan", "--read-secrets"]
    with tempfile.TemporaryDirectory(prefix="meshca-floor-") as directory:
        with scan_speed.simulated_fleet(options.small, directory, options.latency_ms) as (sim, az):
            small = scan_speed._best_of(options.repeat, sim, az, secrets)
        with scan_speed.simulated_fleet(options.large, directory, options.latency_ms) as (sim, az):
            plain = scan_speed._best_of(options.repeat, sim, az, ["aks", "mesh", "ca", "scan"])
            bare, requests_per_run, vaults, sim_cpu = _bare_reads(sim, widths, options.repeat)
    budget = 3 * small["wall"]
    left = budget - plain["wall"]
    print(f"load average before {scan_speed._load(load_before)}, after "
          f"{scan_speed._load(os.getloadavg())} on {os.cpu_count()} CPUs; "
          f"{options.latency_ms} ms latency on every request; best of {options.repeat}")
    print(f"budget of the large scan --read-secrets at 3x: 3 x {small['wall']:.2f} s (small fleet) = {budget:.2f} s")
    print(f"large plain scan (start-up, Resource Graph, judging without secrets, output): {plain['wall']:.2f} s")
    print(f"left for reading and judging the secrets: {left:.2f} s")
    print(f"bare reads of the large fleet: {vaults} vaults, {requests_per_run:.0f} requests per run "
          f"(the simulator's log)")
    print(f"  the simulator's CPU per run (one Python process serves every vault): {sim_cpu:.2f} s")
    for width, run in sorted(bare.items()):
        share = run["wall"] / left if left > 0 else float("inf")
        print(f"  {width:4d} vaults at a time: wall {run['wall']:5.2f} s ({share:4.0%} of what is left), "
              f"client CPU {run['cpu']:5.2f} s = {run['cpu'] / requests_per_run * 1000:.2f} ms a request; "
              f"answers {dict(sorted(run['answers'].items()))}")
    fastest = min(run["wall"] for run in bare.values())
    floor = plain["wall"] + fastest
    print(f"floor of the large scan --read-secrets: plain scan + the fastest bare reads = {floor:.2f} s = "
          f"{floor / small['wall']:.2f}x the small run, before judging any secret or doing any step of a "
          f"safe read")


if __name__ == "__main__":
    main()
