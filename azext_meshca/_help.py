"""Help text for ``az aks mesh ca``. Every command has examples."""

from knack.help_files import helps

helps['aks mesh ca'] = """
type: group
short-summary: Diagnose and fix the Istio add-on's plug-in CA (Key Vault certificates mounted into istiod).
long-summary: |
    Exit statuses: 0 no problem found; 1 the command could not run (unreadable input,
    invalid values, Azure error); 2 the command line does not parse; 3 a named Azure
    resource was not found; 4 problems found (a finding at or above --failure-threshold,
    default error); 5 no problem found, but some checks could not run. Each finding says
    its fix in "remedy"; for the whole story behind a code, run az aks mesh ca explain CODE
    (az aks mesh ca list-checks lists the rules and their codes).
examples:
  - name: Find why istiod's plug-in CA does not work, and the exact fix.
    text: az aks mesh ca diagnose -g myResourceGroup -n myAKSCluster -o table
  - name: Grant the add-on identity the access it lacks, after showing the plan.
    text: az aks mesh ca fix-access -g myResourceGroup -n myAKSCluster
  - name: Check a CA set before uploading it.
    text: az aks mesh ca validate-secrets --cert-dir ./cluster1
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
  - name: In CI, fail (exit 4) when a certificate expires within 90 days, but not for the root's known date.
    text: az aks mesh ca validate-secrets --cert-dir ./cluster1 --warn-days 90 --failure-threshold warning --suppress MCA720=root-cert
  - name: Validate the Key Vault objects a cluster's plug-in CA configuration names (read with your credentials).
    text: az aks mesh ca validate-secrets -g myResourceGroup -n myAKSCluster
  - name: Validate objects in a vault before pointing a cluster at them.
    text: az aks mesh ca validate-secrets --vault-name MyVault --root-cert-object-name root-cert --ca-cert-object-name ca-cert --ca-key-object-name ca-key --cert-chain-object-name cert-chain
  - name: Validate what the cluster holds now (the cacerts secret, on add-on versions that create it).
    text: az aks mesh ca validate-secrets -g myResourceGroup -n myAKSCluster --in-cluster
"""

helps['aks mesh ca show-cert'] = """
type: command
short-summary: Describe certificates - subject, issuer, validity, fingerprint, key, CA flags, usages, SANs.
long-summary: |
    Accepts any PEM bundle, or one DER certificate. Private keys are never printed. Exits 0
    whenever it showed a certificate, expired or not, so its output can be captured under
    set -e; --failure-threshold opts into diagnose's exit statuses. In table output a chain is
    drawn as a tree and the findings follow in their own section.
examples:
  - name: Describe every certificate in a PEM bundle.
    text: az aks mesh ca show-cert --file cert-chain.pem
  - name: Describe every certificate of a plug-in CA folder as a table.
    text: az aks mesh ca show-cert --cert-dir ./cluster1 -o table
  - name: Print the SHA-256 fingerprints only.
    text: az aks mesh ca show-cert --file root-cert.pem --query "certificates[].fingerprintSha256" -o tsv
  - name: Show a DER certificate, and exit 4 if it has expired.
    text: az aks mesh ca show-cert --file root-cert.der --failure-threshold error
  - name: Describe the certificates in Key Vault that a cluster is configured with (ca-key is never read).
    text: az aks mesh ca show-cert -g myResourceGroup -n myAKSCluster -o table
  - name: Compare the root the mesh trusts (istio-ca-root-cert) with the mounted cacerts.
    text: az aks mesh ca show-cert -g myResourceGroup -n myAKSCluster --in-cluster --query "certificates[].[object, fingerprintSha256]" -o tsv
"""

