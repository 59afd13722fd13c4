"""Pure parsing of the texts the cluster shows when the plug-in CA goes wrong.

Two sources, both plain text in the snapshot:

* kubelet ``FailedMount`` events and the Azure Key Vault CSI provider's log: they
  say WHY the ``cacerts`` volume does not mount. Key Vault errors come in two
  formats (Azure/secrets-store-csi-driver-provider-azure: autorest up to v1.4,
  azcore from v1.5; verbatim samples in tests/upstream/provider): the legacy autorest one
  (``StatusCode=403 ... InnerError={"code":"AccessDenied"}``) and the azcore one of
  provider v1.5+ (``RESPONSE 403: 403 Forbidden`` / ``ERROR CODE: Forbidden`` and a
  JSON body with ``innererror``). Both are reduced to one ``cause``.
  A text is not matched against phrases: ``mount_text_parts`` reads it into its parts, from
  the innermost error outwards (who failed: kubelet, the driver, the provider, Key Vault or
  a token endpoint; at which step; the status and code of whoever answered; the object,
  pod and vault it names), and the cause is decided from those parts. Literal words are
  kept only as evidence. Why: the same failure comes worded by many releases (autorest and
  azcore, klog text and JSON, kubelet before and after 1.28), and a phrase list misses the
  wording it was not written for, or takes a wrapper's words for the cause.
* istiod's ``discovery`` log: which CA it loaded (plug-in or self-signed, by the
  version-specific lines of istio/istio ``pilot/pkg/bootstrap/certcontroller.go`` and
  ``istio_ca.go``; samples per version in tests/upstream/istiod) and whether it rejected the files.

No I/O and no catalog here: checks turn these results into findings. Why a module
of its own: the texts change between versions, and one place that knows every
variant keeps the checks short and the tests exact.
"""

import re

# Causes of a failed cacerts mount (what the checks map to findings).
ACCESS_POLICY = "access-policy"      # 403 AccessDenied: no secret 'get' in an access policy
RBAC = "rbac"                        # 403 ForbiddenByRbac
FIREWALL = "firewall"                # 403 ForbiddenByFirewall
CONNECTION = "connection"            # 403 ForbiddenByConnection (public access off, no private link)
SECRET_NOT_FOUND = "secret-not-found"  # 404 SecretNotFound
SECRET_DISABLED = "secret-disabled"  # 403 SecretDisabled
NETWORK = "network"                  # the provider could not reach Key Vault (no answer from it)
IDENTITY = "identity"                # 'Identity not found'
IDENTITY_ENDPOINT = "identity-endpoint"  # the node's managed-identity endpoint (IMDS) gave no token
TOKEN = "token"                      # Microsoft Entra ID (not IMDS) gave no token: workload identity, client secret
TENANT = "tenant"                    # 401 AKV10032: the token's issuer is another tenant than the vault's
DRIVER = "driver"                    # CSI driver not registered on the node
SPC_NOT_FOUND = "spc-not-found"      # the SecretProviderClass the volume names does not exist
PROVIDER_DOWN = "provider-down"      # the driver finds no Azure provider (socket) on the node
NO_IDENTITY = "no-identity"          # the SecretProviderClass selects no identity the provider can use
TIMEOUT = "timeout"                  # kubelet's or the driver's own deadline: the mount was slow, nothing more
UNKNOWN = "unknown"                  # a mount failure we cannot attribute

# Who failed, and at which step: the parts a text is read into (``mount_text_parts``).
KUBELET, DRIVER_PARTY, PROVIDER, KEY_VAULT, TOKEN_ENDPOINT = (
    "kubelet", "driver", "provider", "key-vault", "token-endpoint")
STEP_TOKEN, STEP_NETWORK, STEP_AUTHORISATION, STEP_NOT_FOUND, STEP_DISABLED, STEP_TENANT, STEP_CONFIGURATION = (
    "token", "network", "authorisation", "not-found", "disabled", "tenant", "configuration")
STEP_TIMEOUT, STEP_UNKNOWN = "timeout", "unknown"

