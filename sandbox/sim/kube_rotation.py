"""The rotation world (issue #24): a simulated cluster whose CA path evolves in wall-clock time,
so the real ``az`` can rotate the plug-in CA against it and a test can tell a safe order from an
unsafe one.

Scenario keys (top level; opt-in, every other scenario is unchanged)::

    rotationWorld:
      csiPoll: 1s            # the CSI driver's rotation poll; also the add-on's rotationPollInterval
      secretTtl: 4s          # SECRET_TTL on every istio-proxy: leaves live this long, renew at 50% ±1%
      sidecars: 4            # injected pods (istio-proxy), spread over the namespaces
      namespaces: [a, b]     # workload namespaces (each gets istio-ca-root-cert)
      revisions: [asm-1-29]  # serviceMeshProfile.istio.revisions; sidecars belong to the first
      replicas: 2            # istiod pods per revision (each reloads on its own)
      multiRootMesh: true    # ISTIO_MULTIROOT_MESH on istiod (null: unset; default as kube_capath.multi_root)
      seed: 24               # the agents' jitter and first-renewal phases: a run is reproducible

What moves, each a separate event in one clock (``RotationWorld.run``), and its source:

* **CSI poll** every ``csiPoll`` while the add-on's ``enableSecretRotation`` is "true": the driver's
  rotation reconciler remounts every SecretProviderClassPodStatus with the provider's answer for
  the objects' latest versions (kubernetes-sigs/secrets-store-csi-driver pkg/rotation/
  reconciler.go; Azure/secrets-store-csi-driver-provider-azure pkg/provider/provider.go, an
  empty objectVersion is the latest). A read the add-on identity is refused fails the whole poll:
  nothing is remounted. The status's versions follow every successful poll; the files change
  (and fsnotify fires) only when their bytes do (the driver's atomic writer).
* **istiod reload**, per pod, 100 ms after its files changed (fsnotify debounce, istio/istio
  pilot/pkg/bootstrap/istio_ca.go tag 1.29.6 ``handleEvent``): the root gate of
  ``kube_capath.reload_outcome`` (1.28/1.29 bytes.Contains, 1.30 DER sets, ISTIO_MULTIROOT_MESH),
  then ``UpdateVerifiedKeyCertBundleFromFile``'s Verify (``kube_model.istiod_load_error``). A
  refusal keeps the old CA whole and logs why; an acceptance logs the lines real istiod prints
  (``kube_model.reload_lines``) with their timestamps, then the new x509 lines.
* **configmaps and webhooks** after an accepted reload: the NamespaceController's CA-bundle
  watcher rewrites ``istio-ca-root-cert`` in every namespace (pilot/pkg/serviceregistry/kube/
  controller/namespacecontroller.go ``startCaBundleWatcher``), run by one leader across
  revisions (pilot/pkg/leaderelection/leaderelection.go: here the first revision listed keeps
  it); each revision patches its own injector webhook's caBundle, no leader election
  (pilot/pkg/bootstrap/sidecarinjector.go).
* **sidecar renewal** at (50% ±1%) of the leaf's life, SECRET_TTL (pilot/cmd/pilot-agent/options/
  options.go SECRET_GRACE_PERIOD_RATIO 0.5, _JITTER 0.01; security/pkg/nodeagent/cache/
  secretcache.go ``rotateTime``), from an istiod pod of the sidecar's revision as it is NOW: a real
  leaf (P-256 key, ``envoy.istio_leaf_builder``) signed with that pod's ca-key, presented with its
  cert-chain.pem. The CSR reply ends with istiod's root bundle (security/pkg/server/ca/server.go
  ``CreateCertificate``) and the agent takes it as ROOTCA when it differs (secretcache.go
  ``generateNewSecret``: the last element of the reply; ``GenerateSecret``: SetRoot +
  OnSecretUpdate(ROOTCA)). A sidecar's trust bundle changes at a renewal and at no other time
  (PCDS is off: PROXY_CONFIG_XDS_AGENT defaults to false). Real certificates, not fingerprints:
  the invariant below then checks real signatures, and a leaf signed under a ca-cert whose
  cert-chain does not lead to it fails as it would in Envoy.
* **the invariant**, after every event: for every ordered pair (A, B) of sidecars, B's bundle
  verifies A's chain: from A's leaf through the certificates A presents to a certificate in B's
  bundle, each link a real signature (trusted first, a presented certificate that is in the
  bundle is an anchor: X509_V_FLAG_TRUSTED_FIRST | X509_V_FLAG_PARTIAL_CHAIN, as
  sandbox/boringssl.py describes for gRPC and Envoy). Validity windows and purposes are the
  same for every leaf and are not what a rotation changes; sandbox/boringssl.py's handshakes
  cover them; tests/unit/test_rotation_world.py checks the verdicts against real mutual TLS
  through BoringSSL. Each failure is a violation: tick, time, presenter, verifier, reason
  (``unknown-root``: the path ends at a root the verifier does not trust, istio#44932;
  ``unknown-issuer``: a certificate's issuer is neither presented nor trusted).

Not modelled (the rotation never needs them): an istiod restart inside the world (a restarted
istiod loads the mount without the root gate), one CSI driver per node (every istiod pod sits on
one node, so one poll remounts them all), PCDS (PROXY_CONFIG_XDS_AGENT), and workload restarts
(sidecars keep the start time they had; their renewals are what moves).

Read it from tests through the harness (``sim.rotation``: ``violations()``, ``events()``,
``state()``, ``wait_for_gate()``) or ``GET /_sim/rotation`` on the ARM listener; the product
never does: it reads Key Vault, the SecretProviderClassPodStatus objects, istiod's log, the
configmaps, the webhooks and the pods, as it would in a real cluster.
"""

