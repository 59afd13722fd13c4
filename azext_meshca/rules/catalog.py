"""The message catalog: every finding meshca can report, in one place.

Each entry holds every fact about its code: a stable code, a severity, an area, a
one-line title, a message template and a remedy template, the causes that explain it
(``explained_by``), the consumer it breaks (``breaks``, set on findings by ``annotate``),
the words its producers report it by (``kinds``, read by ``code_for``), and, in
``data/explanations.md`` which this module reads (``explanation``), how to confirm it by
hand. Checks never write prose of their own: they call
``finding(code, ...)`` with the names that fill the templates. ``docs/findings.md``
is generated from this file (``python -m azext_meshca.rules.catalog > docs/findings.md``)
and a test fails when the two drift apart.

Codes are ``MCA`` plus three digits; the first digit is the area:
1 config, 2 addon, 3 rotation, 4 access, 5 network, 6 secret, 7 certificate,
8 cluster, 9 collection ("could not check"). ``grep -rn MCA701 azext_meshca``
finds the entry and the check that emits it.

This module is imported lazily (never at command-table load) and has no
dependencies beyond the standard library.
"""

# One entry per code, with every fact of it (issue #19): the table is long by design.
# pylint: disable=too-many-lines

from collections import namedtuple
import functools
import os
import re
import string

from azext_meshca.model.plugin_set import FILES

ERROR = "error"
WARNING = "warning"
INFO = "info"
SEVERITIES = (ERROR, WARNING, INFO)

AREAS = ("config", "addon", "rotation", "access", "network", "secret",
         "certificate", "cluster", "collection")

Message = namedtuple("Message", "code severity area title message remedy explained_by fallback detail file_remedy "
                     "breaks kinds")

# Which consumer of the plug-in CA set refuses what a certificate finding reports (its
# ``breaks``; rules/consumers/ models both): istiod (Go) refuses the set at start, Envoy
# (BoringSSL) refuses the workload chains istiod issues, or both. An entry's ``breaks`` holds it
# where it does not depend on the case; where it does (MCA706, MCA707, MCA715) the rule sets it.
ISTIOD = "istiod"
ENVOY = "envoy"
BOTH = "both"

# What a producer reports that a code stands for (an entry's ``kinds``, read by code_for): a
# family and the producer's own word for the case. The words are the producers':
# rules/logparse.py's mount-failure causes, model/certs.py's parse-error kinds (for a
# certificate object and for ca-key), rules/consumers/istiod.py's refusal classes and
# sources/runcommand.py's kube.access error codes; tests/unit/test_catalog_facts.py holds
# each family to its producer's vocabulary.
MOUNT_FAILURE = "mount-failure"
CERT_FORMAT = "certificate-format"
KEY_FORMAT = "key-format"
STARTUP_REFUSAL = "startup-refusal"
RUN_COMMAND_ERROR = "run-command-error"

# Codes that were used once and must never mean something else: {code: why it went}.
# Retire a code by moving it here, never by reusing it (a test enforces both).
RETIRED = {}

# Cause -> symptom links, as data. A symptom's ``explained_by`` lists the causes that
# produce exactly it, in the order they are named; ``fallback`` applies only when
# none of those is present. The runner (rules/runner.py) sets explainedBy/explains from these.
#
# The causes a failed cacerts mount can have (MCA801 may be explained by any of them).
# A secret's exp/nbf dates (MCA612) are informational: Key Vault still serves the value,
# so they never explain a failed mount; nor does an object backed by a Key Vault
# certificate (MCA613): the provider mounts its PEM value like any secret's, and what
# that value holds is judged by the certificate rules.
MOUNT_CAUSES = ("MCA103", "MCA104", "MCA105", "MCA201", "MCA202", "MCA401", "MCA402", "MCA403", "MCA406",
                "MCA501", "MCA502", "MCA601", "MCA611")
MOUNT_SYMPTOMS = ("MCA802", "MCA803", "MCA804", "MCA805", "MCA806", "MCA807", "MCA808", "MCA809", "MCA816",
                  "MCA817", "MCA830", "MCA831", "MCA832", "MCA833")
# Stands for every error-level secret or certificate code (MCA6xx, MCA7xx): what istiod
# rejects when it loads the plug-in files.
CERTIFICATE_ERRORS = "certificate-errors"


# A table row: code, severity, area, title, message and remedy are positional in every entry
# below, read as columns; too-many-positional-arguments is set aside for this one constructor
# rather than spelling remedy= in each of its rows.
# pylint: disable-next=too-many-positional-arguments
def _m(code, severity, area, title, message, remedy="", *, explained_by=(), fallback=(), detail="", file_remedy="",
       breaks=None, kinds=()):
    """One entry. ``detail`` is the few words ``-o table`` shows beside the title (days
    left, the missing permission, the object), filled from the same parameters.
    ``file_remedy`` replaces ``remedy`` when the set came from local files. ``breaks``: the
    consumer that refuses it (ISTIOD, ENVOY, BOTH). ``kinds``: the (family, word) pairs a
    producer reports for it (code_for)."""
    return Message(code, severity, area, title, message, remedy, tuple(explained_by), tuple(fallback), detail,
                   file_remedy, breaks, tuple(kinds))


