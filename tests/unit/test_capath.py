"""The CA's path model (azext_meshca/rules/capath.py) and the MCA307-MCA312 rules over it.

The gate grid follows istio/istio pilot/pkg/bootstrap/istio_ca.go handleEvent as read at tags
1.28.10 and 1.29.6 (bytes.Contains) and 1.30.0 (pemBundleHasSubsetRelation, DER sets).
"""

import datetime

import pytest

from azext_meshca.rules import capath

from azext_meshca.rules import catalog
from azext_meshca.rules.checks import ALL_CHECKS, rotation
from tests.unit import snapshots as s

ROOT_A = s.plugin_set()["root-cert"].decode("ascii")
ROOT_B = s.plugin_set(set_id="B")["root-cert"].decode("ascii")
NOW = s.NOW
RESTART = "rollout restart deployment/istiod"
# A CERTIFICATE block whose base64 does not decode (golang/go src/encoding/pem/pem.go Decode skips it)
BROKEN_BLOCK = "-----BEGIN CERTIFICATE-----\nMIIB!!!not-base64\n-----END CERTIFICATE-----\n"


def _rewrapped(pem):
    """The same certificates, base64 wrapped at 76 columns instead of 64."""
    out = []
    for block in pem.strip().split("-----END CERTIFICATE-----"):
        if "BEGIN" not in block:
            continue
        body = "".join(block.split("-----BEGIN CERTIFICATE-----")[1].split())
        out.append("-----BEGIN CERTIFICATE-----\n" + "\n".join(body[i:i + 76] for i in range(0, len(body), 76))
                   + "\n-----END CERTIFICATE-----\n")
    return "".join(out)


@pytest.mark.parametrize("version,multi_root,old,new,expected", [
    ((1, 29), True, ROOT_A, ROOT_A, capath.UNCHANGED),
    ((1, 29), False, ROOT_A, ROOT_A + ROOT_B, capath.REFUSED_MULTI_ROOT_OFF),
    ((1, 30), False, ROOT_A, ROOT_A + ROOT_B, capath.REFUSED_MULTI_ROOT_OFF),
    ((1, 29), True, ROOT_A, ROOT_A + ROOT_B, capath.ACCEPTED),
    ((1, 28), True, ROOT_A + ROOT_B, ROOT_B, capath.ACCEPTED),
    ((1, 29), True, ROOT_A, ROOT_B + ROOT_A, capath.ACCEPTED),     # the old bytes are inside
    ((1, 29), True, ROOT_A + ROOT_B, ROOT_B + ROOT_A, capath.REFUSED_BYTES),
    ((1, 30), True, ROOT_A + ROOT_B, ROOT_B + ROOT_A, capath.ACCEPTED),
    ((1, 29), True, ROOT_A, _rewrapped(ROOT_A) + ROOT_B, capath.REFUSED_BYTES),
    ((1, 30), True, ROOT_A, _rewrapped(ROOT_A) + ROOT_B, capath.ACCEPTED),
    ((1, 29), True, ROOT_A, ROOT_B, capath.REFUSED_NOT_SUBSET),
    ((1, 30), True, ROOT_A, ROOT_B, capath.REFUSED_NOT_SUBSET),
    ((1, 30), True, ROOT_A, "not a certificate", capath.REFUSED_NOT_SUBSET),
    # Go's pem.Decode skips a block whose base64 does not decode: the old root is still in the set
    ((1, 30), True, ROOT_A, ROOT_A + BROKEN_BLOCK, capath.ACCEPTED),
    ((1, 29), None, ROOT_A, ROOT_B, None),
])
def test_root_gate_follows_each_revisions_rule(version, multi_root, old, new, expected):
    assert capath.root_gate(version, multi_root, old, new) == expected


def _at(hours):
    return NOW - datetime.timedelta(hours=hours)


@pytest.mark.parametrize("started_h,changed_h,expected", [
    (2, 3, True),       # started after the change
    (30, 13, True),     # 13 h since the change: more than 51% of 24 h, some renewal fell inside
    (20, 1, False),     # renewed 11.76-12.24 h after start, next at 23.52 h+: none since the change
    (11, 1, False),     # started 11 h ago: the first renewal is due at 11.76 h at the earliest
    (12.5, 1, True),    # the first renewal (11.76-12.24 h after start) falls after the change
    (12.2, 0.2, None),  # the first renewal is due 11.76-12.24 h after start: the jitter decides
])
def test_renewed_since_is_decided_from_started_at_and_the_ttl(started_h, changed_h, expected):
    assert capath.renewed_since(_at(started_h), _at(changed_h), NOW, 24 * 3600) is expected