# (party, step) -> cause, for the parties whose step alone decides.
_CAUSE_OF_STEP = {
    (KUBELET, STEP_NOT_FOUND): DRIVER,
    (KUBELET, STEP_TIMEOUT): TIMEOUT,
    (DRIVER_PARTY, STEP_NOT_FOUND): SPC_NOT_FOUND,
    (DRIVER_PARTY, STEP_NETWORK): PROVIDER_DOWN,
    (DRIVER_PARTY, STEP_TIMEOUT): TIMEOUT,
    (PROVIDER, STEP_CONFIGURATION): NO_IDENTITY,
    (KEY_VAULT, STEP_NETWORK): NETWORK,  # no answer; when Key Vault answered, _key_vault_step decides
}
# Key Vault's inner error codes (Key Vault REST error model; verbatim bodies in tests/upstream/provider).
_KEY_VAULT_CODES = {
    "ForbiddenByRbac": RBAC, "ForbiddenByFirewall": FIREWALL, "ForbiddenByConnection": CONNECTION,
    "SecretDisabled": SECRET_DISABLED, "AccessDenied": ACCESS_POLICY,
    # an access policy naming an applicationId (a compound identity) grants only OBO callers
    "ForbiddenByPolicy": ACCESS_POLICY, "SecretNotFound": SECRET_NOT_FOUND,
}
# The code reported for a cause when Key Vault's text named none (the message alone told it).
_CAUSE_ERROR_CODES = {
    RBAC: "ForbiddenByRbac", FIREWALL: "ForbiddenByFirewall", CONNECTION: "ForbiddenByConnection",
    SECRET_DISABLED: "SecretDisabled", ACCESS_POLICY: "AccessDenied", SECRET_NOT_FOUND: "SecretNotFound",
    TENANT: "AKV10032",
}
# Key Vault's 403/401/404 messages, read when no inner code says it (older API versions, other
# clients, texts pasted without the body): tried in order; the private-link one before the
# firewall one, as both say "not ... a trusted service".
_KEY_VAULT_MESSAGES = (
    (CONNECTION, re.compile(r"public network access is disabled|approved private link", re.I)),
    # 'Client address is not authorized...' and 'Client address (1.2.3.4) is not authorized...'
    # (learn.microsoft.com azure/key-vault/general/rest-error-codes, troubleshooting 403)
    (FIREWALL, re.compile(r"client address\b.{0,80}?\bnot authorized|not a trusted service", re.I | re.S)),
    (RBAC, re.compile(r"caller is not authorized to perform action|DeniedWithNoValidRBAC|no valid rbac", re.I)),
    (ACCESS_POLICY, re.compile(r"does not have (?:secrets? )?get permission|access polic|on-behalf-of", re.I)),
    (SECRET_DISABLED, re.compile(r"disabled secret|secret is disabled", re.I)),
    (SECRET_NOT_FOUND, re.compile(r"was not found in this key vault|secret\S* not found", re.I)),
)
# A 401 for a token from another tenant: AKV10032 'Invalid issuer. Expected one of ..., found ...'.
_TENANT_MESSAGE = re.compile(r"AKV10032|invalid issuer|issuer.{0,40}(?:tenant|expected)|tenant.{0,40}does not match",
                             re.I | re.S)

# Key Vault answered with a status: azcore's 'GET <url>' then 'RESPONSE 403:' (azure-sdk-for-go
# sdk/azcore/internal/exported/response_error.go), autorest's 'keyvault.BaseClient#GetSecret:
# Failure responding to request: StatusCode=403' or 'Service returned an error. Status=403'
# (Azure/go-autorest autorest/azure/azure.go).
_AZCORE_ANSWER = re.compile(r"\b(?:GET|POST|PUT) (https?://[^\s\"]+)\s+(?:-{5,}\s+)?RESPONSE (\d{3})")
_AUTOREST_ANSWER = re.compile(r"keyvault\.BaseClient#\w+: Failure responding to request: StatusCode=(\d{3})"
                              r"|Service returned an error\. Status=(\d{3})")
# A token endpoint answered: adal 'Refresh request failed. Status Code = '400'' (Azure/go-autorest
# autorest/adal/token.go), MSAL Go 'reply status code was 401' (AzureAD/microsoft-authentication-
# library-for-go apps/internal/oauth/ops/internal/comm), aad-pod-identity's NMI (provider pkg/auth/auth.go).
_TOKEN_ANSWER = re.compile(r"Refresh request failed\. Status Code = '(\d{3})'|reply status code was (\d{3})"
                           r"|nmi response failed with status code: (\d{3})")
