"""Simulated Kubernetes API server (the AKS cluster's API, as kubectl sees it).

What the Kubernetes side needs from the World (Azure side, ``tests/sim/scenario.py``).
These are the only World members this package touches:

    world.kubernetes                  -> dict: the scenario's ``kubernetes:`` mapping ({} if absent)
    world.cluster                     -> dict: the managedCluster ARM body (name, properties.serviceMeshProfile,
                                         addonProfiles.azureKeyvaultSecretsProvider, aadProfile, ...)
    world.plugin_objects()            -> list of (role, vault_name, object_name) for the cluster's plug-in CA config,
                                         role in "ca-cert", "ca-key", "root-cert", "cert-chain", in that order
                                         (certObjectName, keyObjectName, rootCertObjectName, certChainObjectName);
                                         [] when the cluster has no plug-in CA config
    world.addon_identity()            -> dict {objectId, clientId, resourceId} of the Key Vault secrets provider
                                         add-on, or None when the add-on is disabled
    world.principal_can_get_secret(vault_name, oid) -> None | KvDenial(status, code, message)
    world.secret_value(vault_name, object_name) -> str | None   (None: no such secret; the text otherwise)
    world.vault_uri(vault_name)       -> "https://127.0.0.1:<port>/" (properties.vaultUri)
    world.pki_part(set_name, part)    -> PEM text (part: root-cert | ca-cert | ca-key | cert-chain)
    world.key_vault_error_format      -> "legacy" | "azcore"
    world.kube_token                  -> the bearer token ARM writes into listClusterUserCredential kubeconfigs
                                         (optional; CLUSTER_USER_TOKEN below is the fallback)

Bearer tokens accepted: ``world.kube_token`` / CLUSTER_USER_TOKEN, any token listed in
``kubernetes.tokens``, and any simulator JWT whose ``aud`` names the AKS AAD server app
(6dae42f8-4368-4678-94ff-3960e28e3630), which is what ``get_raw_token`` yields for AAD clusters.
"""

CLUSTER_USER_TOKEN = "sim-cluster-user-token-5d41402abc4b2a76b9719d911017c592"
AKS_AAD_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