def test_renewed_since_stays_bounded_on_absurd_inputs():
    ancient = datetime.datetime(1, 1, 1, tzinfo=datetime.timezone.utc)
    assert capath.renewed_since(ancient, NOW - datetime.timedelta(seconds=1), NOW, 1e-9) in (True, None)
    assert capath.renewed_since(ancient, NOW - datetime.timedelta(microseconds=1), NOW, 1.0) is None


# --------------------------------------------------------------------------- snapshots of the path

REVISION = s.REVISION


def _path_snapshot(*, istio="1-29", loaded=ROOT_A, kv_root=None, multi_root="true", mounted_version="v2",
                   rotation="true", sidecars=(), log_lines=(), cronjob=False):
    """A healthy snapshot of today's add-on: revision asm-<istio>, no cronjob, no cacerts secret,
    Key Vault at version v2 of each object, the driver's mount statuses, the webhook's caBundle."""
    snapshot = s.healthy_snapshot()
    revision = "asm-" + istio
    snapshot["cluster"]["data"]["revisions"] = [revision]
    snapshot["cluster"]["data"]["csiAddon"]["enableSecretRotation"] = rotation
    if kv_root is not None:
        snapshot["secrets"]["root-cert"]["data"]["value"] = kv_root
    for obj in s.SECRET_NAMES:
        snapshot["secrets"][obj]["data"].update(version="v2", updated=s.iso(NOW - datetime.timedelta(days=1)))
    kube = snapshot["kube"]
    for pod in kube["istiodPods"]["data"]:
        pod["revision"] = revision
    kube["istiodDeployments"] = s.collected({revision: {
        "name": "istiod-" + revision, "replicas": 2, "readyReplicas": 2, "multiRootMesh": multi_root}})
    kube["secretProviderClasses"]["data"] = {revision: dict(kube["secretProviderClasses"]["data"][REVISION],
                                                            name="istio-spc-" + revision)}
    kube["cacerts"] = s.collected(None)
    kube["cronjobs"] = s.collected({revision: kube["cronjobs"]["data"][REVISION] if cronjob else None})
    kube["mountStatuses"] = s.collected([
        {"pod": pod, "secretProviderClass": "istio-spc-" + revision, "mounted": True,
         "objects": [{"name": name, "version": mounted_version} for name in s.SECRET_NAMES.values()]}
        for pod in s.ISTIOD_PODS])
    kube["webhooks"] = s.collected([{"name": "istio-sidecar-injector-" + revision, "revision": revision,
                                     "caBundleFingerprints": capath.fingerprints(loaded),
                                     "caBundlePem": loaded}])
    kube["sidecars"] = s.collected({"pods": list(sidecars), "truncated": False})
    for log in kube["istiodLogs"]["data"]:
        log["lines"] = list(log["lines"]) + list(log_lines)
    return snapshot


def _codes(snapshot):
    return s.codes(s.run_module(ALL_CHECKS, snapshot))


PATH_CODES = {"MCA307", "MCA308", "MCA309", "MCA310", "MCA311", "MCA312"}


@pytest.mark.parametrize("istio", ["1-29", "1-30"])
def test_a_healthy_current_cluster_without_cronjob_or_cacerts_has_no_error_or_warning(istio):
    findings = s.run_module(ALL_CHECKS, _path_snapshot(istio=istio))
    assert [item["code"] for item in findings if item["severity"] != "info"] == []
    note = next(item for item in findings if item["code"] == "MCA303")["message"]
    assert "hot-reloads" in note and "restart" not in note


def test_a_root_istiod_refused_is_an_error_and_the_remedy_keeps_istiod_running():
    snapshot = _path_snapshot(kv_root=ROOT_B, log_lines=[
        "2026-11-29T15:00:00.000000Z\tinfo\tUpdate Istiod cacerts",
        "2026-11-29T15:00:00.000100Z\twarn\tUpdating new ROOT-CA not supported"])
    findings = s.run_module(ALL_CHECKS, snapshot)
    assert {"MCA307", "MCA308"} <= {item["code"] for item in findings}
    for item in findings:
        assert RESTART not in item["remedy"], item["code"]


