"""Pure parsing of the texts the cluster shows when the plug-in CA goes wrong.

Two sources, both plain text in the snapshot:

* kubelet ``FailedMount`` events and the Azure Key Vault CSI provider's log: they
  say WHY the ``cacerts`` volume does not mount. Key Vault errors come in two
  formats (Azure/secrets-store-csi-driver-provider-azure: autorest up to v1.4,
  azcore from v1.5; verbatim samples in tests/upstream/provider): the legacy autorest one
  (``StatusCode=403 ... InnerError={"code":"AccessDenied"}``) and the azcore one of
  provider v1.5+ (``RESPONSE 403: 403 Forbidden`` / ``ERROR CODE: Forbidden`` and a
  JSON body with ``innererror``). Both are reduced to one ``cause``.
* istiod's ``discovery`` log: which CA it loaded (plug-in or self-signed, by the
  version-specific lines of istio/istio ``pilot/pkg/bootstrap/certcontroller.go`` and
  ``istio_ca.go``; samples per version in tests/upstream/istiod) and whether it rejected the files.

No I/O and no catalog here: checks turn these results into findings. Why a module
of its own: the texts change between versions, and one place that knows every
variant keeps the checks short and the tests exact.
"""

import re

# Causes of a failed cacerts mount, most specific first.
ACCESS_POLICY = "access-policy"      # 403 AccessDenied: no secret 'get' in an access policy
RBAC = "rbac"                        # 403 ForbiddenByRbac
FIREWALL = "firewall"                # 403 ForbiddenByFirewall
CONNECTION = "connection"            # 403 ForbiddenByConnection (public access off, no private link)
SECRET_NOT_FOUND = "secret-not-found"  # 404 SecretNotFound
SECRET_DISABLED = "secret-disabled"  # 403 SecretDisabled
NETWORK = "network"                  # StatusCode=0 / context deadline exceeded / no such host
IDENTITY = "identity"                # 'Identity not found'
IDENTITY_ENDPOINT = "identity-endpoint"  # the node's managed-identity endpoint (IMDS) gave no token
TENANT = "tenant"                    # 401 AKV10032: the token's issuer is another tenant than the vault's
DRIVER = "driver"                    # CSI driver not registered on the node
TIMEOUT = "timeout"                  # kubelet's generic time-outs: 'timed out waiting...', gRPC DeadlineExceeded
UNKNOWN = "unknown"                  # a mount failure we cannot attribute

# (cause, Key Vault error code to report, markers), tried in this order. Codes come
# before free-text markers so both error formats land on the same cause.
_CAUSE_MARKERS = (
    (DRIVER, None, ("not found in the list of registered CSI drivers",)),
    (IDENTITY, None, ("Identity not found",)),
    # Key Vault's 401 for a token from another tenant (Key Vault error AKV10032 'Invalid issuer').
    (TENANT, "AKV10032", ("AKV10032",)),
    # The node could not get a token at all: the vault was never asked, so a timeout or refused
    # connection here is not the vault's network. Texts: go-autorest adal (legacy provider) and
    # azidentity ManagedIdentityCredential (provider v1.5+), both naming the IMDS address.
    (IDENTITY_ENDPOINT, None, ("MSI endpoint is not available", "ManagedIdentityCredential",
                               "169.254.169.254", "adal: Failed to execute the refresh request")),
    (RBAC, "ForbiddenByRbac", ("ForbiddenByRbac",)),
    (FIREWALL, "ForbiddenByFirewall", ("ForbiddenByFirewall",
                                       "Client address is not authorized and caller is not a trusted service")),
    (CONNECTION, "ForbiddenByConnection", ("ForbiddenByConnection",
                                           "Public network access is disabled")),
    (SECRET_DISABLED, "SecretDisabled", ("SecretDisabled", "not allowed on a disabled secret")),
    (ACCESS_POLICY, "AccessDenied", ("AccessDenied", "does not have secrets get permission")),
    # An access policy that names an applicationId (a compound identity) grants only callers
    # using the on-behalf-of flow; Key Vault says so with the inner code ForbiddenByPolicy.
    (ACCESS_POLICY, "ForbiddenByPolicy", ("ForbiddenByPolicy", "to use on-behalf-of (OBO) flow")),
    (SECRET_NOT_FOUND, "SecretNotFound", ("SecretNotFound", "was not found in this key vault")),
    (NETWORK, None, ("StatusCode=0", "no such host", "i/o timeout", "connection refused",
                     "connection reset by peer")),
    # kubelet's own gRPC deadline on the call to the driver says only that the mount took
    # too long (e.g. while the provider looked for an identity), not that the nodes cannot
    # reach Key Vault: it must not outrank the specific cause found for the same pods.
    (TIMEOUT, None, ("code = DeadlineExceeded", "timed out waiting for the condition")),
    (NETWORK, None, ("context deadline exceeded",)),
)

# Texts that mark a line as being about a failed mount at all.
_MOUNT_FAILURE_MARKERS = (
    "failed to process mount request", "failed to mount objects", "failed to get objectType:",
    "failed to get keyvault client", "MountVolume.SetUp failed", "Unable to attach or mount volumes",
    "failed to mount secrets store objects",
)

_OBJECT_NAME = re.compile(r"objectName:\s*([^,\s]+)")
_SECRET_NOT_FOUND_NAME = re.compile(r"A secret with \(name/id\) ([^\s/]+)")
_AZCORE_URL_NAME = re.compile(r"GET https://[^\s/]+/secrets/([^/\s?\"]+)")
_AZCORE_STATUS = re.compile(r"RESPONSE (\d{3}):")
_LEGACY_STATUS = re.compile(r"StatusCode=(\d{1,3})")
_DASH_RUN = re.compile(r"-{5,}")
_SPACE_RUN = re.compile(r"\s+")
# A provider log entry starts with a klog header (E1121 00:20:25.808396) or a JSON
# object, optionally after the RFC 3339 timestamp that `kubectl logs --timestamps`
# puts on every line; other lines continue the entry before them.
_TIMESTAMP_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}T\S+ ")
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

def _cause_of(text):
    for cause, error_code, markers in _CAUSE_MARKERS:
        for marker in markers:
            if marker in text:
                return cause, error_code, marker
    return UNKNOWN, None, None


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


def _detail(text, cause, marker):
    """A short phrase for MCA806/807/808 templates."""
    if cause == NETWORK:
        return marker
    if cause == IDENTITY_ENDPOINT:
        return "the node's managed-identity endpoint (169.254.169.254) gave no token: " + marker
    return _DETAILS.get(cause) or trim_evidence(text, limit=160)


def classify_mount_error(text):
    """What a FailedMount event message or provider log entry says went wrong.

    Returns None when the text is not about a failed mount, else a dict:
    ``cause`` (one of the constants above), ``secretName`` (object name or None),
    ``errorCode`` (Key Vault code such as ``AccessDenied``, or None), ``status``
    (HTTP status or None), ``detail`` (a short phrase) and ``evidence`` (the text,
    trimmed to one line of at most 300 characters around the cause).
    """
    if text is None:
        return None
    plain = unescape(text)
    cause, error_code, marker = _cause_of(plain)
    if not any(item in plain for item in _MOUNT_FAILURE_MARKERS) and cause in (UNKNOWN, TIMEOUT, NETWORK):
        return None
    return {
        "cause": cause,
        "secretName": _secret_name(plain),
        "errorCode": error_code,
        "status": _status(plain),
        "detail": _detail(plain, cause, marker),
        "evidence": trim_evidence(plain, marker),
    }


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
