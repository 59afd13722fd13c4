"""scan's pure parts: the KQL it sends (as the simulator evaluates it), the simulator's
Resource Graph answers, row shaping, ordering, exit statuses and quota waits."""

import datetime
import enum
import json
import types

import pytest

from azext_meshca.verbs import scan
from azext_meshca.rules.catalog import finding
from azext_meshca.sources import fleet as fleet_source
from azext_meshca.sources import deadline
from azext_meshca.sources import resourcegraph as graph
from sandbox.sim import kql
from sandbox.sim.resourcegraph import ResourceGraphService
from sandbox.sim.scenario import World
from sandbox.sim.server import Request, Response

SUB = "00000000-0000-0000-0000-000000000001"
OPERATOR = "11111111-1111-1111-1111-111111111111"
VAULT_ID = "/subscriptions/%s/resourceGroups/kv-rg/providers/Microsoft.KeyVault/vaults/kv1" % SUB


def _world(**extra):
    data = {"subscription": SUB, "vaults": [{"name": "kv1", "resourceGroup": "kv-rg"}],
            "cluster": {"name": "c1", "properties": {
                "serviceMeshProfile": {"mode": "Istio", "istio": {"revisions": ["asm-1-24"], "certificateAuthority": {
                    "plugin": {"keyVault": "kv1", "certObjectName": "ca-cert", "keyObjectName": "ca-key",
                               "rootCertObjectName": "root-cert", "certChainObjectName": "cert-chain"}}}},
                "addonProfiles": {"azureKeyvaultSecretsProvider": {"enabled": True, "config": {},
                                                                   "identity": {"objectId": "AAAA"}}}}},
            "roleAssignments": [{"scope": "vault:kv1", "principalId": "aaaa", "role": "Key Vault Secrets User"}]}
    data.update(extra)
    return World(data)


def _ask(service, query, subscriptions=(SUB,), **options):
    body = {"subscriptions": list(subscriptions), "query": query, "options": options}
    request = Request("POST", "/providers/Microsoft.ResourceGraph/resources", {}, {}, json.dumps(body).encode(),
                      principal=OPERATOR)
    return service.query(request)


def test_the_queries_scan_sends_select_what_it_needs():
    service = ResourceGraphService(_world())
    clusters = _ask(service, graph.CLUSTERS).body["data"]
    assert [row["name"] for row in clusters] == ["c1"]
    assert clusters[0]["serviceMeshProfile"]["istio"]["revisions"] == ["asm-1-24"]
    vaults = _ask(service, graph.VAULTS).body["data"]
    assert [row["name"] for row in vaults] == ["kv1"] and vaults[0]["vaultUri"]
    assert _ask(service, graph.VAULTS_BY_ID.format(ids=graph.kql_list([VAULT_ID.upper()]))).body["data"] == vaults
    roles = _ask(service, graph.ROLE_ASSIGNMENTS).body["data"]
    assert [(row["scope"], row["principalId"]) for row in roles] == [(VAULT_ID, "aaaa")]
    by_id = _ask(service, graph.ROLE_ASSIGNMENTS_BY_ID.format(ids=graph.kql_list(["AAAA"]))).body["data"]
    assert by_id == roles
    grouped = _ask(service, graph.ROLE_ASSIGNMENTS_BY_SUBSCRIPTION).body
    assert [row["subscriptionId"] for row in grouped["data"]] == [SUB]
    assert graph.grouped_assignments(grouped["data"]) == roles
    assert _ask(service, graph.SUBSCRIPTIONS).body["data"] == [{"subscriptionId": SUB}]


def test_a_query_outside_the_subset_gets_resource_graphs_400():
    answer = _ask(ResourceGraphService(_world()), "resources | top 5 by name")
    assert answer.status == 400
    details = answer.body["error"]["details"]
    assert answer.body["error"]["code"] == "BadRequest"
    assert details[0]["code"] == "InvalidQuery" and details[1]["token"] == "top"


@pytest.mark.parametrize("query", ["resources | where foo(x) == 1", "resources | where name ==",
                                   "resources | join kind=rightanti (resources) on id",
                                   "resources | mv-expand properties", "nosuchtable",
                                   "resources | summarize count() by type", "resources | summarize n = dcount(id) by type",
                                   "resources | extend b = bag_pack('odd')"])
def test_kql_refuses_what_it_does_not_implement(query):
    with pytest.raises(kql.KqlError):
        kql.run(query, {"resources": []})


@pytest.mark.parametrize("query", [graph.CLUSTERS, graph.VAULTS, graph.ROLE_ASSIGNMENTS,
                                   graph.ROLE_ASSIGNMENTS_BY_SUBSCRIPTION, graph.VAULTS_BY_ID,
                                   graph.ROLE_ASSIGNMENTS_BY_ID, graph.ROLE_DEFINITIONS, graph.SUBSCRIPTIONS])
