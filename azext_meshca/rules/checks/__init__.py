"""The one registry of rules: pure functions from a snapshot (or the parsed CA set) to findings.

Every rule declares itself with ``@rule`` (azext_meshca/rules/registry.py): its codes and the
inputs it needs. ``ALL_CHECKS`` is the one registry, root causes before symptoms,
holding the certificate rules too (validation.CERTIFICATE_RULES, run over the CA
set parsed once from the source's values, and validation.SHOWN_RULES, over the
certificates show-cert was given). The one runner over it is
azext_meshca/rules/runner.py ``run_rules(snapshot, select=...)``.
"""

from azext_meshca.rules.checks import (access, addon, cluster, collection, config, fleet, network, rotate, rotation,
                                       secrets)
from azext_meshca.rules.validation import CERTIFICATE_RULES, SHOWN_RULES

ALL_CHECKS = tuple(config.CHECKS + addon.CHECKS + access.CHECKS + network.CHECKS + secrets.CHECKS
                   + list(CERTIFICATE_RULES) + list(SHOWN_RULES) + rotation.CHECKS + rotate.CHECKS
                   + cluster.CHECKS + collection.CHECKS + fleet.CHECKS)
ALL_RULES = tuple(check.rule for check in ALL_CHECKS)