# The provider was getting a token, not the secret: credential types and token endpoints of
# azidentity, adal, MSAL (workload identity) and NMI; Entra's AADSTS codes.
_TOKEN_TEXT = re.compile(
    r"ManagedIdentityCredential|WorkloadIdentityCredential|ClientAssertionCredential|ClientSecretCredential"
    r"|DefaultAzureCredential|\badal: |MSI endpoint|Failed to refresh the Token|failed to acquire token"
    r"|FromAssertion\(\)|\bAADSTS\d+|169\.254\.169\.254|/metadata/identity/oauth2/token|login\.microsoftonline\."
    r"|/oauth2/(?:v2\.0/)?token|nmi response failed|/host/token")
# ... and the endpoint is the node's managed-identity endpoint (IMDS), which the add-on uses.
_IMDS_TEXT = re.compile(r"169\.254\.169\.254|/metadata/identity|ManagedIdentityCredential|MSI endpoint"
                        r"|managed identity", re.I)
_AADSTS = re.compile(r"\bAADSTS\d+")
_IDENTITY_NOT_FOUND = re.compile(r"Identity not found", re.I)
# The connection never got an answer (Go's net and net/http texts; autorest's StatusCode=0).
_TRANSPORT = re.compile(r"StatusCode=0\b|no such host|i/o timeout|connection refused|connection reset by peer"
                        r"|TLS handshake timeout|network is unreachable|no route to host|context deadline exceeded"
                        r"|Client\.Timeout exceeded")
# Who the unanswered connection was for: a Key Vault host or the keyvault client.
_VAULT_PARTY = re.compile(r"\.vault\.(?:azure\.net|azure\.cn|usgovcloudapi\.net|microsoftazure\.de)"
                          r"|keyvault\.BaseClient|failed to get objectType:")
# Deadlines that are kubelet's or the driver's own: the mount took too long, nothing more.
# kubelet: 'timed out waiting for the condition' (up to 1.27) or '... failed to process
# volumes=[]: context deadline exceeded' (1.28+, pkg/kubelet/volumemanager/volume_manager.go
# WaitForAttachAndMount wraps the context's error); gRPC's 'code = DeadlineExceeded'.
_OWN_DEADLINE = re.compile(r"timed out waiting for the condition|code = DeadlineExceeded"
                           r"|failed to process volumes=\[[^\]]*\]: context deadline exceeded")
_DRIVER_NOT_REGISTERED = re.compile(r"not found in the list of registered CSI drivers")
# kubernetes-sigs/secrets-store-csi-driver pkg/secrets-store/utils.go getSecretProviderItem:
# 'failed to get secretproviderclass %s/%s, error: %w' around the API's NotFound text.
_SPC_NOT_FOUND = re.compile(r"failed to get secretproviderclass ([\w.-]+/[\w.-]+).{0,200}?not found", re.I | re.S)
# The driver finds no provider socket: 'provider not found: provider "azure"' (kubernetes-sigs/
# secrets-store-csi-driver e3113ba8 provider_client.go PluginClientBuilder.Get), or older
# drivers' gRPC dial of the socket.
_PROVIDER_DOWN = re.compile(r"provider not found: provider"
                            r"|dial unix \S*secrets-store-csi-providers\S*\.sock: connect: "
                            r"(?:no such file or directory|connection refused)")
# The SecretProviderClass selects no identity (no useVMManagedIdentity, pod or workload
# identity, no nodePublishSecretRef): Azure/secrets-store-csi-driver-provider-azure pkg/auth/auth.go.
_NO_IDENTITY = re.compile(r"nodePublishSecretRef secret is not set|no valid identity access mode specified"
                          r"|no valid credentials provided|could not find clientid in secrets", re.I)

# Texts that mark a line as being about a failed mount at all.
_MOUNT_FAILURE_MARKERS = (
    "failed to process mount request", "failed to mount objects", "failed to get objectType:",
    "failed to get keyvault client", "MountVolume.SetUp failed", "Unable to attach or mount volumes",
    "failed to mount secrets store objects", "failed to get secretproviderclass", "provider mount err",
    "failed to create provider client", "failed to process volumes=",
)