def test_every_query_stays_within_resource_graphs_join_limits(query):
    table, joined = kql.joins(query.format(ids="'x'"))
    assert len(joined) <= graph.MAX_JOINS
    assert sum(1 for other in joined if other != table) <= graph.MAX_CROSS_TABLE_JOINS


def test_fleet_wide_queries_carry_no_id_list():
    """Their text is the same for 10 clusters or 10,000: no `in` list grows with the fleet."""
    for query in (graph.CLUSTERS, graph.VAULTS, graph.ROLE_ASSIGNMENTS, graph.ROLE_ASSIGNMENTS_BY_SUBSCRIPTION):
        assert "{ids}" not in query and " in~ (" not in query


def test_kql_join_flavors_follow_kusto():
    tables = {"l": [{"k": 1, "a": "x"}, {"k": 1, "a": "y"}, {"k": 2, "a": "z"}, {"a": "no key"}],
              "r": [{"k": 1, "b": "p"}, {"k": 1, "b": "q"}]}
    inner = kql.run("l | join kind=inner (r) on k", tables)
    assert [(row["a"], row["b"], row["k1"]) for row in inner] == [("x", "p", 1), ("x", "q", 1), ("y", "p", 1),
                                                                  ("y", "q", 1)]
    assert [(row["a"], row["b"]) for row in kql.run("l | join (r) on k", tables)] == [("x", "p"), ("x", "q")]
    outer = kql.run("l | join kind=leftouter (r | distinct k) on k", tables)
    assert [(row["a"], row["k1"]) for row in outer] == [("x", 1), ("y", 1), ("z", None), ("no key", None)]


def test_pages_follow_the_skip_token_and_quota_headers_count_down():
    world = _world(clusters=[{"name": "c%d" % index} for index in range(5)], resourceGraph={"maxPageSize": 2})
    service = ResourceGraphService(world)
    query = "resources | where type =~ 'microsoft.containerservice/managedclusters' | project name"
    first = _ask(service, query, **{"$top": 1000})
    assert (first.body["totalRecords"], first.body["count"], first.body["resultTruncated"]) == (5, 2, "false")
    second = _ask(service, query, **{"$skipToken": first.body["$skipToken"]})
    third = _ask(service, query, **{"$skipToken": second.body["$skipToken"]})
    assert "$skipToken" not in third.body
    names = [row["name"] for page in (first, second, third) for row in page.body["data"]]
    assert names == ["c%d" % index for index in range(5)]
    assert [int(page.headers["x-ms-user-quota-remaining"]) for page in (first, second, third)] == [14, 13, 12]


def test_an_answer_is_the_world_when_asked_and_sent_as_json_of_its_body():
    """The simulator serialises an answer once, under the World's lock (#25): a writer that
    changes the world after the question does not change the answer, the bytes are the JSON
    of the body as a plain Response would send it, and an edit to the body is what is sent."""
    world = _world()
    answer = _ask(ResourceGraphService(world), graph.VAULTS)
    world.add_access_policy("kv1", "bbbb")          # after the answer: must not show in it
    sent, headers = answer.encoded()
    assert "bbbb" not in sent.decode()
    assert (sent, headers) == Response(answer.status, json.loads(sent), answer.headers).encoded()
    assert answer.body["data"][0]["name"] == "kv1"
    answer.body["totalRecords"] += 1
    assert json.loads(answer.encoded()[0])["totalRecords"] == json.loads(sent)["totalRecords"] + 1


def test_a_query_never_changes_the_rows_it_is_given_and_answers_with_its_own():
    table = [{"a": 1, "bag": {"k": "v"}}, {"a": 2}]
    tables = {"t": table}
    for query in ("t", "t | where a == 1", "t | order by a asc", "t | where a == 1 | extend b = a"):
        for row in kql.run(query, tables):
            row["changed"] = True
    assert table == [{"a": 1, "bag": {"k": "v"}}, {"a": 2}]


def test_a_forbidden_subscription_is_left_out_without_an_error():
    world = _world(subscriptions=[{"id": SUB, "forbidden": True}])
    answer = _ask(ResourceGraphService(world), graph.CLUSTERS)
    assert answer.status == 200 and answer.body["data"] == []


class _Clock:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_a_spent_quota_waits_for_the_reset_but_never_past_the_deadline():
    clock = _Clock()
    quota = graph.ResourceGraph(client=None, deadline=deadline.Deadline(10, clock=clock), sleep=clock.sleep,
                                clock=clock)._quota
    quota.acquire()                 # nothing known yet: one request may go
    quota.release({"x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": "00:00:03"})
    quota.acquire()
    assert clock.slept == [3 + graph.RESET_SLACK_SECONDS]
    quota.release({"X-Ms-User-Quota-Remaining": "0", "x-ms-user-quota-resets-after": "00:01:00"})
    with pytest.raises(graph.GraphError) as raised:
        quota.acquire()
    assert raised.value.error["status"] == 429
    quota.in_flight += 1
    with pytest.raises(graph.GraphError):
        quota.throttled(600)
    assert quota.in_flight == 0


