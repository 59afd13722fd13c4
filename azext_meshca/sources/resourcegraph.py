"""Azure Resource Graph: scan's one source for clusters, vaults and role assignments.

All I/O of the fleet query lives here. Every query is a short KQL pipeline that does
its filtering in the service (type, mesh mode, the IDs asked for) and projects only
the properties the normalisers in ``sources/azure.py`` read, so a tenant of
thousands of resources comes back in a handful of pages.

Paging and throttling follow the service (Azure/azure-rest-api-specs,
specification/resourcegraph/resource-manager/Microsoft.ResourceGraph/stable/2021-03-01/
resourcegraph.json; learn.microsoft.com/azure/governance/resource-graph/concepts/
guidance-for-throttled-requests): a page carries ``$skipToken`` while rows remain; every
answer carries ``x-ms-user-quota-remaining`` and ``x-ms-user-quota-resets-after``
(hh:mm:ss); a throttled request is a 429 with ``Retry-After`` seconds.

Our own concurrency never spends more than the quota (_Quota): every answer's headers
update what is left, requests in flight count against it, and nothing is sent while
remaining minus in flight is zero; then we wait for the window to reset. A 429 that still
comes (another tool of the same user) is waited out for its ``Retry-After``. Neither wait
passes the scan's deadline (its --timeout, sources/deadline.py): then the query fails with a reason, and
the subscriptions it concerns become collection findings.

Pages of an ordered query (ORDERED) are fetched at once: page 1 says ``totalRecords``,
and pages 2..n ask ``$skip`` = 1000, 2000, ... (QueryRequestOptions in resourcegraph.json
above; "Skipping records" in MicrosoftDocs/azure-docs articles/governance/resource-graph/
concepts/work-with-data.md: skip is repeatable only with an ``order by``, and ignored
after ``limit``/``take``, which these queries do not use).
"""

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from azext_meshca._client_factory import ARM_CALL_OPTIONS
from azext_meshca.sources.deadline import ATTEMPTS, RETRY_STATUSES, Deadline, backoff
from azext_meshca.sources.errors import describe_error
from azext_meshca.model.snapshot import collection_error

PAGE_SIZE = 1000               # the service's largest page ($top maximum 1000: resourcegraph.json above)
THROTTLED_CODE = "RateLimiting"
# x-ms-user-quota-resets-after has whole seconds (hh:mm:ss): the reset may come up to a
# second after the time it names, so a spent quota is waited out this much longer.
RESET_SLACK_SECONDS = 1.0
# The window when an answer names a remaining quota but no reset (5 s: guidance-for-throttled-requests).
QUOTA_WINDOW_SECONDS = 5.0
# Later pages fetched at once, at most (the quota bounds them further: _Quota).
PAGE_READERS = 8

# Resource Graph's KQL limits, and how these queries stay inside them.
# - Joins: "Limit of 3 join in a single query, 1 of which may be a cross-table join" (unless every
#   cross-table join is between Resources and ResourceContainers); flavors innerunique, inner and
#   leftouter only (MicrosoftDocs/azure-docs, articles/governance/resource-graph/concepts/
#   query-language.md, "Supported tabular/top level operators"). VAULTS joins once within
#   Resources; ROLE_ASSIGNMENTS joins AuthorizationResources to Resources once (its one
#   cross-table join). tests/unit/test_scan.py checks both against these constants.
MAX_JOINS = 3
MAX_CROSS_TABLE_JOINS = 1
# - `in` lists and query length: the service documents no limit for either, and the REST
#   contract gives ``query`` no maxLength (resourcegraph.json, QueryRequest). The fleet-wide
#   queries therefore carry no ID list at all (they join instead), so their text does not grow
#   with the fleet. Only the rare lookups by ID (a vault in a subscription outside the query's
#   scope, the custom roles' definitions) splice a list, IDS_PER_QUERY at a time, which keeps
#   such a query near 20 KB: well under the 16 MiB response cap the service does enforce
#   (ResponsePayloadTooLarge, "has exceeded the limit of 16777216", microsoft/ARI issue 195).
IDS_PER_QUERY = 200
# - Rows: $top is at most 1000 (resourcegraph.json, QueryRequestOptions). A query ending in
#   ORDERED pages by $skip, all pages after the first at once; any other follows $skipToken,
#   one page after another (a token names the next page only).
# - summarize: "Simplified first page only" (query-language.md, the operators' table): a
#   summarized answer is never paged, so more groups than a page are cut (resultTruncated).
#   ROLE_ASSIGNMENTS_BY_SUBSCRIPTION is read with query_first_page, which says so, and
#   scan then reads ROLE_ASSIGNMENTS, paged, instead (sources/fleet.py).
ORDERED = " | order by id asc"