helps['aks mesh ca diagnose'] = """
type: command
short-summary: Find why istiod's plug-in CA does not work, and say the exact fix.
long-summary: |
    Reads the cluster, the vault, the add-on identity's access, the four Key Vault secrets
    (with your credentials) and the in-cluster objects (istiod pods, events, CSI provider
    logs, SecretProviderClass, cacerts, istio-ca-root-cert configmaps, istiod logs), runs
    every known check, and reports findings with evidence. Root causes come first and the
    symptoms they explain are linked to them (explains / explainedBy). Anything that could
    not be read is reported as a "collection" finding with the reason; the exit status is
    then 5 unless problems were found (4).

    A private or IP-restricted API server that your machine cannot reach is reported as
    MCA912. --via-run-command then reads the in-cluster objects through AKS run-command
    instead (one managedClusters/runCommand request, as az aks command invoke makes): it
    CREATES A POD in the cluster that runs kubectl, and needs
    Microsoft.ContainerService/managedClusters/runCommand/action, which Azure Kubernetes
    Service Cluster Admin Role, Contributor and Owner hold (Azure Kubernetes Service Cluster
    User Role and Azure Kubernetes Service Contributor Role do not). It is never done unless asked.
examples:
  - name: Diagnose a cluster.
    text: az aks mesh ca diagnose -g myResourceGroup -n myAKSCluster
  - name: Only the errors, with their fixes.
    text: az aks mesh ca diagnose -g myResourceGroup -n myAKSCluster --query "findings[?severity=='error'].{code:code, fix:remedy}"
  - name: Check the Azure side only (no API server access needed).
    text: az aks mesh ca diagnose -g myResourceGroup -n myAKSCluster --skip-cluster -o table
  - name: Save a redacted snapshot for a colleague, who analyses it offline.
    text: az aks mesh ca diagnose -g myResourceGroup -n myAKSCluster --export snap.json && az aks mesh ca diagnose --from-snapshot snap.json
  - name: Reach the API server through your own kubeconfig.
    text: az aks mesh ca diagnose -g myResourceGroup -n myAKSCluster --kubeconfig ~/.kube/config --context myAKSCluster
  - name: Use a context of the default kubeconfig ($KUBECONFIG or ~/.kube/config), as kubectl does.
    text: az aks mesh ca diagnose -g myResourceGroup -n myAKSCluster --context myAKSCluster
  - name: Show the informational findings in the table too.
    text: az aks mesh ca diagnose -g myResourceGroup -n myAKSCluster -o table --output-threshold info
  - name: In CI, fail on warnings too, except a known one (listed in summary.suppressed).
    text: az aks mesh ca diagnose -g myResourceGroup -n myAKSCluster --failure-threshold warning --suppress MCA301 MCA718=root-cert
  - name: Give up on slow services after 30 seconds and report what was read by then.
    text: az aks mesh ca diagnose -g myResourceGroup -n myAKSCluster --timeout 30
  - name: A private cluster, read through AKS run-command (creates a pod in the cluster; needs runCommand/action).
    text: az aks mesh ca diagnose -g myResourceGroup -n myPrivateCluster --via-run-command
"""

helps['aks mesh ca fix-access'] = """
type: command
short-summary: Let the Key Vault secrets provider add-on read the plug-in CA secrets - least privilege, idempotent.
long-summary: >
    Finds the add-on identity (`azurekeyvaultsecretsprovider-<cluster>`) and the plug-in CA's vault,
    then grants the least access the CSI provider needs to mount the certificates into istiod:
    on an access-policy vault, secret get for the identity's objectId, through the add-only
    accessPolicies/add operation, so every other policy stays as it is (az keyvault set-policy
    rewrites the whole vault and can lose a policy added meanwhile) and an existing policy for
    the identity is extended, never replaced; on an Azure RBAC vault, the Key Vault Secrets User
    role at the vault's scope. Key Vault Reader, which the troubleshooting article suggests, is
    not enough: it reads vault metadata only, never secret values, so the mount keeps failing.
    When the access is already sufficient nothing is written. The plan (identity, vault,
    permission model, exact change) is shown on stderr first, and applied after you confirm
    (--yes skips the question; without a terminal, --yes is required). The command refuses,
    without writing, when the vault is in another tenant, the add-on is off or has no identity,
    no plug-in CA is configured, or you lack the right to make the change (access policies:
    Key Vault Contributor or Owner; role assignments: Role Based Access Control Administrator,
    User Access Administrator or Owner). With --wait-for-istiod, exit status 4 means istiod did not turn
    Ready in time, 5 that the cluster could not be read.
examples:
  - name: See what would change, without changing anything.
    text: az aks mesh ca fix-access -g myResourceGroup -n myAKSCluster --dry-run
  - name: Grant access (access policy or role, as the vault requires) and wait for istiod to start.
    text: az aks mesh ca fix-access -g myResourceGroup -n myAKSCluster --yes --wait-for-istiod
  - name: Grant secret get and list, as the troubleshooting article does.
    text: az aks mesh ca fix-access -g myResourceGroup -n myAKSCluster --mode policy --secret-permissions get list --yes
  - name: The add-on holds only Key Vault Reader (the article's advice); add Key Vault Secrets User.
    text: az aks mesh ca fix-access -g myResourceGroup -n myAKSCluster --mode rbac --yes -o table
"""

helps['aks mesh ca explain'] = """
type: command
short-summary: Explain a finding code - what it means, how meshca decides, how to confirm it by hand, the fix.
long-summary: Prints the code's page for a reader (the text of docs/findings/MCAnnn.md), like rustc --explain; with -o json or yaml, the catalog entry.
examples:
  - name: Explain the missing access policy of the troubleshooting article's issue 1.
    text: az aks mesh ca explain MCA401
  - name: The catalog entry of a code, with what each placeholder stands for.
    text: az aks mesh ca explain MCA401 -o json
  - name: Explain every error code a diagnose run found.
    text: for code in $(az aks mesh ca diagnose -g myResourceGroup -n myAKSCluster --query "findings[?severity=='error'].code" -o tsv); do az aks mesh ca explain $code; done
"""