_OBJECT_NAME = re.compile(r"objectName:\s*([^,\s]+)")
_SECRET_NOT_FOUND_NAME = re.compile(r"A secret with \(name/id\) ([^\s/]+)")
_AZCORE_URL_NAME = re.compile(r"GET https://[^\s/]+/secrets/([^/\s?\"]+)")
_POD = re.compile(r"for pod ([\w.-]+/[\w.-]+)|\bpod=\"?([\w.-]+/[\w.-]+)")
_VAULT_HOST = re.compile(r"https://([\w-]+)\.vault\.")
_INNER_CODE = re.compile(r"\"innererror\":\s*\{\s*\"code\":\s*\"(\w+)\"|InnerError=\{\"code\":\"(\w+)\"\}")
_ERROR_CODE = re.compile(r"ERROR CODE: (\w+)|\bCode=\"(\w+)\"|\"code\":\s*\"(\w+)\"")
_AZCORE_STATUS = re.compile(r"RESPONSE (\d{3}):")
_LEGACY_STATUS = re.compile(r"StatusCode=(\d{1,3})")
_DASH_RUN = re.compile(r"-{5,}")
_SPACE_RUN = re.compile(r"\s+")
# A provider log entry starts with a klog header (E1121 00:20:25.808396) or a JSON
# object, optionally after the RFC 3339 timestamp that `kubectl logs --timestamps`
# puts on every line; other lines continue the entry before them.
_TIMESTAMP_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}T\S+ ")
# the same prefix on every line of a grouped entry, dropped before it is read
_LINE_TIMESTAMPS = re.compile(_TIMESTAMP_PREFIX.pattern, re.M)
_ENTRY_START = re.compile(r"^(?:\d{4}-\d{2}-\d{2}T\S+\s+)?(?:[IWEF]\d{4} \d{2}:\d{2}:\d{2}|\{\")")

EVIDENCE_LIMIT = 300
_PROVIDER_FRAME = "failed to get objectType:"


# --------------------------------------------------------------------------- shared helpers

def unescape(text):
    """Undo the JSON quoting klog applies to err="..." values, so markers match."""
    return str(text).replace("\\n", "\n").replace('\\"', '"').replace("\\t", "\t")


