"""Models of the two programs that consume a plug-in CA set, and which one a finding breaks.

istiod (Go) loads the four files and refuses a bad set at start (``istiod.py``);
Envoy (BoringSSL) verifies every workload chain in both directions of mesh mTLS
(``envoy.py``). A certificate finding carries ``breaks``:

* ``istiod``: istiod refuses the set (Envoy would accept it);
* ``envoy``: istiod starts, the data plane refuses the chains it issues;
* ``both``: istiod refuses the set, and Envoy would refuse it too.

docs/certificates.md tabulates every rule with the upstream function it follows.
"""

ISTIOD = "istiod"
ENVOY = "envoy"
BOTH = "both"

# Which consumer refuses each certificate finding, where that does not depend on the case.
# Codes that depend on the case (MCA706, MCA707, MCA715) set ``breaks`` where they are emitted.
BREAKS = {
    "MCA601": ISTIOD,  # istiod 1.26.1+: incomplete signing CA bundle; older: self-signed fall-back
    "MCA602": ISTIOD, "MCA603": ISTIOD, "MCA604": ISTIOD, "MCA605": ISTIOD, "MCA606": ISTIOD,
    "MCA607": ISTIOD, "MCA608": ISTIOD, "MCA609": ISTIOD,
    "MCA610": BOTH,    # Go parser.go duplicate extensions; BoringSSL EXFLAG_INVALID
    "MCA614": ISTIOD,  # ParsePemEncodedCertificate reads ca-cert.pem's first block
    # MCA701 (a root-cert entry that is not self-signed) has no entry: Go trusts any
    # certificate in Roots and Envoy sets X509_V_FLAG_PARTIAL_CHAIN, so neither refuses it.
    "MCA702": ISTIOD,  # Go CheckSignatureFrom: parent without CA; BoringSSL skips anchors
    "MCA704": BOTH,    # Go isValid NotAuthorizedToSign / istio ca.go; BoringSSL X509_check_ca
    "MCA705": ENVOY,   # Go: ca-cert is Verify's leaf, whose keyUsage is ignored; BoringSSL check_ca
    # MCA707 is set where emitted: Go refuses SHA-1 and MD5, BoringSSL only MD5.
    "MCA709": ISTIOD,  # tls.X509KeyPair in keycertbundle.go verify()
    "MCA710": BOTH,
    # MCA711 and MCA713 (cert-chain order) have no entry: Go's CertPool and BoringSSL's
    # find_issuer (x509_vfy.cc) search the whole pool, so order breaks neither verifier.
    "MCA712": BOTH,    # comes with MCA710: Go finds no path, nor can a peer
    "MCA716": BOTH,    # Go CheckSignatureFrom refuses a parent without keyCertSign; so does BoringSSL
    "MCA717": BOTH, "MCA721": BOTH,
    "MCA722": BOTH,
    "MCA723": ENVOY,   # BoringSSL xku_reject on every untrusted CA, both purposes
}


def annotate(findings):
    """Add ``breaks`` to every certificate finding that does not carry one yet."""
    for item in findings:
        if "breaks" not in item and item.get("code") in BREAKS:
            item["breaks"] = BREAKS[item["code"]]
    return findings