helps['aks mesh ca list-checks'] = """
type: command
short-summary: List the rules meshca runs, the finding codes each may emit, and the inputs each needs.
examples:
  - name: List every rule and its codes.
    text: az aks mesh ca list-checks -o table
  - name: Find the rule behind a code.
    text: az aks mesh ca list-checks --query "[?contains(codes, 'MCA710')].rule" -o tsv
"""

helps['aks mesh ca scan'] = """
type: command
short-summary: Judge every plug-in CA cluster of a tenant in one table, through Azure Resource Graph.
long-summary: |
    A few Resource Graph queries (not one per cluster) give every managed cluster with the
    Istio add-on and a plug-in CA, their vaults and the add-on identities' role assignments;
    each cluster is then judged by the same Azure-side rules as diagnose --skip-cluster.
    --read-secrets also reads the Key Vault objects, once per distinct vault and object set.
    Subscriptions Resource Graph does not show, or would not answer, are reported as
    collection findings (MCA910, MCA911), never silently left out, and a scan that finds no
    cluster says so (MCA930). --subscriptions takes names or IDs, as az --subscription does.
    Exit statuses as for diagnose: 4 when any cluster has a finding at or above
    --failure-threshold, 5 when something could not be checked.
examples:
  - name: Every plug-in CA cluster your login can see, worst first.
    text: az aks mesh ca scan -o table
  - name: Two subscriptions, by name or ID, with certificate expiry, warning 60 days ahead.
    text: az aks mesh ca scan --subscriptions fleet-4 00000000-0000-0000-0000-000000000002 --read-secrets --warn-days 60 -o table
  - name: Set known findings aside (space- or comma-separated, with wildcards).
    text: az aks mesh ca scan --suppress MCA302 MCA7* -o table
  - name: Everything under a management group.
    text: az aks mesh ca scan --management-groups myPlatformGroup -o table
  - name: The clusters whose add-on identity cannot read its vault.
    text: az aks mesh ca scan --query "clusters[?rootCause=='MCA401' || rootCause=='MCA402'].{cluster:cluster, vault:vault}"
  - name: Nightly in a pipeline - JSON to keep (redirect it to a file), failing the job on warnings too.
    text: az aks mesh ca scan --read-secrets --failure-threshold warning -o json
  - name: A large fleet on a slow network - give the reads five minutes; what they miss is reported as not checked.
    text: az aks mesh ca scan --read-secrets --timeout 300 -o table
"""

helps['aks mesh ca rotate'] = """
type: group
short-summary: Rotate the plug-in CA one safe stage at a time, gated on evidence from the cluster.
long-summary: |
    Plan reads the live state and the new material (a tools/certs folder) and writes a plan;
    advance writes the next stage's Key Vault versions only when the current stage's gate
    holds and every refusal check passes again; status says where a rotation stands, from
    Key Vault's tags and the cluster alone. An intermediate rotation has one stage (I1); a
    root rotation three (R1: both roots, R2: the new intermediate, R3: the new root only).
    See docs/rotation.md.
"""

helps['aks mesh ca rotate plan'] = """
type: command
short-summary: Plan a rotation to the material in --new-dir; writes only the plan file.
long-summary: |
    Exit 0 when the rotation is safe to start; exit 4, with findings in diagnose's shape,
    when a refusal holds now (MCA340-MCA350). Planning again with the same material while a
    rotation is under way gives the same plan: that is how a rotation resumes elsewhere.
examples:
  - name: Plan a rotation to the files Istio's tools/certs made.
    text: az aks mesh ca rotate plan -g myResourceGroup -n myAKSCluster --new-dir ./new-ca
"""

helps['aks mesh ca rotate advance'] = """
type: command
short-summary: Write the next stage of a planned rotation, when its gate holds; at most one stage.
long-summary: |
    Exit 0 when a stage was written, or when the gate does not hold yet (nothing written; it
    says what it waits for). Exit 4 when refused: nothing written. Never deletes, disables or
    purges a version.
examples:
  - name: See what the next stage would write, without writing.
    text: az aks mesh ca rotate advance -g myResourceGroup -n myAKSCluster --plan-file ./meshca-rotation-plan.json --new-dir ./new-ca --dry-run
  - name: Write the next stage and wait up to 10 minutes for its gate.
    text: az aks mesh ca rotate advance -g myResourceGroup -n myAKSCluster --plan-file ./meshca-rotation-plan.json --new-dir ./new-ca --yes --wait --timeout 600
"""

helps['aks mesh ca rotate status'] = """
type: command
short-summary: Where a rotation stands - its kind, last written stage and that stage's gate.
examples:
  - name: The stage and what its gate waits for, from Key Vault's tags (no plan file needed).
    text: az aks mesh ca rotate status -g myResourceGroup -n myAKSCluster --query rotation
"""
