"""Models of the two programs that consume a plug-in CA set, and which one a finding breaks.

istiod (Go) loads the four files and refuses a bad set at start (``istiod.py``);
Envoy (BoringSSL) verifies every workload chain in both directions of mesh mTLS
(``envoy.py``). A certificate finding carries ``breaks`` (the catalog entry's, or set by
the rule where it depends on the case):

* ``istiod``: istiod refuses the set (Envoy would accept it);
* ``envoy``: istiod starts, the data plane refuses the chains it issues;
* ``both``: istiod refuses the set, and Envoy would refuse it too.

The names and each code's ``breaks`` are the catalog's (rules/catalog.py ISTIOD, ENVOY,
BOTH and its entries), so that one entry holds every fact about a code.

docs/certificates.md tabulates every rule with the upstream function it follows.
"""
