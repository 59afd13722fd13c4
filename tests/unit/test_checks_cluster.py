"""Grid for the cluster checks (MCA801-MCA814): istiod pods, FailedMount events and CSI
provider logs in both Key Vault error formats, istiod's CA lines, missing objects."""

import pytest

from azext_meshca.rules.checks import cluster
from tests.unit import snapshots as s

FORMATS = ("legacy", "azcore")
EVENT_PREFIX = ('MountVolume.SetUp failed for volume "cacerts" : rpc error: code = Unknown desc = failed to mount '
                'secrets store objects for pod aks-istio-system/{}, err: rpc error: code = Unknown desc = failed to '
                'mount objects, error: '.format(s.ISTIOD_PODS[0]))


def _mount(error_format, kv_code, obj="root-cert"):
    return lambda snapshot: s.mount_fails(snapshot, error_format, kv_code, obj)


def _event(message, **kwargs):
    return lambda snapshot: s.add_event(snapshot, message, **kwargs)


def _istiod_log(*lines):
    def mutate(snapshot):
        for log in s.kube_data(snapshot, "istiodLogs"):
            log["lines"] = list(lines)
    return mutate


GRID = [
    ("healthy", [], ["MCA813"]),
    ("stuck, no event yet", [s.istiod_stuck], ["MCA801"]),
    ("terminating pods are not stuck",
     [lambda snap: s.kube_data(snap, "istiodPods").append(dict(s._pod("istiod-old", "Terminating", False, 6)))],
     ["MCA813"]),
    ("kubelet timeout only", [s.istiod_stuck, _event(s.MOUNT_TIMEOUT)], ["MCA801", "MCA807"]),
    ("timeout next to a real cause", [_mount("legacy", "AccessDenied"), _event(s.MOUNT_TIMEOUT)],
     ["MCA801", "MCA802"]),
    ("driver not registered", [s.istiod_stuck, _event(s.DRIVER_MISSING)], ["MCA801", "MCA809"]),
    ("network", [s.istiod_stuck, _event(EVENT_PREFIX + "failed to get objectType:secret, objectName:test-root-cert, "
                                        "objectVersion:: keyvault.BaseClient#GetSecret: Failure sending request: "
                                        "StatusCode=0 -- Original Error: context deadline exceeded")],
     ["MCA801", "MCA806"]),
    ("identity not found", [s.istiod_stuck, _event(EVENT_PREFIX + "failed to get keyvault client: Identity not found")],
     ["MCA801", "MCA808"]),
    ("unknown mount error", [s.istiod_stuck, _event(EVENT_PREFIX + "something new")], ["MCA801", "MCA807"]),
    ("two secrets missing", [_mount("legacy", "SecretNotFound", "root-cert"),
                             _mount("legacy", "SecretNotFound", "cert-chain")],
     ["MCA801", "MCA805", "MCA805"]),
    # drivers up to v1.5: a failed rotation poll of a mounted volume, istiod still running
    # (kubernetes-sigs/secrets-store-csi-driver v1.5.0 pkg/rotation/reconciler.go:403)
    ("rotation poll failed", [_event("provider mount err: rpc error: code = Unknown desc = failed to mount objects, "
                                     "error: " + s.provider_error("legacy", "AccessDenied", "test-ca-cert"),
                                     reason="MountRotationFailed")], ["MCA802", "MCA813"]),
    ("other reason ignored", [_event(s.DRIVER_MISSING, reason="FailedScheduling")], ["MCA813"]),
    ("other kind ignored", [_event(s.DRIVER_MISSING, kind="Node")], ["MCA813"]),
    ("provider error for another app's secret ignored",
     [lambda snap: s.add_provider_line(snap, s.provider_log_line("azcore", "AccessDenied", "shop-db-password"))],
     ["MCA813"]),
    # entries set aside only by their own parts (issue 21): another object, vault or pod
    ("provider error naming no object is read",
     [lambda snap: s.add_provider_line(snap, 'E1129 14:58:01.1       1 server.go:54] failed to process mount request, '
                                             'error: keyvault.BaseClient#GetSecret: Failure sending request: '
                                             'StatusCode=0 -- Original Error: context deadline exceeded')],
     ["MCA806", "MCA813"]),
    ("provider error for another vault ignored",
     [lambda snap: s.add_provider_line(snap, 'E1129 14:58:01.1       1 server.go:54] failed to process mount request, '
                                             'error: Get "https://shop-vault.vault.azure.net/secrets/?api-version=7.4"'
                                             ': dial tcp: lookup shop-vault.vault.azure.net: no such host')],
     ["MCA813"]),
    ("provider error for another namespace's pod ignored",
     [lambda snap: s.add_provider_line(snap, 'E1129 14:58:01.1       1 provider.go:235] "failed to mount secrets '
                                             'store objects" pod="shop/web-5d9c7" err="failed to get keyvault '
                                             'client: no valid identity access mode specified"')],
     ["MCA813"]),
    ("SecretProviderClass missing",
     [lambda snap: s.kube_data(snap, "secretProviderClasses").update({s.REVISION: None})],
     ["MCA810", "MCA813"]),
    ("SecretProviderClass names an old object",
     [lambda snap: s.kube_data(snap, "secretProviderClasses")[s.REVISION].update(
         objectNames=[name if name != s.SECRET_NAMES["cert-chain"] else "old-cert-chain"
                      for name in s.kube_data(snap, "secretProviderClasses")[s.REVISION]["objectNames"]])],
     ["MCA813", "MCA815"]),
    ("SecretProviderClass points at another vault",
     [lambda snap: s.kube_data(snap, "secretProviderClasses")[s.REVISION].update(keyvaultName="old-vault")],
     ["MCA813", "MCA815"]),
    ("SecretProviderClass names in another case",
     [lambda snap: s.kube_data(snap, "secretProviderClasses")[s.REVISION].update(
         objectNames=[name.upper() for name in s.kube_data(snap, "secretProviderClasses")[s.REVISION]["objectNames"]])],
     ["MCA813"]),
    ("SecretProviderClass objects unreadable",
     [lambda snap: s.kube_data(snap, "secretProviderClasses")[s.REVISION].update(objectNames=[])], ["MCA813"]),
    ("deployment missing", [lambda snap: s.kube_data(snap, "istiodDeployments").update({s.REVISION: None}),
                            lambda snap: s.kube_data(snap, "istiodPods").clear(),
                            lambda snap: s.kube_data(snap, "istiodLogs").clear()], ["MCA814"]),
    ("istiod self-signed (1.18)", [_istiod_log(*s.istiod_lines(plugin=False))], ["MCA811"]),
    ("istiod self-signed (1.21)", [_istiod_log("Use istio-generated cacerts at etc/cacerts/ca-key.pem or "
                                               "istio-ca-secret")], ["MCA811"]),
    ("istiod self-signed (1.23+)", [_istiod_log("Use roots from istio-ca-secret")], ["MCA811"]),
    ("istiod plug-in (1.21)", [_istiod_log("DNS certs use plugged-in cert at etc/cacerts/ca-key.pem")], ["MCA813"]),
    ("istiod plug-in (1.23+)", [_istiod_log("Use root cert from etc/cacerts/root-cert.pem")], ["MCA813"]),
    ("self-signed, later plug-in", [_istiod_log("Use roots from istio-ca-secret",
                                                "Use root cert from etc/cacerts/root-cert.pem")], ["MCA813"]),
    ("istiod rejected the CA", [_istiod_log(
        "error\tfailed to create discovery service: failed to create CA: failed to create an istiod CA: failed to "
        "create CA KeyCertBundle (x509: certificate signed by unknown authority)")], ["MCA812"]),
    ("reload failed", [_istiod_log("Use root cert from etc/cacerts/root-cert.pem",
                                   "Failed to update new Plug-in CA certs: the cert does not match the key")],
     ["MCA812"]),
    ("reload failed, then a good reload", [_istiod_log(
        "Use root cert from etc/cacerts/root-cert.pem",
        "Failed to update new Plug-in CA certs: the cert does not match the key",
        "Istiod has detected the newly added intermediate CA and updated its key and certs accordingly")],
     ["MCA813"]),
    ("no plug-in CA: self-signed is expected", [_istiod_log("Use roots from istio-ca-secret"),
                                                lambda snap: s.cluster(snap).update(plugin=None)], []),
    ("cluster skipped", [lambda snap: snap.update(kube=None)], []),
    ("events unreadable", [s.istiod_stuck, lambda snap: s.fail(snap, ("kube", "events"), "403", 403)], ["MCA801"]),
]

