"""The plug-in CA's vocabulary: its four objects and the config fields that name them.

One place for the names every layer uses (azure-aks-docs ``articles/aks/istio-plugin-ca.md``, istio/istio
``pilot/pkg/bootstrap/istio_ca.go``): the objects istiod reads,
the ``certificateAuthority.plugin`` fields that name their Key Vault secrets, and the
file name each object has in ``etc/cacerts``, in Istio's tools/certs output and as a
key of the ``cacerts`` secret.
"""

PLUGIN_OBJECTS = ("root-cert", "ca-cert", "ca-key", "cert-chain")
CERTIFICATE_OBJECTS = ("root-cert", "ca-cert", "cert-chain")
PLUGIN_FIELDS = ("keyVaultId", "certObjectName", "keyObjectName", "rootCertObjectName", "certChainObjectName")
# Which plug-in config field names the Key Vault secret of which object.
OBJECT_FIELDS = {"root-cert": "rootCertObjectName", "ca-cert": "certObjectName",
                 "ca-key": "keyObjectName", "cert-chain": "certChainObjectName"}

# The events on istiod's pods that speak of its cacerts volume: kubelet's FailedMount, and
# the driver's MountRotationFailed (drivers up to v1.5, kubernetes-sigs/secrets-store-csi-driver
# pkg/rotation/reconciler.go: a rotation poll the provider failed, while istiod keeps running
# on the files it mounted before). Collected by reason, and judged, from this one list.
MOUNT_EVENT_REASONS = ("FailedMount", "MountRotationFailed")


def file_name(obj):
    """root-cert -> root-cert.pem: the name in etc/cacerts, tools/certs and the cacerts secret."""
    return obj + ".pem"


def secret_names(plugin):
    """{object: the Key Vault secret name the plug-in config gives it, or None}."""
    return {obj: (plugin or {}).get(OBJECT_FIELDS[obj]) or None for obj in PLUGIN_OBJECTS}
