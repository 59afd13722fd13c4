"""Entry points into the rules that only tests use, kept out of the wheel (issue #19 item 8).

Each was a public function of azext_meshca that no command called: the commands reach the
rules through ``run_rules`` (rules/runner.py), and these are the shapes the tests were
written against, built from those same functions.
"""

from azext_meshca.rules.catalog import annotate
from azext_meshca.rules.consumers import istiod
from azext_meshca.rules.registry import CA_SET, SHOWN, run_rules as run_declared
from azext_meshca.rules.validation import (CERTIFICATE_RULES, SHOWN_RULES, CaSet, ShownSet,
                                           _aware_now, reconcile_with_startup)


def _annotated(_rule, found):
    return [annotate(item) for item in found]


def validate_plugin_set(objects, now, warn_days=30, sources=None):
    """Check a plug-in CA set; returns (findings, certificates): the certificate rules and
    the runner's reconciliation with istiod's start-up, on one set given as bytes.

    ``objects`` maps root-cert, ca-cert, ca-key and cert-chain to bytes (None =
    absent). ``sources`` optionally maps each name to where it came from
    ("file ./ca-cert.pem", "Key Vault secret ca-cert"), used in messages.
    ``certificates`` holds describe() of every certificate plus ``object`` and
    ``index`` (1-based position in that object).
    """
    ca_set = CaSet(objects, sources)
    context = {"now": _aware_now(now), "warn_days": warn_days, "go": istiod.NEWEST_GO}
    findings, _ = run_declared(CERTIFICATE_RULES, {CA_SET: ca_set}, {CA_SET: ca_set.parsed}, context,
                               finish=_annotated)
    return reconcile_with_startup(findings, ca_set), ca_set.certificates(now)


def describe_objects(objects, now, sources=None, warn_days=30):
    """Certificates of arbitrary named PEM objects, judged by show-cert's rule."""
    shown = ShownSet(objects, sources)
    context = {"now": _aware_now(now), "warn_days": warn_days}
    findings, _ = run_declared(SHOWN_RULES, {SHOWN: shown}, {}, context, finish=_annotated)
    return findings, shown.certificates(now)


def declaration(function):
    """The Rule a function declared (rules/registry.py ``@rule`` sets ``.rule``), or None."""
    return getattr(function, "rule", None)
