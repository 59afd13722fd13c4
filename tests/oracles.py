"""Entry points into the rules that only tests use, kept out of the wheel (issue #19 item 8).

Each was a public function of azext_meshca that no command called: the commands reach the
rules through ``run_rules`` (rules/checks) and ``judge_ca_set`` (rules/validation), and these
are the shapes the tests were written against, built from those same functions.
"""

from azext_meshca.rules.checks import run_rules
from azext_meshca.rules.validation import CaSet, judge_ca_set


def validate_plugin_set(objects, now, warn_days=30, sources=None):
    """Check a plug-in CA set; returns (findings, certificates).

    ``objects`` maps root-cert, ca-cert, ca-key and cert-chain to bytes (None =
    absent). ``sources`` optionally maps each name to where it came from
    ("file ./ca-cert.pem", "Key Vault secret ca-cert"), used in messages.
    ``certificates`` holds describe() of every certificate plus ``object`` and
    ``index`` (1-based position in that object).
    """
    ca_set = CaSet(objects, sources)
    findings, _ = judge_ca_set(ca_set, now, warn_days)
    return findings, ca_set.certificates(now)


def run_checks(snapshot, warn_days=30):
    """Every rule on one snapshot: (findings ordered cause-first, certificate descriptions)."""
    run = run_rules(snapshot, warn_days)
    return run.findings, run.certificates


def declaration(function):
    """The Rule a function declared (rules/registry.py ``@rule`` sets ``.rule``), or None."""
    return getattr(function, "rule", None)
