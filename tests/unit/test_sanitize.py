"""The one sanitiser (azext_meshca/output/sanitize.py): no control character of the data reaches
the terminal in any output format.

The property: control characters fed into every string field of a snapshot (golden
snapshots of the sandbox, tests/testdata/golden) come out of diagnose's result, after
the sanitiser, rendered by az's own formatters (knack.output: json, yaml, table with the
command's table transformer, tsv), with no C0/C1 control character but the newline the
format itself writes. The e2e side (tests/e2e/test_security.py) runs the real az.
"""

import copy
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from knack.output import format_json, format_table, format_tsv, format_yaml
from knack.util import CommandResultItem

from azext_meshca.output.tables import findings_table
from azext_meshca.verbs.diagnose import analyse
from azext_meshca.output.sanitize import clean, clean_text
from sandbox import golden

SCENARIOS = ["article-issue-1", "diag-spc-stale", "healthy", "diag-policy-compound-identity"]
CONTROLS = [chr(code) for code in list(range(0x20)) + list(range(0x7f, 0xa0))]
# What a format may print itself: newline between lines (and, in tsv, tab between columns).
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _poison(value, bad):
    """``value`` with ``bad`` put into every string, whatever the field."""
    if isinstance(value, str):
        return value[:1] + bad + value[1:] + bad
    if isinstance(value, dict):
        return {key: _poison(item, bad) for key, item in value.items()}
    if isinstance(value, list):
        return [_poison(item, bad) for item in value]
    return value


def _rendered(result, output):
    """What az prints for ``result`` in ``output`` format, the sanitiser applied as commands.py does."""
    cleaned = clean(result, keep_newline=output in ("json", "yaml"))
    item = CommandResultItem(cleaned, table_transformer=findings_table)
    return {"json": format_json, "yaml": format_yaml, "table": format_table, "tsv": format_tsv}[output](item)


@pytest.fixture(scope="module")
def snapshots():
    return {name: golden.load(name) for name in SCENARIOS}


@settings(max_examples=25, deadline=None)
@given(bad=st.text(alphabet=st.sampled_from(CONTROLS), min_size=1, max_size=4),
       scenario=st.sampled_from(SCENARIOS), output=st.sampled_from(["json", "yaml", "table", "tsv"]))
def test_control_characters_in_any_snapshot_field_never_reach_the_output(snapshots, bad, scenario, output):
    snapshot = _poison(copy.deepcopy(snapshots[scenario]), bad)
    result = analyse(snapshot, 30)
    text = _rendered(result, output)
    found = _FORBIDDEN.search(text)
    assert found is None, f"{found.group(0)!r} reached -o {output}"
    if output == "table":   # each row as many lines as its tallest cell, under the column names and rule
        rows = findings_table(clean(result))
        layout = sum(max(str(value).count("\n") + 1 for value in row.values()) for row in rows)
        assert len(text.splitlines()) == layout + 2, "a newline in a field broke a row"


@pytest.mark.parametrize("text, keep_newline, expected", [
    ("\x1b]52;c;ZWNobyBoaQ==\x07", False, "\\x1b]52;c;ZWNobyBoaQ==\\x07"),   # OSC 52: writes the clipboard
    ("\x1b[2J", False, "\\x1b[2J"),                                        # clears the screen
    ("a\x9b31mb", True, "a\\x9b31mb"),                                     # the one-character CSI
    ("line one\nline two\tend", True, "line one\nline two\\x09end"),
    ("line one\nline two", False, "line one\\x0aline two"),
    ("\x7f\x80\x00", False, "\\x7f\\x80\\x00"),
    ("spc-é-名前", False, "spc-é-名前"),
])
def test_clean_text_writes_controls_visibly(text, keep_newline, expected):
    assert clean_text(text, keep_newline) == expected


def test_clean_reaches_keys_and_nested_values():
    assert clean({"k\x1b": [{"v": "\x9b"}, 3, None, True]}) == {"k\\x1b": [{"v": "\\x9b"}, 3, None, True]}


def test_clean_copies_only_what_it_changes_and_never_changes_its_input():
    """A result without a control character comes back as the very same object, so az's
    output holds one copy of scan's 5,000 rows, not two (#25); where a string changes, the
    dicts and lists around it are new and the input stays as it was. Tuples become lists."""
    import copy
    plain = {"clusters": [{"cluster": "c1", "findings": [{"code": "MCA301", "days": 3, "ok": None}]}], "n": 1.5}
    assert clean(plain) is plain
    dirty = {"clusters": [{"cluster": "c\x1b1", "findings": [{"code": "MCA301"}]}, {"cluster": "c2"}], "n": 1}
    before = copy.deepcopy(dirty)
    cleaned = clean(dirty)
    assert dirty == before
    assert cleaned == {"clusters": [{"cluster": "c\\x1b1", "findings": [{"code": "MCA301"}]}, {"cluster": "c2"}], "n": 1}
    assert cleaned is not dirty and cleaned["clusters"] is not dirty["clusters"]
    assert cleaned["clusters"][1] is dirty["clusters"][1]
    assert clean({"pair": ("a", "b\n")}, keep_newline=True) == {"pair": ["a", "b\n"]}
    assert clean({"k\x9b": 1}) == {"k\\x9b": 1}


def test_the_printable_fast_path_changes_nothing_the_patterns_would_change():
    """clean_text returns a printable string untouched (#25): every character the patterns
    replace is one str.isprintable refuses, so the answer is the patterns' own, character by
    character, over the whole of Unicode."""
    patterns = {False: re.compile("[\x00-\x1f\x7f-\x9f]"), True: re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")}
    for code in range(0x110000):
        char = chr(code)
        for keep_newline, pattern in patterns.items():
            expected = pattern.sub(lambda match: f"\\x{ord(match.group(0)):02x}", "a" + char)
            assert clean_text("a" + char, keep_newline) == expected
