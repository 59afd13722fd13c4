"""Each cause of issue #21's Texts part, read from texts worded differently from the corpus's
(tests/unit/mount_texts.py), through analyse() over the healthy golden snapshot. The same
cases run through the real az in tests/e2e/test_mount_texts.py."""

import pytest

from azext_meshca.verbs.diagnose import analyse
from azext_meshca.model.snapshot import from_json
from sandbox import golden
from tests.unit import mount_texts

BASE = golden.load("healthy")


def _codes(case):
    import json
    result = analyse(from_json(json.dumps(mount_texts.snapshot_with(BASE, case))), 30)
    return {item["code"] for item in result["findings"]}


@pytest.mark.parametrize("case", mount_texts.all_cases(), ids=mount_texts.ids())
def test_cause_read_from_another_wording(case):
    codes = _codes(case)
    assert case["expect"] <= codes, sorted(codes)
    assert not case["absent"] & codes, sorted(codes)


def test_every_cause_has_two_wordings():
    assert all(len(cases) == 2 for cases in mount_texts.CASES.values())