# Remedy templates may use these names; checks fill them from the snapshot.
#   {resource_group} {cluster} {vault_name} {vault_resource_group} {vault_id}
#   {object_id} {revision} {namespace}
_ENTRIES = [
    # --- config (MCA1xx) ---
    _m("MCA101", ERROR, "config", "The Istio service mesh add-on is not enabled",
       "serviceMeshProfile.mode is '{mode}', so there is no istiod to plug a CA into.",
       "az aks mesh enable -g {resource_group} -n {cluster} --key-vault-id <vault-id> "
       "--root-cert-object-name root-cert --ca-cert-object-name ca-cert "
       "--ca-key-object-name ca-key --cert-chain-object-name cert-chain",
       detail="mode {mode}"),
    _m("MCA102", WARNING, "config", "No plug-in CA is configured; istiod uses its self-signed CA",
       "serviceMeshProfile.istio.certificateAuthority.plugin is not set, so the mesh runs "
       "with istiod's self-signed root and the Key Vault checks do not apply.",
       "A plug-in CA is set when the add-on is enabled: upload the four secrets, then "
       "az aks mesh disable -g {resource_group} -n {cluster} && az aks mesh enable "
       "-g {resource_group} -n {cluster} --key-vault-id <vault-id> --root-cert-object-name "
       "root-cert --ca-cert-object-name ca-cert --ca-key-object-name ca-key "
       "--cert-chain-object-name cert-chain"),
    _m("MCA103", ERROR, "config", "The plug-in CA configuration is incomplete",
       "certificateAuthority.plugin lacks {missing}; all five fields are required.",
       "Re-enable the mesh with all five plug-in options: --key-vault-id, "
       "--root-cert-object-name, --ca-cert-object-name, --ca-key-object-name, "
       "--cert-chain-object-name.",
       detail="missing {missing}"),
    _m("MCA104", ERROR, "config", "keyVaultId is not a Key Vault resource ID",
       "keyVaultId '{key_vault_id}' does not have the form "
       "/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>.",
       "Re-enable the mesh with --key-vault-id set to the output of: "
       "az keyvault show -n <vault> --query id -o tsv",
       detail="{key_vault_id}"),
    _m("MCA105", ERROR, "config", "The configured Key Vault does not exist",
       "ARM answered 404 for {vault_id}: the vault was deleted, renamed or is in another "
       "subscription.",
       "Recover it (az keyvault recover -n {vault_name}) or re-enable the mesh with the "
       "ID of an existing vault.",
       detail="vault {vault_name} not found"),

    # --- addon (MCA2xx) ---
    _m("MCA201", ERROR, "addon", "The Azure Key Vault secrets provider add-on is disabled",
       "addonProfiles.azureKeyvaultSecretsProvider.enabled is false; nothing mounts the "
       "plug-in CA into istiod.",
       "az aks enable-addons --addons azure-keyvault-secrets-provider -g {resource_group} "
       "-n {cluster} --enable-secret-rotation",
       detail="add-on disabled"),
    _m("MCA202", ERROR, "addon", "The secrets provider add-on has no identity",
       "addonProfiles.azureKeyvaultSecretsProvider.identity has no objectId, so no one can "
       "be granted access to the vault.",
       "az aks disable-addons --addons azure-keyvault-secrets-provider -g {resource_group} "
       "-n {cluster} && az aks enable-addons --addons azure-keyvault-secrets-provider "
       "-g {resource_group} -n {cluster} --enable-secret-rotation",
       detail="no identity objectId"),

    # --- rotation (MCA3xx) ---
    _m("MCA301", WARNING, "rotation", "Secret rotation is disabled",
       "enableSecretRotation is '{value}': changes to the Key Vault secrets never reach "
       "istiod until its pods are recreated.",
       "az aks addon update -g {resource_group} -n {cluster} --addon "
       "azure-keyvault-secrets-provider --enable-secret-rotation --rotation-poll-interval 2m",
       detail="enableSecretRotation {value}"),
    _m("MCA302", WARNING, "rotation", "The rotation poll interval is long",
       "rotationPollInterval is {interval}: a Key Vault change takes up to {interval} to "
       "reach the cacerts mount{restart_note}.",
       "az aks addon update -g {resource_group} -n {cluster} --addon "
       "azure-keyvault-secrets-provider --enable-secret-rotation --rotation-poll-interval 2m",
       detail="polls every {interval}"),
    _m("MCA303", INFO, "rotation", "Secret rotation is enabled",
       "Rotation polls every {interval}: a Key Vault change reaches the cacerts mount within "
       "about {interval}{restart_note}.", "",
       detail="polls every {interval}"),
    _m("MCA304", ERROR, "rotation", "The mesh trusts an old root: a root change was not picked up",
       "The istio-ca-root-cert configmap in aks-istio-system holds root {cluster_root} but "
       "Key Vault's root-cert holds {vault_root}. {restart_note}",
       "{istiod_step}",
       explained_by=("MCA307",),  # istiod refused the new root: the mesh keeps the old one
       detail="mesh root {cluster_root}"),
    _m("MCA305", WARNING, "rotation", "The cacerts secret lags behind Key Vault",
       "The cacerts secret in aks-istio-system differs from Key Vault in {objects}. "
       "{lag_note}",
       "Wait one poll interval; if it persists, check rotation with: az aks show "
       "-g {resource_group} -n {cluster} --query addonProfiles.azureKeyvaultSecretsProvider.config",
       detail="differs in {objects}"),
    _m("MCA306", WARNING, "rotation", "Workload namespaces trust a different root than istiod",
       "{count} namespace(s) hold an istio-ca-root-cert whose root differs from "
       "aks-istio-system's: {namespaces}. Workloads there will fail mTLS "
       "(TLSV1_ALERT_UNKNOWN_CA, CERTIFICATE_VERIFY_FAILED).",
       "{istiod_step}; then restart the workloads in the listed namespaces",
       detail="{count} namespace(s): {namespaces}"),
    # MCA307-MCA313: the CA's path per revision (azext_meshca/rules/capath.py holds the model and its judgements).
    _m("MCA307", ERROR, "rotation", "istiod refused the new root in Key Vault; a restart would break mTLS",
       "istiod-{revision} (Istio {istio}, {rule}) did not load the root-cert now mounted: {reason}. It keeps "
       "signing with the old CA, while the mount holds the new files, which the next istiod start loads "
       "without that check.",
       "{istiod_step}",
       detail="{revision}: {reason}"),
    _m("MCA308", ERROR, "rotation", "Restarting istiod would change the CA its sidecars trust (latent outage)",
       "istiod-{revision} signs under root(s) {loaded_roots}, but its mounted root-cert holds {mounted_roots}: "
       "any restart, eviction or node drain loads the mounted set, and sidecars that trust only the old "
       "root(s) then refuse the new leaves (or new sidecars refuse the old ones).",
       "{istiod_step}",
       explained_by=("MCA307", "MCA309"),
       detail="{revision}: mounted {mounted_roots}"),
    _m("MCA309", ERROR, "rotation", "istiod 1.28/1.29 refuses root-cert for its bytes",
       "Key Vault's root-cert holds the roots istiod-{revision} loaded, but not as the same bytes "
       "(reordered, re-wrapped or re-encoded). Istio {istio} compares the old and new bundles with "
       "bytes.Contains (istio pilot/pkg/bootstrap/istio_ca.go); only 1.30 compares certificates.",
       "Write root-cert as the text istiod-{revision} loaded, byte for byte (kubectl get configmap "
       "istio-ca-root-cert -n aks-istio-system -o jsonpath='{{.data.root-cert\\.pem}}' > old.pem), followed "
       "by any new root: cat old.pem new-root.pem > root-cert.pem; az keyvault secret set --vault-name "
       "{vault_name} --name <root-cert object> --file root-cert.pem. istiod reloads it within a poll interval.",
       detail="{revision}: bytes differ"),
    _m("MCA310", WARNING, "rotation", "Key Vault holds newer versions than istiod's pods mount",
       "Key Vault's current version of {objects} (since {since}) is not what the pods of istiod-{revision} "
       "mount ({pods}): {why}",
       "{fix}",
       explained_by=("MCA301",),  # rotation off: nothing mounts a new version until the pods are recreated
       detail="{revision}: {objects} behind"),
    _m("MCA311", WARNING, "rotation", "istiod has not loaded the files its pods mount",
       "The pods of istiod-{revision} mount Key Vault's current versions, but istiod still signs with "
       "{loaded}: {why}",
       "{fix}",
       detail="{revision}: mounted, not loaded"),
    _m("MCA312", WARNING, "rotation", "Sidecars still hold a leaf from the CA istiod replaced",
       "istiod-{revision} changed its CA at {changed_at}; {count} sidecar(s) have surely not renewed since "
       "(they renew at half their SECRET_TTL): {namespaces}. They hold {what} until about {renew_by}.",
       "Wait until {renew_by}, or restart the workloads in those namespaces (kubectl rollout restart "
       "deployment -n <namespace>); istiod itself need not restart.",
       detail="{revision}: {count} sidecar(s) not renewed"),

    # --- rotate (MCA340-MCA359): az aks mesh ca rotate's refusals (checks/rotate.py) ---
    _m("MCA340", ERROR, "rotation", "Rotation refused: secret rotation is off in the add-on",
       "enableSecretRotation is off on azureKeyvaultSecretsProvider, so no version the rotation writes would "
       "reach istiod until its pods are recreated.",
       "az aks addon update -g {resource_group} -n {cluster} -a azure-keyvault-secrets-provider "
       "--enable-secret-rotation",
       detail="enableSecretRotation off"),
    _m("MCA341", ERROR, "rotation", "Rotation refused: istiod would refuse the new root bundle",
       "istiod-{revision} would refuse root-cert's change at stage {stage} ({outcome}): it drops the whole "
       "update and keeps its old CA.",
       "Set ISTIO_MULTIROOT_MESH=true on istiod-{revision}'s discovery container (the add-on's meshConfig), "
       "then plan again; see az aks mesh ca explain MCA307.",
       detail="{revision}: {outcome}"),
    _m("MCA342", ERROR, "rotation", "Rotation refused: the revisions are not the plan's",
       "The rotation needs the one revision it was planned for: {why}.",
       "Finish or roll back the upgrade (az aks mesh upgrade complete|rollback -g {resource_group} -n "
       "{cluster}), then plan again with az aks mesh ca rotate plan.",
       detail="{why}"),
    _m("MCA343", ERROR, "rotation", "Rotation refused: the new material fails validate-secrets",
       "The new CA set fails validate-secrets' error rules ({codes}); istiod would refuse or misuse it.",
       "az aks mesh ca validate-secrets --cert-dir <new-dir>   (fix what it reports, then plan again)",
       detail="{codes}"),
    _m("MCA344", ERROR, "rotation", "Rotation refused: Key Vault changed since the plan",
       "{count} plug-in object(s) have a current version that is neither the plan's starting version nor one "
       "this rotation wrote: something else changed them.",
       "Check who wrote them (az keyvault secret list-versions), then plan again from the live state with "
       "az aks mesh ca rotate plan.",
       detail="{count} object(s) changed"),
    _m("MCA345", ERROR, "rotation", "Rotation refused: you may not set secrets on the vault",
       "{operator} may not set secrets on {vault_name}: {reason}.",
       "az keyvault set-policy -n {vault_name} --object-id <your-object-id> --secret-permissions get list set, "
       "or assign Key Vault Secrets Officer on {vault_id}",
       detail="no secret set"),
    _m("MCA346", ERROR, "rotation", "Rotation refused: the plan file cannot be used",
       "The plan file {path} cannot be used: {reason}.",
       "az aks mesh ca rotate plan -g {resource_group} -n {cluster} --new-dir <new-dir> --plan-file {path}   "
       "(planning again from the live state resumes a rotation under way)",
       detail="{reason}"),
    _m("MCA347", ERROR, "rotation", "Rotation refused: the new material is not the plan's",
       "The files in --new-dir differ from the ones the plan was made for ({fields}).",
       "Give the --new-dir the plan was made from, or plan again.",
       detail="{fields}"),
    _m("MCA348", ERROR, "rotation", "Nothing to rotate: Key Vault already holds the new material",
       "The new material's intermediate is already Key Vault's ca-cert.",
       "Give --new-dir a new intermediate (or a new root) made with Istio's tools/certs.",
       detail="already live"),
    _m("MCA349", ERROR, "rotation", "istiod refused the files the rotation wrote",
       "After stage {stage} was written, istiod logged that it refused the new files and kept its old CA; "
       "waiting will not make the gate hold.",
       "az aks mesh ca diagnose -g {resource_group} -n {cluster}   (see MCA307/MCA311), then fix the stage's "
       "objects in Key Vault",
       detail="stage {stage} refused"),
    _m("MCA350", ERROR, "rotation", "Rotation refused: another rotation is under way",
       "Key Vault's current versions were written by rotation {rotation_id}, which is not done, with other "
       "material than --new-dir's.",
       "Finish it (az aks mesh ca rotate status -g {resource_group} -n {cluster}, then advance with its own "
       "--new-dir), then plan the next one.",
       detail="{rotation_id} under way"),

    # --- access (MCA4xx) ---
    _m("MCA401", ERROR, "access", "The add-on identity cannot read secrets: no access policy grants 'get'",
       "Vault {vault_name} uses access policies and none grants secret 'get' to the add-on "
       "identity {object_id}{current_note}.",
       "az aks mesh ca fix-access -g {resource_group} -n {cluster}   (or: az keyvault "
       "set-policy -n {vault_name} --object-id {object_id} --secret-permissions get)",
       detail="{object_id} lacks secret get"),
    _m("MCA402", ERROR, "access", "The add-on identity has no role that can read secret values",
       "Vault {vault_name} uses Azure RBAC and no role assignment at the secret's scope, the "
       "vault or a parent scope lets {object_id} read {objects}{current_note}.",
       "az aks mesh ca fix-access -g {resource_group} -n {cluster}   (or: az role assignment "
       "create --role \"Key Vault Secrets User\" --assignee-object-id {object_id} "
       "--assignee-principal-type ServicePrincipal --scope {vault_id})",
       detail="{object_id} lacks a secret-reading role"),
    _m("MCA403", ERROR, "access", "Key Vault Reader is assigned, but it cannot read secret values",
       "The add-on identity {object_id} holds Key Vault Reader on {scope}; that role reads "
       "vault metadata only. The CSI provider needs Key Vault Secrets User.",
       "az aks mesh ca fix-access -g {resource_group} -n {cluster} --mode rbac",
       detail="{object_id} holds Key Vault Reader only"),
    _m("MCA404", WARNING, "access", "An access policy exists, but the vault uses Azure RBAC",
       "Vault {vault_name} has enableRbacAuthorization=true, so the access policy for "
       "{object_id} is ignored.",
       "az aks mesh ca fix-access -g {resource_group} -n {cluster} --mode rbac",
       detail="policy for {object_id} ignored"),
    _m("MCA405", WARNING, "access", "A Key Vault role is assigned, but the vault uses access policies",
       "Vault {vault_name} uses access policies, so the {role} assignment for {object_id} "
       "grants no data-plane access.",
       "az aks mesh ca fix-access -g {resource_group} -n {cluster} --mode policy",
       detail="{role} ignored"),
    _m("MCA406", ERROR, "access", "The vault is in another tenant than the cluster",
       "Vault {vault_name} is in tenant {vault_tenant}; the cluster's identity is in "
       "{cluster_tenant}. The add-on cannot authenticate to it.",
       "Move the plug-in CA secrets to a vault in tenant {cluster_tenant} and re-enable the "
       "mesh with its --key-vault-id.",
       detail="vault tenant {vault_tenant}"),

    # --- network (MCA5xx) ---
    _m("MCA501", ERROR, "network", "The vault's public network access is disabled",
       "publicNetworkAccess is Disabled on {vault_name}; without a private endpoint the "
       "nodes cannot reach it (ForbiddenByConnection).",
       "az keyvault update -n {vault_name} --public-network-access Enabled   (or add a "
       "private endpoint in the cluster's VNet)",
       detail="publicNetworkAccess Disabled"),
    _m("MCA502", WARNING, "network", "The vault's firewall denies by default",
       "networkAcls.defaultAction is Deny on {vault_name} with {rule_count} IP rule(s) and "
       "{vnet_count} VNet rule(s); the nodes' address must be allowed "
       "(ForbiddenByFirewall).",
       "az keyvault network-rule add -n {vault_name} --subnet <node-subnet-id>   "
       "(or --ip-address <egress-ip>)",
       detail="defaultAction Deny, {rule_count} IP / {vnet_count} VNet rule(s)"),

    _m("MCA530", WARNING, "network", "The vault's URI is not its own address",
       "{reason}. A vault's address is its name under the cloud's Key Vault DNS suffix, which "
       "is where the add-on's provider reads it; meshca sends a Key Vault token nowhere else.",
       "Compare the vault's URI with its name: az keyvault show -n {vault_name} --query "
       "properties.vaultUri. If ARM or Resource Graph reports another host, read the secrets "
       "yourself and check them offline with az aks mesh ca validate-secrets --cert-dir <dir>.",
       detail="{reason}"),

    # --- secret (MCA6xx) ---
    _m("MCA601", ERROR, "secret", "A plug-in CA object is missing",
       "{object} ({source}) was not found.",
       "Upload it: az keyvault secret set --vault-name {vault_name} --name {secret_name} "
       "--file {object}.pem",
       detail="{object} not found",
       file_remedy="Put {object}.pem in the folder (Istio's tools/certs Makefiles write root-cert.pem, "
       "ca-cert.pem, ca-key.pem and cert-chain.pem together), or point --cert-dir at the "
       "folder that holds all four.",
       # istiod 1.26.1+: incomplete signing CA bundle; older: self-signed fall-back
       breaks=ISTIOD),
    _m("MCA602", ERROR, "secret", "A plug-in CA object is empty",
       "{object} ({source}) has no content.",
       "Upload the PEM file again: az keyvault secret set --vault-name {vault_name} "
       "--name {secret_name} --file {object}.pem",
       detail="{object} is empty",
       file_remedy="Write the PEM content into the file again: it holds nothing.",
       breaks=ISTIOD,
       kinds=((CERT_FORMAT, "empty"), (KEY_FORMAT, "empty"))),
    _m("MCA603", ERROR, "secret", "A plug-in CA object is DER, not PEM",
       "{object} ({source}) holds binary DER; istiod reads PEM only "
       "('invalid PEM encoded certificate').",
       "Convert it (openssl x509 -inform der -in {object}.der -out {object}.pem) and upload "
       "the PEM file.",
       detail="{object} is DER",
       file_remedy="Convert it to PEM (openssl x509 -inform der -in {object}.der -out {object}.pem; for "
       "ca-key: openssl pkey -inform der -in ca-key.der -out ca-key.pem) and use that file.",
       breaks=ISTIOD,
       kinds=((CERT_FORMAT, "der"), (KEY_FORMAT, "der"))),
    _m("MCA604", ERROR, "secret", "A plug-in CA object is not PEM",
       "{object} ({source}) holds no PEM block: {detail}.",
       "Upload the PEM file with --file (not --value of a path, not a PFX or JSON export).",
       detail="{detail}",
       file_remedy="Use the PEM file itself (text with -----BEGIN lines), not a PFX or JSON export or a "
       "file that holds a path.",
       breaks=ISTIOD,
       kinds=((CERT_FORMAT, "not-pem"), (KEY_FORMAT, "not-pem"))),
    _m("MCA605", ERROR, "secret", "A plug-in CA object has a broken PEM block",
       "{object} ({source}) has a PEM block that does not decode: {detail}.",
       "Re-export the file from its source and upload it again with --file.",
       detail="{detail}",
       file_remedy="Re-export the file from its source: a PEM block in it was cut or edited.",
       breaks=ISTIOD,
       kinds=((CERT_FORMAT, "bad-pem"),)),
    _m("MCA606", ERROR, "secret", "A certificate object holds no certificate",
       "{object} ({source}) is PEM but holds no CERTIFICATE block ({detail}).",
       "Check the object names: the key and a certificate may have been swapped.",
       detail="{detail}",
       breaks=ISTIOD,
       kinds=((CERT_FORMAT, "no-certificate"),)),
    _m("MCA607", ERROR, "secret", "The CA private key is encrypted",
       "ca-key ({source}) is an encrypted private key; istiod cannot use a passphrase "
       "('invalid PEM-encoded key').",
       "openssl pkey -in ca-key.pem -out ca-key.plain.pem, then upload the unencrypted key "
       "(Key Vault protects it at rest).",
       detail="ca-key is encrypted",
       file_remedy="openssl pkey -in ca-key.pem -out ca-key.plain.pem and use the unencrypted key; keep "
       "it only where it is protected at rest (Key Vault is, for the mesh).",
       breaks=ISTIOD,
       kinds=((KEY_FORMAT, "encrypted"),)),
    _m("MCA608", ERROR, "secret", "A plug-in CA object is implausibly large",
       "{object} ({source}) is {size} bytes; plug-in objects are a few kilobytes.",
       "Check that the right file was uploaded.",
       detail="{size} bytes",
       file_remedy="Check that the right file was given.",
       breaks=ISTIOD,
       kinds=((CERT_FORMAT, "too-large"), (KEY_FORMAT, "too-large"))),
    _m("MCA609", ERROR, "secret", "The CA private key does not parse",
       "ca-key ({source}) is not a usable private key: {detail}.",
       "Upload the PKCS#8, PKCS#1 or EC private key that belongs to ca-cert.",
       detail="{detail}",
       file_remedy="Use the PKCS#8, PKCS#1 or EC private key file that belongs to ca-cert.",
       breaks=ISTIOD,
       kinds=((KEY_FORMAT, "bad-pem"), (KEY_FORMAT, "no-key"), (KEY_FORMAT, "pem-framing"))),
    _m("MCA610", ERROR, "secret", "A certificate repeats an extension",
       "{object} ({source}): {detail}. Go's parser refuses a certificate with a repeated "
       "extension ('x509: certificate contains duplicate extensions') and BoringSSL marks it "
       "invalid, so neither istiod nor Envoy can use it.",
       "Re-issue the certificate with each extension once.",
       detail="{detail}",
       # Go parser.go duplicate extensions; BoringSSL EXFLAG_INVALID
       breaks=BOTH,
       kinds=((CERT_FORMAT, "duplicate-extension"),)),
    _m("MCA611", ERROR, "secret", "A Key Vault secret is disabled",
       "Secret {secret_name} ({object}) is disabled; Key Vault refuses to return its value.",
       "az keyvault secret set-attributes --vault-name {vault_name} --name {secret_name} "
       "--enabled true",
       detail="{secret_name} disabled"),
    _m("MCA612", WARNING, "secret", "A Key Vault secret is outside its active dates",
       "Secret {secret_name} ({object}) {window}. Key Vault treats these dates as informational "
       "and still returns the value, so the mount works, but the secret is marked as due for "
       "replacement and policies or tools that honour the dates will refuse it.",
       "az keyvault secret set-attributes --vault-name {vault_name} --name {secret_name} "
       "--expires <later-date> (or --not-before <earlier-date>)",
       detail="{secret_name} {window}"),
    _m("MCA613", INFO, "secret", "A plug-in CA object is a Key Vault certificate or key, not a secret",
       "{secret_name} ({object}) is backed by a Key Vault {kind}. The mount delivers the "
       "secret's value as it is (for a PEM certificate: its private key, then the "
       "certificate), so the certificate checks judge that value: a ca-key whose first block "
       "is the key loads, a ca-cert that starts with a key does not (MCA614).",
       "Nothing to do when no other finding names {object}; otherwise upload {object}.pem as a "
       "plain secret: az keyvault secret set --vault-name {vault_name} --name <new-name> "
       "--file {object}.pem, then re-enable the mesh with that object name",
       detail="{secret_name} is a Key Vault {kind}"),
    _m("MCA614", ERROR, "secret", "ca-cert does not start with its certificate",
       "The first PEM block of ca-cert ({source}) is {label}. istiod takes the first block of "
       "ca-cert.pem as its signing certificate whatever it holds, and fails ('failed to parse "
       "X.509 certificate'). A Key Vault certificate's PEM secret starts with its private key.",
       "Upload ca-cert as a plain secret holding only the PEM certificate: az keyvault secret "
       "set --vault-name {vault_name} --name {secret_name} --file ca-cert.pem",
       detail="first block is {label}",
       # ParsePemEncodedCertificate reads ca-cert.pem's first block
       breaks=ISTIOD),
    # --- certificate (MCA7xx) ---
    _m("MCA701", WARNING, "certificate", "root-cert holds a certificate that is not self-signed",
       "Certificate {index} in root-cert ({subject}) is not self-signed: an intermediate, not a root. "
       "It breaks nothing here: Go (istiod, the istio-agent) and BoringSSL (Envoy) trust every "
       "certificate in root-cert as an anchor. But istiod publishes root-cert to every namespace "
       "(istio-ca-root-cert), so without the root beside it workloads trust only what this "
       "intermediate issued, not peers that chain to the root through another intermediate "
       "(other clusters of a multi-cluster mesh, the next intermediate of a rotation).",
       "Put only the root certificate(s) in root-cert; intermediates go in cert-chain.",
       detail="certificate {index}: {subject}",
       # A warning and no breaks: istio keycertbundle.go Verify and the agent put root-cert in an
       # x509.CertPool, whose every certificate is an anchor (verify.go), and Envoy sets
       # X509_V_FLAG_PARTIAL_CHAIN on its store (envoyproxy/envoy source/common/tls/cert_validator/
       # default_validator.cc, commit 0ce4e8a); tests/differential/test_go_istiod.py
       # test_root_cert_shapes_against_go_and_boringssl runs both on [intermediate] and [root, intermediate].
       breaks=None),
    _m("MCA702", ERROR, "certificate", "root-cert holds a certificate that is not a CA",
       "Certificate {index} in root-cert ({subject}) has no basicConstraints CA:true.",
       "Upload the root CA certificate as root-cert.",
       detail="certificate {index}: {subject}",
       # Go CheckSignatureFrom: parent without CA; BoringSSL skips anchors
       breaks=ISTIOD),
    _m("MCA703", INFO, "certificate", "root-cert holds several roots: a root rotation is in progress",
       "root-cert holds {count} roots ({fingerprints}); this is the documented "
       "root-rotation state.",
       "When every workload trusts the new root, remove the old one from root-cert.",
       detail="{count} roots"),
    _m("MCA704", ERROR, "certificate", "ca-cert is not a CA certificate",
       "ca-cert ({subject}) lacks basicConstraints CA:true; istiod refuses it "
       "('certificate is not authorized to sign other certificates').",
       "Issue the intermediate with basicConstraints=critical,CA:true,pathlen:0.",
       detail="{subject}",
       # Go isValid NotAuthorizedToSign / istio ca.go; BoringSSL X509_check_ca
       breaks=BOTH),
    _m("MCA705", ERROR, "certificate", "ca-cert cannot sign certificates (no keyCertSign)",
       "ca-cert ({subject}) has keyUsage {key_usage} without keyCertSign; Envoy refuses "
       "workload certificates it issues.",
       "Issue the intermediate with keyUsage=critical,digitalSignature,nonRepudiation,"
       "keyEncipherment,keyCertSign.",
       detail="keyUsage {key_usage}",
       # Go: ca-cert is Verify's leaf, whose keyUsage is ignored; BoringSSL check_ca
       breaks=ENVOY),
    _m("MCA706", ERROR, "certificate", "A CA certificate's extended key usage excludes serverAuth",
       "{object} certificate {index} ({subject}) has extendedKeyUsage {eku}; istiod verifies "
       "ca-cert's chain with Go's defaults and fails ('x509: certificate specifies an "
       "incompatible key usage').",
       "Issue the CA certificate without an extendedKeyUsage extension, or include serverAuth.",
       detail="extendedKeyUsage {eku}",
       # breaks depends on the case: set where emitted.
       breaks=None),
    _m("MCA707", ERROR, "certificate", "A certificate is signed with a broken hash",
       "{object} certificate {index} ({subject}) is signed with {algorithm}; Go rejects "
       "SHA-1 and MD5 signatures.",
       "Re-issue it with SHA-256 (openssl ... -sha256).",
       detail="{algorithm}",
       # breaks is set where emitted: Go refuses SHA-1 and MD5, BoringSSL only MD5.
       breaks=None),
    _m("MCA708", WARNING, "certificate", "A CA key is weak",
       "{object} certificate {index} ({subject}) has a {key} key; use at least RSA-2048 or "
       "P-256.",
       "Re-issue the CA with a stronger key (Istio's recipe uses RSA-4096).",
       detail="{key}"),
    _m("MCA709", ERROR, "certificate", "ca-key does not match ca-cert",
       "The public key of ca-cert ({subject}) is not the public half of ca-key; istiod fails "
       "('the cert does not match the key: tls: private key does not match public key').",
       "Upload the key that was generated with ca-cert, or re-issue ca-cert for this key.",
       detail="{subject}",
       # tls.X509KeyPair in keycertbundle.go verify()
       breaks=ISTIOD),
    _m("MCA710", ERROR, "certificate", "ca-cert does not chain to any root in root-cert",
       "No signature path leads from ca-cert ({subject}) through cert-chain to a root in "
       "root-cert; istiod fails ('x509: certificate signed by unknown authority').",
       "Upload the root that signed this intermediate (compare fingerprints, not names: "
       "every root from Istio's recipe is called 'O=Istio, CN=Root CA').",
       detail="{subject}",
       breaks=BOTH),
    _m("MCA711", WARNING, "certificate", "cert-chain does not start with ca-cert",
       "cert-chain's first certificate ({subject}) is not ca-cert; {where}. Order alone breaks nothing: "
       "Go (istiod, the istio-agent) and BoringSSL (Envoy) find the path in any order. istio's layout "
       "puts ca-cert first (tools/certs common.mk: cat ca-cert.pem root-cert.pem > cert-chain.pem); "
       "istiod caps workload certificate lifetimes at the first entry's expiry (ca.go minTTL), and "
       "tools that read only the first certificate (openssl x509 -in cert-chain.pem) show another one.",
       "Rebuild it: cat ca-cert.pem root-cert.pem > cert-chain.pem",
       detail="first is {subject}",
       # A warning and no breaks: Go's CertPool (verify.go buildChains) and BoringSSL's find_issuer
       # (x509_vfy.cc) search the whole pool; tests/differential/test_go_istiod.py runs both on reordered
       # chains. Without ca-cert in cert-chain the refusal is MCA736's error, which this explains.
       breaks=None),
    _m("MCA712", ERROR, "certificate", "cert-chain is missing an intermediate",
       "cert-chain does not hold every certificate between ca-cert and the root "
       "(missing: {missing}); workloads send no path to the root.",
       "Rebuild it in issuing order: cat ca-cert.pem <intermediates> root-cert.pem > "
       "cert-chain.pem",
       detail="missing {missing}",
       # comes with MCA710: Go finds no path, nor can a peer
       breaks=BOTH),
    _m("MCA713", WARNING, "certificate", "cert-chain is out of order",
       "cert-chain's certificates are not in issuing order ({order}). Order alone breaks nothing: Go "
       "(istiod, the istio-agent) and BoringSSL (Envoy) find the path in any order; istio's layout has "
       "each certificate signed by the next.",
       "Rebuild it in issuing order: cat ca-cert.pem <intermediates> root-cert.pem > "
       "cert-chain.pem",
       detail="{order}",
       # A warning and no breaks, as MCA711: order breaks neither verifier
       # (tests/differential/test_go_istiod.py test_cert_chain_order_against_go_and_boringssl).
       breaks=None),
    _m("MCA714", WARNING, "certificate", "cert-chain holds unrelated certificates",
       "cert-chain holds {count} certificate(s) not on the path from ca-cert to the root: "
       "{subjects}.",
       "Rebuild it: cat ca-cert.pem <intermediates> root-cert.pem > cert-chain.pem",
       detail="{count} unrelated"),
    _m("MCA715", ERROR, "certificate", "A path-length constraint forbids ca-cert to issue",
       "{subject} has pathlen:{pathlen} but {below} CA certificate(s) sit below it, so "
       "workload certificates issued by ca-cert fail verification.",
       "Re-issue {subject} without pathlen, or with a pathlen that covers the "
       "intermediates below it.",
       detail="pathlen:{pathlen} with {below} CA(s) below",
       # breaks depends on the case: set where emitted.
       breaks=None),
    _m("MCA716", ERROR, "certificate", "An intermediate in cert-chain lacks keyCertSign",
       "Intermediate {subject} in cert-chain has keyUsage {key_usage} without keyCertSign; "
       "Envoy (BoringSSL) refuses the chain.",
       "Re-issue the intermediate with keyCertSign in its keyUsage.",
       detail="keyUsage {key_usage}",
       # Go CheckSignatureFrom refuses a parent without keyCertSign; so does BoringSSL
       breaks=BOTH),
    _m("MCA717", ERROR, "certificate", "A certificate has expired",
       "{object} certificate {index} ({subject}) expired on {not_after}.",
       "Issue a new certificate and upload it; rotate the root only with the documented "
       "two-root procedure.",
       detail="expired {not_after}",
       breaks=BOTH),
    _m("MCA718", WARNING, "certificate", "A certificate expires soon",
       "{object} certificate {index} ({subject}) expires on {not_after}, in {days_left} "
       "day(s) (warning threshold {warn_days}).",
       "Issue and upload its replacement before {not_after}.",
       detail="{days_left} day(s) left"),
    _m("MCA719", INFO, "certificate", "Time left before the first expiry",
       "The first certificate to expire is {object} ({subject}) on {not_after}, in "
       "{days_left} day(s).", "",
       detail="{days_left} day(s) left ({object})"),
    _m("MCA720", WARNING, "certificate", "The root expires before the intermediate",
       "Root {subject} expires on {root_not_after}, before ca-cert on {ca_not_after}; the "
       "mesh breaks at the earlier date.",
       "Plan a root rotation before {root_not_after}.",
       detail="root ends {root_not_after}"),
    _m("MCA721", ERROR, "certificate", "A certificate is not valid yet",
       "{object} certificate {index} ({subject}) is valid only from {not_before}; istiod "
       "fails ('x509: certificate has expired or is not yet valid').",
       "Check the issuing machine's clock, or wait until {not_before}.",
       detail="valid from {not_before}",
       breaks=BOTH),
    _m("MCA722", ERROR, "certificate", "An intermediate in cert-chain is not a CA",
       "Intermediate {subject} in cert-chain lacks basicConstraints CA:true; istiod's chain "
       "check fails ('x509: certificate is not authorized to sign other certificates').",
       "Re-issue the intermediate with basicConstraints=critical,CA:true.",
       detail="{subject}",
       breaks=BOTH),
    _m("MCA723", ERROR, "certificate", "A CA certificate's extended key usage lacks clientAuth or serverAuth",
       "{object} certificate {index} ({subject}) has extendedKeyUsage {eku}. istiod accepts it, "
       "but Envoy (BoringSSL) checks the EKU of every CA in a peer's chain for the purpose at "
       "hand, clientAuth on the server side and serverAuth on the client side, and "
       "anyExtendedKeyUsage does not count, so mesh mTLS fails ('unsupported certificate purpose').",
       "Issue the CA certificate without an extendedKeyUsage extension, or with both serverAuth "
       "and clientAuth.",
       detail="{subject}: EKU {eku}",
       # BoringSSL xku_reject on every untrusted CA, both purposes
       breaks=ENVOY),
    # --- istiod's start-up path and the agent (rules/consumers/istiod.py startup), #21 ---
    _m("MCA724", ERROR, "certificate", "istiod's PEM reader does not read an object as written",
       "{object}: Go's encoding/pem, which istiod reads the files with, {text}. A byte-order mark, "
       "an indented -----BEGIN line or text before it on its line hides a block from Go, and "
       "a block with headers is skipped by the certificate pool.",
       "Write {object} as plain PEM: each -----BEGIN and -----END line at the start of its own line, "
       "no byte-order mark, no headers inside a block.",
       detail="{text}",
       kinds=((STARTUP_REFUSAL, "pem"),)),
    _m("MCA725", ERROR, "certificate", "A certificate has a critical extension Go does not handle",
       "{object}: {text}. Go's crypto/x509 refuses a chain holding a certificate with a critical "
       "extension it does not handle (UnhandledCriticalExtension).",
       "Re-issue the certificate without that extension, or with it marked non-critical.",
       detail="{text}",
       kinds=((STARTUP_REFUSAL, "unhandled-critical"),)),
    _m("MCA726", ERROR, "certificate", "A key type or size istiod's Go cannot use",
       "{object}: {text}. Go {go} cannot use this key (DSA, Ed448 and curves other than P-224/256/384/521 "
       "are not supported; from Go 1.24 RSA keys need 1,024 bits or more).",
       "Re-issue the CA with an RSA (2,048 bits or more) or ECDSA P-256/P-384 key.",
       detail="{text}",
       kinds=((STARTUP_REFUSAL, "key-type"), (STARTUP_REFUSAL, "rsa-small"))),
    _m("MCA727", ERROR, "certificate", "A certificate's serial number is one Go refuses",
       "{object}: {text}. From Go 1.23 crypto/x509 refuses a certificate with a negative serial "
       "number, so istiod (Go {go}) cannot load it.",
       "Re-issue the certificate with a positive serial number (RFC 5280 4.1.2.2).",
       detail="{text}",
       kinds=((STARTUP_REFUSAL, "serial"),)),
    _m("MCA728", ERROR, "certificate", "A CA's name constraints exclude istiod's own name",
       "{object}: {text}. istiod starts, but the serving certificate it signs for itself names "
       "{istiod_name}, and every istio-agent (Go) refuses that chain, so sidecars get no certificates.",
       "Re-issue the CA with name constraints that permit {istiod_name} (or without DNS name constraints).",
       detail="{text}",
       kinds=((STARTUP_REFUSAL, "name-constraints"),)),
    _m("MCA729", ERROR, "certificate", "Policy constraints make Go refuse the chain",
       "{object}: {text}. A policyConstraints requireExplicitPolicy on a CA requires certificate "
       "policies that the chain does not carry; Go {go} verifies policies (RFC 9618) and refuses it.",
       "Re-issue the CA without policyConstraints, or with the certificate policies it requires.",
       detail="{text}",
       kinds=((STARTUP_REFUSAL, "policy"),)),
    _m("MCA730", ERROR, "certificate", "The root's keyUsage lacks keyCertSign",
       "{object}: {text}. Go's CheckSignatureFrom refuses a parent whose keyUsage lacks "
       "keyCertSign, even a trust anchor, so nothing the root signed verifies.",
       "Re-issue the root with keyUsage keyCertSign (and cRLSign).",
       detail="{text}",
       kinds=((STARTUP_REFUSAL, "root-key-usage"),)),
    _m("MCA731", ERROR, "certificate", "cert-chain does not start with a valid certificate",
       "{object}: {text}. istiod reads cert-chain's first PEM block for the workload certificate "
       "lifetime cap (ca.go minTTL) and stops at start-up when it is not a certificate or has expired.",
       "Put ca-cert first in cert-chain, then the intermediates, then the root, each as a CERTIFICATE block.",
       detail="{text}",
       kinds=((STARTUP_REFUSAL, "chain-head"),)),
    _m("MCA732", ERROR, "certificate", "root-cert holds a private key",
       "{object} holds a {label} block. istiod skips it when it loads the roots, but publishes "
       "root-cert as it is in the istio-ca-root-cert ConfigMap of every namespace, so the key is "
       "readable cluster-wide.",
       "Remove the private key from root-cert, rotate the key it holds, and keep it out of the cluster.",
       detail="{label} block"),
    _m("MCA733", ERROR, "certificate", "cert-chain is empty",
       "{object} is empty. istiod starts, but it presents its serving certificate alone, and the "
       "istio-agent in every pod cannot verify it against root-cert without ca-cert in between, so "
       "sidecars get no certificates.",
       "Upload cert-chain with ca-cert, then any intermediates, then the root: az keyvault secret set "
       "--vault-name <vault> --name <cert-chain-secret> --file cert-chain.pem",
       detail="empty",
       file_remedy="Write ca-cert, then any intermediates, then the root into {object}.pem.",
       kinds=((STARTUP_REFUSAL, "empty-chain"),)),
    _m("MCA734", WARNING, "certificate", "An unused certificate in cert-chain has expired",
       "{object} certificate {index} ({subject}) expired on {not_after}. It is on no path from ca-cert "
       "to root-cert, so istiod and Envoy ignore it, but tools that read the chain in order may not.",
       "Remove the expired certificate from cert-chain.",
       detail="{subject} expired {not_after}"),
    _m("MCA735", ERROR, "certificate", "istiod refuses the set at start-up",
       "{object}: istiod's start-up path (Go {go}) stops with '{text}'.",
       "Fix what the text names, then check again: az aks mesh ca validate-secrets --cert-dir <dir>.",
       detail="{text}"),
    _m("MCA736", ERROR, "certificate", "The istio-agent refuses istiod's serving chain",
       "{object}: istiod starts, but the istio-agent (Go {go}) refuses the serving chain istiod "
       "presents (its own certificate, then cert-chain): '{text}'. Sidecars get no certificates.",
       "Make cert-chain hold ca-cert, then each intermediate, then the root in root-cert.",
       # cert-chain without ca-cert: MCA711 states the fact and its fix; the agent's refusal follows from it
       explained_by=("MCA711",),
       detail="{text}"),
    # MCA760-MCA779: Envoy's own verdict on the workload chains (rules/consumers/envoy.py workload_refusals).
    _m("MCA760", ERROR, "certificate", "Envoy refuses the workload chains this set produces",
       "istiod starts with this set, but Envoy (BoringSSL) refuses the chain every workload presents "
       "(its certificate followed by cert-chain, trusted against root-cert): {reason}. Every mesh "
       "mTLS connection fails.",
       "Make cert-chain ca-cert followed by its intermediates up to the root (cat ca-cert.pem "
       "[intermediates] root-cert.pem > cert-chain.pem), with each PEM block starting at the line's "
       "first byte; issue the CA certificates without the extension, constraint or key type named "
       "(Envoy reads RSA, P-256/P-384/P-521 and Ed25519 keys).",
       detail="{reason}"),
    # --- end certificate ---

    # --- cluster (MCA8xx) ---
    _m("MCA801", ERROR, "cluster", "istiod pods are not ready",
       "{count} istiod pod(s) are not ready: {pods}.",
       "Fix the cause listed with this finding. A pod waiting in Init retries the cacerts mount on its own "
       "(kubelet); a pod in CrashLoopBackOff restarts with back-off. To restart it at once: {istiod_step}",
       explained_by=MOUNT_CAUSES, fallback=MOUNT_SYMPTOMS + ("MCA812",),
       detail="{count} pod(s) not ready"),
    _m("MCA802", ERROR, "cluster", "The cacerts mount fails: Key Vault denied the add-on (access policy)",
       "The CSI provider got 403 AccessDenied reading {secret_name}: the add-on identity "
       "has no secret 'get' permission.",
       "az aks mesh ca fix-access -g {resource_group} -n {cluster}",
       explained_by=("MCA401", "MCA406", "MCA202"),
       detail="{secret_name}: AccessDenied",
       kinds=((MOUNT_FAILURE, "access-policy"),)),
    _m("MCA803", ERROR, "cluster", "The cacerts mount fails: Key Vault denied the add-on (RBAC)",
       "The CSI provider got 403 ForbiddenByRbac reading {secret_name}.",
       "az aks mesh ca fix-access -g {resource_group} -n {cluster} --mode rbac",
       explained_by=("MCA402", "MCA403", "MCA406", "MCA202"),
       detail="{secret_name}: ForbiddenByRbac",
       kinds=((MOUNT_FAILURE, "rbac"),)),
    _m("MCA804", ERROR, "cluster", "The cacerts mount fails: the vault's network blocks the nodes",
       "The CSI provider got 403 {error_code} reading {secret_name}.",
       "Allow the node subnet: az keyvault network-rule add -n {vault_name} --subnet "
       "<node-subnet-id>, or add a private endpoint",
       explained_by=("MCA501", "MCA502"),
       detail="{secret_name}: {error_code}",
       kinds=((MOUNT_FAILURE, "firewall"), (MOUNT_FAILURE, "connection"))),
    _m("MCA805", ERROR, "cluster", "The cacerts mount fails: a secret is missing from Key Vault",
       "The CSI provider got 404 SecretNotFound for {secret_name}.",
       "az keyvault secret set --vault-name {vault_name} --name {secret_name} --file {object}.pem",
       explained_by=("MCA601", "MCA105", "MCA103"),
       detail="{secret_name} not found",
       kinds=((MOUNT_FAILURE, "secret-not-found"),)),
    _m("MCA806", ERROR, "cluster", "The cacerts mount fails: the nodes cannot reach Key Vault",
       "The CSI provider could not reach Key Vault ({detail}).",
       "Check DNS, egress and any firewall between the node subnet and {vault_name}.",
       explained_by=("MCA105", "MCA104", "MCA501", "MCA502"),
       detail="{detail}",
       kinds=((MOUNT_FAILURE, "network"),)),
    _m("MCA807", ERROR, "cluster", "The cacerts mount fails",
       "The cacerts volume does not mount: {detail}.",
       "Read the full event with: kubectl describe pod -n aks-istio-system -l app=istiod",
       explained_by=MOUNT_CAUSES,
       detail="{detail}",
       kinds=((MOUNT_FAILURE, "secret-disabled"), (MOUNT_FAILURE, "unknown"), (MOUNT_FAILURE, "timeout"))),
    _m("MCA808", ERROR, "cluster", "The cacerts mount fails: the add-on identity was not found",
       "The CSI provider reports 'Identity not found' ({detail}).",
       "Re-enable the add-on so AKS recreates its identity: az aks disable-addons / "
       "enable-addons --addons azure-keyvault-secrets-provider -g {resource_group} -n {cluster}",
       explained_by=("MCA202", "MCA201"),
       detail="{detail}",
       kinds=((MOUNT_FAILURE, "identity"),)),
    _m("MCA809", ERROR, "cluster", "The Secrets Store CSI driver is not registered on a node",
       "Events say 'driver name secrets-store.csi.k8s.io not found in the list of "
       "registered CSI drivers'.",
       "kubectl get pods -n kube-system -l app=secrets-store-csi-driver; re-enable the "
       "azure-keyvault-secrets-provider add-on if the pods are missing",
       explained_by=("MCA201",),
       detail="secrets-store.csi.k8s.io not registered",
       kinds=((MOUNT_FAILURE, "driver"),)),
    _m("MCA810", ERROR, "cluster", "The SecretProviderClass for istiod is missing",
       "SecretProviderClass istio-spc-{revision} was not found in aks-istio-system.",
       "Re-run az aks mesh enable with the plug-in options; the add-on creates it.",
       detail="istio-spc-{revision} not found"),
    _m("MCA811", ERROR, "cluster", "istiod runs a self-signed CA although a plug-in CA is configured",
       "istiod's log says '{log_line}'.",
       "{istiod_step}",
       explained_by=(CERTIFICATE_ERRORS,),
       detail="{log_line}"),
    _m("MCA812", ERROR, "cluster", "istiod rejected the plug-in CA",
       "istiod's log says '{log_line}'.",
       "Run az aks mesh ca validate-secrets -g {resource_group} -n {cluster} and fix the "
       "certificate errors it reports.",
       explained_by=(CERTIFICATE_ERRORS,),
       detail="{log_line}"),
    _m("MCA813", INFO, "cluster", "istiod uses the plug-in CA",
       "istiod's log says '{log_line}'.", "",
       detail="{log_line}"),
    _m("MCA814", ERROR, "cluster", "No istiod deployment for the revision",
       "deployment/istiod-{revision} was not found in aks-istio-system.",
       "az aks mesh get-revisions -l <location>; then check az aks show -g {resource_group} "
       "-n {cluster} --query serviceMeshProfile",
       detail="istiod-{revision} not found"),

    _m("MCA815", WARNING, "cluster", "The SecretProviderClass mounts other objects than the plug-in config names",
       "SecretProviderClass istio-spc-{revision} mounts {spc_objects} from vault {spc_vault}, but the "
       "cluster's plug-in CA configuration names {configured_objects} in {vault_name}: istiod is not "
       "running on the objects you configured (and that meshca validated).",
       "The add-on owns istio-spc-{revision}; do not edit it. Re-apply the plug-in configuration "
       "(az aks mesh disable -g {resource_group} -n {cluster}, then az aks mesh enable with the "
       "five plug-in options) so the add-on rewrites it.",
       detail="mounts {spc_objects}"),
    _m("MCA816", ERROR, "cluster", "The cacerts mount fails: the node cannot get a managed-identity token",
       "The CSI provider could not get a token from the node's managed-identity endpoint "
       "(IMDS, 169.254.169.254): {detail}. Key Vault was never asked, so its access and network "
       "settings are not the cause.",
       "Check that pods on hostNetwork can reach 169.254.169.254:80 from the nodes (network "
       "policies, proxies, custom routes) and that the add-on identity is assigned to the node "
       "pools' VM scale sets.",
       explained_by=("MCA202",),
       detail="no token from IMDS",
       kinds=((MOUNT_FAILURE, "identity-endpoint"),)),
    _m("MCA817", ERROR, "cluster", "The cacerts mount fails: the vault is in another tenant than the add-on identity",
       "Key Vault refused the add-on's token for {secret_name} with 401 AKV10032 (invalid "
       "issuer): the token comes from the cluster's tenant, the vault trusts another.",
       "Use a vault in the cluster's tenant (az keyvault show -n {vault_name} --query "
       "properties.tenantId), then point the plug-in CA at it with az aks mesh enable.",
       explained_by=("MCA406",),
       detail="401 AKV10032 for {secret_name}",
       kinds=((MOUNT_FAILURE, "tenant"),)),
    # Causes read from the structure of kubelet's, the driver's and the provider's texts (#21).
    _m("MCA830", ERROR, "cluster", "The cacerts mount fails: Microsoft Entra ID gave the provider no token",
       "The CSI provider could not get a token for Key Vault from Microsoft Entra ID ({detail}). "
       "Key Vault was never asked, so its access and network settings are not the cause.",
       "The add-on authenticates with its managed identity (useVMManagedIdentity in "
       "istio-spc-<revision>); a workload-identity or client-secret setup in the "
       "SecretProviderClass is not the add-on's. Check the AADSTS code at "
       "https://login.microsoftonline.com/error and the nodes' egress to login.microsoftonline.com.",
       explained_by=("MCA202",),
       detail="no token: {detail}",
       kinds=((MOUNT_FAILURE, "token"),)),
    _m("MCA831", ERROR, "cluster", "The cacerts mount fails: its SecretProviderClass does not exist",
       "The Secrets Store CSI driver says {detail}: the volume names a SecretProviderClass "
       "that is not in the pod's namespace.",
       "Re-run az aks mesh enable with the plug-in options; the add-on creates istio-spc-<revision>.",
       explained_by=("MCA810",),
       detail="{detail}",
       kinds=((MOUNT_FAILURE, "spc-not-found"),)),
    _m("MCA832", ERROR, "cluster", "The cacerts mount fails: the Azure provider is not running on the node",
       "The Secrets Store CSI driver finds no Azure Key Vault provider on the node ({detail}): "
       "the provider's pod is missing, crashing or not yet started there.",
       "kubectl get pods -n kube-system -l app=csi-secrets-store-provider-azure -o wide; "
       "re-enable the azure-keyvault-secrets-provider add-on if the node has none",
       explained_by=("MCA201",),
       detail="no provider: {detail}",
       kinds=((MOUNT_FAILURE, "provider-down"),)),
    _m("MCA833", ERROR, "cluster", "The cacerts mount fails: the SecretProviderClass selects no identity",
       "The CSI provider found no identity to use in the SecretProviderClass ({detail}): "
       "neither useVMManagedIdentity with userAssignedIdentityID nor a workload identity is set.",
       "The add-on owns istio-spc-<revision>; do not edit it. Re-apply the plug-in configuration "
       "(az aks mesh disable, then az aks mesh enable with the five plug-in options) so the "
       "add-on rewrites it.",
       explained_by=("MCA202",),
       detail="{detail}",
       kinds=((MOUNT_FAILURE, "no-identity"),)),
    _m("MCA834", WARNING, "cluster", "Not every mount event was read",
       "aks-istio-system holds more FailedMount/MountRotationFailed events than meshca reads: "
       "{read} were read, {left} were not. The mount findings rest on those read.",
       "kubectl get events -n aks-istio-system --field-selector reason=FailedMount "
       "--sort-by=.lastTimestamp | tail",
       detail="{read} read, {left} not"),

    # --- collection (MCA9xx) ---
    _m("MCA901", ERROR, "collection", "Could not read the cluster",
       "GET managedCluster {cluster} failed: {reason}. Nothing else can be checked.",
       "Check the name and resource group, and that you hold Microsoft.ContainerService/"
       "managedClusters/read (e.g. Azure Kubernetes Service Cluster User Role or Reader).",
       detail="{reason}"),
    _m("MCA902", WARNING, "collection", "Could not read the vault's configuration",
       "GET vault {vault_id} failed: {reason}. Access model, network and tenant were not "
       "checked.",
       "Grant yourself Reader on the vault: az role assignment create --role Reader "
       "--assignee <you> --scope {vault_id}",
       detail="{reason}"),
    _m("MCA903", WARNING, "collection", "Could not list role assignments",
       "Listing role assignments for {object_id} failed: {reason}. RBAC access was not "
       "checked.",
       "You need Microsoft.Authorization/roleAssignments/read at the vault scope (Reader).",
       detail="{reason}"),
    _m("MCA904", WARNING, "collection", "Could not read the Key Vault secrets",
       "Reading {objects} as you failed: {reason}. The certificate checks did not run. "
       "This is your own access, not the add-on's.",
       "To let meshca check the certificates, grant yourself read access to the secrets "
       "(Key Vault Secrets User or an access policy with get), or run "
       "az aks mesh ca validate-secrets --cert-dir <dir> on the files you uploaded.",
       detail="{reason}"),
    _m("MCA905", WARNING, "collection", "Could not reach the Kubernetes API",
       "{reason}. The in-cluster checks did not run.",
       "Check network access to the API server, or pass --kubeconfig/--context; "
       "--skip-cluster runs the Azure-side checks only.",
       detail="{reason}"),
    _m("MCA906", WARNING, "collection", "Could not get cluster credentials",
       "listClusterUserCredential failed: {reason}. The in-cluster checks did not run.",
       "You need Microsoft.ContainerService/managedClusters/listClusterUserCredential/action "
       "(Azure Kubernetes Service Cluster User Role), or pass --kubeconfig.",
       detail="{reason}"),
    _m("MCA907", WARNING, "collection", "Could not read some in-cluster objects",
       "Reading {what} failed: {reason}. Checks that need it did not run.",
       "You need get/list on {what} in the namespaces shown (kubectl auth can-i list {what} "
       "-n {namespace}).",
       detail="{what}: {reason}"),
    _m("MCA908", INFO, "collection", "In-cluster checks were skipped",
       "{skipped_by}; pod, event, log and configmap checks did not run.", "",
       detail="{skipped_by}"),
    _m("MCA909", WARNING, "collection", "Could not read the definition of a role the add-on holds",
       "The add-on identity {object_id} holds {roles} on the vault or above; reading the role "
       "definition failed ({reason}), so whether it can read secret values was not checked.",
       "You need Microsoft.Authorization/roleDefinitions/read at the vault's scope (Reader), or "
       "check the role's dataActions for Microsoft.KeyVault/vaults/secrets/getSecret/action.",
       detail="{roles}: {reason}"),
    _m("MCA910", WARNING, "collection", "Resource Graph does not show a subscription",
       "Subscription {subscription} was asked for, but Resource Graph returns nothing of it "
       "({reason}): its clusters were not scanned. Resource Graph leaves out, without an "
       "error, the subscriptions you cannot read.",
       "Check that you can read it (az role assignment list --assignee <you> --scope "
       "/subscriptions/{subscription}), or leave it out with --subscriptions.",
       detail="{subscription}"),
    _m("MCA911", WARNING, "collection", "Could not query a subscription through Resource Graph",
       "Querying {subscription} failed: {reason}. Its clusters were not scanned.",
       "Run the scan again later (Resource Graph allows each user a few queries every few "
       "seconds), or scan fewer subscriptions at a time with --subscriptions.",
       detail="{subscription}: {reason}"),
    _m("MCA912", WARNING, "collection", "Could not reach a private or IP-restricted API server",
       "{reason}. The cluster's API server {restriction}: it does not answer callers "
       "outside its virtual network or allowed ranges. The in-cluster checks did not run.",
       "Run diagnose again with --via-run-command to read the in-cluster objects through AKS "
       "run-command (it creates a pod in the cluster and needs Microsoft.ContainerService/"
       "managedClusters/runCommand/action), or from a machine that reaches the API server (a VM "
       "or build agent in the cluster's virtual network or a peered one, or an address in its "
       "authorised ranges), or pass --kubeconfig/--context for a route that does; "
       "--skip-cluster runs the Azure-side checks only.",
       detail="{restriction}: {reason}"),
    _m("MCA913", WARNING, "collection", "Not allowed to run a command in the cluster",
       "The runCommand request for --via-run-command was refused: {reason}. The in-cluster "
       "checks did not run.",
       "You need Microsoft.ContainerService/managedClusters/runCommand/action and "
       "managedClusters/commandResults/read on the cluster: Azure Kubernetes Service Cluster "
       "Admin Role, Contributor or Owner hold runCommand/action (Azure Kubernetes Service "
       "Cluster User Role and Azure Kubernetes Service Contributor Role do not). For example: "
       "az role assignment create --role \"Azure Kubernetes Service Cluster Admin Role\" "
       "--assignee <you> --scope $(az aks show -g {resource_group} -n {cluster} --query id -o tsv)",
       detail="{reason}",
       kinds=((RUN_COMMAND_ERROR, "RunCommandForbidden"),)),
    _m("MCA914", WARNING, "collection", "The run-command did not complete",
       "{reason}. The in-cluster checks did not run.",
       "See the command's own record: az aks command result -g {resource_group} -n {cluster} "
       "-i <command id>; run diagnose again (with a longer --timeout if the run's deadline "
       "cut it), or without --via-run-command from a machine that reaches the API server.",
       detail="{reason}",
       kinds=((RUN_COMMAND_ERROR, "RunCommandFailed"),)),
    _m("MCA915", WARNING, "collection", "The cluster is stopped",
       "{reason}. Nothing runs in a stopped cluster, so the in-cluster checks did not run.",
       "Start it (az aks start -g {resource_group} -n {cluster}) and run diagnose again, or "
       "run it with --skip-cluster for the Azure-side checks only.",
       detail="{reason}",
       kinds=((RUN_COMMAND_ERROR, "ClusterStopped"),)),
    _m("MCA916", WARNING, "collection", "Some in-cluster objects did not fit in the run-command's output",
       "{what} {were} not all in the run-command's output: {how}. Checks that need {them} ran "
       "on what came, or did not run.",
       "Run diagnose without --via-run-command from a machine that reaches the API server "
       "(a VM or agent in the cluster's virtual network), or pass --revision to read fewer revisions.",
       detail="{what}"),
    _m("MCA930", WARNING, "collection", "The scan found no plug-in CA cluster",
       "Resource Graph shows no AKS cluster running the Istio add-on with a plug-in CA in {scope}: "
       "nothing was judged, so the scan does not pass.",
       "Check the scope: az account list -o table names the subscriptions your login can read, and "
       "az aks list --query \"[?serviceMeshProfile.istio.certificateAuthority.plugin]\" -o table the clusters "
       "with a plug-in CA in one; then pass --subscriptions or --management-groups.",
       detail="none in {scope}"),
]