def trim_evidence(text, marker=None, limit=EVIDENCE_LIMIT):
    """One line of at most ``limit`` characters that still shows ``marker``.

    Why: kubelet's framing and azcore's multi-line errors make texts long, while
    evidence must stay short yet keep what matters: which object failed (the
    provider's ``failed to get objectType:...`` part) and the code that names the
    cause. A short text is returned exactly (whitespace runs collapsed).
    """
    flat = _SPACE_RUN.sub(" ", _DASH_RUN.sub(" ", unescape(text))).strip()
    if len(flat) <= limit:
        return flat
    core = flat.find(_PROVIDER_FRAME)
    if core > 0:
        flat = "…" + flat[core:]
        if len(flat) <= limit:
            return flat
    position = flat.find(marker) if marker else -1
    if position < 0 or position + len(marker) <= limit - 1:
        return flat[:limit - 1] + "…"
    head = flat[:limit // 3]
    budget = limit - len(head) - 3
    end = min(len(flat), position + len(marker) + budget // 4)
    window = flat[max(position, end - budget):end] if end - position > budget else flat[end - budget:end]
    return head + " … " + window + ("…" if end < len(flat) and len(head) + 3 + len(window) < limit else "")


def group_log_entries(lines):
    """Join continuation lines (azcore's multi-line errors) to the entry they belong to.

    klog v2.80+ renders a multi-line value as ``key=<``, then every line of the value
    indented with a tab, then `` >`` (kubernetes/klog ``internal/serialize/keyvalues.go``
    ``writeStringValue``): such lines always continue the entry, even when they carry a
    mount failure text of their own (the value's first line is the provider's
    ``failed to get objectType:...``).
    """
    entries = []
    for line in lines or ():
        text = str(line)
        if entries and (_is_klog_value_line(text) or
                        (not _ENTRY_START.match(text) and not _looks_like_own_entry(text))):
            entries[-1] += "\n" + text
        else:
            entries.append(text)
    return entries


def _is_klog_value_line(text):
    """A line of a klog multi-line value (tab-indented) or its end delimiter (`` >``)."""
    body = _TIMESTAMP_PREFIX.sub("", text, count=1)
    return body.startswith("\t") or body.rstrip() == " >"


def _looks_like_own_entry(text):
    """Lines without a header still stand alone when they carry a mount failure of their own."""
    return any(marker in text for marker in _MOUNT_FAILURE_MARKERS)


# --------------------------------------------------------------------------- mount failures

def _first_group(match):
    return next((group for group in match.groups() if group), None) if match else None


def _answer(text):
    """(party, status) of the service that ANSWERED, or (None, None) when none did.

    An answer is conclusive about who failed: Key Vault answering means a token was
    obtained, whatever the text says about tokens elsewhere; a token endpoint answering
    means Key Vault was never asked.
    """
    for match in _AZCORE_ANSWER.finditer(text):
        party = TOKEN_ENDPOINT if _TOKEN_TEXT.search(match.group(1)) else KEY_VAULT
        return party, int(match.group(2))
    match = _AUTOREST_ANSWER.search(text)
    if match:
        return KEY_VAULT, int(_first_group(match))
    match = _TOKEN_ANSWER.search(text)
    if match:
        return TOKEN_ENDPOINT, int(_first_group(match))
    return None, None


def _key_vault_step(text, status, code):
    """The step of a Key Vault answer, and the cause when the step alone does not say it."""
    if status == 401 and _TENANT_MESSAGE.search(text):
        return STEP_TENANT, TENANT
    cause = _KEY_VAULT_CODES.get(code or "")
    if cause is None:
        cause = next((candidate for candidate, pattern in _KEY_VAULT_MESSAGES if pattern.search(text)), None)
    if cause is None and status == 404:
        cause = SECRET_NOT_FOUND
    steps = {SECRET_NOT_FOUND: STEP_NOT_FOUND, SECRET_DISABLED: STEP_DISABLED, FIREWALL: STEP_NETWORK,
             CONNECTION: STEP_NETWORK}
    if cause is None:
        return STEP_UNKNOWN, UNKNOWN
    return steps.get(cause, STEP_AUTHORISATION), cause


# Failures before any service is asked, whose own words say who failed and at which step.
_LOCAL_FAILURES = (
    (_DRIVER_NOT_REGISTERED, KUBELET, STEP_NOT_FOUND),
    (_SPC_NOT_FOUND, DRIVER_PARTY, STEP_NOT_FOUND),
    (_PROVIDER_DOWN, DRIVER_PARTY, STEP_NETWORK),
    (_NO_IDENTITY, PROVIDER, STEP_CONFIGURATION),
)


def _party_and_step(text, answered):
    """(party, step, marker): who failed and at which step, read from the innermost error outwards.

    kubelet wraps the driver's error, which wraps the provider's, which wraps Key
    Vault's or the token endpoint's answer (or a connection that got none). The
    innermost part that is present decides; the wrappers' words are never taken for it.
    ``answered`` is the party that answered (``_answer``); Key Vault's step is then read
    from its status, code and message (step None here).
    """
    local = next(((party, step) for pattern, party, step in _LOCAL_FAILURES if pattern.search(text)), None)
    if local:
        return local + (None,)
    if answered == KEY_VAULT:
        return KEY_VAULT, None, None
    if answered == TOKEN_ENDPOINT or _TOKEN_TEXT.search(text) or _IDENTITY_NOT_FOUND.search(text):
        return TOKEN_ENDPOINT, STEP_TOKEN, None
    return _unanswered(text)


def _unanswered(text):
    """No service answered: the vault's network, or a deadline of kubelet's or the driver's own."""
    transport = _TRANSPORT.search(text)
    marker = transport.group(0) if transport else None
    if transport and _VAULT_PARTY.search(text) and not _OWN_DEADLINE.search(text):
        return KEY_VAULT, STEP_NETWORK, marker
    if _OWN_DEADLINE.search(text) or marker == "context deadline exceeded":
        return (KUBELET if "volumes=[" in text else DRIVER_PARTY), STEP_TIMEOUT, None
    return (None, STEP_NETWORK, marker) if transport else (None, STEP_UNKNOWN, None)


def _code(text):
    """Key Vault's most specific error code: the inner code, else the error's code."""
    return _first_group(_INNER_CODE.search(text)) or _first_group(_ERROR_CODE.search(text))


def mount_text_parts(plain):
    """The parts of one mount-failure text (already ``unescape``d): who failed, at which step,
    status, code, object.

    Returns a dict: ``party`` (KUBELET, DRIVER_PARTY, PROVIDER, KEY_VAULT, TOKEN_ENDPOINT
    or None), ``step`` (STEP_*), ``status`` (HTTP status of the party that answered, or
    None), ``code`` (Key Vault's or Entra's error code, or None), ``secretName``, ``pod``
    (namespace/name, when the text names the pod), ``vault`` (the vault's name, from its
    URL) and ``cause``, decided from those parts. ``marker`` is the literal text the
    decision rests on, kept as evidence only.
    """
    answered, status = _answer(plain)
    party, step, marker = _party_and_step(plain, answered)
    if answered == KEY_VAULT:
        code = _code(plain)
    else:
        aadsts = _AADSTS.search(plain)
        code = aadsts.group(0) if aadsts else None
    cause = _CAUSE_OF_STEP.get((party, step))
    if party == KEY_VAULT and step is None:
        step, cause = _key_vault_step(plain, status, code)
    elif party == TOKEN_ENDPOINT:
        cause = _token_cause(plain)
    elif cause is None:
        cause = NETWORK if step == STEP_NETWORK else UNKNOWN
    return {"party": party, "step": step, "status": status if status is not None else _status(plain),
            "code": code, "secretName": _secret_name(plain), "pod": _first_group(_POD.search(plain)),
            "vault": _first_group(_VAULT_HOST.search(plain)), "cause": cause,
            "marker": marker or _marker(plain, cause)}


def _token_cause(text):
    """Which token failure: the identity does not exist, IMDS gave none, or Entra ID gave none."""
    if _IDENTITY_NOT_FOUND.search(text):
        return IDENTITY
    return IDENTITY_ENDPOINT if _IMDS_TEXT.search(text) else TOKEN


# cause -> the patterns whose words carry it, most telling first (evidence only).
_MARKERS = {
    NETWORK: (_TRANSPORT,),
    IDENTITY_ENDPOINT: (_AADSTS, _TRANSPORT, _TOKEN_TEXT),
    TOKEN: (_AADSTS, _TRANSPORT, _TOKEN_TEXT),
    IDENTITY: (_IDENTITY_NOT_FOUND,),
    TENANT: (_TENANT_MESSAGE,),
    SPC_NOT_FOUND: (_SPC_NOT_FOUND,),
    PROVIDER_DOWN: (_PROVIDER_DOWN,),
    NO_IDENTITY: (_NO_IDENTITY,),
    DRIVER: (_DRIVER_NOT_REGISTERED,),
    TIMEOUT: (_OWN_DEADLINE, _TRANSPORT),
}


def _marker(text, cause):
    """The literal words that carry the cause, kept to trim evidence around them."""
    patterns = _MARKERS.get(cause) or ((_INNER_CODE,) + tuple(
        pattern for candidate, pattern in _KEY_VAULT_MESSAGES if candidate == cause) + (_ERROR_CODE,))
    for pattern in patterns:
        match = pattern.search(text)
        if match:
            return _first_group(match) if pattern in (_INNER_CODE, _ERROR_CODE) else match.group(0)
    return None


def _secret_name(text):
    for pattern in (_OBJECT_NAME, _SECRET_NOT_FOUND_NAME, _AZCORE_URL_NAME):
        match = pattern.search(text)
        if match:
            return match.group(1).strip("\"'")
    return None


def _status(text):
    for pattern in (_AZCORE_STATUS, _LEGACY_STATUS):
        match = pattern.search(text)
        if match:
            return int(match.group(1))
    return None


_DETAILS = {
    TIMEOUT: "kubelet timed out waiting for the volume (no provider error in this event)",
    SECRET_DISABLED: "Key Vault refuses a disabled secret (403 SecretDisabled)",
    IDENTITY: "Identity not found",
    TENANT: "Key Vault refuses a token issued by another tenant (401 AKV10032 invalid issuer)",
}


def _detail(text, parts):
    """A short phrase for the findings' templates."""
    cause, marker = parts["cause"], parts["marker"]
    if cause == NETWORK:
        return marker or "no answer from Key Vault"
    if cause == IDENTITY_ENDPOINT:
        return "the node's managed-identity endpoint (169.254.169.254) gave no token: " + (marker or "")
    if cause == TOKEN:
        return "Microsoft Entra ID gave no token: " + (parts["code"] or marker or "")
    if cause == SPC_NOT_FOUND:
        match = _SPC_NOT_FOUND.search(text)
        return f"secretproviderclass {match.group(1)} not found" if match else "secretproviderclass not found"
    return _DETAILS.get(cause) or trim_evidence(text, limit=160)


def classify_mount_error(text):
    """What a FailedMount event message or provider log entry says went wrong.

    Returns None when the text is not about a failed mount, else a dict:
    ``cause`` (one of the constants above), ``secretName`` (object name or None),
    ``errorCode`` (Key Vault code such as ``AccessDenied``, or None), ``status``
    (HTTP status or None), ``detail`` (a short phrase), ``evidence`` (the text,
    trimmed to one line of at most 300 characters around the cause), and the parts
    it was decided from: ``party``, ``step``, ``pod`` and ``vault``.
    """
    if text is None:
        return None
    plain = _LINE_TIMESTAMPS.sub("", unescape(text))
    parts = mount_text_parts(plain)
    cause = parts["cause"]
    if not any(item in plain for item in _MOUNT_FAILURE_MARKERS) and cause in (UNKNOWN, TIMEOUT, NETWORK):
        return None
    error_code = None
    if parts["party"] == KEY_VAULT and cause != NETWORK:
        error_code = parts["code"] if parts["code"] in _KEY_VAULT_CODES else _CAUSE_ERROR_CODES.get(cause)
    return {
        "cause": cause,
        "secretName": parts["secretName"],
        "errorCode": error_code,
        "status": parts["status"],
        "detail": _detail(plain, parts),
        "evidence": trim_evidence(plain, parts["marker"]),
        "party": parts["party"],
        "step": parts["step"],
        "pod": parts["pod"],
        "vault": parts["vault"],
    }


_CLASSIFIED = {}
_CLASSIFIED_LIMIT = 4096


def classify_mount_error_cached(text):
    """classify_mount_error, remembered per text: kubelet repeats one message for every
    retry and pod, so thousands of events hold a handful of texts. The result is shared:
    callers must not change it."""
    key = text if isinstance(text, str) else None
    if key is not None and key in _CLASSIFIED:
        return _CLASSIFIED[key]
    result = classify_mount_error(text)
    if key is not None:
        if len(_CLASSIFIED) >= _CLASSIFIED_LIMIT:
            _CLASSIFIED.clear()
        _CLASSIFIED[key] = result
    return result


def classify_provider_log(lines):
    """Every mount failure in a provider log (list of lines), in log order."""
    results = []
    for entry in group_log_entries(lines):
        result = classify_mount_error(entry)
        if result is not None:
            results.append(result)
    return results


# --------------------------------------------------------------------------- istiod's CA lines

PLUGIN = "plugin"                    # istiod loaded the plugged-in CA files
SELF_SIGNED = "self-signed"          # istiod runs its own self-signed CA
REJECTED = "rejected"                # istiod refused the files at start-up
UPDATE_FAILED = "update-failed"      # a hot reload failed; the old CA stays in use
ROOT_REJECTED = "root-rejected"      # a new root was seen but not loaded; the old CA stays in use
INTERMEDIATE_UPDATED = "intermediate-updated"
ROOT_UPDATED = "root-updated"

# Order matters: the self-signed 1.18 line contains "plugged-in cert at", and the
# 1.21 plug-in line contains "use plugged-in cert at"; so self-signed goes first and
# the plug-in texts are matched case-sensitively.
_ISTIOD_MARKERS = (
    (SELF_SIGNED, ("No plugged-in cert at", "self-signed cert is used", "Use istio-generated cacerts at",
                   # 1.23+: "Use roots from istio-ca-secret", or "Use roots from %v and watch" for
                   # istio-generated cacerts (istio/istio pilot/pkg/bootstrap/certcontroller.go)
                   "Use roots from")),
    (PLUGIN, ("Use plugged-in cert at", "DNS certs use plugged-in cert at", "Use root cert from")),
    (UPDATE_FAILED, ("Failed to update new Plug-in CA certs",)),
    (REJECTED, ("failed to create CA KeyCertBundle", "incomplete signing CA bundle detected",
                "failed to create an istiod CA")),
    # Both rejections contain the acceptance text "Updating new ROOT-CA", so they go first
    # (istio/istio pilot/pkg/bootstrap/istio_ca.go handleEvent: 1.18-1.19 log only
    # "Updating new ROOT-CA not supported"; 1.20+ also "Multi root is disabled, ...").
    (ROOT_REJECTED, ("Multi root is disabled", "Updating new ROOT-CA not supported")),
    (INTERMEDIATE_UPDATED, ("has detected the newly added intermediate CA",)),
    # "Update trust anchor with new root cert" is not here: certcontroller.go
    # updateRootCertAndGenKeyCert logs it after EVERY successful reload when multi-root is on,
    # an intermediate-only one included, so it says nothing about the root.
    (ROOT_UPDATED, ("Updating new ROOT-CA",)),
)

MODE_KINDS = (PLUGIN, SELF_SIGNED)


def classify_istiod_line(line):
    """The kind of a CA-related istiod line (PLUGIN, SELF_SIGNED...), or None."""
    text = str(line)
    for kind, markers in _ISTIOD_MARKERS:
        if any(marker in text for marker in markers):
            return kind
    return None


def istiod_ca_events(lines):
    """[{kind, line}] for every CA-related line of one istiod log, in log order."""
    events = []
    for line in lines or ():
        kind = classify_istiod_line(line)
        if kind is not None:
            events.append({"kind": kind, "line": trim_evidence(line)})
    return events


def istiod_ca_mode(lines):
    """The CA istiod loaded LAST (the log holds history): (kind, line) or (None, None)."""
    mode, mode_line = None, None
    for event in istiod_ca_events(lines):
        if event["kind"] in MODE_KINDS:
            mode, mode_line = event["kind"], event["line"]
    return mode, mode_line


def log_message(line):
    """The message part of an istiod line: drops 'timestamp<TAB>level<TAB>' prefixes."""
    text = str(line).strip()
    match = re.match(r"^\d{4}-\d{2}-\d{2}T[\d:.]+Z?\s+(?:info|warn|error|debug|fatal)\s+(.*)$", text)
    return match.group(1) if match else text


# --------------------------------------------------------------------------- istiod's signing CA

# istiod's own DNS certificate chain, logged after each (re)load as one line per certificate
# (istio/istio pilot/pkg/bootstrap/certcontroller.go loadIstiodCert, tags 1.28.0-1.30.0):
# 'x509 cert - Issuer: %q, Subject: %q, SN: %x, NotBefore: %q, NotAfter: %q'. The first line
# is istiod's leaf; GenKeyCert appends the signing CA's cert-chain.pem (security/pkg/pki/ca/ca.go
# signWithCertChain), so the second line is the intermediate istiod signs with.
_X509_LINE = re.compile(r'x509 cert - Issuer: "(?P<issuer>(?:[^"\\]|\\.)*)", Subject: "(?P<subject>(?:[^"\\]|\\.)*)", '
                        r'SN: (?P<serial>[0-9a-fA-F]+)')
_RELOADED = "Istiod certificates are reloaded"
_LINE_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d+)?Z\s")


def line_time(line):
    """The UTC time text (YYYY-MM-DDTHH:MM:SSZ) that starts an istiod log line, or None."""
    match = _LINE_TIME.match(str(line))
    return match.group(1) + "Z" if match else None


def istiod_signing_ca(lines):
    """The intermediate istiod signs with, from the LAST group of x509 lines of one log:
    {serial (lower-case hex), issuer, subject, time, previous (the serial of the group
    before, or None)} or None when the log shows no chain."""
    groups, group = [], []
    for line in lines or ():
        text = str(line)
        match = _X509_LINE.search(text)
        if match:
            group.append((match, line_time(text)))
        elif _RELOADED in text and group:
            groups.append(group)
            group = []
    if group:
        groups.append(group)
    signing = [group[1] for group in groups if len(group) >= 2]
    if not signing:
        return None
    match, moment = signing[-1]
    previous = _serial(signing[-2][0]) if len(signing) > 1 else None
    return {"serial": _serial(match), "issuer": match.group("issuer"), "subject": match.group("subject"),
            "time": moment, "previous": previous}


def _serial(match):
    return match.group("serial").lower().lstrip("0") or "0"


def istiod_timed_events(lines):
    """istiod_ca_events with each line's time: [{kind, line, time}], in log order."""
    events = []
    for line in lines or ():
        kind = classify_istiod_line(line)
        if kind is not None:
            events.append({"kind": kind, "line": trim_evidence(line), "time": line_time(line)})
    return events