_SAFE_LITERAL = re.compile(r"^[A-Za-z0-9/._()-]+$")

SUBSCRIPTIONS = ("resourcecontainers"
                 " | where type =~ 'microsoft.resources/subscriptions'"
                 " | project subscriptionId")

# The plug-in CA clusters: every fleet-wide query starts from (or joins) these rows.
_PLUGIN_CLUSTERS = ("resources"
                    " | where type =~ 'microsoft.containerservice/managedclusters'"
                    " | where properties.serviceMeshProfile.mode =~ 'Istio'"
                    " | where isnotempty(properties.serviceMeshProfile.istio.certificateAuthority.plugin)")

CLUSTERS = (_PLUGIN_CLUSTERS +
            " | project id, name, location, resourceGroup, subscriptionId, tenantId,"
            " nodeResourceGroup = properties.nodeResourceGroup,"
            " serviceMeshProfile = properties.serviceMeshProfile,"
            " addonProfiles = properties.addonProfiles, aadProfile = properties.aadProfile" + ORDERED)

_VAULT_COLUMNS = (" | project id, name, location, vaultTenantId = properties.tenantId,"
                  " vaultUri = properties.vaultUri, enableRbacAuthorization = properties.enableRbacAuthorization,"
                  " accessPolicies = properties.accessPolicies, publicNetworkAccess = properties.publicNetworkAccess,"
                  " networkAcls = properties.networkAcls,"
                  " privateEndpointConnections = properties.privateEndpointConnections")

# Every vault a plug-in CA cluster in scope names, once: vaults joined to the clusters' distinct
# keyVaultIds (one join, within Resources).
VAULTS = ("resources"
          " | where type =~ 'microsoft.keyvault/vaults'"
          " | extend vaultKey = tolower(id)"
          " | join kind=inner (" + _PLUGIN_CLUSTERS +
          " | extend vaultKey = tolower(tostring(properties.serviceMeshProfile.istio.certificateAuthority.plugin"
          ".keyVaultId)) | distinct vaultKey) on vaultKey" + _VAULT_COLUMNS + ORDERED)

# The same columns for vaults named by ID: only for vaults outside the fleet query's scope.
VAULTS_BY_ID = ("resources"
                " | where type =~ 'microsoft.keyvault/vaults'"
                " | where tolower(id) in~ ({ids})" + _VAULT_COLUMNS)

# Every role assignment of an add-on identity of a cluster in scope: assignments joined to the
# clusters' distinct identity object IDs (the query's one cross-table join).
_ADDON_ASSIGNMENTS = ("authorizationresources"
                      " | where type =~ 'microsoft.authorization/roleassignments'"
                      " | extend principalId = tolower(tostring(properties.principalId))"
                      " | join kind=inner (" + _PLUGIN_CLUSTERS +
                      " | extend principalId = tolower(tostring(properties.addonProfiles.azureKeyvaultSecretsProvider"
                      ".identity.objectId)) | distinct principalId) on principalId")
