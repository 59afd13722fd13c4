"""Snapshots of the certificates validate-secrets and show-cert read, for the one runner.

Every command hands the rules a snapshot (model/snapshot.py) built here in sources/, never a
set of bytes through a side door (rules/runner.py). Two slots carry what these commands read
beside diagnose's own:

- ``pluginSet``: a plug-in CA set read from local files or the cluster's cacerts secret
  (model/plugin_set.py ``new_set``: objects, where each came from, objects not read), judged
  by the certificate rules (validation.CERTIFICATE_RULES); a set read from Key Vault needs no
  such slot, it is diagnose's own ``vault``/``secrets``/``keyFacts`` (sources/live.py);
- ``shown``: the named PEM objects show-cert was given, judged by validation.SHOWN_RULES.

``source`` is the output's ``source`` (what was read); its ``kind`` tells the runner which
remedies fit (a local file is never told to run ``az keyvault secret set``).
"""

from azext_meshca.model.plugin import CERTIFICATE_OBJECTS
from azext_meshca.model.snapshot import new_snapshot


def source_snapshot(source, warn_days, target=None):
    """An empty snapshot of one certificate source; the caller's slots are added to it."""
    snapshot = new_snapshot(dict(target or {}), {"warnDays": warn_days})
    snapshot["source"] = dict(source)
    return snapshot


def set_snapshot(plugin_set, warn_days):
    """validate-secrets over a set read from files or the cacerts secret."""
    snapshot = source_snapshot(plugin_set["source"], warn_days)
    snapshot["pluginSet"] = {"objects": dict(plugin_set["objects"]), "where": dict(plugin_set["where"]),
                             "unread": list(plugin_set["unread"])}
    return snapshot


def add_shown(snapshot, objects, where):
    """``snapshot`` with show-cert's objects (any names: the set's certificates, a file, the
    cluster's istio-ca-root-cert) in its ``shown`` slot."""
    snapshot["shown"] = {"objects": dict(objects), "where": dict(where)}
    return snapshot


def shown_snapshot(source, objects, where, warn_days):
    """show-cert over objects read from files or the cluster."""
    return add_shown(source_snapshot(source, warn_days), objects, where)


def set_certificates(plugin_set):
    """The certificate objects of a set that were read (show-cert never shows the key)."""
    return {obj: plugin_set["objects"][obj] for obj in CERTIFICATE_OBJECTS
            if plugin_set["objects"].get(obj) is not None}
