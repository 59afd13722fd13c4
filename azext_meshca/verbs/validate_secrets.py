"""``az aks mesh ca validate-secrets``: the plug-in CA set from one source, judged by the
certificate rules diagnose runs (and, from Key Vault, diagnose's rules on each object's state).

Shaped like cert-manager's cmctl commands: ``Options`` (what was asked), ``validate``
(pure), ``run`` (the only I/O: read the source, print the result).
"""

from collections import namedtuple

from azext_meshca.rules.registry import CA_SET
from azext_meshca.verbs.certsource import KEY_VAULT_RULES

Options = namedtuple("Options", "source warn_days shown")

# What validate-secrets asks of the one runner: the Key Vault objects' state, every certificate rule.
SELECT = KEY_VAULT_RULES + (CA_SET,)


def validate(options):
    """Nothing beyond what _validators.py checked when the arguments were parsed."""
    return options


def run(cmd, options):
    from azext_meshca.rules.runner import run_rules
    from azext_meshca.verbs.certsource import read_snapshot, respond
    snapshot = read_snapshot(cmd.cli_ctx, options.source, options.warn_days, show=False)
    found = run_rules(snapshot, select=SELECT, warn_days=options.warn_days)
    return respond(cmd, found, snapshot["source"], options.shown)
