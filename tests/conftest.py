"""Session fixtures: loopback simulators per scenario and real-az runners bound to them.

Usage in a test:

    @pytest.mark.scenario("article-issue-1")          # default: "healthy"
    def test_x(sim, az):                               # shared sim (do not mutate)
        proc = az.run("aks", "show", "-g", "myResourceGroup", "-n", "myAKSCluster")

    @pytest.mark.scenario("article-issue-1", fresh=True)   # private sim: writes allowed
    def test_fix(sim, az): ...

    def test_y(sim_factory):
        with sim_factory.fresh("healthy-rbac") as sim:     # ad-hoc, stopped on exit
            az = sim.az(with_extension=False)

``az`` has meshca installed (built wheel); ``az_plain`` has only built-in commands
(fidelity tests use it: no wheel build).  ``run_az(*args)`` is ``az.run``.
At session end, any attempt to reach the network through the proxy trap fails the run.
"""

import os

import pytest

from sandbox.sim import proxytrap


def _hypothesis_profiles():
    """Property tests (tests/unit/test_properties.py) run a bounded number of examples.

    "ci" (the default) keeps the suite fast and reproducible: derandomised, no example
    database. "nightly" (MESHCA_HYPOTHESIS_PROFILE=nightly) explores 20 times as many.
    No per-example deadline: timing is the bench's job, never a test's; inputs are
    bounded by construction (caps in azext_meshca/model/inputs.py and model/certs.py) instead.
    """
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:  # only the property tests need it
        return
    common = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
    settings.register_profile("ci", max_examples=CI_EXAMPLES, derandomize=True, database=None, **common)
    settings.register_profile("nightly", max_examples=CI_EXAMPLES * 20, **common)
    settings.load_profile(os.environ.get("MESHCA_HYPOTHESIS_PROFILE", "ci"))


# Examples per property test in CI; a test may ask for fewer with @settings(max_examples=...).
CI_EXAMPLES = 150
_hypothesis_profiles()


def pytest_configure(config):
    config.addinivalue_line("markers", "scenario(name, fresh=False): simulator scenario for the sim/az fixtures")


class SimFactory:
    """Starts simulators on demand; shared ones are cached per scenario for the session."""

    def __init__(self):
        self._shared = {}
        self._all = []
        self._az_cache = {}

    def shared(self, name):
        """One simulator per scenario for the whole session (tests must not mutate it)."""
        if name not in self._shared:
            self._shared[name] = self.fresh(name)
        return self._shared[name]

    def fresh(self, name, **options):
        """A private simulator; stopped at session end (or earlier by the caller)."""
        from sandbox.sim.harness import start_simulator
        sim = start_simulator(name, **options)
        self._all.append(sim)
        return sim

    def az_for(self, sim, with_extension=True):
        """A logged-in az for ``sim``, cached so login happens once per sim and kind."""
        key = (id(sim), with_extension)
        if key not in self._az_cache:
            self._az_cache[key] = sim.az(with_extension=with_extension)
        return self._az_cache[key]

    def stop_all(self):
        for sim in self._all:
            sim.stop()
        self._all.clear()
        self._shared.clear()
        self._az_cache.clear()


@pytest.fixture(scope="session")
def sim_factory():
    factory = SimFactory()
    yield factory
    factory.stop_all()


def _scenario_marker(request):
    marker = request.node.get_closest_marker("scenario")
    if marker is None:
        return getattr(request, "param", None) or "healthy", False
    name = marker.args[0] if marker.args else marker.kwargs.get("name", "healthy")
    return name, bool(marker.kwargs.get("fresh", False))


@pytest.fixture
def sim(request, sim_factory):
    """The simulator named by @pytest.mark.scenario (or an indirect param); default healthy."""
    name, fresh = _scenario_marker(request)
    if fresh:
        simulator = sim_factory.fresh(name)
        yield simulator
        simulator.stop()
    else:
        yield sim_factory.shared(name)


@pytest.fixture
def az(sim, sim_factory):
    """Real az with meshca installed, logged in to ``sim`` (AzCli: .run(*args), .json(*args))."""
    return sim_factory.az_for(sim, with_extension=True)


@pytest.fixture
def az_plain(sim, sim_factory):
    """Real az with built-in commands only, logged in to ``sim``."""
    return sim_factory.az_for(sim, with_extension=False)


@pytest.fixture
def run_az(az):
    return az.run


# Proxy-trap hits reported by xdist workers (pytest -n N), gathered by the controller.
_WORKER_TRAP_HITS = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist controller: keep the hits a worker's trap saw (sent in its workeroutput)."""
    _WORKER_TRAP_HITS.extend(getattr(node, "workeroutput", {}).get("proxytrap", []))


def pytest_sessionfinish(session, exitstatus):
    """No test may reach past loopback: every proxy-trap hit fails the run.

    Under xdist each worker has its own trap: a worker hands its hits to the controller
    (workeroutput), which fails the run, since a worker's exit status is not the run's.
    """
    hits = proxytrap.attempts()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["proxytrap"] = hits
        return
    hits = hits + _WORKER_TRAP_HITS
    if hits:
        lines = "\n".join("  " + hit["line"] for hit in hits[:20])
        message = f"PROXY TRAP: {len(hits)} outbound attempt(s) during the tests:\n{lines}"
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(message, red=True)
        else:
            print(message)
        session.exitstatus = 1