MOUNT_CODES = {"AccessDenied": "MCA802", "ForbiddenByRbac": "MCA803", "ForbiddenByFirewall": "MCA804",
               "ForbiddenByConnection": "MCA804", "SecretNotFound": "MCA805"}
for _format in FORMATS:
    for _kv_code, _code in sorted(MOUNT_CODES.items()):
        GRID.append(("{} {}".format(_format, _kv_code), [_mount(_format, _kv_code)], ["MCA801", _code]))


@pytest.mark.parametrize("mutators, expected", [case[1:] for case in GRID], ids=[case[0] for case in GRID])
def test_cluster_grid(mutators, expected):
    assert s.codes(s.run_module(cluster.CHECKS, s.applied(*mutators))) == expected


def _only(code, *mutators):
    [found] = [item for item in s.run_module(cluster.CHECKS, s.applied(*mutators)) if item["code"] == code]
    return found


@pytest.mark.parametrize("error_format", FORMATS)
def test_mount_finding_names_the_secret_and_quotes_the_text(error_format):
    found = _only("MCA805", _mount(error_format, "SecretNotFound", "cert-chain"))
    assert found["object"] == "test-cert-chain"
    assert "404 SecretNotFound for test-cert-chain" in found["message"]
    assert "--name test-cert-chain" in found["remedy"]
    assert all(len(line) <= 300 for line in found["evidence"])
    assert any("objectName:test-cert-chain" in line and "SecretNotFound" in line for line in found["evidence"])


