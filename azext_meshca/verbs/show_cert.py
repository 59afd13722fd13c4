"""``az aks mesh ca show-cert``: the certificates of a file, a plug-in set or the cluster,
with format and expiry findings. Shows what it was given and exits 0 when it could show it:
a certificate that has expired is still shown (``fp=$(... -o tsv)`` must work under
``set -e``); --failure-threshold opts into diagnose's exit statuses.

Shaped like cert-manager's cmctl commands: ``Options``, ``validate`` (pure), ``run`` (I/O).
"""

from collections import namedtuple

from azext_meshca.rules.registry import SHOWN
from azext_meshca.verbs.certsource import KEY_VAULT_RULES

Options = namedtuple("Options", "file source warn_days shown")

# What show-cert asks of the one runner: the Key Vault objects' state, the shown certificates.
SELECT = KEY_VAULT_RULES + (SHOWN,)


def validate(options):
    """Nothing beyond what _validators.py checked when the arguments were parsed."""
    return options


def read_file_snapshot(path, warn_days):
    """One bundle of any kind (PEM, or one DER certificate), not a plug-in set (I/O)."""
    from azext_meshca.sources import certsets, files
    return certsets.shown_snapshot({"kind": "files", "files": {"file": path}},
                                   {"file": files.pem_or_der(files.read_capped(path))}, {"file": path}, warn_days)


def run(cmd, options):
    from azext_meshca.output.tables import certificates_table
    from azext_meshca.rules.runner import run_rules
    from azext_meshca.verbs.certsource import read_snapshot, respond
    if options.file:
        snapshot = read_file_snapshot(options.file, options.warn_days)
    else:
        snapshot = read_snapshot(cmd.cli_ctx, options.source, options.warn_days, show=True)
    found = run_rules(snapshot, select=SELECT, warn_days=options.warn_days)
    return respond(cmd, found, snapshot["source"], options.shown, table=certificates_table)