def test_requests_in_flight_count_against_the_quota_the_answers_announce():
    clock = _Clock()
    quota = graph.ResourceGraph(client=None, deadline=deadline.Deadline(60, clock=clock), sleep=clock.sleep,
                                clock=clock)._quota
    quota.acquire()
    quota.release({"x-ms-user-quota-remaining": "3", "x-ms-user-quota-resets-after": "00:00:04"})
    for _ in range(3):              # three may go at once, then none until the window resets
        quota.acquire()
    assert (quota.in_flight, clock.slept) == (3, [])
    quota.release({"x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": "00:00:04"})
    quota.release({"x-ms-user-quota-remaining": "2", "x-ms-user-quota-resets-after": "00:00:04"})   # sent earlier
    assert quota.remaining == 0     # an answer that was overtaken does not raise it again
    quota.release()
    quota.acquire()                 # waits for the reset, then asks one at a time
    assert clock.slept == [4 + graph.RESET_SLACK_SECONDS] and quota.remaining is None and quota.in_flight == 1


def test_kql_list_keeps_only_id_shaped_values():
    assert graph.kql_list(["/Subscriptions/A/x", "b' or 1==1 //", None]) == "'/subscriptions/a/x'"


def _row(status, days=None, name="c"):
    return {"status": status, "expiresInDays": days, "subscriptionId": "s", "resourceGroup": "g", "cluster": name,
            "findings": []}


def test_rows_sort_by_status_then_expiry():
    rows = [_row("passed", 300, "a"), _row("failed", None, "b"), _row("warnings", 10, "c"), _row("failed", 5, "d"),
            _row("incomplete", None, "e")]
    assert [row["cluster"] for row in scan.sort_rows(rows)] == ["d", "b", "e", "c", "a"]


def _result(*codes, gaps=()):
    rows = [dict(_row("x"), findings=[finding(code, "o", **_params(code)) for code in codes])]
    return {"clusters": rows, "findings": list(gaps), "status": scan.scan_status(
        [dict(rows[0], status=_status(codes))], list(gaps))}


def _params(code):
    from azext_meshca.rules.catalog import CATALOG, template_fields
    entry = CATALOG[code]
    return {name: "x" for name in template_fields(entry.message) | template_fields(entry.remedy)}


def _status(codes):
    from azext_meshca.output.report import overall_status
    return overall_status([finding(code, "o", **_params(code)) for code in codes])


@pytest.mark.parametrize("codes,threshold,expected", [
    (("MCA401",), None, 4),
    (("MCA302",), None, 0),
    (("MCA302",), "warning", 4),
    (("MCA908",), "info", 0),            # a collection note is not a problem at any threshold
    (("MCA902",), "warning", 5),         # could not check is 5, not 4
    (("MCA902", "MCA401"), None, 4),
])
def test_exit_status_follows_the_threshold(codes, threshold, expected):
    assert scan.threshold_exit(_result(*codes), threshold) == expected


def test_a_subscription_not_scanned_makes_the_scan_incomplete():
    fleet = fleet_source.Fleet()
    fleet.gaps = [fleet_source._subscription_gap("MCA910", "s", "r"),  # pylint: disable=protected-access
                  fleet_source._subscription_gap("MCA911", "t", "429")]  # pylint: disable=protected-access
    gaps = scan.gap_findings(fleet, 30)
    assert [(item["code"], item["subscriptionId"]) for item in gaps] == [("MCA910", "s"), ("MCA911", "t")]
    result = _result("MCA908", gaps=gaps)
    assert result["status"] == "incomplete"
    assert scan.threshold_exit(result, None) == 5


def test_first_root_cause_skips_explained_symptoms():
    result = {"findings": [{"code": "MCA801", "severity": "error", "explainedBy": ["MCA401"]},
                           {"code": "MCA401", "severity": "error"}, {"code": "MCA302", "severity": "warning"}]}
    assert scan.first_root_cause(result) == "MCA401"
    assert scan.first_root_cause({"findings": [{"code": "MCA302", "severity": "warning"}]}) == "MCA302"


