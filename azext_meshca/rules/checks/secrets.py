"""Secret checks (MCA6xx, and the MCA7xx certificate rules through validation).

Two layers:

1. Key Vault object state, from what Key Vault answered the operator: missing (404
   SecretNotFound: MCA601), disabled (403 SecretDisabled, or enabled:false: MCA611),
   outside its active dates (MCA612), backed by a Key Vault certificate or key
   (MCA613). These are properties of the secret, so they hold for the add-on too.
   Any other failure to read is the OPERATOR's access and belongs to MCA904.
2. ``plugin_ca_set``: the values that were read, parsed once into the CA set the
   certificate rules (validation.CERTIFICATE_RULES, in the same registry) judge,
   with sources ``Key Vault secret <name>``. An object we did not read is not called
   missing (MCA601): layer 1 (or MCA904) already says why it is absent, and it may
   well exist.
"""

from azext_meshca.rules.registry import rule
from azext_meshca.rules.checks.common import make, parse_time, plugin_config, secret_name, secret_source
from azext_meshca.model.plugin import PLUGIN_OBJECTS
from azext_meshca.model.snapshot import thaw

NOT_FOUND_CODES = {"SecretNotFound"}
DISABLED_CODE = "SecretDisabled"


def _secret_items(snapshot):
    """{object: collected item} for the plug-in objects that were attempted."""
    secrets = snapshot.get("secrets") or {}
    return {obj: secrets.get(obj) for obj in PLUGIN_OBJECTS if secrets.get(obj)}


def is_not_found(item):
    error = (item or {}).get("error") or {}
    return error.get("status") == 404 or error.get("code") in NOT_FOUND_CODES


def is_disabled_error(item):
    error = (item or {}).get("error") or {}
    return error.get("code") == DISABLED_CODE


def is_object_state_error(item):
    """Failures that describe the secret itself rather than the operator's access."""
    return is_not_found(item) or is_disabled_error(item)


def _names(plugin, obj):
    name = secret_name(plugin, obj) or obj
    return {"secret_name": name, "source": secret_source(plugin, obj)}


@rule("MCA601", "MCA611", "MCA612", "MCA613", inputs=("cluster",))
def check_secret_state(snapshot, context):
    """MCA601, MCA611, MCA612, MCA613 for each plug-in object Key Vault told us about."""
    plugin = plugin_config(snapshot)
    if plugin is None:
        return []
    return secrets_state(context, plugin, _secret_items(snapshot))


def secrets_state(context, plugin, items):
    """MCA601/611/612/613 for ``{object: collected item}``; the Key Vault source calls it too."""
    findings = []
    for obj, item in items.items():
        if item:
            findings += _object_state_findings(context, plugin, obj, item)
    return findings


def _object_state_findings(context, plugin, obj, item):
    names = _names(plugin, obj)
    error = item.get("error") or {}
    if is_not_found(item):
        return [make(context, "MCA601", obj, evidence=[f"Key Vault: {error.get('reason')}"], **names)]
    if is_disabled_error(item):
        return [make(context, "MCA611", obj, evidence=[f"Key Vault: {error.get('reason')}"], **names)]
    data = item.get("data") if item.get("ok") else None
    if data is None:
        return []
    findings = []
    if data.get("enabled") is False:
        findings.append(make(context, "MCA611", obj, evidence=["enabled: false"], **names))
    window = _outside_window(data, context["now"])
    if window:
        findings.append(make(context, "MCA612", obj, evidence=[window], window=window, **names))
    if data.get("managed") or data.get("kid"):
        kind = "certificate" if data.get("managed") else "key"
        evidence = [f"managed: {bool(data.get('managed'))}"] + (
            [f"kid: {data.get('kid')}"] if data.get("kid") else [])
        findings.append(make(context, "MCA613", obj, evidence=evidence, kind=kind, **names))
    return findings


def _outside_window(data, now):
    """'expired on <date>' / 'is not valid before <date>', or None inside the window."""
    expires = parse_time(data.get("expires"))
    not_before = parse_time(data.get("notBefore"))
    if expires is not None and expires < now:
        return f"expired on {data.get('expires')}"
    if not_before is not None and not_before > now:
        return f"is not valid before {data.get('notBefore')}"
    return None


def read_objects(snapshot):
    """{object: value} for every object whose value was read; ca-key as keyFacts.

    The ca-key value is never kept (model/snapshot.py); validation takes its ``keyFacts``.
    """
    return secret_values(_secret_items(snapshot), snapshot.get("keyFacts"))


def secret_values(items, key_facts):
    """{object: value} of ``{object: collected item}``, ca-key as ``key_facts``."""
    objects = {}
    for obj, item in items.items():
        if not item:
            continue
        data = item.get("data") if item.get("ok") else None
        if data is None:
            continue
        if obj == "ca-key":
            if key_facts is not None:
                objects[obj] = thaw(key_facts)
        elif data.get("value") is not None:
            value = data.get("value")
            objects[obj] = value.encode("utf-8") if isinstance(value, str) else value
    return objects


def plugin_ca_set(snapshot):
    """The plug-in CA set Key Vault gave the operator, parsed once for the certificate
    rules (validation.CERTIFICATE_RULES), or None when no value was read.

    An object that was not read is not called missing: MCA601/MCA611 (Key Vault's
    answer) or MCA904 (the operator's access) already say why it is absent.
    """
    plugin = plugin_config(snapshot)
    if plugin is None:
        return None
    objects = read_objects(snapshot)
    if not objects:
        return None
    from azext_meshca.rules.validation import CaSet
    sources = {obj: secret_source(plugin, obj) for obj in PLUGIN_OBJECTS}
    return CaSet({obj: objects.get(obj) for obj in PLUGIN_OBJECTS}, sources,
                 unread=[obj for obj in PLUGIN_OBJECTS if obj not in objects])


CHECKS = [check_secret_state]
