"""The CA's path, Key Vault -> mounted -> loaded per revision -> distributed -> held by sidecars.

A pure function of the snapshot (``ca_path``) and the judgements over it, in one place so
that every rule, and a later rotation command, asks the same questions the same way:

* ``root_gate``: what a revision's istiod does when the mounted root-cert changes. istio/istio
  ``pilot/pkg/bootstrap/istio_ca.go`` ``handleEvent`` (read at tags 1.28.10, 1.29.6 and 1.30.0):
  byte-equal roots let the update through; otherwise, with ``ISTIO_MULTIROOT_MESH`` off
  (the default, ``pilot/pkg/features/pilot.go``) it logs ``Multi root is disabled, updating
  new ROOT-CA not supported`` and drops the whole update; with it on, 1.28 and 1.29 accept
  only when one bundle ``bytes.Contains`` the other, 1.30 when one set of DER certificates
  contains the other (``pemBundleHasSubsetRelation``, istio 39e9530e, backport of #59909);
  else ``Updating new ROOT-CA not supported`` and the whole update, intermediate included,
  is dropped. At start istiod loads the mounted files with no such check.
* ``restart_breaks_trust``: would a restart (which loads the mounted files) make istiod sign
  with a root the sidecars do not trust, or publish a bundle without the root their leaves
  chain to?
* ``renewed_since``: has a sidecar surely renewed its leaf since a moment? The agent renews at
  ``SECRET_GRACE_PERIOD_RATIO`` 0.5 +/- ``SECRET_GRACE_PERIOD_RATIO_JITTER`` 0.01 of the leaf's
  lifetime, ``SECRET_TTL`` (default 24h) (istio/istio ``pilot/cmd/pilot-agent/options/options.go``),
  and the CSR answer carries the root bundle (``security/pkg/server/ca/server.go``), so
  "renewed since T" is decidable from the container's startedAt without exec.

No I/O; every input comes from the snapshot (azext_meshca/model/snapshot.py).
"""

import datetime
import re

from azext_meshca.model import certs

from azext_meshca.rules import logparse
from azext_meshca.model.plugin import OBJECT_FIELDS, PLUGIN_OBJECTS, SECRET_INPUTS
from azext_meshca.model.snapshot import ok_data

DEFAULT_SECRET_TTL_SECONDS = 24 * 3600
GRACE_RATIO, GRACE_JITTER = 0.5, 0.01
# renewed_since looks at most this many renewals (a pod up a year with a 1h TTL has ~17,500,
# of which only the few around the change matter; a crafted snapshot cannot make it slow)
MAX_RENEWALS = 1000

# The snapshot inputs (rules/registry.py) ``ca_path`` and ``revision_path`` read: a rule that
# asks the model declares them, as inputs where it cannot judge without them, else as optional.
INPUTS = ("cluster",) + SECRET_INPUTS + ("kube.istiodDeployments", "kube.istiodPods", "kube.istiodLogs",
                                         "kube.mountStatuses", "kube.webhooks")

# root_gate outcomes
UNCHANGED = "unchanged"
ACCEPTED = "accepted"
REFUSED_MULTI_ROOT_OFF = "refused-multi-root-off"
REFUSED_BYTES = "refused-bytes"          # the sets are related, the bytes are not (<= 1.29 only)
REFUSED_NOT_SUBSET = "refused-not-subset"
REFUSED = (REFUSED_MULTI_ROOT_OFF, REFUSED_BYTES, REFUSED_NOT_SUBSET)

_REVISION_VERSION = re.compile(r"(\d+)-(\d+)$")
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


# --------------------------------------------------------------------------- judgements