CATALOG = {entry.code: entry for entry in _ENTRIES}
_BY_KIND = {kind: entry.code for entry in _ENTRIES for kind in entry.kinds}


def code_for(family, word):
    """The code that reports ``word`` of ``family`` (a logparse cause, a parse-error kind, an
    istiod refusal class, a run-command error code); None when no entry claims it."""
    return _BY_KIND.get((family, word))


def annotate(item):
    """``item`` (a finding) with the ``breaks`` its entry holds, unless the rule set one for
    the case. Returns the same dict."""
    entry = CATALOG.get(item.get("code"))
    if "breaks" not in item and entry is not None and entry.breaks is not None:
        item["breaks"] = entry.breaks
    return item


# The hand-written part of each code's page: how to confirm it by hand. Package data, read
# only by ``explain`` and the page generator (never at command-table load); one ``## MCAnnn``
# section per catalog code, which tests/unit/test_rules.py holds to the catalog.
EXPLANATIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "explanations.md")
_SECTION = re.compile(r"^## (MCA\d{3})\s*$", re.MULTILINE)


@functools.lru_cache(maxsize=1)
def explanations():
    """{code: hand-written Markdown} from data/explanations.md (read once)."""
    with open(EXPLANATIONS, encoding="utf-8") as handle:
        text = handle.read()
    parts = _SECTION.split(text)
    return {parts[index]: parts[index + 1].strip() for index in range(1, len(parts) - 1, 2)}


