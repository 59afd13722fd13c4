"""Grid for the collection checks (MCA901-MCA916): every collector failure once, and a
403 the OPERATOR got never passed off as the add-on's."""

import pytest

from azext_meshca.rules.checks import collection
from tests.unit import snapshots as s


def _fail(*path, status=403, code="Forbidden", reason="403 Forbidden"):
    return lambda snapshot: s.fail(snapshot, path, reason, status, code)


def _private(snapshot):
    s.cluster(snapshot)["apiServer"] = {"privateCluster": True, "authorizedIpRanges": []}


def _ip_restricted(snapshot):
    s.cluster(snapshot)["apiServer"] = {"privateCluster": False, "authorizedIpRanges": ["203.0.113.0/24"]}


_unreachable = _fail("kube", "access", status=None, code="CannotConnect",
                     reason="cannot reach the Kubernetes API: connection refused")


GRID = [
    ("healthy", [], []),
    ("cluster unreadable", [_fail("cluster", code="AuthorizationFailed")], ["MCA901"]),
    ("vault unreadable", [_fail("vault", code="AuthorizationFailed")], ["MCA902"]),
    ("vault 404 is MCA105, not a gap", [_fail("vault", status=404, code="ResourceNotFound")], []),
    ("role assignments unreadable", [_fail("roleAssignments")], ["MCA903"]),
    ("operator 403 on every secret: one finding", [s.operator_forbidden], ["MCA904"]),
    ("operator 403 on one secret", [lambda snap: s.operator_forbidden(snap, ["ca-key"])], ["MCA904"]),
    ("operator blocked by the vault firewall", [_fail("secrets", "ca-cert", code="ForbiddenByFirewall")], ["MCA904"]),
    ("secret 404 is MCA601, not a gap", [lambda snap: s.secret_missing(snap, "ca-key")], []),
    ("secret disabled is MCA611, not a gap", [_fail("secrets", "ca-key", code="SecretDisabled")], []),
    ("no credentials", [_fail("kube", "access", code="credentials")], ["MCA906"]),
    ("ARM refused listClusterUserCredential", [_fail("kube", "access", code="AuthorizationFailed")], ["MCA906"]),
    ("API server unreachable", [_fail("kube", "access", status=None, code="CannotConnect",
                                      reason="cannot reach the Kubernetes API: connection refused")], ["MCA905"]),
    ("API server said 401", [_fail("kube", "access", status=401, code="Kubernetes401")], ["MCA905"]),
    ("private API server unreachable", [_private, _unreachable], ["MCA912"]),
    ("IP-restricted API server unreachable", [_ip_restricted, _unreachable], ["MCA912"]),
    ("private API server said 401: not a network gap", [_private, _fail("kube", "access", status=401,
                                                                        code="Kubernetes401")], ["MCA905"]),
    ("private cluster, no credentials", [_private, _fail("kube", "access", code="AuthorizationFailed")],
     ["MCA906"]),
    ("public API server unreachable", [lambda snap: s.cluster(snap).update(
        apiServer={"privateCluster": False, "authorizedIpRanges": []}), _unreachable], ["MCA905"]),
    ("bad kubeconfig", [_fail("kube", "access", status=None, code=None, reason="ConfigException: no context")],
     ["MCA905"]),
    ("API server unreachable: items not reported again",
     [_fail("kube", "access", status=None, code=None), _fail("kube", "events"), _fail("kube", "istiodLogs")],
     ["MCA905"]),
    ("events unreadable", [_fail("kube", "events")], ["MCA907"]),
    ("two items unreadable", [_fail("kube", "events"), _fail("kube", "providerLogs")], ["MCA907", "MCA907"]),
    ("pods unreadable: their logs not reported again", [_fail("kube", "istiodPods"), _fail("kube", "istiodLogs")],
     ["MCA907"]),
    ("secrets not tried, vault unreadable: MCA902 only",
     [_fail("vault", code="AuthorizationFailed")] + [_fail("secrets", obj, status=None, code="VaultUnknown")
                                                     for obj in ("root-cert", "ca-cert", "ca-key", "cert-chain")],
     ["MCA902"]),
    ("cluster skipped on request", [lambda snap: snap.update(kube=None),
                                    lambda snap: snap["options"].update(skipCluster=True)], ["MCA908"]),
    ("cluster not collected (no plug-in CA)", [lambda snap: snap.update(kube=None)], []),
    ("run-command refused", [_private, _fail("kube", "access", code="RunCommandForbidden")], ["MCA913"]),
    ("run-command failed", [_private, _fail("kube", "access", status=None, code="RunCommandFailed")], ["MCA914"]),
    ("cluster stopped", [_private, _fail("kube", "access", status=None, code="ClusterStopped")], ["MCA915"]),
    ("run-command output without even /version: MCA916, not MCA905",
     [_private, _fail("kube", "access", status=None, code="RunCommandOutput", reason="not answered")], ["MCA916"]),
    ("run-command output cut: MCA916, not MCA907",
     [_fail("kube", "events", status=None, code="RunCommandOutput", reason="left out")], ["MCA916"]),
]