def test_a_reordered_bundle_is_refused_by_1_29_for_its_bytes_and_accepted_by_1_30():
    loaded = ROOT_A + ROOT_B
    assert "MCA309" in _codes(_path_snapshot(istio="1-29", loaded=loaded, kv_root=ROOT_B + ROOT_A))
    assert not PATH_CODES & set(_codes(_path_snapshot(istio="1-30", loaded=loaded, kv_root=ROOT_B + ROOT_A)))


def test_multi_root_off_refuses_any_root_change():
    codes = _codes(_path_snapshot(istio="1-30", kv_root=ROOT_A + ROOT_B, multi_root=None))
    assert "MCA307" in codes and "MCA308" not in codes  # A+B keeps trust: a restart would be safe


def test_newer_key_vault_versions_not_mounted_with_rotation_off():
    findings = s.run_module(ALL_CHECKS, _path_snapshot(mounted_version="v1", rotation="false"))
    lag = [item for item in findings if item["code"] == "MCA310"]
    assert len(lag) == 1 and "rotation is off" in lag[0]["message"] and "asm-1-29" in lag[0]["message"]


def _sidecar(namespace, hours):
    return {"namespace": namespace, "revision": "asm-1-29",
            "startedAt": s.iso(_at(hours)), "secretTtl": None}


def test_stale_sidecars_after_an_intermediate_change_are_counted_per_namespace():
    changed = s.iso(_at(1)).replace("Z", ".000000Z")
    reloaded = [changed + "\tinfo\tIstiod has detected the newly added intermediate CA and updated its key and "
                          "certs accordingly",
                changed + '\tinfo\tx509 cert - Issuer: "CN=New", Subject: "", SN: 1f, NotBefore: "x", NotAfter: "y"',
                changed + '\tinfo\tx509 cert - Issuer: "CN=Root", Subject: "CN=New", SN: 2f, NotBefore: "x", '
                          'NotAfter: "y"',
                changed + "\tinfo\tIstiod certificates are reloaded"]
    sidecars = [_sidecar("shop", 14), _sidecar("shop", 14.1), _sidecar("web", 14), _sidecar("web", 0.5),
                _sidecar("db", 0.2)]
    startup = ['2026-11-29T14:00:00.000000Z\tinfo\tx509 cert - Issuer: "CN=Old", Subject: "", SN: 1e, '
               'NotBefore: "x", NotAfter: "y"',
               '2026-11-29T14:00:00.000000Z\tinfo\tx509 cert - Issuer: "CN=Root", Subject: "CN=Old", SN: 2e, '
               'NotBefore: "x", NotAfter: "y"', "2026-11-29T14:00:00.000000Z\tinfo\tIstiod certificates are reloaded"]
    same = [line.replace("SN: 2f", "SN: 2e") for line in reloaded]
    quiet = _path_snapshot(sidecars=sidecars, log_lines=startup + same)
    assert "MCA312" not in _codes(quiet)  # a reload that kept the intermediate changes nothing sidecars hold
    snapshot = _path_snapshot(sidecars=sidecars, log_lines=startup + reloaded)
    stale = [item for item in s.run_module(ALL_CHECKS, snapshot) if item["code"] == "MCA312"]
    assert len(stale) == 1
    assert "shop (2)" in stale[0]["message"] and "web (1)" in stale[0]["message"]
    assert "db" not in stale[0]["message"]


# --------------------------------------------------------------------------- every remedy against the model

STATES = {
    "healthy": {},
    "refused-root": {"kv_root": ROOT_B},
    "bytes-1-29": {"loaded": ROOT_A + ROOT_B, "kv_root": ROOT_B + ROOT_A},
    "multi-root-off": {"kv_root": ROOT_B, "multi_root": "false"},
    "root-added": {"kv_root": ROOT_A + ROOT_B},
    "with-cronjob": {"kv_root": ROOT_B, "cronjob": True},
}


def _break_configmaps(snapshot):
    """Also make MCA304/MCA306 fire: the configmaps hold neither root, or another in 'shop'."""
    configmaps = snapshot["kube"]["rootConfigMaps"]["data"]
    configmaps[-1]["rootFingerprints"] = ["00:" * 31 + "00"]
    return snapshot


def _self_signed(snapshot):
    for log in snapshot["kube"]["istiodLogs"]["data"]:
        log["lines"] = s.istiod_lines(plugin=False)
    return snapshot


