"""Small readers shared by the checks: where things live in the snapshot.

Why a module of its own: every check needs "the cluster, if it was read" or "the
plug-in config, if there is one"; writing those lookups once keeps the checks to
their rule and makes "input not collected => no finding" the same everywhere.
"""

import datetime
import re

from azext_meshca.model import resource_ids
from azext_meshca.rules.catalog import finding
from azext_meshca.model.plugin import OBJECT_FIELDS, PLUGIN_FIELDS
from azext_meshca.model.snapshot import ok_data


# Names the catalog's remedy templates may use (rules/catalog.py lists them).
REMEDY_NAMES = ("resource_group", "cluster", "vault_name", "vault_resource_group", "vault_id",
                "object_id", "revision")


# --------------------------------------------------------------------------- snapshot readers

def cluster_data(snapshot):
    """The managed cluster as collected, or None when it could not be read."""
    return ok_data(snapshot.get("cluster"))


def istio_cluster(snapshot):
    """The managed cluster as collected when its mesh is Istio, else None."""
    cluster = cluster_data(snapshot)
    return cluster if cluster and cluster.get("meshMode") == "Istio" else None


def mesh_is_istio(snapshot):
    return istio_cluster(snapshot) is not None


def plugin_config(snapshot):
    """The plug-in CA config when the mesh is on and at least one field is set, else None.

    Read once from the snapshot (one ``cluster_data``): most rules begin with it, and scan
    asks it some 16 times per cluster (#25)."""
    cluster = istio_cluster(snapshot)
    plugin = cluster.get("plugin") if cluster is not None else None
    if not plugin or not any(map(plugin.get, PLUGIN_FIELDS)):
        return None
    return plugin


def csi_addon(snapshot):
    """addonProfiles.azureKeyvaultSecretsProvider as collected ({} when absent)."""
    cluster = cluster_data(snapshot) or {}
    return cluster.get("csiAddon") or {}


def addon_object_id(snapshot):
    identity = csi_addon(snapshot).get("identity") or {}
    return identity.get("objectId") or None


def vault_data(snapshot):
    return ok_data(snapshot.get("vault"))


def kube(snapshot):
    """The in-cluster part of the snapshot ({} when skipped)."""
    return snapshot.get("kube") or {}


def kube_item(snapshot, key):
    """One in-cluster item's data, or None when it was not collected or failed."""
    return ok_data(kube(snapshot).get(key))


def secret_name(plugin, obj):
    """The Key Vault secret name configured for a plug-in object, or None."""
    return (plugin or {}).get(OBJECT_FIELDS[obj]) or None


def vault_name_of(vault_id):
    """The vault name in a Key Vault resource ID, or None when the ID is malformed."""
    return (resource_ids.parse_vault_id(vault_id) or {}).get("name")


def same_id(left, right):
    """ARM and AAD identifiers compare case-insensitively."""
    return str(left or "").strip().lower() == str(right or "").strip().lower()


# --------------------------------------------------------------------------- values

def parse_time(text):
    """An aware UTC datetime from ISO 8601 text (``Z`` or offset), or None."""
    if not text:
        return None
    if isinstance(text, datetime.datetime):
        moment = text
    else:
        value = str(text).strip().replace("Z", "+00:00").replace("z", "+00:00")
        # Python 3.11 accepts at most 6 fractional digits; Kubernetes may send 9 (a text without
        # a '.' has none: scan parses its one moment per cluster, #25).
        if "." in value:
            value = re.sub(r"(\.\d{6})\d+", r"\1", value)
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def human_age(seconds):
    """kubectl's style: 54s, 5m55s, 2h3m, 4d."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60}s" if seconds < 600 else f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60}m"
    return f"{seconds // 86400}d"


def normalize_fingerprint(value):
    """AB:CD:.. or abcd.. -> ABCD..; so fingerprints from any collector compare."""
    return str(value or "").replace(":", "").strip().upper()


def short_fingerprint(value):
    """The first 8 bytes of a SHA-256 fingerprint, enough to tell roots apart in a sentence."""
    text = normalize_fingerprint(value)
    return "SHA-256 " + ":".join(text[i:i + 2] for i in range(0, min(len(text), 16), 2)) + "…"


def name_list(names, limit=10):
    """'a, b, c' with at most ``limit`` names and '(and N more)'."""
    names = list(names)
    shown = ", ".join(names[:limit])
    if len(names) > limit:
        shown += f" (and {len(names) - limit} more)"
    return shown


# --------------------------------------------------------------------------- findings

def make(context, code, obj=None, evidence=None, **params):
    """finding() with the remedy names of this snapshot filled in; params win."""
    values = {name: context.get(name) for name in REMEDY_NAMES}
    values.update(params)
    return finding(code, obj, evidence=[str(item) for item in (evidence or [])], **values)
