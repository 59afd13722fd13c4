"""Help text for ``az aks mesh ca``. Every command has examples."""

from knack.help_files import helps

helps['aks mesh ca'] = """
type: group
short-summary: Diagnose and fix the Istio add-on's plug-in CA (Key Vault certificates mounted into istiod).
long-summary: |
    Exit statuses: 0 no problem found; 1 the command could not run (unreadable input,
    invalid values, Azure error); 2 the command line does not parse; 3 a named Azure
    resource was not found; 4 problems found (error-level findings); 5 no problem found,
    but some checks could not run. Every finding code is explained in docs/findings.md.
"""

helps['aks mesh ca validate-secrets'] = """
type: command
short-summary: Judge a plug-in CA set (root-cert, ca-cert, ca-key, cert-chain) the way istiod and Envoy will.
long-summary: |
    Checks that each object is well-formed PEM, that ca-key matches ca-cert, that ca-cert
    is a CA that verifies to a root in root-cert through cert-chain (by signature, not by
    name), that cert-chain is complete and in order, that path-length and key-usage
    constraints allow workload certificates, and how long each certificate has left.
    The result prints even when problems are found; the exit status is then 4.
examples:
  - name: Validate the files Istio's tools/certs produced, before uploading them.
    text: az aks mesh ca validate-secrets --cert-dir ./cluster1
  - name: Validate four files by name and fail a CI job on any error.
    text: az aks mesh ca validate-secrets --root-cert root.pem --ca-cert ca.pem --ca-key ca-key.pem --cert-chain chain.pem || exit 1
  - name: Show only the errors.
    text: az aks mesh ca validate-secrets --cert-dir ./cluster1 --query "findings[?severity=='error']"
  - name: Warn 90 days before any certificate expires.
    text: az aks mesh ca validate-secrets --cert-dir ./cluster1 --warn-days 90 -o table
"""

helps['aks mesh ca show-cert'] = """
type: command
short-summary: Describe certificates - subject, issuer, validity, fingerprint, key, CA flags, usages, SANs.
long-summary: Accepts any PEM bundle. Private keys are never printed.
examples:
  - name: Describe every certificate in a PEM bundle.
    text: az aks mesh ca show-cert --file cert-chain.pem
  - name: Describe every certificate of a plug-in CA folder as a table.
    text: az aks mesh ca show-cert --cert-dir ./cluster1 -o table
  - name: Print the SHA-256 fingerprints only.
    text: az aks mesh ca show-cert --file root-cert.pem --query "certificates[].fingerprintSha256" -o tsv
"""