def test_a_secret_scope_assignment_reaches_the_cluster_snapshot_as_in_diagnose():
    """diagnose keeps assignments at the vault, above it and at a secret's own scope
    (model/roles.py assignments_for); scan's per-cluster snapshot must keep the same ones."""
    vault_id = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
                "Microsoft.KeyVault/vaults/vault1")
    principal = "22222222-2222-2222-2222-222222222222"
    fleet = fleet_source.Fleet()
    fleet.assignments = [
        {"principalId": principal, "scope": vault_id + "/secrets/ca-key", "roleDefinitionId": "x"},
        {"principalId": principal, "scope": "/subscriptions/00000000-0000-0000-0000-000000000001", "roleDefinitionId": "y"},
        {"principalId": principal, "scope": vault_id.replace("/vault1", "/vault2"), "roleDefinitionId": "z"},
    ]
    cluster = {"plugin": {"keyVaultId": vault_id}, "csiAddon": {"identity": {"objectId": principal}}}
    row = {"subscriptionId": "00000000-0000-0000-0000-000000000001", "resourceGroup": "rg", "name": "c"}
    snapshot = fleet_source.cluster_snapshot(fleet, row, cluster, 30)
    scopes = [item["scope"] for item in snapshot["roleAssignments"]["data"]]
    assert scopes == [vault_id + "/secrets/ca-key", "/subscriptions/00000000-0000-0000-0000-000000000001"]


def test_shared_certificate_rules_give_every_golden_the_verdict_it_gets_alone():
    """runner.run_rules with ``shared`` (scan's judging) against without, over every golden
    snapshot, each judged twice with one memo (the second time from the memo)."""
    import copy
    from azext_meshca.verbs.diagnose import analyse
    from sandbox import golden
    shared = {}

    def verdict(result):
        return result["status"], result["findings"], result["certificates"], result["summary"]["notRun"]
    for name in golden.scenarios():
        snapshot = golden.load(name)
        alone = verdict(analyse(copy.deepcopy(snapshot), 30))
        assert verdict(analyse(copy.deepcopy(snapshot), 30, shared=shared)) == alone, name
        assert verdict(analyse(copy.deepcopy(snapshot), 30, shared=shared)) == alone, name
    assert shared


def test_certificate_rules_run_once_per_object_set():
    from azext_meshca.rules import runner
    from sandbox import golden
    snapshot = golden.load("healthy")
    shared, added = {}, []
    for _ in range(5):
        before = len(shared)
        runner.run_rules(snapshot, warn_days=30, shared=shared)
        added.append(len(shared) - before)
    assert added == [1, 0, 0, 0, 0]
    other = json.loads(json.dumps(snapshot))      # one certificate value changed: judged on its own
    other["secrets"]["root-cert"]["data"]["value"] += "\n"
    runner.run_rules(other, warn_days=30, shared=shared)
    assert len(shared) == 2


def test_the_simulated_vaults_rbac_follows_every_change_to_the_assignments():
    """The simulator answers Key Vault's RBAC check from an index by principal (#25); the
    answer must follow role assignments added, removed and replaced as the whole list would."""
    world = _world(vaults=[{"name": "kv1", "resourceGroup": "kv-rg", "enableRbacAuthorization": True}])
    assert world.principal_can_get_secret("kv1", "AAAA", "root-cert") is None
    world.role_assignments[:] = []
    assert world.principal_can_get_secret("kv1", "aaaa", "root-cert").inner_code == "ForbiddenByRbac"
    world.role_assignments.append(world.make_assignment(VAULT_ID + "/secrets/root-cert", "n1",
                                                        "4633458b-17de-408a-b874-0445c86b69e6", "aaaa", "User"))
    assert world.principal_can_get_secret("kv1", "aaaa", "root-cert") is None
    assert world.principal_can_get_secret("kv1", "aaaa", "ca-key").inner_code == "ForbiddenByRbac"
    world.role_assignments[0] = world.make_assignment(VAULT_ID + "/secrets/root-cert", "n1",
                                                      "4633458b-17de-408a-b874-0445c86b69e6", "bbbb", "User")
    assert world.principal_can_get_secret("kv1", "aaaa", "root-cert").inner_code == "ForbiddenByRbac"
    assert world.principal_can_get_secret("kv1", "BBBB", "root-cert") is None


# --------------------------------------------------------------------------- paging and grouping, client and simulator

SUB2 = "00000000-0000-0000-0000-000000000002"


class _Answer:
    """The parts of azure-core's HttpResponse that ResourceGraph reads, from a simulator Response."""

    def __init__(self, response):
        self.status_code, self.headers, self.reason = response.status, response.headers, "Reason"
        self.content = json.dumps(response.body).encode()

    def read(self):
        return self.content