def explanation(code, missing=""):
    """How to confirm ``code`` by hand (``missing`` when no section is written for it)."""
    return explanations().get(code, missing)


def _expand(codes):
    """Codes with CERTIFICATE_ERRORS replaced by every error-level MCA6xx/MCA7xx code."""
    expanded = []
    for code in codes:
        if code == CERTIFICATE_ERRORS:
            expanded += [entry.code for entry in _ENTRIES
                         if entry.area in ("secret", "certificate") and entry.severity == ERROR]
        else:
            expanded.append(code)
    return tuple(expanded)


def causes_of(code):
    """(the causes that explain symptom ``code``, the fallback causes), as codes."""
    entry = CATALOG.get(code)
    if entry is None:
        return (), ()
    return _expand(entry.explained_by), _expand(entry.fallback)


def symptoms_of(code):
    """The symptoms that cause ``code`` may explain (the inverse of causes_of)."""
    return tuple(entry.code for entry in _ENTRIES if code in causes_of(entry.code)[0] + causes_of(entry.code)[1])


class _StrictParams(dict):
    """Template parameters that fail loudly when a check forgets one."""

    def __missing__(self, key):
        raise KeyError(f"catalog template parameter '{key}' was not supplied")


def template_fields(template):
    """Names a template expects, so tests can check that every check fills them."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


# How to read each code's page: the command that prints it, which resolves wherever the
# extension is installed and matches its version (the same page is docs/findings/MCAnnn.md
# in the repository). A URL would need a host this project does not have.
DOCS_COMMAND = "az aks mesh ca explain {}"


def docs_url(code):
    """Where ``code``'s page is: the command that prints it."""
    return DOCS_COMMAND.format(code)