import datetime
import hashlib
import heapq
import itertools
import random
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sandbox.sim import kube_capath
from sandbox.sim.kube_model import _issued_by, _same_cert as _same  # one signature check for istiod and Envoy

DEBOUNCE_SECONDS = 0.1       # istio_ca.go: the cacerts watcher's debounce
GRACE_RATIO, GRACE_JITTER = 0.5, 0.01
MAX_VIOLATIONS = 20000       # kept in full up to here; counted beyond
UNKNOWN_ROOT, UNKNOWN_ISSUER = "unknown-root", "unknown-issuer"


def _seconds(value, default):
    """'4s' / '1m' / 2 -> seconds (Go durations as the scenario writes them)."""
    from sandbox.sim.kube_model import parse_age
    if value is None:
        return float(default)
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if text.endswith("ms"):
        return float(text[:-2]) / 1000.0
    try:
        return float(text.rstrip("s"))
    except ValueError:
        return float(parse_age(text))


def _utc(moment):
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc)


def _stamp(moment):
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_certificates(pem_text):
    """Every CERTIFICATE block of a PEM text, parsed (a bundle, a chain)."""
    try:
        return x509.load_pem_x509_certificates((pem_text or "").encode("ascii", "ignore"))
    except ValueError:
        return []


def _digest(text):
    return hashlib.sha256((text or "").encode()).hexdigest()


def chain_refusal(chain, bundle):
    """Why a verifier trusting ``bundle`` refuses ``chain`` (leaf first), or None."""
    current, presented = chain[0], chain[1:]
    for _ in range(8):
        if any(_same(current, anchor) or _issued_by(current, anchor) for anchor in bundle):
            return None
        issuer = next((cert for cert in presented if not _same(cert, current) and _issued_by(current, cert)), None)
        if issuer is None:
            name = current.issuer.rfc4514_string()
            if current.issuer == current.subject and _issued_by(current, current):
                fingerprint = current.fingerprint(hashes.SHA256()).hex()[:16]
                return UNKNOWN_ROOT, f"the chain ends at root {name!r} (SHA-256 {fingerprint}...), which the " \
                                     "verifier does not trust"
            return UNKNOWN_ISSUER, f"no presented or trusted certificate issued {current.subject.rfc4514_string()!r}" \
                                   f" (issuer {name!r})"
        current = issuer
    return UNKNOWN_ISSUER, "no path within 8 certificates"