class _SimClient:   # pylint: disable=too-few-public-methods
    """The generated ResourceGraphClient's raw-request entry point, answered in-process by the
    simulator's Resource Graph (sandbox/sim/resourcegraph.py): the options ResourceGraph sends
    are the ones the simulator pages by."""

    class _config:   # pylint: disable=invalid-name,too-few-public-methods
        api_version = "2021-03-01"

    def __init__(self, service):
        self.service, self.bodies = service, []

    def _send_request(self, request, **_):
        content = request.content if isinstance(request.content, bytes) else request.content.encode()
        self.bodies.append(json.loads(content))
        return _Answer(self.service.query(Request("POST", "/providers/Microsoft.ResourceGraph/resources", {}, {},
                                                  content, principal=OPERATOR)))


def _fleet_world(clusters, **extra):
    """_world with ``clusters`` plug-in CA clusters like its one."""
    properties = _world().cluster["properties"]
    return _world(clusters=[{"name": f"c{index:02d}", "properties": properties} for index in range(clusters)], **extra)


def test_an_ordered_querys_later_pages_go_at_once_by_skip():
    client = _SimClient(ResourceGraphService(_fleet_world(25, resourceGraph={"maxPageSize": 10})))
    rg = graph.ResourceGraph(client)
    rows = rg.query(graph.CLUSTERS, [SUB])
    assert [row["name"] for row in rows] == [f"c{index:02d}" for index in range(25)]
    options = sorted((body["options"].get("$skip", 0), body["options"]["$top"]) for body in client.bodies)
    assert options == [(0, graph.PAGE_SIZE), (10, 10), (20, 10)] and rg.pages == 3
    assert not any("$skipToken" in body["options"] for body in client.bodies)


def _grown(answer):         # a cluster appeared after the first page: the $skip pages count 26
    answer.body["totalRecords"] += 1


def _shifted(answer):       # one appeared and one went: the same total, a row seen twice
    answer.body["data"][0] = dict(answer.body["data"][0], id=answer.body["data"][0]["id"].replace("c1", "c0"))


@pytest.mark.parametrize("change", [_grown, _shifted])
def test_pages_follow_the_skip_token_when_the_fleet_changes_between_pages(change):
    client = _SimClient(ResourceGraphService(_fleet_world(25, resourceGraph={"maxPageSize": 10})))
    original = client.service.query

    def changing(req):
        answer = original(req)
        if json.loads(req.body)["options"].get("$skip"):
            change(answer)
        return answer
    client.service.query = changing
    rows = graph.ResourceGraph(client).query(graph.CLUSTERS, [SUB])
    assert len(rows) == 25 and len({row["id"] for row in rows}) == 25
    assert [bool(body["options"].get("$skipToken")) for body in client.bodies[-2:]] == [True, True]


def test_skip_overrides_the_skip_tokens_offset_as_the_spec_says():
    service = ResourceGraphService(_fleet_world(6, resourceGraph={"maxPageSize": 2}))
    query = "resources | where type =~ 'microsoft.containerservice/managedclusters' | project id, name | order by name asc"
    first = _ask(service, query, **{"$top": 1000})
    later = _ask(service, query, **{"$skipToken": first.body["$skipToken"], "$skip": 3, "$top": 2})
    assert [row["name"] for row in later.body["data"]] == ["c03", "c04"]
    assert [row["name"] for row in _ask(service, query, **{"$skip": 5}).body["data"]] == ["c05"]


def test_a_summarized_answer_is_its_first_page_only():
    answer = _ask(ResourceGraphService(_world(resourceGraph={"maxPageSize": 1})),
                  "resources | summarize ids = make_list(id) by type")
    body = answer.body
    assert (body["totalRecords"], body["count"], body["resultTruncated"]) == (2, 1, "true")
    assert "$skipToken" not in body and list(body["data"][0]) == ["type", "ids"]


def test_role_assignments_grouped_by_subscription_fall_back_to_one_row_each_when_cut():
    world = _world(subscriptions=[{"id": SUB}, {"id": SUB2}], resourceGraph={"maxPageSize": 1},
                   roleAssignments=[{"scope": "vault:kv1", "principalId": "aaaa", "role": "Key Vault Secrets User"},
                                    {"scope": "sub:" + SUB2, "principalId": "aaaa", "role": "Key Vault Secrets User"}])
    client = _SimClient(ResourceGraphService(world))
    rows, error = fleet_source._addon_assignments(graph.ResourceGraph(client), {"subscriptions": [SUB, SUB2]})
    assert error is None and sorted(row["scope"] for row in rows) == sorted([VAULT_ID, "/subscriptions/" + SUB2])
    assert [body["query"] for body in client.bodies[:2]] == [graph.ROLE_ASSIGNMENTS_BY_SUBSCRIPTION,
                                                             graph.ROLE_ASSIGNMENTS]
    client.service.world.resource_graph["maxPageSize"] = 1000
    client.bodies.clear()
    grouped, _ = fleet_source._addon_assignments(graph.ResourceGraph(client), {"subscriptions": [SUB, SUB2]})
    assert grouped == rows and len(client.bodies) == 1