ROLE_ASSIGNMENTS = (_ADDON_ASSIGNMENTS +
                    " | project id, principalId, scope = properties.scope,"
                    " roleDefinitionId = properties.roleDefinitionId,"
                    " principalType = properties.principalType" + ORDERED)

# The same assignments as one row per subscription ("" for those above any subscription), each
# row's ``assignments`` the list of the columns ROLE_ASSIGNMENTS projects: rows grow with the
# subscriptions in scope, not with clusters or assignments, so at 5,000 clusters this is one
# page where ROLE_ASSIGNMENTS is several. ``make_list`` in summarize as Resource Graph's own
# samples use it (MicrosoftDocs/azure-docs, articles/governance/resource-graph/samples,
# "List Azure Arc-enabled servers with ... extensions": summarize Extensions =
# make_list(ExtensionName) by id, ...); ``bag_pack`` is Kusto's property-bag constructor
# (learn.microsoft.com/kusto/query/pack-function), among the scalar functions query-language.md
# says Resource Graph supports.
ROLE_ASSIGNMENTS_BY_SUBSCRIPTION = (
    _ADDON_ASSIGNMENTS +
    " | summarize assignments = make_list(bag_pack('id', id, 'principalId', principalId,"
    " 'scope', properties.scope, 'roleDefinitionId', properties.roleDefinitionId,"
    " 'principalType', properties.principalType)) by subscriptionId")

# The same assignments for principals named by ID: only for vaults outside the fleet query's scope.
ROLE_ASSIGNMENTS_BY_ID = ("authorizationresources"
                          " | where type =~ 'microsoft.authorization/roleassignments'"
                          " | extend principalId = tolower(tostring(properties.principalId))"
                          " | where principalId in~ ({ids})"
                          " | project id, principalId, scope = properties.scope,"
                          " roleDefinitionId = properties.roleDefinitionId, principalType = properties.principalType")

# Custom roles' definitions by GUID: as many IDs as distinct roles, not as clusters.
ROLE_DEFINITIONS = ("authorizationresources"
                    " | where type =~ 'microsoft.authorization/roledefinitions'"
                    " | where tolower(name) in~ ({ids})"
                    " | project id, name, roleName = properties.roleName, permissions = properties.permissions")


class GraphError(Exception):
    """A query that did not complete; ``error`` is a snapshot collection_error."""

    def __init__(self, error):
        super().__init__(error["reason"])
        self.error = error


def kql_list(values):
    """A KQL list literal of IDs. IDs come from ARM; anything with a quote or space in it
    is not an ID and is left out rather than spliced into a query."""
    safe = sorted({str(value).lower() for value in values if _SAFE_LITERAL.match(str(value or ""))})
    return ", ".join(f"'{value}'" for value in safe)


def chunks(values, size=IDS_PER_QUERY):
    values = sorted(set(values))
    return [values[start:start + size] for start in range(0, len(values), size)]


def _seconds(text):
    """Retry-After (seconds) or x-ms-user-quota-resets-after (hh:mm:ss) as float seconds."""
    text = str(text or "").strip()
    if not text:
        return None
    try:
        if ":" in text:
            hours, minutes, seconds = text.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        return float(text)
    except ValueError:
        return None


def _page_of(response):
    """{"data": rows, "token": the next page's $skipToken or None, "total": totalRecords or
    None, "truncated": resultTruncated} of a 200 answer; GraphError naming the field when
    the service sent another shape."""
    import json
    from azext_meshca.model.inputs import InputError, as_list, as_mapping
    try:
        body = json.loads(response.content)
    except ValueError:
        raise GraphError(describe_error(InputError("Resource Graph's answer is not JSON"))) from None
    try:
        body = as_mapping(body, "Resource Graph answer")
        rows = [as_mapping(row, "Resource Graph row") for row in as_list(body.get("data"), "data")]
    except InputError as error:
        raise GraphError(describe_error(error)) from None
    token = body.get("$skipToken")
    total = body.get("totalRecords")
    return {"data": rows, "token": str(token) if token else None,
            "total": total if isinstance(total, int) and not isinstance(total, bool) else None,
            "truncated": str(body.get("resultTruncated")).lower() == "true"}