class _Signer:  # pylint: disable=too-few-public-methods
    """istiod's CA as one pod holds it: the four files, and ca-cert/ca-key/chain parsed once."""

    _cache = {}

    def __init__(self, files):
        self.files = dict(files)
        self.root_text = files.get("root-cert.pem", "")
        self.bundle = parse_certificates(self.root_text)
        self.chain = parse_certificates(files.get("cert-chain.pem", ""))
        ca_certs = parse_certificates(files.get("ca-cert.pem", ""))
        self.ca_cert = ca_certs[0] if ca_certs else None
        self.ca_key = serialization.load_pem_private_key(files.get("ca-key.pem", "").encode("ascii", "ignore"), None)

    @classmethod
    def of(cls, files):
        key = tuple(sorted((name, _digest(text)) for name, text in files.items()))
        if key not in cls._cache:
            cls._cache[key] = cls(files)
        return cls._cache[key]

    def issue(self, now):
        """A workload leaf as istiod signs it, and the chain the agent hands Envoy (leaf + cert-chain)."""
        from azext_meshca.rules.consumers import envoy
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = envoy.istio_leaf_builder(self.ca_cert, key.public_key(), _utc(now),
                                        serial=x509.random_serial_number()).sign(self.ca_key, hashes.SHA256())
        return [leaf] + list(self.chain)


class _Istiod:  # pylint: disable=too-few-public-methods
    """One istiod pod: what it holds and what it logged since the world started."""

    def __init__(self, revision, index, version, *, multi_root, files):
        self.revision, self.index, self.version, self.multi_root = revision, index, version, multi_root
        self.signer = _Signer.of(files)
        self.lines = []              # (moment, level, message)
        self.accepted_at = None


class _Sidecar:  # pylint: disable=too-few-public-methods
    def __init__(self, namespace, name, revision):
        self.namespace, self.name, self.revision = namespace, name, revision
        self.chain, self.bundle_text, self.bundle = [], "", []
        self.renewed_at = None
        self.renewals = 0

    @property
    def key(self):
        return f"{self.namespace}/{self.name}"


