"""The upstream corpus (tests/upstream/): every artifact names its source, and the grid runs
each one through the parser (logparse), the normalisers (sources/azure.py) and the cause ->
finding mapping, asserting what it means. The last test ties every text the simulator emits
for the provider, driver, kubelet and istiod to a corpus template.
"""

import pathlib
import re

import pytest
import yaml

from azext_meshca.rules import logparse
from azext_meshca.rules.checks.cluster import CAUSE_CODES
from azext_meshca.sources import azure
from azext_meshca.model.resource_ids import scope_covers

CORPUS = pathlib.Path(__file__).resolve().parents[1] / "upstream"
ARTIFACTS = sorted(path for path in CORPUS.glob("*/*.yaml"))


def _load(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _ids(paths):
    return ["{}/{}".format(path.parent.name, path.stem) for path in paths]


def _dig(data, dotted):
    for part in dotted.split("."):
        if data is None:
            return None
        data = data[int(part)] if isinstance(data, list) else data.get(part)
    return data


def test_the_corpus_covers_every_kind():
    kinds = {_load(path)["kind"] for path in ARTIFACTS}
    assert kinds == {"provider-log", "event", "istiod-log", "arm-cluster", "arm-vault", "arm-role-assignment"}
    versions = {_load(path).get("istioVersion") for path in ARTIFACTS}
    assert {"1.%d" % minor for minor in range(18, 31)} <= versions


@pytest.mark.parametrize("path", ARTIFACTS, ids=_ids(ARTIFACTS))
def test_artifact_names_its_source(path):
    doc = _load(path)
    assert doc.get("source"), path
    assert "expect" in doc and ("text" in doc or "body" in doc), path
    source = yaml.safe_dump(doc["source"])
    assert "repo" in source or "page" in source, path


@pytest.mark.parametrize("path", ARTIFACTS, ids=_ids(ARTIFACTS))
def test_artifact_means_what_it_says(path):
    doc = _load(path)
    expect = doc["expect"]
    if doc["kind"] == "provider-log":
        results = logparse.classify_provider_log(doc["text"].splitlines())
        assert len(results) == expect["entries"], [item["evidence"] for item in results]
        _assert_cause(results[0], expect)
    elif doc["kind"] == "event":
        _assert_cause(logparse.classify_mount_error(doc["text"]), expect)
    elif doc["kind"] == "istiod-log":
        lines = doc["text"].splitlines()
        if "mode" in expect:
            assert logparse.istiod_ca_mode(lines)[0] == expect["mode"]
        if "kinds" in expect:
            kinds = [event["kind"] for event in logparse.istiod_ca_events(lines)]
            assert kinds == expect["kinds"]
    elif doc["kind"] == "arm-cluster":
        _assert_fields(azure.normalise_cluster(doc["body"]), expect)
    elif doc["kind"] == "arm-vault":
        _assert_fields(azure.normalise_vault(doc["body"]), {k: v for k, v in expect.items() if k != "finding"})
    elif doc["kind"] == "arm-role-assignment":
        item = azure.normalise_role_assignment(doc["body"])
        _assert_fields(item, expect)
        vault_id = item["scope"].split("/secrets/")[0]
        assert scope_covers(vault_id, vault_id)


def _assert_cause(result, expect):
    assert result is not None
    assert result["cause"] == expect["cause"], result["evidence"]
    assert CAUSE_CODES[result["cause"]] == expect["finding"]
    if expect.get("secretName"):
        assert result["secretName"] == expect["secretName"]


def _assert_fields(normalised, expect):
    for dotted, wanted in expect.items():
        assert _dig(normalised, dotted) == wanted, (dotted, normalised)


# --------------------------------------------------------------------------- the simulator speaks upstream

def _regex(template):
    """A Go format string as a regex: verbs match any text, the rest literally."""
    parts = re.split(r"(%[vsqxd])", template)
    return re.compile("^" + "".join(".+?" if re.fullmatch(r"%[vsqxd]", part) else re.escape(part)
                                    for part in parts) + "$", re.S)


TEMPLATES = yaml.safe_load((CORPUS / "templates.yaml").read_text(encoding="utf-8"))
_ISTIOD_PREFIX = re.compile(r"^\S+\t(?:info|warn|error|debug)\t")
# the components whose events the simulator renders (a scenario's own `objects` are its author's)
_EVENT_SOURCES = ("kubelet", "default-scheduler", "deployment-controller", "csi-secrets-store-rotation")
_KLOG_PREFIX = re.compile(r"^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d{6} +\d+ [\w.]+:\d+\] ")


def _simulated_texts(name):
    """(group, text) for every provider/istiod log entry and mount event the simulator emits."""
    from sandbox.sim.kube_model import KubeModel
    from sandbox.sim.scenario import load_world
    model = KubeModel(load_world(name))
    model._refresh()  # builds the World-dependent objects and logs  pylint: disable=protected-access
    logs = dict(model._logs)  # pylint: disable=protected-access
    logs.update(model._dynamic_logs)  # pylint: disable=protected-access
    for (_, _, container), lines in logs.items():
        if container not in ("discovery", "provider-azure-installer"):
            continue
        texts = [line for _, line in (lines() if callable(lines) else lines)]
        if container == "discovery":
            for text in texts:
                yield "istiod", _ISTIOD_PREFIX.sub("", text)
        else:
            for entry in logparse.group_log_entries(texts):
                yield "provider", _KLOG_PREFIX.sub("", entry.split("\n")[0])
    for event in model._merged(("", "events")).values():  # pylint: disable=protected-access
        if event.get("source", {}).get("component") in _EVENT_SOURCES:
            yield "events", event["message"]


SCENARIOS = sorted(path.stem for path in (pathlib.Path(__file__).resolve().parents[2]
                                          / "sandbox" / "sim" / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_simulated_text_matches_a_corpus_template(name):
    patterns = {group: [_regex(item["t"]) for item in items] for group, items in TEMPLATES.items()}
    unmatched = sorted({(group, text[:200]) for group, text in _simulated_texts(name)
                        if not any(pattern.match(text) for pattern in patterns[group])})
    assert not unmatched, unmatched
