"""The in-cluster side in one place: the names of the add-on's objects and namespaces, and
the table of items diagnose reads from the cluster.

Every other list of in-cluster items is derived from ``ITEMS``: the collectors' reads
(sources/cluster.py ``KUBE_READS``), the run-command budgets (sources/runcommand.py
``BUDGETS``), the snapshot schema's ``kube`` fields (model/snapshot_schema.py ``KUBE``), what
MCA907 names and which failure it reports once (rules/checks/collection.py ``KUBE_ITEMS``,
``KUBE_DEPENDS_ON``), and the inputs a rule may declare (``snapshot_inputs``). A new item
is one row here (tests/unit/test_incluster.py plants one and finds it everywhere).

Pure and stdlib only.
"""

from collections import namedtuple

# The AKS Istio add-on's namespace, and the CSI driver's (the azure provider's pods run there):
# learn.microsoft.com/azure/aks/istio-plugin-ca ("aks-istio-system"), and
# Azure/secrets-store-csi-driver-provider-azure charts (kube-system on AKS).
ISTIO_NAMESPACE = "aks-istio-system"
CSI_NAMESPACE = "kube-system"
# The configmap istiod writes into every namespace with its root (istio/istio
# pilot/pkg/keycertbundle, ``CACertNamespaceConfigMap``); its data key.
ROOT_CONFIGMAP = "istio-ca-root-cert"
ROOT_CONFIGMAP_KEY = "root-cert.pem"
# The secret the add-on's SecretProviderClass syncs the plug-in CA into (older add-on versions only).
CACERTS_SECRET = "cacerts"
# The two as findings and show-cert name them: namespace/name.
ROOT_CONFIGMAP_REF = f"{ISTIO_NAMESPACE}/{ROOT_CONFIGMAP}"
CACERTS_REF = f"{ISTIO_NAMESPACE}/{CACERTS_SECRET}"
# Per-revision object names the add-on creates.
ISTIOD_DEPLOYMENT_PREFIX = "istiod-"
SECRET_PROVIDER_CLASS_PREFIX = "istio-spc-"
CERT_VALIDATOR_CRONJOB_PREFIX = "istio-cert-validator-cronjob-"

# One in-cluster item: ``name`` (its key under the snapshot's ``kube``), ``resource`` (the
# API's plural, or pods/log: what MCA907 names), ``group`` (its API group/version, "" for
# core v1), ``namespace`` (None: every namespace, or cluster-wide), ``needs`` (items read
# first: the item is not read when the first of them failed, the others are used when they
# were read), ``budgets`` (bytes of run-command output: ``{section: bytes}``, the section
# named after the item first).
Item = namedtuple("Item", "name resource group namespace needs budgets")
# API groups (kubernetes apps/v1, batch/v1, admissionregistration.k8s.io/v1; the CSI driver's
# kubernetes-sigs/secrets-store-csi-driver apis/v1).
APPS, BATCH, ADMISSION, SECRETS_STORE = ("apps/v1", "batch/v1", "admissionregistration.k8s.io/v1",
                                         "secrets-store.csi.x-k8s.io/v1")
KIB = 1024

# In the order MCA907 and MCA916 list failed items; sources/cluster.py starts the reads that
# need nothing first.
ITEMS = (
    Item("istiodPods", "pods", "", ISTIO_NAMESPACE, (), {"istiodPods": 128 * KIB}),
    Item("istiodDeployments", "deployments", APPS, ISTIO_NAMESPACE, (), {"istiodDeployments": 32 * KIB}),
    Item("events", "events", "", ISTIO_NAMESPACE, (), {"events": 64 * KIB}),
    Item("providerLogs", "pods/log", "", CSI_NAMESPACE, ("istiodPods", "events"),
         {"providerLogs": 96 * KIB, "providerPods": 24 * KIB}),
    Item("secretProviderClasses", "secretproviderclasses", SECRETS_STORE, ISTIO_NAMESPACE, (),
         {"secretProviderClasses": 32 * KIB}),
    Item("cacerts", "secrets", "", ISTIO_NAMESPACE, (), {"cacerts": 32 * KIB}),
    Item("rootConfigMaps", "configmaps", "", None, (), {"rootConfigMaps": 96 * KIB}),
    Item("cronjobs", "cronjobs", BATCH, ISTIO_NAMESPACE, (), {"cronjobs": 32 * KIB}),
    Item("istiodLogs", "pods/log", "", ISTIO_NAMESPACE, ("istiodPods",), {"istiodLogs": 64 * KIB}),
    Item("mountStatuses", "secretproviderclasspodstatuses", SECRETS_STORE, ISTIO_NAMESPACE, (),
         {"mountStatuses": 48 * KIB}),
    Item("webhooks", "mutatingwebhookconfigurations", ADMISSION, None, (), {"webhooks": 48 * KIB}),
    Item("sidecars", "pods", "", None, (), {"sidecars": 64 * KIB}),
)
ITEM_NAMES = tuple(item.name for item in ITEMS)
BY_NAME = {item.name: item for item in ITEMS}
# The snapshot slot beside the items: how the cluster was reached (sources/cluster.py reachable).
ACCESS = "access"


def read_order(items=ITEMS):
    """The items in the order their reads are started: those that need nothing first."""
    return [item for item in items if not item.needs] + [item for item in items if item.needs]


def depends_on(items=ITEMS):
    """{item: the item without which it is not read}: its failure is reported once, there."""
    return {item.name: item.needs[0] for item in items if item.needs}


def failure_subjects(items=ITEMS):
    """{item: (what MCA907 names, the namespace it was read in, in words)}."""
    return {item.name: (item.resource, item.namespace or "all namespaces") for item in items}


def run_command_budgets(items=ITEMS):
    """{section: bytes}: each item's run-command output budget(s)."""
    budgets = {}
    for item in items:
        budgets.update(item.budgets)
    return budgets


def snapshot_inputs(items=ITEMS):
    """The ``kube.*`` inputs a rule may declare (rules/registry.py)."""
    return {"kube." + ACCESS} | {"kube." + item.name for item in items}
