"""The one pipeline over the plug-in CA set every source hands over (model/plugin_set.py).

validate-secrets and show-cert read a set from one of three sources, and each returns
the same shape (``new_set``):

- local files (``--cert-dir`` or the four named files): sources/files.py;
- Key Vault (the objects a cluster's plug-in config names, or a vault named on the
  command line): sources/live.py;
- the cluster's ``cacerts`` secret (``--in-cluster``): sources/live.py.

``objects`` maps root-cert, ca-cert and cert-chain to PEM bytes and ca-key to its key
facts (model/keyfacts.py): every source reduces the private key at the moment it reads it,
so no private byte travels further. ``None`` means the object is absent.
``findings`` are what the source itself learnt about the objects (a Key Vault secret
is disabled, the operator may not read it); ``unread`` lists the objects such a
finding already accounts for, which the certificate engine must not call "missing".

The pipeline (``validate`` / ``describe``) is the same for every source; only the
remedies differ, so that a local file is never told to run ``az keyvault secret set``.
"""

from azext_meshca.rules.catalog import refit_remedy
from azext_meshca.model.plugin import CERTIFICATE_OBJECTS, PLUGIN_OBJECTS


def validate(plugin_set, now, warn_days):
    """validate-secrets: the source's findings, then every certificate rule (the same
    rules diagnose runs, validation.CERTIFICATE_RULES, over the set parsed once)."""
    from azext_meshca.rules.validation import CaSet, judge_ca_set
    objects = {obj: plugin_set["objects"].get(obj) for obj in PLUGIN_OBJECTS}
    ca_set = CaSet(objects, plugin_set["where"], unread=plugin_set["unread"])
    findings, _ = judge_ca_set(ca_set, now, warn_days)
    return _fit(plugin_set, plugin_set["findings"] + findings), ca_set.certificates(now)


def describe(plugin_set, now, warn_days, extra=None, extra_where=None):
    """show-cert: the source's findings, then each certificate described (the key is
    never shown). ``extra``: more PEM objects read beside the set (istio-ca-root-cert)."""
    from azext_meshca.rules.validation import describe_objects
    objects = {obj: plugin_set["objects"][obj] for obj in CERTIFICATE_OBJECTS
               if plugin_set["objects"].get(obj) is not None}
    objects.update(extra or {})
    where = dict(plugin_set["where"], **(extra_where or {}))
    findings, certificates = describe_objects(objects, now, sources=where, warn_days=warn_days)
    return _fit(plugin_set, plugin_set["findings"] + findings), certificates


def _fit(plugin_set, findings):
    return [refit_remedy(item, plugin_set["kind"]) for item in findings]