def test_role_assignments_are_read_one_row_each_when_the_service_refuses_the_grouping():
    client = _SimClient(ResourceGraphService(_world()))
    original = client.service.query

    def refusing(req):      # as if Resource Graph did not take bag_pack: its 400 InvalidQuery
        if json.loads(req.body)["query"] == graph.ROLE_ASSIGNMENTS_BY_SUBSCRIPTION:
            return original(Request("POST", req.path, {}, {}, json.dumps(
                {"query": "resources | top 5 by name", "subscriptions": [SUB]}).encode(), principal=OPERATOR))
        return original(req)
    client.service.query = refusing
    rows, error = fleet_source._addon_assignments(graph.ResourceGraph(client), {"subscriptions": [SUB]})
    assert error is None and [(row["scope"], row["principalId"]) for row in rows] == [(VAULT_ID, "aaaa")]


def test_skip_pages_are_answered_from_their_first_pages_evaluation(monkeypatch):
    """The simulator evaluates a query once for a scan's pages asked at once by $skip, as it does
    for $skipToken pages (sandbox/sim/resourcegraph.py _continued): four evaluations queued under
    the World's lock outlasted the client's read timeout on a loaded machine. A $skip page with no
    first page before it is evaluated afresh."""
    evaluations = []
    real_run = kql.run
    monkeypatch.setattr(kql, "run", lambda text, tables: evaluations.append(text) or real_run(text, tables))
    service = ResourceGraphService(_fleet_world(6, resourceGraph={"maxPageSize": 2}))
    other = "resources | where type =~ 'microsoft.containerservice/managedclusters' | project id | order by id asc"
    assert [row["name"] for row in _ask(service, graph.CLUSTERS, **{"$skip": 2}).body["data"]] == ["c02", "c03"]
    assert len(evaluations) == 1                     # no first page yet: evaluated
    first = _ask(service, graph.CLUSTERS).body
    pages = [_ask(service, graph.CLUSTERS, **{"$skip": skip, "$top": 2}).body for skip in (2, 4)]
    assert len(evaluations) == 2                     # the first page only
    assert [row["name"] for page in [first, *pages] for row in page["data"]] == [f"c{index:02d}" for index in range(6)]
    assert all(page["totalRecords"] == 6 for page in pages)
    _ask(service, other, **{"$skip": 2})
    assert len(evaluations) == 3                     # another query: its own evaluation


@pytest.mark.parametrize("failure, asked", [(503, 2), (500, 2), (400, 1)])
def test_a_page_that_fails_for_a_moment_is_asked_again_not_the_whole_query(failure, asked):
    """One $skip page answered 5xx once: asked again after a pause, and the query's rows are whole
    (before, one slow or failed page failed the query, and scan fell back to a query per
    subscription). A 400 is not transient: it fails at once, as the grouped query's fallback
    needs (sources/fleet.py _addon_assignments)."""
    client = _SimClient(ResourceGraphService(_fleet_world(25, resourceGraph={"maxPageSize": 10})))
    original, failed = client.service.query, []

    def failing_once(req):
        if json.loads(req.body)["options"].get("$skip") == 10 and not failed:
            failed.append(True)
            return Response(failure, {"error": {"code": "ServiceUnavailable", "message": "try again"}}, {})
        return original(req)
    client.service.query = failing_once
    slept = []
    rg = graph.ResourceGraph(client, sleep=slept.append)
    if asked == 1:
        with pytest.raises(graph.GraphError):
            rg.query(graph.CLUSTERS, [SUB])
        assert slept == []
        return
    rows = rg.query(graph.CLUSTERS, [SUB])
    assert [row["name"] for row in rows] == [f"c{index:02d}" for index in range(25)]
    assert slept == [deadline.backoff(1)]
    assert [body["options"].get("$skip") for body in client.bodies].count(10) == asked


def test_a_page_that_keeps_failing_gives_up_after_the_attempts_the_deadline_allows():
    client = _SimClient(ResourceGraphService(_fleet_world(3)))
    client.service.query = lambda req: Response(503, {"error": {"code": "ServiceUnavailable", "message": "down"}}, {})
    slept = []
    with pytest.raises(graph.GraphError):
        graph.ResourceGraph(client, sleep=slept.append).query(graph.CLUSTERS, [SUB])
    assert slept == [deadline.backoff(1), deadline.backoff(2), deadline.backoff(3)]
    assert len(client.bodies) == deadline.ATTEMPTS