class RotationWorld:
    """The evolving state, its clock thread, and what tests read from it."""

    def __init__(self, world):
        self.world = world
        spec = dict(world.raw.get("rotationWorld") or {})
        self.spec = spec
        self.csi_poll = _seconds(spec.get("csiPoll"), 1)
        self.secret_ttl = _seconds(spec.get("secretTtl"), 4)
        self.revisions = list(spec.get("revisions") or ["asm-1-29"])
        self.namespaces = list(spec.get("namespaces") or ["a", "b"])
        self.replicas = int(spec.get("replicas", 2))
        self.random = random.Random(spec.get("seed", 24))
        self.lock = threading.RLock()
        self.generation = 0          # bumps when an object the API serves changes
        self.tick = 0
        self._events = []            # heap of (due, seq, kind, payload)
        self._seq = itertools.count()
        self._history = []           # what happened, for tests and the demo
        self._violations = []
        self._violation_count = 0
        self._refusal_cache = {}
        self._stop = threading.Event()
        self._thread = None
        self.model = None
        self.mounted_versions_map, self.mounted_files = {}, {}
        self.start_files = {}
        self.istiods, self.sidecars = [], []
        self.configmap_root_text, self.webhook_roots = None, {}
        self._shape_scenario()

    # ------------------------------------------------------------------ scenario

    def _shape_scenario(self):
        """Write the world's shape into the scenario the Kubernetes model expands."""
        kube = self.world.raw.setdefault("kubernetes", {})
        self.world.kubernetes = kube
        istiod = {"replicas": self.replicas, "state": "auto"}
        if "multiRootMesh" in self.spec:
            istiod["multiRootMesh"] = self.spec["multiRootMesh"]
        kube["istiod"] = [dict(istiod, revision=revision) for revision in self.revisions]
        kube["workloadNamespaces"] = list(self.namespaces)
        kube["cacertsSecret"] = False
        kube["certValidatorCronjob"] = False
        ttl = self.spec.get("secretTtl", "4s")
        kube["sidecars"] = {"count": int(self.spec.get("sidecars", 4)), "namespaces": list(self.namespaces),
                            "age": "2h", "secretTtl": ttl if isinstance(ttl, str) else f"{ttl}s",
                            "revision": self.revisions[0]}
        props = self.world.cluster["properties"]
        props.setdefault("serviceMeshProfile", {}).setdefault("istio", {})["revisions"] = list(self.revisions)
        addon = (props.get("addonProfiles") or {}).get("azureKeyvaultSecretsProvider")
        if addon is not None:
            addon.setdefault("config", {})["rotationPollInterval"] = self.spec.get("csiPoll", "1s") \
                if isinstance(self.spec.get("csiPoll", "1s"), str) else f"{self.spec['csiPoll']}s"

    def attach(self, model):
        """Called by the KubeModel built on this world: the initial state at its start."""
        from sandbox.sim.kube_model import istio_version
        self.model = model
        now = time.time()
        with self.lock:
            versions, files = self._read_vault()
            self.mounted_versions_map, self.mounted_files = versions or {}, files or {}
            self.start_files = dict(self.mounted_files)
            for istiod in model.istiod_specs():
                version = istio_version(istiod["revision"], istiod.get("istioVersion"))
                for index in range(int(istiod.get("replicas", 2))):
                    self.istiods.append(_Istiod(istiod["revision"], index, version,
                                                multi_root=kube_capath.multi_root(istiod, version),
                                                files=self.mounted_files))
            root = self.mounted_files.get("root-cert.pem")
            self.configmap_root_text = root
            self.webhook_roots = {revision: root for revision in self.revisions}
            self._build_sidecars(now)
            self._check(now)

    def _build_sidecars(self, now):
        spec = self.world.kubernetes["sidecars"]
        count, namespaces = int(spec["count"]), spec["namespaces"]
        for index in range(count):  # the names kube_capath.build_sidecars gives the pods
            sidecar = _Sidecar(namespaces[index % len(namespaces)], f"app-{index // len(namespaces):05d}",
                               spec["revision"])
            # each agent is somewhere in its leaf's life when the world starts
            age = (index + 0.5) / count * GRACE_RATIO * self.secret_ttl
            self._renew(sidecar, now - age, record=False)
            self.sidecars.append(sidecar)

    # ------------------------------------------------------------------ Key Vault, as the provider reads it

    def _read_vault(self, as_of=None):
        """({object: version}, {file: text}) of the latest versions written by ``as_of`` (an
        event's due time: a poll the clock thread reaches late never sees a later write), or
        (None, None) when the add-on identity is refused one of them (the whole mount fails)."""
        oid = (self.world.addon_identity() or {}).get("objectId", "")
        versions, files = {}, {}
        for obj in self.world.plugin_objects():
            if self.world.secret_access(obj.vault_name, oid, obj.object_name) is not None:
                return None, None
            records = [record for record in self.world.secret_versions(obj.vault_name, obj.object_name) or []
                       if as_of is None or record.get("writtenAt", 0) <= as_of]
            record, text = self.world.secret_value(obj.vault_name, obj.object_name, records[-1]["version"])
            versions[obj.object_name], files[obj.file] = record["version"], text or ""
        return versions, files

    def _rotation_enabled(self):
        addon = (self.world.cluster["properties"].get("addonProfiles") or {}).get("azureKeyvaultSecretsProvider") or {}
        return bool(addon.get("enabled")) and str((addon.get("config") or {}).get("enableSecretRotation")).lower() \
            == "true"

    # ------------------------------------------------------------------ the clock

    def start(self):
        now = time.time()
        with self.lock:
            self._schedule(now + self.csi_poll, "poll", None)
            for sidecar in self.sidecars:
                self._schedule(self._next_renewal(sidecar), "renew", sidecar)
        self._thread = threading.Thread(target=self.run, name="sim-rotation-world", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _schedule(self, due, kind, payload):
        heapq.heappush(self._events, (due, next(self._seq), kind, payload))

    def run(self):
        """Process each event when its time comes; check the invariant after each."""
        while not self._stop.is_set():
            with self.lock:
                due = self._events[0][0] if self._events else time.time() + 1
            wait = due - time.time()
            if wait > 0:
                self._stop.wait(min(wait, 0.5))
                continue
            with self.lock:
                due, _, kind, payload = heapq.heappop(self._events)
                getattr(self, "_on_" + kind)(due, payload)
                self.tick += 1
                self._check(due)

    def _on_poll(self, now, _payload):
        self._schedule(now + self.csi_poll, "poll", None)
        if not self._rotation_enabled():
            return
        versions, files = self._read_vault(as_of=now)
        if versions is None:
            self._note(now, "poll-failed")
            return
        if versions != self.mounted_versions_map:
            self.mounted_versions_map = versions
            self.generation += 1
        if files != self.mounted_files:
            self.mounted_files = files
            self._note(now, "mounted", versions=dict(versions))
            for istiod in self.istiods:
                self._schedule(now + DEBOUNCE_SECONDS, "reload", istiod)

    def _on_reload(self, now, istiod):
        files = dict(self.mounted_files)
        held = istiod.signer.files
        lines = [("info", "Update Istiod cacerts")]
        outcome = kube_capath.reload_outcome(istiod.version, istiod.multi_root, held.get("root-cert.pem"),
                                             files.get("root-cert.pem"))
        from sandbox.sim.kube_model import istiod_load_error, reload_lines
        error = None
        if outcome in (kube_capath.ACCEPTED, kube_capath.UNCHANGED):
            error = istiod_load_error(files)
        if error:
            if outcome == kube_capath.ACCEPTED:
                lines.append(("info", "Updating new ROOT-CA"))
            lines.append(("error", f"Failed to update new Plug-in CA certs: {error}"))
        else:
            lines = reload_lines(istiod.version, outcome)
        accepted = not error and outcome in (kube_capath.ACCEPTED, kube_capath.UNCHANGED)
        clock = itertools.count()
        istiod.lines.extend((now + next(clock) * 1e-5, level, text) for level, text in lines)
        if accepted:
            from sandbox.sim.kube_model import MountState, _x509_lines
            istiod.lines.extend((now + next(clock) * 1e-5, "info", text)
                                for text in _x509_lines(MountState(ok=True, files=files), _utc(now)))
            istiod.lines.append((now + next(clock) * 1e-5, "info", "Istiod certificates are reloaded"))
            istiod.signer = _Signer.of(files)
            istiod.accepted_at = now
            self.webhook_roots[istiod.revision] = files.get("root-cert.pem")
            if istiod.revision == self.revisions[0]:  # the NamespaceController's leader
                self.configmap_root_text = files.get("root-cert.pem")
        self.generation += 1
        self._note(now, "reload", pod=f"{istiod.revision}/{istiod.index}", outcome=outcome,
                   accepted=accepted, error=error)

    def _on_renew(self, now, sidecar):
        self._renew(sidecar, now)
        self._schedule(self._next_renewal(sidecar), "renew", sidecar)

    def _renew(self, sidecar, now, record=True):
        pods = [istiod for istiod in self.istiods if istiod.revision == sidecar.revision] or self.istiods
        istiod = pods[(sidecar.renewals + len(sidecar.key)) % len(pods)]  # the Service spreads CSRs
        sidecar.chain = istiod.signer.issue(now)
        if sidecar.bundle_text != istiod.signer.root_text:
            sidecar.bundle_text, sidecar.bundle = istiod.signer.root_text, istiod.signer.bundle
        sidecar.renewed_at = now
        sidecar.renewals += 1
        if record:
            self._note(now, "renewed", sidecar=sidecar.key, pod=f"{istiod.revision}/{istiod.index}",
                       issuer=sidecar.chain[0].issuer.rfc4514_string())

    def _next_renewal(self, sidecar):
        jitter = self.random.random() * GRACE_JITTER * self.random.choice((-1, 1))
        return sidecar.renewed_at + self.secret_ttl * (1 - (GRACE_RATIO + jitter))

    # ------------------------------------------------------------------ the invariant

    def _check(self, now):
        for presenter in self.sidecars:
            for verifier in self.sidecars:
                if presenter is verifier:
                    continue
                refusal = self._refusal(presenter, verifier)
                if refusal is None:
                    continue
                self._violation_count += 1
                if len(self._violations) < MAX_VIOLATIONS:
                    self._violations.append({"tick": self.tick, "time": _stamp(now), "presenter": presenter.key,
                                             "verifier": verifier.key, "reason": refusal[0], "detail": refusal[1]})

    def _refusal(self, presenter, verifier):
        key = (presenter.chain[0].serial_number, _digest(verifier.bundle_text))
        if key not in self._refusal_cache:
            if len(self._refusal_cache) > 50000:
                self._refusal_cache.clear()
            self._refusal_cache[key] = chain_refusal(presenter.chain, verifier.bundle)
        return self._refusal_cache[key]

    def _note(self, now, kind, **fields):
        self._history.append(dict(fields, tick=self.tick, time=_stamp(now), at=now, kind=kind))

    # ------------------------------------------------------------------ what the Kubernetes model serves

    def mounted_versions(self):
        with self.lock:
            return dict(self.mounted_versions_map)

    def configmap_root(self):
        with self.lock:
            return self.configmap_root_text

    def webhook_root(self, revision):
        with self.lock:
            return self.webhook_roots.get(revision)

    def pod_lines(self, revision, index):
        """[(moment, level, message)] one istiod pod logged since the world started."""
        with self.lock:
            for istiod in self.istiods:
                if istiod.revision == revision and istiod.index == index:
                    return list(istiod.lines)
        return []

    # ------------------------------------------------------------------ what tests read (never the product)

    def violations(self):
        with self.lock:
            return list(self._violations)

    def violation_count(self):
        with self.lock:
            return self._violation_count

    def events(self, kind=None):
        with self.lock:
            return [dict(item) for item in self._history if kind is None or item["kind"] == kind]

    def state(self):
        """The world now: mounted versions, each istiod pod's CA, each sidecar's leaf issuer and bundle."""
        with self.lock:
            return {
                "tick": self.tick, "violations": self._violation_count,
                "mountedVersions": dict(self.mounted_versions_map),
                "istiods": [{"pod": f"{i.revision}/{i.index}", "signer": i.signer.ca_cert.subject.rfc4514_string(),
                             "rootSha256": _digest(i.signer.root_text), "acceptedAt": i.accepted_at}
                            for i in self.istiods],
                "configmapRootSha256": _digest(self.configmap_root_text),
                "sidecars": [{"sidecar": s.key, "issuer": s.chain[0].issuer.rfc4514_string(),
                              "bundleSha256": _digest(s.bundle_text), "renewedAt": s.renewed_at,
                              "renewals": s.renewals} for s in self.sidecars],
            }

    def gate_holds(self, since=None):
        """The world's own view of a stage's gate (for hand-played rotations in tests): the
        driver mounted Key Vault's latest versions, every istiod pod holds them, the configmaps
        and webhooks carry their root, and every sidecar renewed after the last of those
        reloads (and after ``since``)."""
        with self.lock:
            files = self.mounted_files
            if self._read_vault()[0] != self.mounted_versions_map:
                return False
            if any(istiod.signer.files != files for istiod in self.istiods):
                return False
            root = files.get("root-cert.pem")
            if self.configmap_root_text != root or any(text != root for text in self.webhook_roots.values()):
                return False
            loaded = max([istiod.accepted_at or 0 for istiod in self.istiods] + [since or 0])
            return all((sidecar.renewed_at or 0) > loaded for sidecar in self.sidecars)

    def wait_for_gate(self, timeout=30.0, since=None):
        """Block until ``gate_holds`` (True) or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.gate_holds(since):
                return True
            self._stop.wait(0.05)
        return self.gate_holds(since)
