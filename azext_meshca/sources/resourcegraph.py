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
(hh:mm:ss); a throttled request is a 429 with ``Retry-After`` seconds. We wait when the
quota is spent or the service says so, but never past the scan's deadline: then the
query fails with a reason, and the subscriptions it concerns become collection findings.
"""

import re
import threading
import time

from azext_meshca._client_factory import ARM_CALL_OPTIONS
from azext_meshca.sources.errors import describe_error
from azext_meshca.model.snapshot import collection_error

PAGE_SIZE = 1000               # the service's largest page ($top maximum 1000: resourcegraph.json above)
DEADLINE_SECONDS = 120         # the longest a scan waits on throttling, in total
THROTTLED_CODE = "RateLimiting"

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
# - Rows: $top is at most 1000 (resourcegraph.json, QueryRequestOptions); later pages follow
#   $skipToken, one after another (a token names the next page only).

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
            " addonProfiles = properties.addonProfiles, aadProfile = properties.aadProfile")

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
          ".keyVaultId)) | distinct vaultKey) on vaultKey" + _VAULT_COLUMNS)

# The same columns for vaults named by ID: only for vaults outside the fleet query's scope.
VAULTS_BY_ID = ("resources"
                " | where type =~ 'microsoft.keyvault/vaults'"
                " | where tolower(id) in~ ({ids})" + _VAULT_COLUMNS)

# Every role assignment of an add-on identity of a cluster in scope: assignments joined to the
# clusters' distinct identity object IDs (the query's one cross-table join).
ROLE_ASSIGNMENTS = ("authorizationresources"
                    " | where type =~ 'microsoft.authorization/roleassignments'"
                    " | extend principalId = tolower(tostring(properties.principalId))"
                    " | join kind=inner (" + _PLUGIN_CLUSTERS +
                    " | extend principalId = tolower(tostring(properties.addonProfiles.azureKeyvaultSecretsProvider"
                    ".identity.objectId)) | distinct principalId) on principalId"
                    " | project id, principalId, scope = properties.scope,"
                    " roleDefinitionId = properties.roleDefinitionId, principalType = properties.principalType")

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


def _header(headers, name):
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


class ResourceGraph:
    """Runs scan's queries: pages them, honours the quota headers and 429s, counts pages.

    Safe to share between threads: scan runs its independent queries at once (the quota,
    15 queries per 5 s per user, is far above their handful), and every thread reads the
    quota the last answer announced before it sends."""

    def __init__(self, client, deadline_seconds=DEADLINE_SECONDS, sleep=time.sleep, clock=time.monotonic):
        self.client = client
        self.sleep = sleep
        self.clock = clock
        self.deadline = clock() + deadline_seconds
        self.pages = 0
        self._resume_at = None
        self._lock = threading.Lock()

    def query(self, kql, subscriptions=None, management_groups=None):
        """Every row of ``kql`` (objectArray), following $skipToken; raises GraphError."""
        rows, token = [], None
        while True:
            page = self._page(kql, subscriptions, management_groups, token)
            rows.extend(page.data or [])
            token = page.skip_token
            if not token:
                return rows

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

    def _page(self, kql, subscriptions, management_groups, token):
        from azure.core.exceptions import HttpResponseError
        from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions
        request = QueryRequest(subscriptions=subscriptions or None, management_groups=management_groups or None,
                               query=kql, options=QueryRequestOptions(top=PAGE_SIZE, skip_token=token,
                                                                      result_format="objectArray"))
        while True:
            self._wait_for_quota()
            seen = {}
            with self._lock:
                self.pages += 1
            try:
                response = self.client.resources(
                    request, retry_total=0, raw_response_hook=lambda pipeline: seen.update(
                        headers=pipeline.http_response.headers), **ARM_CALL_OPTIONS)
            except HttpResponseError as error:
                if getattr(error, "status_code", None) == 429:
                    headers = getattr(getattr(error, "response", None), "headers", None)
                    self._throttled(_seconds(_header(headers, "retry-after")))
                    continue
                raise GraphError(describe_error(error)) from None
            except Exception as error:  # pylint: disable=broad-except
                raise GraphError(describe_error(error)) from None
            self._note_quota(seen.get("headers"))
            return response

    def _throttled(self, retry_after):
        """Wait out a 429, or give up when waiting would pass the deadline."""
        wait = 1.0 if retry_after is None else retry_after
        if self.clock() + wait > self.deadline:
            raise GraphError(collection_error(
                "429 Too Many Requests (RateLimiting): Resource Graph throttled the query and asked to wait "
                f"{wait:.0f}s, past the scan's {DEADLINE_SECONDS}s deadline", 429, THROTTLED_CODE))
        self.sleep(wait)

    def _note_quota(self, headers):
        remaining = _header(headers, "x-ms-user-quota-remaining")
        resets = _seconds(_header(headers, "x-ms-user-quota-resets-after"))
        if remaining is not None and str(remaining).strip() in ("0", "-1") and resets:
            with self._lock:
                self._resume_at = self.clock() + resets

    def _wait_for_quota(self):
        """Wait for the window to reset when the last answer said the quota is spent
        (every thread that would send meanwhile waits for the same reset)."""
        with self._lock:
            resume_at = self._resume_at
        if resume_at is None:
            return
        wait = resume_at - self.clock()
        if wait <= 0:
            with self._lock:
                if self._resume_at == resume_at:
                    self._resume_at = None
            return
        if self.clock() + wait > self.deadline:
            raise GraphError(collection_error(
                f"Resource Graph's quota for this user is spent and resets after {wait:.0f}s, past the scan's "
                "deadline", 429, THROTTLED_CODE))
        self.sleep(wait)
