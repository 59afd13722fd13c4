"""#22 item 5 through the real az: a namespace holding more mount events than meshca reads.

2,600 FailedMount events on istiod's pods (kubelet's 'Identity not found' text of the
diag-identity-not-found scenario, one event per pod name): diagnose reads at most
MAX_EVENT_PAGES pages of them (the simulator's request log shows the continue chain stopping),
still finds the cause (MCA808), and says how far it read (MCA834) instead of cutting silently.
"""

import re

import pytest
import yaml

from azext_meshca.sources import cluster as kube_reads
from sandbox.sim.scenario import read_scenario
from tests.e2e.test_diagnose_scenarios import Diagnosis, diagnose

pytestmark = pytest.mark.e2e

EVENTS = 2600


def _scenario(path):
    """diag-identity-not-found with its one FailedMount event repeated for EVENTS pods."""
    event = read_scenario("diag-identity-not-found")["kubernetes"]["objects"][0]
    pod = event["involvedObject"]["name"]
    objects = []
    for index in range(EVENTS):
        name = f"{pod[:-5]}{index:05d}"
        objects.append(dict(event, metadata=dict(event["metadata"], name=f"{name}.17f3a9c0d1e2b3a4"),
                            involvedObject=dict(event["involvedObject"], name=name),
                            message=event["message"].replace(pod, name)))
    path.write_text(yaml.safe_dump({"description": "diag-identity-not-found with 2,600 FailedMount events",
                                    "base": "diag-identity-not-found",
                                    "kubernetes": {"objects": objects}}), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def capped(sim_factory, tmp_path_factory):
    sim = sim_factory.fresh(_scenario(tmp_path_factory.mktemp("events") / "many-events.yaml"))
    run = Diagnosis(diagnose(sim_factory.az_for(sim), "-o", "json"))
    return sim, run


def test_events_read_stops_at_the_page_cap(capped):
    sim, _ = capped
    reads = [entry for entry in sim.requests(service="kube", path_regex=r"/namespaces/aks-istio-system/events")
             if "reason=FailedMount" in str(entry.get("query"))]
    assert len(reads) == kube_reads.MAX_EVENT_PAGES, [entry.get("query") for entry in reads]


def test_the_cause_is_found_and_the_cut_is_reported(capped):
    _, run = capped
    assert "MCA808" in run.codes("error"), run.summary()
    cut = run.find("MCA834")
    read = kube_reads.MAX_EVENT_PAGES * kube_reads.PAGE_SIZE
    assert f"{read} were read" in cut["message"], cut["message"]
    # the API server's remainingItemCount: ours, plus the scenario's own events on istiod's pods
    left = re.search(r"about (\d+) more", cut["message"])
    assert left and int(left.group(1)) >= EVENTS - read, cut["message"]