def grouped_assignments(rows):
    """The assignment rows inside ROLE_ASSIGNMENTS_BY_SUBSCRIPTION's rows, in the shape
    ROLE_ASSIGNMENTS projects; GraphError naming the field when a row has another shape."""
    from azext_meshca.model.inputs import InputError, as_list, as_mapping
    try:
        return [as_mapping(item, "role assignment") for row in rows
                for item in as_list(row.get("assignments"), "assignments")]
    except InputError as error:
        raise GraphError(describe_error(error)) from None


def _header(headers, name):
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


def _transient_failure(error):
    """A failure that asking again may cure: no connection, or no (whole) answer in time
    (azure-core's ServiceRequestError and ServiceResponseError, their timeouts included)."""
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError
    return isinstance(error, (ServiceRequestError, ServiceResponseError))


def _quota_spent(wait, deadline):
    return GraphError(collection_error(
        f"Resource Graph's quota for this user is spent and resets after {wait:.0f}s, past the scan's "
        f"{deadline.limit()}", 429, THROTTLED_CODE))


class _Quota:
    """The user's Resource Graph quota as the answers announce it, shared by every thread.

    ``remaining`` is the least ``x-ms-user-quota-remaining`` any answer of the current window
    named (an answer that overtook an earlier-sent one must not raise it again), or None when
    no answer has said yet: then one request goes at a time, and its answer tells. A request
    goes only while ``remaining - in_flight > 0``. When that reaches 0 we wait until the
    window resets (``x-ms-user-quota-resets-after`` plus RESET_SLACK_SECONDS), then ask one
    at a time again until an answer names the new quota. Every wait stays inside the deadline."""

    def __init__(self, deadline, sleep, clock):
        self.deadline, self.sleep, self.clock = deadline, sleep, clock
        self.remaining = None
        self.reset_at = None
        self.in_flight = 0
        self._changed = threading.Condition()

    def acquire(self):
        """Wait until one more request fits the quota and count it in flight; GraphError
        when the wait would pass the deadline."""
        while True:
            with self._changed:
                if self._may_send():
                    self.in_flight += 1
                    return
                wait = self._wait()
                if wait is None:        # only the answers in flight can tell: wait for one
                    if not self.deadline.fits(0):
                        raise GraphError(collection_error(
                            "Resource Graph did not answer the queries in flight within the scan's "
                            f"{self.deadline.limit()}"))
                    self._changed.wait(timeout=self.deadline.remaining())
                    continue
                if wait <= 0:           # the window has reset: ask one at a time until told
                    self.remaining, self.reset_at = None, None
                    continue
                if not self.deadline.fits(wait):
                    raise _quota_spent(wait, self.deadline)
            self.sleep(wait)

    def release(self, headers=None):
        """An answer came (or the request failed): it is no longer in flight; note the quota
        its headers announce."""
        with self._changed:
            self.in_flight -= 1
            self._note(headers)
            self._changed.notify_all()

    def throttled(self, retry_after):
        """A 429: nothing more goes until ``Retry-After`` has passed; GraphError when that is
        past the deadline."""
        wait = 1.0 if retry_after is None else retry_after
        with self._changed:
            self.in_flight -= 1
            self._changed.notify_all()
            if not self.deadline.fits(wait):
                raise GraphError(collection_error(
                    "429 Too Many Requests (RateLimiting): Resource Graph throttled the query and asked to wait "
                    f"{wait:.0f}s, past the scan's {self.deadline.limit()}", 429, THROTTLED_CODE))
            self.remaining = 0
            self.reset_at = max(self.reset_at or 0.0, self.clock() + wait)

    def _may_send(self):
        if self.remaining is None:
            return self.in_flight == 0
        return self.remaining - self.in_flight > 0

    def _wait(self):
        """Seconds until the window resets; None while answers in flight may still tell."""
        if self.reset_at is None:
            return None if self.in_flight else 0.0
        return self.reset_at - self.clock()

    def _note(self, headers):
        remaining = _header(headers, "x-ms-user-quota-remaining")
        try:
            remaining = int(str(remaining).strip())
        except ValueError:
            return
        resets = _seconds(_header(headers, "x-ms-user-quota-resets-after"))
        reset_at = self.clock() + (QUOTA_WINDOW_SECONDS if resets is None else resets) + RESET_SLACK_SECONDS
        remaining = max(remaining, 0)
        self.remaining = remaining if self.remaining is None else min(self.remaining, remaining)
        self.reset_at = reset_at if self.reset_at is None else min(self.reset_at, reset_at)


