"""Issue #21's Texts part through the real az: every cause read from texts worded differently
from the corpus's (tests/unit/mount_texts.py, two wordings per cause, each naming its source),
placed where they appear in a cluster (a FailedMount event on istiod's pod, or the provider's
log) in the healthy golden snapshot and judged by ``az aks mesh ca diagnose --from-snapshot``.

Offline: the snapshot holds everything, so no simulator runs; the runs go a few at a time.
"""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from sandbox import golden
from sandbox.azcli import new_az
from tests.e2e.test_diagnose_snapshot import from_snapshot_json
from tests.unit import mount_texts

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    az = new_az("mount-texts")
    base = golden.load("healthy")
    root = tmp_path_factory.mktemp("mount-texts")
    paths = {}
    for name, case in zip(mount_texts.ids(), mount_texts.all_cases()):
        paths[name] = root / f"{name}.json"
        paths[name].write_text(json.dumps(mount_texts.snapshot_with(base, case)), encoding="utf-8")

    def run(name):
        return name, from_snapshot_json(az, paths[name])

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(pool.map(run, paths))


@pytest.mark.parametrize("cause", sorted(mount_texts.CASES))
def test_cause_in_two_wordings(runs, cause):
    for index, case in enumerate(mount_texts.CASES[cause]):
        run = runs[f"{cause}-{index + 1}"]
        assert case["expect"] <= run.codes(), (index + 1, run.summary())
        assert not case["absent"] & run.codes(), (index + 1, run.summary())