def _generated_fleet():
    """A generated fleet (sandbox/sim/fleet.py: every vault kind and cluster kind), collected
    through the simulator's Resource Graph as scan collects it."""
    from sandbox.sim import fleet as sim_fleet
    world = World(sim_fleet.expand({"fleet": {"subscriptions": 2, "clustersPerSubscription": 20,
                                              "vaultsPerSubscription": 8}}))
    rg = graph.ResourceGraph(_SimClient(ResourceGraphService(world)))
    return fleet_source.collect_fleet(rg, [sim_fleet.subscription_id(index) for index in (1, 2)])


def test_the_rule_plan_memo_judges_a_fleet_as_planning_each_snapshot_afresh(monkeypatch):
    """registry._plan keeps which rules run per set of collected inputs (#25): a fleet's
    clusters judged with it get exactly the verdicts they get when every snapshot is planned
    afresh, and the fleet's three sets of inputs make three plans."""
    from azext_meshca.rules import registry
    from azext_meshca.rules import runner
    fleet = _generated_fleet()
    assert len(fleet.clusters) == 40
    moment = "2026-12-07T00:00:00Z"
    snapshots = [fleet_source.cluster_snapshot(fleet, row, cluster, 30, collected_at=moment)
                 for row, cluster in fleet.clusters]
    registry._plan.cache_clear()
    memo = [runner.run_rules(snapshot, warn_days=30) for snapshot in snapshots]
    assert registry._plan.cache_info().misses <= 4 < registry._plan.cache_info().hits
    monkeypatch.setattr(registry, "_plan", registry._plan.__wrapped__)
    assert [runner.run_rules(snapshot, warn_days=30) for snapshot in snapshots] == memo
    assert {item["code"] for run in memo for item in run.findings} >= {"MCA201", "MCA401", "MCA403", "MCA406", "MCA501"}


def test_azure_clis_global_transforms_add_nothing_to_a_scan_result():
    """output/report.py skip_global_transforms spares a scan result azure-cli's two global
    walks because they find nothing there: no object with an ``id`` lacking a resource group,
    no ``x509Thumbprint`` (azure/cli/core/commands/transform.py)."""
    import copy
    from azure.cli.core.commands.transform import _add_resource_group, _add_x509_hex
    from azext_meshca.output.sanitize import clean
    result = clean(scan.judge(_generated_fleet(), 30), keep_newline=True)
    walked = copy.deepcopy(result)
    _add_resource_group(walked)
    _add_x509_hex(walked)
    assert walked == result and len(result["clusters"]) == 40


def test_scan_skips_azure_clis_global_transforms_for_its_own_invocation_only():
    """Unregistered for scan's result, registered again once the invocation ends
    (EVENT_CLI_POST_EXECUTE), so a CLI object that runs more commands keeps them."""
    from azure.cli.core.mock import DummyCli
    from azure.cli.core.commands import transform
    from knack.events import EVENT_CLI_POST_EXECUTE, EVENT_INVOKER_TRANSFORM_RESULT
    from azext_meshca.output.report import skip_global_transforms
    cli = DummyCli()
    handlers = cli._event_handlers   # pylint: disable=protected-access  # knack keeps them there, no getter
    post_handlers = len(handlers[EVENT_CLI_POST_EXECUTE])
    assert transform._resource_group_transform in handlers[EVENT_INVOKER_TRANSFORM_RESULT]
    skip_global_transforms(types.SimpleNamespace(cli_ctx=cli))
    assert transform._resource_group_transform not in handlers[EVENT_INVOKER_TRANSFORM_RESULT]
    assert transform._x509_from_base64_to_hex_transform not in handlers[EVENT_INVOKER_TRANSFORM_RESULT]
    cli.raise_event(EVENT_CLI_POST_EXECUTE)
    assert handlers[EVENT_INVOKER_TRANSFORM_RESULT].count(transform._resource_group_transform) == 1
    assert handlers[EVENT_INVOKER_TRANSFORM_RESULT].count(transform._x509_from_base64_to_hex_transform) == 1
    assert not any(getattr(item, "__name__", "") == "_restore" for item in handlers[EVENT_CLI_POST_EXECUTE])
    assert len(handlers[EVENT_CLI_POST_EXECUTE]) == post_handlers


def test_a_scan_result_is_plain_json_that_azure_clis_todict_returns_unchanged():
    """output/report.py hand_over_as_is spares a scan result azure-cli's ``todict`` walk
    because that walk would return an equal copy: the result, as the output transform
    cleans it, holds dicts, lists and JSON scalars only (is_plain_json)."""
    from azure.cli.core.commands import AzCliCommandInvoker
    from azure.cli.core.util import todict
    from azext_meshca.output.report import is_plain_json
    from azext_meshca.output.sanitize import clean
    result = clean(scan.judge(_generated_fleet(), 30), keep_newline=True)
    assert is_plain_json(result) and len(result["clusters"]) == 40
    assert todict(result, AzCliCommandInvoker.remove_additional_prop_layer) == result