class ResourceGraph:
    """Runs scan's queries: pages them, keeps within the quota (_Quota), counts pages.

    Safe to share between threads: scan runs its independent queries at once, and the
    pages after the first of an ORDERED query go at once too; the quota decides how many
    are in flight."""

    def __init__(self, client, deadline=None, sleep=time.sleep, clock=time.monotonic):
        """``deadline``: the run's (scan attaches it: sources/deadline.py), else one of the
        default length on ``clock``."""
        self.client = client
        self.pages = 0
        self._lock = threading.Lock()
        self._quota = _Quota(deadline or Deadline(clock=clock), sleep, clock)

    def query(self, kql, subscriptions=None, management_groups=None):
        """Every row of ``kql`` (objectArray); raises GraphError. After the first page, an
        ORDERED query's pages go at once ($skip); any other follows $skipToken."""
        first = self._page(kql, subscriptions, management_groups)
        if not first["token"]:
            return first["data"]
        if kql.endswith(ORDERED):
            rows = self._skipped_pages(kql, subscriptions, management_groups, first)
            if rows is not None:
                return rows
        return self._following(kql, subscriptions, management_groups, first)

    def query_first_page(self, kql, subscriptions=None, management_groups=None):
        """(rows, complete) of a query the service does not page (summarize): ``complete`` is
        False when the answer says rows were cut."""
        page = self._page(kql, subscriptions, management_groups)
        total = page["total"]
        complete = not (page["truncated"] or page["token"]) and (total is None or total == len(page["data"]))
        return page["data"], complete

    def query_per_subscription(self, kql, subscriptions):
        """(rows, {subscription: error}): one query for all, and only when that fails,
        one per subscription, so one forbidden or throttled subscription costs only its
        own rows."""
        subscriptions = sorted(set(subscriptions))
        if not subscriptions:
            return [], {}
        try:
            return self.query(kql, subscriptions), {}
        except GraphError as error:
            if len(subscriptions) == 1:
                return [], {subscriptions[0]: error.error}
        rows, failed = [], {}
        for subscription in subscriptions:
            try:
                rows.extend(self.query(kql, [subscription]))
            except GraphError as error:
                failed[subscription] = error.error
        return rows, failed

    def _following(self, kql, subscriptions, management_groups, first):
        rows, token = list(first["data"]), first["token"]
        while token:
            page = self._page(kql, subscriptions, management_groups, token=token)
            rows.extend(page["data"])
            token = page["token"]
        return rows

    def _skipped_pages(self, kql, subscriptions, management_groups, first):
        """The rows of pages 2..n asked at once by $skip, each of the first page's size; None
        when the service gave no usable total, or the total changed between pages or a row
        came twice (the fleet changed under the query): then the caller follows $skipToken
        instead, whose pages belong to the first one's result."""
        size, total = len(first["data"]), first["total"]
        if not size or not total or total <= size:
            return None
        offsets = range(size, total, size)

        def page_at(offset):
            return self._page(kql, subscriptions, management_groups, skip=offset, top=size)
        with ThreadPoolExecutor(max_workers=min(PAGE_READERS, len(offsets))) as pool:
            pages = list(pool.map(page_at, offsets))
        if any(page["total"] != total for page in pages):
            return None
        rows = list(first["data"])
        for page in pages:
            rows.extend(page["data"])
        if len({str(row.get("id")).lower() for row in rows}) != len(rows):
            return None
        return rows

    def _page(self, kql, subscriptions, management_groups, *, token=None, skip=None, top=PAGE_SIZE):
        """One page (_page_of); 429s waited out (_Quota.throttled)."""
        from azure.core.exceptions import HttpResponseError
        options = {"$top": top, "resultFormat": "objectArray"}
        if token:
            options["$skipToken"] = token
        if skip:
            options["$skip"] = skip
        failures = 0
        while True:
            self._quota.acquire()
            with self._lock:
                self.pages += 1
            try:
                response = self._send(kql, subscriptions, management_groups, options)
            except Exception as error:  # pylint: disable=broad-except
                self._quota.release()
                failures += 1
                if self._again(failures, _transient_failure(error)):
                    continue
                raise GraphError(describe_error(error)) from None
            except BaseException:       # interrupted: the others must not wait for this answer
                self._quota.release()
                raise
            if response.status_code == 429:
                self._quota.throttled(_seconds(_header(response.headers, "retry-after")))
                continue
            self._quota.release(response.headers)
            if response.status_code != 200:
                failures += 1
                if self._again(failures, response.status_code in RETRY_STATUSES):
                    continue
                from azure.mgmt.core.exceptions import ARMErrorFormat
                raise GraphError(describe_error(HttpResponseError(response=response, error_format=ARMErrorFormat)))
            return _page_of(response)

    def _again(self, failures, transient):
        """Whether to ask a page again after its ``failures``-th failure: only a transient one
        (no connection, a timeout, a 5xx), at most ATTEMPTS times in all, and only while the
        deadline leaves room for the pause: the run's one schedule (deadline.backoff, the one the
        azure-core and Kubernetes retries use). Without it one slow page failed the whole query,
        and scan fell back to a query per subscription."""
        pause = backoff(failures)
        if not transient or failures >= ATTEMPTS or not self._quota.deadline.fits(pause):
            return False
        self._quota.sleep(pause)
        return True

    def _send(self, kql, subscriptions, management_groups, options):
        """POST the query through the client's pipeline (its credential, ARM host pin, user
        agent and logging) and return the raw answer, read whole.

        Not the SDK's ``resources()``: it builds a model object for every row and every
        nested value of the answer (msrest's Deserializer), and scan reads plain JSON rows;
        at 5,000 clusters that was a visible share of scan's CPU (bench/scan_speed.py). The
        request is the one ``resources()`` sends (azure-mgmt-resourcegraph 8.0
        ``build_resources_request``: POST /providers/Microsoft.ResourceGraph/resources, the
        client's api-version, a QueryRequest body), through the client's own pipeline
        (``_send_request``, the generated client's documented raw-request entry point:
        aka.ms/azsdk/dpcodegen/python/send_request). No retries of the pipeline's own: 429s
        are waited out here, within the scan's deadline."""
        from azure.core.rest import HttpRequest
        body = {"query": kql, "options": dict(options)}
        if subscriptions:
            body["subscriptions"] = list(subscriptions)
        if management_groups:
            body["managementGroups"] = list(management_groups)
        request = HttpRequest("POST", "/providers/Microsoft.ResourceGraph/resources", json=body,
                              params={"api-version": self.client._config.api_version})  # pylint: disable=protected-access
        send = getattr(self.client, "send_request", None) or self.client._send_request  # pylint: disable=protected-access
        response = send(request, stream=True, retry_total=0, **ARM_CALL_OPTIONS)
        response.read()
        return response