def remedy_template(entry, source_kind=None):
    """The remedy that fits where the input came from (model/plugin_set ``FILES`` or Azure):
    a missing local file is not told to run az keyvault secret set."""
    if source_kind == FILES and entry.file_remedy:
        return entry.file_remedy
    return entry.remedy


def refit_remedy(item, source_kind):
    """``item`` with the remedy for ``source_kind`` (findings built before the source was
    known, by the certificate engine). File remedies use only ``{object}``."""
    entry = CATALOG[item["code"]]
    if remedy_template(entry, source_kind) is entry.remedy:
        return item
    return dict(item, remedy=entry.file_remedy.format(object=item.get("object") or ""))


# The one text that tells the user to restart istiod, and the one that replaces it where the
# CA-path model (azext_meshca/rules/capath.py restart_is_safe) says a restart changes the CA sidecars trust.
RESTART_ISTIOD = "kubectl rollout restart deployment/istiod-{revision} -n aks-istio-system"
KEEP_TRUST = ("Do not restart istiod-{revision}: a restart loads the mounted root-cert without the subset check. "
              "Write root-cert as a bundle that holds the root(s) istiod trusts now and the new one ({bundle_rule}), "
              "e.g. az keyvault secret set --vault-name {vault_name} --name <root-cert object> --file "
              "old-and-new-roots.pem; wait for 'Updating new ROOT-CA' in istiod's log, then for sidecars to renew")
