"""One in-cluster item table (model/incluster.py ITEMS): every other list of in-cluster
items is derived from it, and the add-on's object and namespace names are defined there
alone (issue #19, item 4)."""

import ast
import copy
import json
import os

import pytest

from azext_meshca.model import incluster, snapshot_schema
from azext_meshca.model.snapshot import from_json
from azext_meshca.rules.checks import collection
from azext_meshca.sources import cluster as kube
from azext_meshca.sources import runcommand
from azext_meshca.verbs.diagnose import analyse
from sandbox import golden
from tests.unit import test_rules

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLANTED = incluster.Item("plantedThings", "things", "example.com/v1", incluster.ISTIO_NAMESPACE, ("istiodPods",),
                         {"plantedThings": 7 * 1024, "plantedPods": 1024})


def test_every_list_of_in_cluster_items_is_the_tables():
    names = list(incluster.ITEM_NAMES)
    assert sorted(kube.KUBE_READS) == sorted(names) == sorted(kube.READERS)
    assert {name: needs for name, (_, needs) in kube.KUBE_READS.items()} == {
        item.name: item.needs for item in incluster.ITEMS}
    assert list(collection.KUBE_ITEMS) == names
    assert collection.KUBE_DEPENDS_ON == {"istiodLogs": "istiodPods", "providerLogs": "istiodPods"}
    assert list(snapshot_schema.KUBE.fields) == ["access"] + names
    assert set(runcommand.BUDGETS) == {"version"} | {section for item in incluster.ITEMS for section in item.budgets}
    assert {name for name in test_rules.SNAPSHOT_INPUTS if name.startswith("kube.")} == {
        "kube.access"} | {"kube." + name for name in names}


def test_reads_start_with_the_items_that_need_nothing():
    order = list(kube.KUBE_READS)
    for name, (_, needs) in kube.KUBE_READS.items():
        assert all(order.index(need) < order.index(name) for need in needs), name


def test_a_planted_item_shows_up_in_every_derived_list(monkeypatch):
    """One row added to the table reaches the reads, the dependencies, MCA907's names, the
    run-command budgets, the schema and the inputs a rule may declare."""
    items = incluster.ITEMS + (PLANTED,)

    def reader(_api, _revisions, _pods):
        return None
    reads = kube.kube_reads(items, readers=dict(kube.READERS, plantedThings=reader))
    assert reads["plantedThings"] == (reader, ("istiodPods",))
    assert incluster.depends_on(items)["plantedThings"] == "istiodPods"
    assert incluster.failure_subjects(items)["plantedThings"] == ("things", "aks-istio-system")
    assert incluster.run_command_budgets(items)["plantedPods"] == 1024
    assert "kube.plantedThings" in incluster.snapshot_inputs(items)
    monkeypatch.setitem(snapshot_schema.KUBE_ITEM_SHAPES, "plantedThings", snapshot_schema.ListOf(snapshot_schema.TEXT))
    fields = snapshot_schema.kube_fields(items)
    with pytest.raises(snapshot_schema.ShapeError, match="plantedThings"):
        snapshot_schema.check({"access": {"ok": True, "data": {}, "error": None},
                               "plantedThings": {"ok": True, "data": [1], "error": None}}, fields, "kube")
    with pytest.raises(KeyError):  # an item without a reader is refused, not skipped
        kube.kube_reads(items)


def test_the_reads_and_the_run_command_script_take_their_paths_from_the_table():
    """The per-revision objects' API paths come from each item's resource and group."""
    script, _ = runcommand.build_script(["asm-1-99"])
    for item, prefix in (("istiodDeployments", "istiod-"), ("secretProviderClasses", "istio-spc-"),
                         ("cronjobs", "istio-cert-validator-cronjob-")):
        entry = incluster.BY_NAME[item]
        path = f"/apis/{entry.group}/namespaces/aks-istio-system/{entry.resource}/{prefix}asm-1-99"
        assert kube.item_path(item, prefix + "asm-1-99") == path
        assert runcommand.request_key(path) in script
    assert kube.WEBHOOKS_PATH == "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"


def test_item_names_are_unique_and_needs_name_items():
    assert len(set(incluster.ITEM_NAMES)) == len(incluster.ITEM_NAMES)
    for item in incluster.ITEMS:
        assert set(item.needs) <= set(incluster.ITEM_NAMES) - {item.name}, item.name
        assert next(iter(item.budgets)) == item.name, item.name


NAMES = {incluster.ISTIO_NAMESPACE, incluster.CSI_NAMESPACE, incluster.ROOT_CONFIGMAP, incluster.CACERTS_SECRET}


def _constants(path):
    """(name, value) of each string constant a module assigns at its top level."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    yield target.id, node.value.value


def test_object_and_namespace_names_are_defined_in_one_module():
    """aks-istio-system was defined in four modules, and ROOT_CONFIGMAP meant a name in one
    and namespace/name in another: each is now one constant of model/incluster.py."""
    defined = {}
    for folder, _dirs, files in os.walk(os.path.join(REPO, "azext_meshca")):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                for constant, value in _constants(path):
                    if value in NAMES or constant == "ROOT_CONFIGMAP":
                        defined.setdefault(value, []).append((os.path.relpath(path, REPO), constant))
    assert set(defined) == NAMES
    assert all(places == [(os.path.join("azext_meshca", "model", "incluster.py"), places[0][1])]
               for places in defined.values()), defined


def test_the_cronjob_log_is_not_collected_and_an_old_snapshot_carrying_it_still_loads():
    """No rule read kube.cronjobLogs, yet failing to read it made diagnose incomplete (exit 5).
    It is no longer read; a snapshot exported before, with the item failed, loads and is
    judged as if it were absent."""
    assert "cronjobLogs" not in incluster.ITEM_NAMES and "cronjobLogs" not in kube.KUBE_READS
    assert not any(key.startswith("cronjob") and key != "cronjobs" for key in runcommand.BUDGETS)
    snapshot = golden.load("article-issue-1")
    before = analyse(copy.deepcopy(snapshot), 30)
    snapshot["kube"]["cronjobLogs"] = {"ok": False, "data": None,
                                       "error": {"status": 403, "code": "Forbidden", "reason": "403 Forbidden"}}
    after = analyse(from_json(json.dumps(snapshot)), 30)
    assert (after["status"], after["findings"]) == (before["status"], before["findings"])