@pytest.mark.parametrize("value", [
    {"when": datetime.datetime(2026, 12, 8, tzinfo=datetime.timezone.utc)},
    {"rows": [{"pair": (1, 2)}]},
    {1: "a key that is not text"},
    {"severity": enum.Enum("Severity", "ERROR").ERROR},
    [{"name": type("Text", (str,), {})("a str subclass")}],
    {"model": types.SimpleNamespace(id="x")},
])
def test_anything_but_plain_json_is_left_to_azure_clis_todict(value):
    """What ``todict`` would change (datetimes, tuples, Enums, objects, subclasses of a
    scalar, keys that are not text) is not plain JSON, however deep."""
    from azext_meshca.output.report import is_plain_json
    assert not is_plain_json(value)
    assert not is_plain_json({"clusters": [{"findings": [value]}]})
    assert is_plain_json({"clusters": [{"findings": [{"code": "MCA301", "days": 3, "ratio": 0.5, "ok": True,
                                                      "object": None}]}]})


def test_hand_over_as_is_changes_one_todict_call_of_its_own_invocation():
    """The next ``todict`` call (the invoker's, azure/cli/core/commands/__init__.py
    ``_run_job``) returns a plain result as it is and anything else as az's own would; the
    call after it is az's own again, and so is ``todict`` at the invocation's end when no call came."""
    from azure.cli.core import util as az_util
    from azure.cli.core.mock import DummyCli
    from knack.events import EVENT_CLI_POST_EXECUTE
    from azext_meshca.output.report import hand_over_as_is
    azure_todict = az_util.todict
    plain = {"clusters": [{"cluster": "c1", "findings": []}]}
    cli = DummyCli()
    cmd = types.SimpleNamespace(cli_ctx=cli)
    try:
        hand_over_as_is(cmd)
        assert az_util.todict(plain) is plain
        assert az_util.todict is azure_todict
        assert az_util.todict(plain) is not plain
        hand_over_as_is(cmd)
        moment = datetime.datetime(2026, 12, 8, tzinfo=datetime.timezone.utc)
        assert az_util.todict({"when": moment}) == {"when": moment.isoformat()}
        assert az_util.todict is azure_todict
        hand_over_as_is(cmd)
        assert az_util.todict is not azure_todict
        cli.raise_event(EVENT_CLI_POST_EXECUTE)
        assert az_util.todict is azure_todict
    finally:
        az_util.todict = azure_todict   # a failed step must not leave later tests az's todict patched


def test_scan_pauses_the_cycle_collector_until_its_invocation_ends():
    """verbs/scan.py pause_cycle_collection: off for judging and az's output, on again once
    the invocation ends (EVENT_CLI_POST_EXECUTE); left off when it was off already."""
    import gc
    from azure.cli.core.mock import DummyCli
    from knack.events import EVENT_CLI_POST_EXECUTE
    cli = DummyCli()
    assert gc.isenabled()
    try:
        scan.pause_cycle_collection(cli)
        assert not gc.isenabled()
        cli.raise_event(EVENT_CLI_POST_EXECUTE)
        assert gc.isenabled()
        gc.disable()
        scan.pause_cycle_collection(cli)
        cli.raise_event(EVENT_CLI_POST_EXECUTE)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_custom_role_definitions_are_asked_beside_the_cluster_query_not_after_it():
    """A custom role's definition depends only on its GUID, which the role assignments give
    (sources/fleet.py _assignments_with_definitions): it is asked while the cluster query is
    still unanswered, one sequential Resource Graph round trip fewer, and not asked again.
    Here the cluster query waits for the definitions query: asked after the clusters, as
    before, it would wait in vain."""
    import threading
    from sandbox.sim import fleet as sim_fleet
    world = World(sim_fleet.expand({"fleet": {"subscriptions": 2, "clustersPerSubscription": 20,
                                              "vaultsPerSubscription": 8}}))
    client = _SimClient(ResourceGraphService(world))
    original, definitions_asked, waited = client.service.query, threading.Event(), []

    def clusters_wait_for_definitions(req):
        text = json.loads(req.body)["query"]
        if "roledefinitions" in text:
            definitions_asked.set()
        elif text == graph.CLUSTERS:
            waited.append(definitions_asked.wait(timeout=5))
        return original(req)
    client.service.query = clusters_wait_for_definitions
    fleet = fleet_source.collect_fleet(graph.ResourceGraph(client),
                                       [sim_fleet.subscription_id(index) for index in (1, 2)])
    assert waited and all(waited), waited
    assert sum("roledefinitions" in body["query"] for body in client.bodies) == 1
    custom = [item for item in fleet.assignments if item["roleDefinitionId"].lower().endswith(sim_fleet.CUSTOM_READER)]
    assert custom and all(item.get("permissions") for item in custom), custom[:1]