_BUNDLE_RULES = {
    "bytes.Contains": "Istio 1.28/1.29: the old root-cert.pem text byte for byte, then the new root",
    "DER sets": "Istio 1.30: the old and new certificates, in any order",
    "multi-root off": "ISTIO_MULTIROOT_MESH is off, so istiod accepts no root change until it is on",
}


def istiod_step(restart_safe, revision, rule=None, vault_name="<vault>"):
    """The remedy step about istiod: restart it only where the model says that is safe."""
    if restart_safe:
        return RESTART_ISTIOD.format(revision=revision)
    return KEEP_TRUST.format(revision=revision, vault_name=vault_name,
                             bundle_rule=_BUNDLE_RULES.get(rule, "the old root(s) first, byte for byte, then the new"))


# Names a remedy may use that the rule making the finding may not know: the certificate
# engine judges bytes, not where they came from. Unknown, they read as these placeholders;
# fill_remedy puts the real names in once the source is known.
LATE_NAMES = {"vault_name": "<vault>", "secret_name": "<{object}-name>"}


def _remedy_values(values):
    """``values`` with LATE_NAMES' placeholders for what is not known."""
    filled = dict(values)
    for name, placeholder in LATE_NAMES.items():
        if not filled.get(name):
            filled[name] = placeholder.format(object=filled.get("object") or "object")
    return _StrictParams(filled)