@pytest.mark.parametrize("kv_code", ["ForbiddenByFirewall", "ForbiddenByConnection"])
def test_network_denial_names_the_code(kv_code):
    assert "403 {} reading test-root-cert".format(kv_code) in _only("MCA804", _mount("azcore", kv_code))["message"]


def test_stuck_pods_are_listed_with_status_and_age():
    found = _only("MCA801", s.istiod_stuck)
    assert found["message"] == ("2 istiod pod(s) are not ready: istiod-asm-1-24-6fcfd88478-c48f9 (Init:0/2, 1m0s), "
                                "istiod-asm-1-24-6fcfd88478-wl8mw (Init:0/2, 1m0s).")


def test_self_signed_quotes_the_log_line():
    found = _only("MCA811", _istiod_log(*s.istiod_lines(plugin=False)))
    assert "'No plugged-in cert at etc/cacerts/ca-key.pem; self-signed cert is used'" in found["message"]
    assert found["evidence"][0].startswith(s.ISTIOD_PODS[0] + ": ")


def test_evidence_is_deduplicated_in_one_pass_and_stops_at_its_limit():
    items = [{"evidence": text} for text in ("a", "b", "a", "c", "d", "b")]
    assert cluster._distinct_evidence(items, 3) == ["a", "b", "c"]  # pylint: disable=protected-access
    assert cluster._distinct_evidence(items, 10) == ["a", "b", "c", "d"]  # pylint: disable=protected-access


def test_events_cut_says_how_far_the_read_went():
    def cut(snapshot):
        snapshot["kube"]["events"]["cut"] = [{"reason": "FailedMount", "pages": 4, "bytes": 2500000,
                                              "eventsRead": 2000, "remainingItemCount": 38000}]
    found = _only("MCA834", cut)
    assert "2000 were read, about 38000 more were not" in found["message"]
    assert found["evidence"] == ["reason=FailedMount: 4 page(s), 2500000 bytes, 2000 event(s) read, "
                                 "remainingItemCount=38000"]
