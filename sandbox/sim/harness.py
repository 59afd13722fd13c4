"""Start every simulated service for a scenario and give az/kubectl an environment.

``start_simulator("healthy")`` returns a running ``SimulatorEnv``: ARM (+Graph and
the ``/_sim`` control paths), AAD, the managed-identity endpoint (plain http, as
App Service's is), the Kubernetes API, each on its own loopback port, and one Key
Vault data plane per vault, reached by name through the simulator's proxy trap (a port
only when a test asks for one), sharing one World, one request log and one fault
injector.  ``sim.az()`` hands back a real-``az`` runner already pointed at the
``Loop`` cloud and logged in with ``az login --identity`` (Azure/azure-cli ``src/azure-cli-core/azure/cli/core/_profile.py``).
"""

import os
import shutil
import tempfile
import time
from urllib.parse import urlsplit

from sandbox.sim import proxytrap
from sandbox.sim.arm import ArmService
from sandbox.sim.identity import AadService, ManagedIdentityService
from sandbox.sim.keyvault import KeyVaultService
from sandbox.sim.pki import server_pki
from sandbox.sim.scenario import load_world
from sandbox.sim.server import (BrokenTlsListener, ControlService, Fault, FaultInjector, RequestLog, SimServer,
                                fault_from_spec, free_port, server_tls_context)

CLOUD_NAME = "Loop"
KEYVAULT_DNS_SUFFIX = ".vault.loop.test"


def vault_uri_for(vault_name):
    """A vault's URI in the Loop cloud: its name under the cloud's Key Vault DNS suffix."""
    return f"https://{vault_name.lower()}{KEYVAULT_DNS_SUFFIX}/"