def fill_remedy(item, known):
    """``item``'s remedy with the LATE_NAMES now ``known`` (plus ``object``): rendered again
    from its template only when it still holds one of their placeholders and every name the
    template uses is known. Returns the item (changed in place)."""
    entry = CATALOG.get(item.get("code"))
    remedy = item.get("remedy") or ""
    if entry is None or not entry.remedy or "<" not in remedy:
        return item
    values = dict(known, object=item.get("object") or "")
    placeholders = {placeholder.format(object=values["object"] or "object") for placeholder in LATE_NAMES.values()}
    if not any(text in remedy for text in placeholders):
        return item
    return render_remedy(item, values)


def render_remedy(item, known):
    """``item``'s remedy rendered again from its template with ``known`` names, when the
    template uses no other name (else left as it is)."""
    entry = CATALOG.get(item.get("code"))
    if entry is None or not entry.remedy:
        return item
    if not template_fields(entry.remedy) <= {name for name, value in known.items() if value}:
        return item
    item["remedy"] = entry.remedy.format_map(_remedy_values(known))
    return item


def finding(code, obj=None, evidence=None, **params):
    """Build one finding dict from its catalog entry.

    ``obj`` names what the finding concerns (``root-cert``, ``vault``, a pod...).
    ``evidence`` is a list of short strings: what was seen, never secret values.
    """
    entry = CATALOG[code]
    values = _StrictParams(params)
    if obj is not None:
        values.setdefault("object", obj)
    return {
        "code": entry.code,
        "severity": entry.severity,
        "area": entry.area,
        "object": obj,
        "title": entry.title,
        "message": entry.message.format_map(values),
        "remedy": entry.remedy.format_map(_remedy_values(values)) if entry.remedy else "",
        "detail": entry.detail.format_map(values) if entry.detail else "",
        "evidence": list(evidence or []),
        "docs": docs_url(entry.code),
    }


