"""Azure Resource Graph (``POST /providers/Microsoft.ResourceGraph/resources``) over the World.

Shapes come from Azure/azure-rest-api-specs, specification/resourcegraph/resource-manager/
Microsoft.ResourceGraph/stable/2021-03-01 (resourcegraph.json and examples/
ResourcesFilterQuery.json) and azure-mgmt-resourcegraph 8.0.1's models:

- request ``{subscriptions, managementGroups, query, options: {$top, $skip, $skipToken,
  resultFormat}}``; response ``{totalRecords, count, resultTruncated, $skipToken?, data,
  facets}`` with ``data`` an object array; ``type`` values lower case, as the service
  returns them;
- pages of ``$top`` rows (default 100, at most 1000), ``$skipToken`` while rows remain;
  ``$skip`` rows skipped from the beginning of the results, and when a ``$skipToken`` is
  present too, ``$skip`` "overrides the next page offset" and ``$top`` the page size
  (QueryRequestOptions in resourcegraph.json);
- a query that summarizes is answered on its first page only, never with a ``$skipToken``:
  rows past the page are cut and ``resultTruncated`` says so ("Simplified first page only",
  MicrosoftDocs/azure-docs articles/governance/resource-graph/concepts/query-language.md);
- rows only from the subscriptions asked for that the caller may read: an unreadable
  subscription is left out without an error (learn.microsoft.com/azure/governance/
  resource-graph/overview#permissions-in-azure-resource-graph);
- the per-user quota of 15 queries per 5-second window, announced in
  ``x-ms-user-quota-remaining`` and ``x-ms-user-quota-resets-after`` (hh:mm:ss) on every
  answer, and a 429 with ``Retry-After`` once it is spent (learn.microsoft.com/azure/
  governance/resource-graph/concepts/guidance-for-throttled-requests);
- a query outside the KQL subset in ``sandbox/sim/kql.py`` gets the service's 400 body:
  BadRequest with the details InvalidQuery and the parser's code, token and position
  (the body quoted in Azure/azure-powershell issue 13762).

Scenario knobs (``resourceGraph:`` in a scenario): ``maxPageSize`` (a smaller page than
the service's 1000, so paging is exercised with a few hundred rows) and ``throttled:
{<subscription>: {times, retryAfter}}`` (the next ``times`` queries that include that
subscription are answered 429 with that Retry-After); ``quota`` and ``quotaWindowSeconds``
(the service's 15 and 5 by default) let a test stretch the window past az's start-up, so that
two scans in a row share one window whatever the machine's load.
"""

import base64
import datetime
import json
import threading
import time
import uuid

from sandbox.sim import kql
from sandbox.sim.server import JsonOnce, Response

DEFAULT_TOP = 100
MAX_TOP = 1000
QUOTA = 15
WINDOW_SECONDS = 5.0
KEPT_RESULTS = 32            # queries whose later pages are served from the first page's rows


def _support_message():
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    return ("Please provide below info when asking for support: timestamp = %s, correlationId = %s."
            % (stamp, uuid.uuid4()))