class SimulatorEnv:
    """A running simulator for one scenario (use as a context manager or call stop())."""

    def __init__(self, scenario, kube_unreachable=False, api_server_public=False):
        self.pki = server_pki()
        self.world = load_world(scenario)
        self.scenario = self.world.name
        # issue #24's rotation world: built before the Kubernetes model, which attaches to it
        self.rotation = None
        if self.world.raw.get("rotationWorld"):
            from sandbox.sim.kube_rotation import RotationWorld
            self.rotation = self.world.rotation = RotationWorld(self.world)
        self.log = RequestLog()
        self.faults = FaultInjector()
        # This simulator's own trap: it tunnels each vault's name to its listener and
        # refuses (and records in the process-wide trap) everything else.
        self.proxy = proxytrap.ProxyTrap(parent=proxytrap.global_trap())
        self.tmpdir = tempfile.mkdtemp(prefix="meshca-sim-%s-" % self.scenario)
        self.servers = {}
        self._azs = []
        self._kube_url_override = None
        self._broken_listeners = []
        tls = server_tls_context(self.pki.cert_file, self.pki.key_file)
        self._build_servers(tls, kube_unreachable)
        if self.world.raw.get("privateApiServer") and not api_server_public:
            # A private API server: the operator's kubeconfig names an address nobody
            # answers, while the run-command pod reaches the real one (sandbox/sim/runcommand.py).
            self._kube_url_override = f"https://127.0.0.1:{free_port()}"
        for spec in self.world.faults:
            self._add_scenario_fault(spec)
        for server in self.servers.values():
            server.start()
        if self.rotation is not None:
            self.rotation.start()

    # ------------------------------------------------------------------ servers

    def _build_servers(self, tls, kube_unreachable):
        world = self.world
        control = ControlService(self.log, self.faults, world)
        self._kube_port = None
        if kube_unreachable or self._scenario_says_kube_unreachable():
            self._kube_port = free_port()
        else:
            self.servers["kube"] = SimServer("kube", self._kube_service(), self.log, self.faults, tls)
        self.servers["arm"] = SimServer("arm", ArmService(world, lambda: self.kube_url, self.pki.ca_pem,
                                                          in_cluster_kube_url=self._in_cluster_kube_url),
                                        self.log, self.faults, tls, control=control)
        self.servers["aad"] = SimServer("aad", AadService(world, lambda: self.aad_url), self.log, self.faults, tls)
        self.servers["msi"] = SimServer("msi", ManagedIdentityService(world), self.log, self.faults, None)
        for key, vault in world.vaults.items():
            name = "kv:" + vault["name"]
            server = SimServer(name, None, self.log, self.faults, tls)
            # Reached by name, https://<name>.vault.loop.test/, as a vault in Azure is
            # (https://<name>.vault.azure.net/): the trap serves a CONNECT to that host with
            # this server, in place, so a vault binds no port of its own unless a test asks
            # for one (``server.url``: sim.point_vault_at).
            uri = vault_uri_for(vault["name"])
            server.service = KeyVaultService(world, vault["name"], lambda: self.aad_url, lambda u=uri: u)
            vault["properties"]["vaultUri"] = uri
            self.proxy.add_route(urlsplit(uri).hostname + ":443", server)
            self.servers[name] = server
        world.endpoints.update(arm=self.arm_url, aad=self.aad_url, msi=self.msi_url, kube=self.kube_url)

    def _kube_service(self):
        try:
            from sandbox.sim.kube import KubeApi  # the Kubernetes side's handler
            return KubeApi(self.world)
        except ImportError as exc:  # keeps the Azure side usable while kube.py is incomplete
            return _UnavailableKube(str(exc))

    def _scenario_says_kube_unreachable(self):
        return any(spec.get("kind") == "unreachable" for spec in self.world.faults)

    def _add_scenario_fault(self, spec):
        if spec.get("kind") == "unreachable":
            return
        self.faults.add(fault_from_spec(spec))

    # ------------------------------------------------------------------ urls

    @property
    def arm_url(self):
        return self.servers["arm"].url

    @property
    def aad_url(self):
        return self.servers["aad"].url

    @property
    def msi_url(self):
        return self.servers["msi"].url

    @property
    def kube_url(self):
        if self._kube_url_override:
            return self._kube_url_override
        if "kube" in self.servers:
            return self.servers["kube"].url
        return "https://127.0.0.1:%d" % self._kube_port

    def _in_cluster_kube_url(self):
        """Where a pod in the cluster reaches the API server: the real listener, whatever
        the operator's kubeconfig says (None when the scenario has no API server at all)."""
        return self.servers["kube"].url if "kube" in self.servers else self.kube_url

    def vault_url(self, vault_name):
        return self.world.vault_uri(vault_name)

    # ------------------------------------------------------------------ environment

    @property
    def env(self):
        """Variables every az/kubectl/python client process needs to reach only the simulator."""
        return {
            "REQUESTS_CA_BUNDLE": self.pki.ca_file,
            "IDENTITY_ENDPOINT": self.msi_url + "/msi/token",
            "IDENTITY_HEADER": "sim-identity-header",
            "AZURE_CORE_COLLECT_TELEMETRY": "false",
            "AZURE_CORE_INSTANCE_DISCOVERY": "false",
            "HTTPS_PROXY": self.proxy.url,
            "HTTP_PROXY": self.proxy.url,
            "https_proxy": self.proxy.url,
            "http_proxy": self.proxy.url,
            # .invalid (RFC 6761) never resolves: the "name does not resolve" fault uses it,
            # and it must fail as a lookup, not reach the proxy trap.
            "NO_PROXY": "127.0.0.1,localhost,.invalid",
            "no_proxy": "127.0.0.1,localhost,.invalid",
        }

    def kubeconfig(self, path=None, token=None):
        """Write a kubeconfig for the simulated cluster (what get-credentials would give)."""
        from sandbox.sim.kube import build_kubeconfig
        path = path or os.path.join(self.tmpdir, "kubeconfig")
        text = build_kubeconfig(self.kube_url, self.pki.ca_pem, token=token or self.world.kube_user_token,
                                cluster_name=self.world.cluster["name"])
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return path

    def cloud_register_args(self):
        arm = self.arm_url + "/"
        return ["cloud", "register", "-n", CLOUD_NAME,
                "--endpoint-resource-manager", arm,
                "--endpoint-active-directory", self.aad_url + "/",
                "--endpoint-active-directory-resource-id", arm,
                "--endpoint-management", arm,
                "--endpoint-microsoft-graph-resource-id", arm,
                "--suffix-keyvault-dns", KEYVAULT_DNS_SUFFIX,
                "--skip-endpoint-discovery"]

    def az(self, name=None, with_extension=True, login=True):
        """A real-az runner (sandbox.azcli.AzCli) pointed at this simulator and logged in.

        with_extension=False skips building/installing the meshca wheel (fidelity
        tests only need built-in commands).
        """
        from sandbox import azcli
        name = name or "%s-%d" % (self.scenario, len(self._azs))
        if with_extension:
            runner = azcli.new_az("%s-%d" % (name, int(time.time() * 1000)), extra_env=self.env)
        else:
            root = os.path.join(self.tmpdir, "az-" + name)
            runner = azcli.AzCli(os.path.join(root, "config"), os.path.join(root, "extensions"), self.env)
        self._azs.append(runner)
        for args in (self.cloud_register_args(), ["cloud", "set", "-n", CLOUD_NAME]):
            _checked(runner, args)
        if login:
            _checked(runner, ["login", "--identity", "-o", "none"])
        return runner

    # ------------------------------------------------------------------ faults and hooks

    def add_fault(self, kind, **spec):
        """Inject a fault at run time (see sandbox.sim.server.Fault)."""
        if "method" in spec:
            spec["method"] = spec["method"].upper()
        return self.faults.add(Fault(kind=kind, **spec))

    def before_next(self, method, path_regex, action, service="arm", count=1):
        """Run ``action(request)`` before the next matching request is answered.

        Used to prove a concurrently-added access policy survives our PUT.
        """
        return self.faults.add(Fault(kind="hook", service=service, method=method.upper(), path=path_regex,
                                     count=count, action=action))

    def broken_url(self, how, name="service"):
        """A URL where a connection fails before HTTP: ``how`` = "tls" (a listener that
        answers with bytes that are not TLS) or "dns" (a host under .invalid, which no
        resolver answers; the tests' network namespace has no DNS at all)."""
        if how == "tls":
            listener = BrokenTlsListener()
            self._broken_listeners.append(listener)
            return listener.url
        if how == "dns":
            return "https://%s.meshca.invalid:%d" % (name, free_port())
        raise ValueError("unknown connection fault %r" % how)

    def point_kube_at(self, url):
        """The kubeconfig ARM hands out names ``url`` as the API server (None: the real one)."""
        self._kube_url_override = url

    def point_vault_at(self, vault_name, url):
        """ARM reports ``url`` as the vault's vaultUri (None: the simulated data plane)."""
        vault = self.world.vaults[vault_name.lower()] if vault_name.lower() in self.world.vaults else next(
            item for item in self.world.vaults.values() if item["name"].lower() == vault_name.lower())
        vault["properties"]["vaultUri"] = (url.rstrip("/") + "/") if url else vault_uri_for(vault["name"])

    def break_vault(self, vault_name, how):
        """Connections to the vault's own address, ``https://<name>.vault.loop.test/``, fail
        before HTTP as ``how`` says: "tls" (tunnelled to a listener that does not speak TLS),
        "dns" (the proxy answers as for a name that does not resolve); None restores them.
        Faults at the vault's own address, since meshca sends nothing to any other
        (azext_meshca/sources/hostpin.py)."""
        vault = next(item for item in self.world.vaults.values() if item["name"].lower() == vault_name.lower())
        authority = urlsplit(vault_uri_for(vault["name"])).hostname + ":443"
        if how is None:
            self.proxy.add_route(authority, self.servers["kv:" + vault["name"]])
        elif how == "tls":
            listener = BrokenTlsListener()
            self._broken_listeners.append(listener)
            self.proxy.add_route(authority, urlsplit(listener.url).port)
        elif how == "dns":
            self.proxy.remove_route(authority)
        else:
            raise ValueError(f"unknown connection fault {how!r}")

    def make_kube_unreachable(self):
        """Close the Kubernetes API's listening socket: new connections are refused."""
        server = self.servers.pop("kube", None)
        if server is not None:
            self._kube_port = server.port
            server.stop()

    def requests(self, service=None, method=None, path_regex=None):
        return self.log.entries(service=service, method=method, path_regex=path_regex)

    # ------------------------------------------------------------------ lifecycle

    def stop(self):
        if self.rotation is not None:
            self.rotation.stop()
        self.faults.shutdown_event.set()
        for listener in self._broken_listeners:
            listener.stop()
        self._broken_listeners.clear()
        for server in self.servers.values():
            server.stop()
        self.servers.clear()
        self.proxy.close()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class _UnavailableKube:
    """Answers 503 when the Kubernetes side cannot be imported (names the reason)."""

    def __init__(self, reason):
        self.reason = reason

    def handle(self, req):
        from sandbox.sim.server import Response
        return Response(503, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 503,
                              "message": "simulated Kubernetes API unavailable: " + self.reason})


def _checked(runner, args):
    proc = runner.run(*args)
    if proc.returncode != 0:
        raise RuntimeError(f"az {' '.join(args[:3])} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc


def start_simulator(scenario, **options):
    """Start all services for ``scenario`` (a name under sandbox/sim/scenarios or a path)."""
    return SimulatorEnv(scenario, **options)