def istio_version(revision):
    """(1, 29) for asm-1-29; None for a name without a version."""
    match = _REVISION_VERSION.search(str(revision or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def parse_go_duration(text):
    """Seconds in a Go duration such as ``2m``, ``1h30m``; None if it is not one."""
    value = str(text or "").strip()
    if value == "0":
        return 0.0
    parts = _GO_DURATION_PART.findall(value)
    if not parts or "".join(number + unit for number, unit in parts) != value:
        return None
    return sum(float(number) * _GO_UNIT_SECONDS[unit] for number, unit in parts)


def env_true(text):
    """Go's strconv.ParseBool, as istio's env.Register reads a bool (pkg/env/var.go)."""
    return str(text or "").strip() in ("1", "t", "T", "TRUE", "true", "True")


def der_set(pem_text):
    """The DER bytes of every CERTIFICATE block (istio 1.30 pemToRawCertSet), read as istiod reads
    them: Go's encoding/pem (model/gopem.py pem_decode_all), which skips a block whose base64
    does not decode and hides one behind text on its BEGIN line, instead of refusing the bundle."""
    from azext_meshca.model.gopem import pem_decode_all
    data = pem_text.encode("utf-8") if isinstance(pem_text, str) else bytes(pem_text or b"")
    return frozenset(block.der for block in pem_decode_all(data) if block.label == b"CERTIFICATE")


def root_gate(version, multi_root, loaded_pem, mounted_pem):
    """What istiod ``version`` does when root-cert.pem changes from ``loaded_pem`` to
    ``mounted_pem`` (see the module doc); None when an input is unknown."""
    if loaded_pem is None or mounted_pem is None:
        return None
    old, new = loaded_pem.encode("utf-8"), mounted_pem.encode("utf-8")
    if old == new:
        return UNCHANGED
    if multi_root is None or version is None:
        return None
    if not multi_root:
        return REFUSED_MULTI_ROOT_OFF
    return _subset_rule(version, loaded_pem, mounted_pem)


def _subset_rule(version, loaded_pem, mounted_pem):
    """handleEvent's check with multi-root on: one bundle must contain the other, by
    ``bytes.Contains`` up to 1.29 and as sets of DER certificates from 1.30."""
    old_set, new_set = der_set(loaded_pem), der_set(mounted_pem)
    sets_related = bool(old_set) and bool(new_set) and (old_set <= new_set or new_set <= old_set)
    if version >= (1, 30):
        return ACCEPTED if sets_related else REFUSED_NOT_SUBSET
    old, new = loaded_pem.encode("utf-8"), mounted_pem.encode("utf-8")
    if old in new or new in old:
        return ACCEPTED
    return REFUSED_BYTES if sets_related else REFUSED_NOT_SUBSET


def restart_breaks_trust(loaded_roots, mounted_roots, mounted_signing_root=None):
    """True when a restart, which loads the mounted files, changes the CA sidecars trust:
    a loaded root the mounted bundle drops (sidecars' current leaves chain to it), or a
    mounted signing root the loaded bundle lacks (sidecars would refuse the new leaves).
    None when either side is unknown."""
    if not loaded_roots or not mounted_roots:
        return None
    if not set(loaded_roots) <= set(mounted_roots):
        return True
    return bool(mounted_signing_root) and mounted_signing_root not in set(loaded_roots)


def renewed_since(started_at, change_at, now, ttl_seconds):
    """True if a sidecar started at ``started_at`` surely holds a leaf issued after
    ``change_at``, False if it surely does not, None when the jitter leaves it open."""
    if None in (started_at, change_at, now) or not ttl_seconds:
        return None
    if started_at >= change_at:
        return True
    low, high = ttl_seconds * (GRACE_RATIO - GRACE_JITTER), ttl_seconds * (GRACE_RATIO + GRACE_JITTER)
    after = (change_at - started_at).total_seconds()
    until = (now - started_at).total_seconds()
    if until - after >= high:
        return True  # consecutive issues are at most ``high`` apart
    # issue k falls in [k*low, k*high] after start; is some issue in (after, until]?
    first_k, last_k = max(1, int(after // high)), int(until // low) + 1
    if last_k - first_k > MAX_RENEWALS:
        return None  # so many renewals that the jitter covers the window: cannot tell (and stay fast)
    surely, maybe = False, False
    for k in range(first_k, last_k + 1):
        earliest, latest = k * low, k * high
        if earliest > until:
            break
        if latest <= after:
            continue
        maybe = True
        if earliest > after and latest <= until:
            surely = True
            break
    if surely:
        return True
    return None if maybe else False


def renew_deadline(change_at, ttl_seconds):
    """The moment by which every sidecar has surely renewed after ``change_at``."""
    return change_at + datetime.timedelta(seconds=ttl_seconds * (GRACE_RATIO + GRACE_JITTER))


# --------------------------------------------------------------------------- the model

def _kube(snapshot, key):
    return ok_data(((snapshot.get("kube") or {}).get(key)))


def _moment(text):
    try:
        return datetime.datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def fingerprints(pem_text):
    """Sorted SHA-256 fingerprints (AB:CD:...) of a bundle's CERTIFICATE blocks."""
    return sorted({certs.der_fingerprint(der) for der in der_set(pem_text)})


def _vault(snapshot):
    """{object: {secretName, version, updated, pem, roots (root-cert only)}} of what Key Vault holds now."""
    plugin = ((ok_data(snapshot.get("cluster")) or {}).get("plugin")) or {}
    result = {}
    for obj in PLUGIN_OBJECTS:
        data = ok_data((snapshot.get("secrets") or {}).get(obj)) or {}
        result[obj] = {"secretName": plugin.get(OBJECT_FIELDS[obj]), "version": data.get("version"),
                       "updated": data.get("updated"), "pem": data.get("value") if obj != "ca-key" else None}
    return result


def _signing_root(vault):
    """The fingerprint of the root in Key Vault's root-cert that ca-cert chains to (through
    cert-chain's intermediates), or None. The objects are read as istiod reads them at start
    (rules/consumers/istiod.py: ca-cert's first PEM block, cert-chain as a CertPool)."""
    from cryptography import x509
    from azext_meshca.rules.consumers import istiod
    try:
        ca_cert = istiod.parse_first_certificate(vault["ca-cert"]["pem"] or "", "ca-cert")
        chain = istiod.cert_pool(vault["cert-chain"]["pem"] or "")
        roots = [x509.load_der_x509_certificate(der) for der in der_set(vault["root-cert"]["pem"])]
    except (istiod.Refusal, ValueError):
        return None
    current = ca_cert
    for _ in range(len(chain) + 1):
        if current is None:
            return None
        root = next((root for root in roots if certs.signed_by(current, root)), None)
        if root is not None:
            return certs.fingerprint(root)
        current = next((cert for cert in chain if cert != current and certs.signed_by(current, cert)), None)
    return None


def _mounted(snapshot, vault, revision):
    """{pod: {object: version}} of the revision's istiod pods, from SecretProviderClassPodStatus."""
    statuses = _kube(snapshot, "mountStatuses")
    if statuses is None:
        return None
    by_secret = {entry["secretName"]: obj for obj, entry in vault.items() if entry["secretName"]}
    pods = {}
    for status in statuses:
        if status.get("secretProviderClass") != "istio-spc-" + revision:
            continue
        pods[status.get("pod")] = {by_secret[item.get("name")]: item.get("version")
                                   for item in status.get("objects") or () if item.get("name") in by_secret}
    return pods


def _behind(vault, pods):
    """Objects whose mounted version is not Key Vault's current one, in some pod."""
    behind = set()
    for versions in (pods or {}).values():
        for obj, version in versions.items():
            current = vault[obj]["version"]
            if current and version and version.lower() != current.lower():
                behind.add(obj)
    return sorted(behind, key=PLUGIN_OBJECTS.index)


def _revision_logs(snapshot, revision):
    pods = {pod.get("name"): pod.get("revision") for pod in _kube(snapshot, "istiodPods") or ()}
    return [log for log in _kube(snapshot, "istiodLogs") or () if pods.get(log.get("pod")) == revision]


def _loaded(snapshot, revision):
    """What the revision's istiod logged about the CA it loaded and its hot reloads."""
    result = {"signing": None, "rejected": None, "updateFailed": None, "intermediateChangedAt": None,
              "rootChangedAt": None, "logs": False}
    for log in _revision_logs(snapshot, revision):
        result["logs"] = True
        lines = log.get("lines") or ()
        result["signing"] = result["signing"] or logparse.istiod_signing_ca(lines)
        last = {}
        for event in logparse.istiod_timed_events(lines):
            last[event["kind"]] = event
        rejected = last.get(logparse.ROOT_REJECTED)
        updated = last.get(logparse.INTERMEDIATE_UPDATED)
        if rejected and not (updated and (updated["time"] or "") > (rejected["time"] or "")):
            result["rejected"] = result["rejected"] or rejected["line"]
        failed = last.get(logparse.UPDATE_FAILED)
        if failed and not (updated and (updated["time"] or "") > (failed["time"] or "")):
            result["updateFailed"] = result["updateFailed"] or failed["line"]
        signing = logparse.istiod_signing_ca(lines)
        changed = bool(signing and signing["previous"] and signing["previous"] != signing["serial"])
        if updated and updated["time"] and changed:
            # istiod logs this line after every accepted reload; the signing CA changed only
            # when the intermediate of its new DNS chain differs from the one before
            result["intermediateChangedAt"] = max(result["intermediateChangedAt"] or "", updated["time"])
        root = last.get(logparse.ROOT_UPDATED)
        if root and root["time"]:
            result["rootChangedAt"] = max(result["rootChangedAt"] or "", root["time"])
    return result


def _webhook(snapshot, revision):
    for webhook in _kube(snapshot, "webhooks") or ():
        if webhook.get("revision") == revision:
            return webhook
    return None


def _deployment(snapshot, revision):
    deployments = _kube(snapshot, "istiodDeployments")
    if deployments is None:
        return None, False
    return deployments.get(revision), True


def root_rule(snapshot, revision):
    """{istio, multiRoot, rule}: the revision's Istio version, its istiod's ISTIO_MULTIROOT_MESH
    (None when the deployments were not read) and the rule by which it takes a new root, read
    from the deployments alone (MCA302/303's restart note needs no more of the path)."""
    version = istio_version(revision)
    deployment, deployments_read = _deployment(snapshot, revision)
    multi_root = env_true((deployment or {}).get("multiRootMesh")) if deployment else None
    if not deployments_read:
        multi_root = None
    return {"istio": version, "multiRoot": multi_root,
            "rule": ("multi-root off" if multi_root is False else
                     "DER sets" if version and version >= (1, 30) else "bytes.Contains" if version else None)}


def revision_path(snapshot, revision, vault=None):
    """One revision's part of the model (see ``ca_path``)."""
    vault = vault or _vault(snapshot)
    rule = root_rule(snapshot, revision)
    version, multi_root = rule["istio"], rule["multiRoot"]
    pods = _mounted(snapshot, vault, revision)
    behind = _behind(vault, pods)
    webhook = _webhook(snapshot, revision)
    loaded_pem = (webhook or {}).get("caBundlePem")
    # The mounted root-cert's bytes are Key Vault's current value when every pod mounts that version.
    mounted_pem = vault["root-cert"]["pem"] if pods and "root-cert" not in behind else None
    loaded_roots = fingerprints(loaded_pem) if loaded_pem else (webhook or {}).get("caBundleFingerprints")
    mounted_roots = fingerprints(mounted_pem) if mounted_pem else None
    loaded = _loaded(snapshot, revision)
    gate = root_gate(version, multi_root, loaded_pem, mounted_pem)
    # The signing root parses three objects' certificates, and restart_breaks_trust reads it only
    # when both root sets are known: without them (scan's clusters, diagnose --skip-cluster) it
    # is not worked out at all (#25: 15-20% of scan's judging went into it).
    signing_root = _signing_root(vault) if loaded_roots and mounted_roots else None
    return {
        "revision": revision, "istio": version, "multiRoot": multi_root, "rule": rule["rule"],
        "mountedPods": pods, "behind": behind,
        "loadedRoots": loaded_roots, "mountedRoots": mounted_roots, "gate": gate,
        "rootDiffers": bool(loaded_roots and mounted_roots and set(loaded_roots) != set(mounted_roots)),
        "restartBreaksTrust": restart_breaks_trust(loaded_roots, mounted_roots, signing_root),
        "loaded": loaded,
    }


def ca_path(snapshot):
    """The whole model: {now, vault, revisions: {revision: revision_path}}."""
    vault = _vault(snapshot)
    cluster = ok_data(snapshot.get("cluster")) or {}
    revisions = cluster.get("revisions") or (snapshot.get("options") or {}).get("revisions") or []
    return {"now": _moment(snapshot.get("collectedAt")), "vault": vault,
            "revisions": {revision: revision_path(snapshot, revision, vault) for revision in revisions}}


def restart_is_safe(snapshot, revision):
    """False when the model says restarting istiod-<revision> changes the CA sidecars trust;
    True otherwise (also when it cannot tell: then the evidence rules say what is unknown)."""
    return revision_path(snapshot, revision).get("restartBreaksTrust") is not True


def istiod_step(snapshot, context, revision=None):
    """The remedy step about istiod for a finding on ``revision`` (the context's by default):
    the catalog's restart only where ``restart_is_safe``, else the safe bundle change."""
    from azext_meshca.rules import catalog
    revision = revision or context["revision"]
    path = revision_path(snapshot, revision)
    return catalog.istiod_step(restart_is_safe(snapshot, revision), revision, path["rule"],
                               context.get("vault_name") or "<vault>")


# --------------------------------------------------------------------------- sidecars

def sidecar_ttl(sidecar):
    seconds = parse_go_duration(sidecar.get("secretTtl")) if sidecar.get("secretTtl") else None
    return seconds or DEFAULT_SECRET_TTL_SECONDS


def stale_sidecars(snapshot, revision, change_at_text, now):
    """({namespace: count} of the revision's sidecars surely not renewed since the change,
    the latest renew deadline) for a change logged at ``change_at_text``."""
    change_at = _moment(change_at_text)
    sidecars = _kube(snapshot, "sidecars")
    if change_at is None or sidecars is None:
        return {}, None
    counts, deadline = {}, None
    for sidecar in sidecars.get("pods") or ():
        if sidecar.get("revision") not in (revision, None):
            continue
        ttl = sidecar_ttl(sidecar)
        if renewed_since(_moment(sidecar.get("startedAt")), change_at, now, ttl) is False:
            counts[sidecar.get("namespace")] = counts.get(sidecar.get("namespace"), 0) + 1
            candidate = renew_deadline(change_at, ttl)
            deadline = max(deadline, candidate) if deadline else candidate
    return counts, deadline