@pytest.mark.parametrize("state", sorted(STATES))
def test_no_remedy_restarts_istiod_where_the_model_says_that_changes_the_trusted_ca(state):
    restarting = [entry.code for entry in catalog.CATALOG.values()
                  if RESTART in entry.remedy or entry.remedy == "{istiod_step}" or "{istiod_step}" in entry.remedy]
    assert restarting, "the catalog tells no one to restart istiod: update this test"
    for mutate in (lambda snap: snap, _break_configmaps, _self_signed):
        snapshot = mutate(_path_snapshot(**STATES[state]))
        revision = snapshot["cluster"]["data"]["revisions"][0]
        unsafe = not capath.restart_is_safe(s.clone(snapshot), revision)
        for item in s.run_module(ALL_CHECKS, snapshot):
            if unsafe:
                assert RESTART not in item["remedy"], (state, item["code"], item["remedy"])
            elif item["code"] in restarting and "{istiod_step}" in catalog.CATALOG[item["code"]].remedy:
                assert RESTART in item["remedy"], (state, item["code"])


def test_no_catalog_remedy_spells_out_the_restart_itself():
    """Only catalog.istiod_step may tell the user to restart istiod, so the model decides."""
    for entry in catalog.CATALOG.values():
        assert RESTART not in entry.remedy and RESTART not in (entry.file_remedy or ""), entry.code


def test_the_rules_are_registered():
    assert rotation.check_root_gate in ALL_CHECKS and rotation.check_stale_sidecars in ALL_CHECKS


def test_mounted_but_not_loaded_names_the_failed_reload():
    """The pods mount Key Vault's current versions, yet istiod's last DNS chain is signed by
    another intermediate and its last reload failed (Failed to update new Plug-in CA certs)."""
    lines = ['2026-11-29T14:00:00.000000Z\tinfo\tx509 cert - Issuer: "CN=Old", Subject: "", SN: 1e, '
             'NotBefore: "x", NotAfter: "y"',
             '2026-11-29T14:00:00.000000Z\tinfo\tx509 cert - Issuer: "CN=Root", Subject: "CN=Old", SN: abc123, '
             'NotBefore: "x", NotAfter: "y"', "2026-11-29T14:00:00.000000Z\tinfo\tIstiod certificates are reloaded",
             "2026-11-29T15:00:00.000000Z\terror\tFailed to update new Plug-in CA certs: x509: certificate signed "
             "by unknown authority"]
    findings = [item for item in s.run_module(ALL_CHECKS, _path_snapshot(log_lines=lines)) if item["code"] == "MCA311"]
    assert len(findings) == 1 and "SN abc123" in findings[0]["message"]
    assert "last reload failed" in findings[0]["message"] and RESTART not in findings[0]["remedy"]


def test_mounted_but_not_loaded_reads_ca_cert_as_istiod_does():
    """A block Go's pem.Decode skips before ca-cert's certificate: istiod signs with the
    certificate after it, so its serial is still compared (was: no serial, no finding)."""
    lines = ['2026-11-29T14:00:00.000000Z\tinfo\tx509 cert - Issuer: "CN=Old", Subject: "", SN: 1e, '
             'NotBefore: "x", NotAfter: "y"',
             '2026-11-29T14:00:00.000000Z\tinfo\tx509 cert - Issuer: "CN=Root", Subject: "CN=Old", SN: abc123, '
             'NotBefore: "x", NotAfter: "y"', "2026-11-29T14:00:00.000000Z\tinfo\tIstiod certificates are reloaded"]
    snapshot = _path_snapshot(log_lines=lines)
    ca_cert = snapshot["secrets"]["ca-cert"]["data"]
    ca_cert["value"] = BROKEN_BLOCK + ca_cert["value"]
    findings = [item for item in s.run_module(ALL_CHECKS, snapshot) if item["code"] == "MCA311"]
    assert len(findings) == 1 and "SN abc123" in findings[0]["message"], findings


def test_the_signing_root_is_worked_out_only_when_a_restart_can_be_judged(monkeypatch):
    """scan's clusters hold Key Vault's objects but nothing of the cluster: restart_breaks_trust
    cannot be judged without both root sets, so the certificates are not parsed for it (#25)."""
    calls = []
    real = capath._signing_root  # pylint: disable=protected-access
    monkeypatch.setattr(capath, "_signing_root", lambda vault: calls.append(vault) or real(vault))
    snapshot = _path_snapshot()
    with_kube = capath.revision_path(snapshot, "asm-1-29")
    assert len(calls) == 1 and with_kube["restartBreaksTrust"] is False
    snapshot["kube"] = {}
    without_kube = capath.revision_path(snapshot, "asm-1-29")
    assert len(calls) == 1 and without_kube["restartBreaksTrust"] is None
