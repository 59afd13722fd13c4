"""The rotation world's pair check (sandbox/sim/kube_rotation.py ``chain_refusal``) on real
chains: a sidecar's leaf as istiod signs it, presented with cert-chain.pem, against a peer's
trust bundle."""

import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sandbox import boringssl  # grpcio (requirements-dev.txt)
from sandbox.sim.kube_rotation import UNKNOWN_ISSUER, UNKNOWN_ROOT, _Signer, chain_refusal, parse_certificates
from sandbox.sim.scenario import make_pki_set


def _sets():
    old = make_pki_set({"cluster": "myAKSCluster"})
    new = make_pki_set({"set_id": "B", "cluster": "myAKSCluster"})
    return old, new


def _chain(parts):
    return _Signer.of({part + ".pem": text for part, text in parts.items()}).issue(time.time())


def test_a_peer_that_trusts_the_root_verifies_the_chain():
    old, new = _sets()
    assert chain_refusal(_chain(old), parse_certificates(old["root-cert"])) is None
    both = parse_certificates(old["root-cert"] + new["root-cert"])
    assert chain_refusal(_chain(old), both) is None and chain_refusal(_chain(new), both) is None


def test_a_peer_that_trusts_only_the_old_root_refuses_a_leaf_under_the_new_one():
    """istio#44932: istiod signs under the new root before the peer took it."""
    old, new = _sets()
    reason, detail = chain_refusal(_chain(new), parse_certificates(old["root-cert"]))
    assert reason == UNKNOWN_ROOT and "SHA-256" in detail


def test_a_leaf_presented_with_another_sets_chain_has_no_issuer():
    """istiod's Verify never checks that cert-chain holds ca-cert (ROTATION.md): a leaf under
    the new ca-cert presented with the old cert-chain reaches no root at all."""
    old, new = _sets()
    chain = _chain(dict(new, **{"cert-chain": old["cert-chain"]}))
    reason, _ = chain_refusal(chain, parse_certificates(old["root-cert"] + new["root-cert"]))
    assert reason == UNKNOWN_ISSUER


def _signer_parts(parts):
    ca_cert = x509.load_pem_x509_certificate(parts["ca-cert"].encode())
    ca_key = serialization.load_pem_private_key(parts["ca-key"].encode(), None)
    return ca_cert, ca_key


@pytest.mark.parametrize("signer, chain, bundle", [
    ("old", "old", "old"), ("new", "new", "old"), ("new", "new", "both"), ("old", "old", "new"),
    ("new", "old", "both"), ("old", "old", "both")])
def test_the_world_agrees_with_boringssl(signer, chain, bundle):
    """The pair check against real mutual TLS through BoringSSL (sandbox/boringssl.py): a leaf
    signed by ``signer``'s ca-key, presented with ``chain``'s cert-chain.pem, verified by a
    peer trusting ``bundle``; both directions (ssl_server, ssl_client)."""
    old, new = _sets()
    sets = {"old": old, "new": new}
    bundles = {"old": old["root-cert"], "new": new["root-cert"], "both": old["root-cert"] + new["root-cert"]}
    parts = dict(sets[signer], **{"cert-chain": sets[chain]["cert-chain"]})
    world = chain_refusal(_chain(parts), parse_certificates(bundles[bundle]))
    ca_cert, ca_key = _signer_parts(sets[signer])
    verdicts = boringssl.handshake(bundles[bundle].encode(), ca_cert, ca_key, sets[chain]["cert-chain"].encode())
    assert all((verdict is None) == (world is None) for verdict in verdicts.values()), (world, verdicts)