def _hms(seconds):
    seconds = max(0, int(round(seconds)))
    return "%02d:%02d:%02d" % (seconds // 3600, seconds % 3600 // 60, seconds % 60)


def _sub_of(resource_id):
    parts = str(resource_id or "").split("/")
    return parts[2].lower() if len(parts) > 2 and parts[1].lower() == "subscriptions" else ""


def _rg_of(resource_id):
    parts = str(resource_id or "").split("/")
    return parts[4].lower() if len(parts) > 4 and parts[3].lower() == "resourcegroups" else ""


class ResourceGraphService:
    """Answers Resource Graph queries from the World's clusters, vaults and assignments."""

    def __init__(self, world):
        self.world = world
        # (query text, subscriptions, status, continued): what scan sent; ``continued`` is
        # True for a later page of a query (the request carried a $skipToken or a $skip).
        self.queries = []
        self._lock = threading.Lock()
        self._window = {}            # principal -> [request times]
        self._results = {}           # skipToken result id -> ((query, visible), rows), oldest first
        self._first_pages = {}       # (query, visible) -> the latest first page's rows, oldest first

    # ------------------------------------------------------------------ tables

    def _row(self, resource, kind):
        row = dict(resource)        # keys in the resource's order, less these three (as a filtered copy)
        for key in ("secrets", "resourceGroup", "subscription"):
            row.pop(key, None)
        row["type"] = kind
        row["subscriptionId"] = _sub_of(resource["id"])
        row["resourceGroup"] = _rg_of(resource["id"])
        row["tenantId"] = self.world.tenant
        return row      # shallow: queries never change a row's values, and an answer is serialised under the lock

    def tables(self, names=("resources", "resourcecontainers", "authorizationresources")):
        """{table: rows} of the tables ``names`` (a query builds only those it reads)."""
        builders = {"resources": self._resources, "resourcecontainers": self._containers,
                    "authorizationresources": self._authorization}
        return {name: builders[name]() for name in names if name in builders}

    def _resources(self):
        world = self.world
        resources = [self._row(cluster, "microsoft.containerservice/managedclusters") for cluster in world.clusters]
        return resources + [self._row(vault, "microsoft.keyvault/vaults") for vault in world.vaults.values()]

    def _containers(self):
        world = self.world
        return [{"id": "/subscriptions/" + item["id"], "name": item.get("name") or item["id"],
                 "type": "microsoft.resources/subscriptions", "subscriptionId": item["id"].lower(),
                 "tenantId": world.tenant, "properties": {"state": "Enabled"}} for item in world.subscriptions]

    def _authorization(self):
        world = self.world
        authorization = []
        for assignment in world.role_assignments:
            row = dict(assignment)
            row["type"] = "microsoft.authorization/roleassignments"
            row["subscriptionId"] = _sub_of(assignment["properties"]["scope"])
            row["tenantId"] = world.tenant
            authorization.append(row)
        for guid in world.role_definition_guids():
            role = world.role_definition(guid)
            authorization.append({
                "id": "/providers/Microsoft.Authorization/RoleDefinitions/" + guid, "name": guid,
                "type": "microsoft.authorization/roledefinitions", "subscriptionId": "", "tenantId": world.tenant,
                "properties": {"roleName": role["roleName"], "type": role["type"], "permissions": [
                    {"actions": role["actions"], "notActions": [], "dataActions": role["dataActions"],
                     "notDataActions": role["notDataActions"]}]}})
        return authorization

    def _visible(self, req, subscriptions, management_groups):
        """Subscriptions whose rows the caller gets: asked for, existing, readable."""
        if management_groups:
            groups = {str(group).lower() for group in management_groups}
            asked = [item["id"] for item in self.world.subscriptions
                     if str(item.get("managementGroup") or "").lower() in groups]
        else:
            asked = [str(item) for item in subscriptions or ()]
        operator = (req.principal or "").lower() == self.world.operator["objectId"].lower()
        return {item.lower() for item in asked if self.world.has_subscription(item)
                and not (operator and self.world.subscription_forbidden(item))}

    # ------------------------------------------------------------------ quota and throttling

    def _quota(self, principal):
        """(remaining, seconds until the window frees a slot), counting this request."""
        now = time.monotonic()
        window = float(self.world.resource_graph.get("quotaWindowSeconds") or WINDOW_SECONDS)
        quota = int(self.world.resource_graph.get("quota") or QUOTA)
        with self._lock:
            times = [moment for moment in self._window.get(principal, []) if now - moment < window]
            times.append(now)
            self._window[principal] = times
            resets = window - (now - times[0])
            return quota - len(times), resets

    def _throttle_for(self, subscriptions):
        with self.world.lock:
            for subscription, spec in (self.world.resource_graph.get("throttled") or {}).items():
                if str(subscription).lower() in {str(item).lower() for item in subscriptions or ()} \
                        and int(spec.get("times", 0)) > 0:
                    spec["times"] = int(spec["times"]) - 1
                    return float(spec.get("retryAfter", 1))
        return None

    @staticmethod
    def _throttled(retry_after, headers):
        headers = dict(headers, **{"Retry-After": str(int(retry_after))})
        return Response(429, {"error": {"code": "RateLimiting", "message": _support_message() + " Please retry "
                                        "after %d seconds." % int(retry_after)}}, headers)

    # ------------------------------------------------------------------ the endpoint

    def query(self, req):
        body = req.json()
        text = str(body.get("query") or "")
        subscriptions = body.get("subscriptions") or []
        continued = bool((body.get("options") or {}).get("$skipToken") or (body.get("options") or {}).get("$skip"))
        remaining, resets = self._quota(req.principal or "")
        headers = {"x-ms-user-quota-remaining": str(max(remaining, 0)),
                   "x-ms-user-quota-resets-after": _hms(resets)}
        if remaining < 0:
            self.queries.append((text, subscriptions, 429, continued))
            return self._throttled(max(1, resets), headers)
        retry_after = self._throttle_for(subscriptions)
        if retry_after is not None:
            self.queries.append((text, subscriptions, 429, continued))
            return self._throttled(retry_after, headers)
        visible = self._visible(req, subscriptions, body.get("managementGroups"))
        try:
            # The query is evaluated under the lock too: the rows share nested values with the
            # World (a writer such as add_access_policy changes them in place), a private copy of
            # the resources table costs about four times the query at 5,000 clusters, and the
            # simulated services share one interpreter, so answering outside the lock would not
            # answer concurrent pages any sooner.
            with self.world.lock:
                rows = self._continued(body.get("options") or {}, text, visible)
                if rows is None:
                    visible_or_tenant = {"", *visible}
                    table, joined = kql.joins(text)
                    tables = {name: [row for row in rows if row["subscriptionId"] in visible_or_tenant]
                              for name, rows in self.tables({table, *joined}).items()}
                    rows = kql.run(text, tables)
                    self._keep_first_page(body.get("options") or {}, text, visible, rows)
                answer = self._page(rows, body.get("options") or {}, (text, frozenset(visible)),
                                    first_page_only=kql.summarizes(text))
                # serialised here, under the World's lock, so the rows cannot change before they are written
                answered = JsonOnce(200, answer, headers)
        except kql.KqlError as error:
            self.queries.append((text, subscriptions, 400, continued))
            return Response(400, {"error": {"code": "BadRequest", "message": _support_message(), "details": [
                {"code": "InvalidQuery", "message": "Query is invalid. Please refer to the documentation for the "
                 "Azure Resource Graph service and fix the error before retrying."},
                {"code": str(error), "message": str(error), "line": 1,
                 "characterPositionInLine": error.position, "token": error.token}]}}, headers)
        self.queries.append((text, subscriptions, 200, continued))
        return answered

    def _continued(self, options, text, visible):
        """The rows a $skipToken's query produced (kept, as the service's token captures the
        query's context), or None to evaluate the query (a first page, or a token we lost).

        A ``$skip`` page without a token gets the rows of the latest first page of the same
        query over the same subscriptions. The service evaluates such a page afresh; the
        simulator answers it as it answers a token's page, from the first page's result, so a
        scan's pages asked at once (sources/resourcegraph.py) cost one evaluation, not one each
        under the World's lock (on a loaded machine, four evaluations queued behind one another
        outlasted the client's read timeout). A fleet that changes between one scan's pages is
        simulated by changing the answers (tests/unit/test_scan.py ``_grown``, ``_shifted``)."""
        token = options.get("$skipToken")
        if not token:
            return self._first_pages.get((text, frozenset(visible))) if options.get("$skip") else None
        result = self._results.get(json.loads(base64.b64decode(token)).get("result"))
        if result is None or result[0] != (text, frozenset(visible)):
            return None
        return result[1]

    def _keep_first_page(self, options, text, visible, rows):
        """Keep a first page's rows for the $skip pages of the same query (_continued)."""
        if options.get("$skipToken") or options.get("$skip"):
            return
        self._first_pages[(text, frozenset(visible))] = rows
        while len(self._first_pages) > KEPT_RESULTS:
            self._first_pages.pop(next(iter(self._first_pages)))

    def _page(self, rows, options, context, first_page_only=False):
        top = min(int(options.get("$top") or DEFAULT_TOP), MAX_TOP,
                  int(self.world.resource_graph.get("maxPageSize") or MAX_TOP))
        start = int(options.get("$skip") or 0)
        token = options.get("$skipToken")
        result = None
        if token:
            decoded = json.loads(base64.b64decode(token))
            result = decoded.get("result")
            start = start if "$skip" in options else decoded["offset"]
        if first_page_only:
            start = 0
        page = rows[start:start + top]      # not copied: query() serialises the answer under the World's lock
        truncated = first_page_only and len(rows) > top
        answer = {"totalRecords": len(rows), "count": len(page), "resultTruncated": "true" if truncated else "false",
                  "facets": [], "data": page}
        if start + top < len(rows) and not first_page_only:
            if result is None:
                result = uuid.uuid4().hex
                self._results[result] = (context, rows)
                while len(self._results) > KEPT_RESULTS:
                    self._results.pop(next(iter(self._results)))
            answer["$skipToken"] = base64.b64encode(json.dumps({"offset": start + top, "result": result}).encode()
                                                    ).decode()
        return answer