@pytest.mark.parametrize("mutators, expected", [case[1:] for case in GRID], ids=[case[0] for case in GRID])
def test_collection_grid(mutators, expected):
    assert s.codes(s.run_module(collection.CHECKS, s.applied(*mutators))) == expected


def test_operator_403_names_every_unreadable_object_and_says_whose_access():
    [found] = s.run_module(collection.CHECKS, s.applied(s.operator_forbidden))
    assert ("root-cert (test-root-cert), ca-cert (test-ca-cert), ca-key (test-ca-key), "
            "cert-chain (test-cert-chain)") in found["message"]
    assert "This is your own access, not the add-on's." in found["message"]
    assert len(found["evidence"]) == 1      # the four got one error: said once, naming them


def test_unreadable_item_names_what_and_where():
    [found] = s.run_module(collection.CHECKS, s.applied(_fail("kube", "providerLogs")))
    assert "Reading pods/log failed" in found["message"]
    assert "kubectl auth can-i list pods/log -n kube-system" in found["remedy"]


def test_restricted_api_server_says_why_and_where_to_run_from():
    [found] = s.run_module(collection.CHECKS, s.applied(_ip_restricted, _unreachable))
    assert "allows only authorised IP ranges (203.0.113.0/24)" in found["message"]
    assert "connection refused" in found["message"]
    assert "virtual network" in found["remedy"]


# Key Vault's firewall refusal as describe_error words it (sources/errors.py), in the simulator's
# text (sandbox/sim/scenario.py _network_denial, after Key Vault's REST error codes page,
# learn.microsoft.com/azure/key-vault/general/rest-error-codes).
FIREWALL = ("403 Forbidden (ForbiddenByFirewall): Client address is not authorized and caller is not a trusted "
            "service. Client address: 127.0.0.1 Caller: appid=11111111-aaaa;oid=11111111 Vault: kv;location=eastus")
RBAC = "403 Forbidden (ForbiddenByRbac): Caller is not authorized to perform action on resource."


def _unread(snapshot):
    found = [item for item in s.run_module(collection.CHECKS, snapshot) if item["code"] == "MCA904"]
    assert len(found) == 1, found
    return found[0]


def test_mca904_says_an_error_all_objects_got_once_and_names_them():
    """A vault that refuses the caller vault-wide: four objects, one error, said once."""
    snapshot = s.healthy_snapshot()
    for obj in ("root-cert", "ca-cert", "ca-key", "cert-chain"):
        s.fail(snapshot, ("secrets", obj), FIREWALL, 403, "ForbiddenByFirewall")
    unread = _unread(snapshot)
    names = [f"{obj} ({s.SECRET_NAMES[obj]})" for obj in ("root-cert", "ca-cert", "ca-key", "cert-chain")]
    assert unread["evidence"] == [f"{', '.join(names)}: {FIREWALL}"]
    assert unread["message"].count(FIREWALL) == 1
    assert all(name in unread["message"] for name in names)
    assert "your own access" in unread["message"]
    assert unread["detail"] == FIREWALL


def test_mca904_gives_each_distinct_error_one_line_naming_its_objects():
    snapshot = s.healthy_snapshot()
    for obj in ("root-cert", "ca-key"):
        s.fail(snapshot, ("secrets", obj), RBAC, 403, "ForbiddenByRbac")
    s.fail(snapshot, ("secrets", "cert-chain"), "429 Too Many Requests (Throttled): slow down", 429, "Throttled")
    unread = _unread(snapshot)
    assert unread["evidence"] == [f"root-cert ({s.SECRET_NAMES['root-cert']}), ca-key ({s.SECRET_NAMES['ca-key']}): {RBAC}",
                                  f"cert-chain ({s.SECRET_NAMES['cert-chain']}): 429 Too Many Requests (Throttled): slow down"]
    assert unread["message"].count(RBAC) == 1 and "slow down" in unread["message"]
    assert f"ca-cert ({s.SECRET_NAMES['ca-cert']})" not in unread["message"]