def render_markdown():
    """The user-facing reference of every finding, generated from the catalog."""
    lines = [
        "# meshca findings",
        "",
        "Generated from `azext_meshca/rules/catalog.py` by `python -m azext_meshca.rules.catalog`.",
        "Do not edit by hand. Placeholders in braces are filled with your resource names.",
        "",
        "| code | severity | area | title |",
        "|---|---|---|---|",
    ]
    for entry in _ENTRIES:
        lines.append(f"| [{entry.code}](#{entry.code.lower()}) | {entry.severity} | {entry.area} | {entry.title} |")
    for entry in _ENTRIES:
        lines += ["", f"## {entry.code}", "",
                  f"**{entry.title}** ({entry.severity}, area `{entry.area}`)",
                  "", f"What it means: {entry.message}"]
        if entry.remedy:
            lines += ["", f"Fix: `{entry.remedy}`"]
        if entry.file_remedy:
            lines += ["", f"Fix, when the set was read from local files: `{entry.file_remedy}`"]
        lines += _link_lines(entry.code)
    return "\n".join(lines) + "\n"


def _code_links(codes):
    return ", ".join(f"[{code}](#{code.lower()})" for code in codes)


def _link_lines(code):
    """The cause -> symptom links of one code, as Markdown lines (empty when it has none)."""
    causes, fallback = causes_of(code)
    lines = []
    if causes:
        lines += ["", f"Explained by: {_code_links(causes)}."]
    if fallback:
        lines += ["", f"When none of those is present, explained by: {_code_links(fallback)}."]
    symptoms = symptoms_of(code)
    if symptoms:
        lines += ["", f"Explains: {_code_links(symptoms)}."]
    return lines


if __name__ == "__main__":
    print(render_markdown(), end="")
