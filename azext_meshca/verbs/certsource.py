"""What validate-secrets and show-cert share: reading the one source they were given into a
snapshot (azext_meshca/sources/), and printing the result before the exit status that matches it.

A set comes from exactly one source: a folder (--cert-dir), four named files, Key Vault (a
cluster's plug-in config, or a vault named on the command line) or the cluster's cacerts
secret (--in-cluster). _validators.py has already refused mixed sources.
"""

from collections import namedtuple

# Where the set is read from (the options both commands take, as parsed by azure-cli).
Source = namedtuple("Source", "cert_dir named_files resource_group name in_cluster key_vault_id vault_name "
                              "object_names")
# How the result is shown and when it fails (report.build_result, output_threshold for tables).
Shown = namedtuple("Shown", "failure_threshold suppress output_threshold")

# The rules about the Key Vault objects themselves, diagnose's (rules/checks): on a set read
# from files or the cluster they find nothing to judge.
KEY_VAULT_RULES = ("vault-exists", "secret-state", "vault-read", "secrets-read", "vault-address")


def object_names(root_cert=None, ca_cert=None, ca_key=None, cert_chain=None):
    """--*-object-name values by plug-in object."""
    return {"root-cert": root_cert, "ca-cert": ca_cert, "ca-key": ca_key, "cert-chain": cert_chain}


def read_snapshot(cli_ctx, source, warn_days, *, show):
    """The snapshot of the one source given (I/O). ``show``: show-cert's (no key; the
    certificates in the ``shown`` slot)."""
    from azext_meshca.sources import certsets, files
    found = None
    if source.cert_dir:
        found = files.read_cert_dir(source.cert_dir)
    elif source.named_files and any(source.named_files.values()):
        found = files.read_named_files(source.named_files)
    if found is not None:
        if show:
            return certsets.shown_snapshot(found["source"], certsets.set_certificates(found), found["where"],
                                           warn_days)
        return certsets.set_snapshot(found, warn_days)
    from azext_meshca.sources.deadline import run_within
    from azext_meshca.sources.live import read_live_snapshot
    names = {f"{obj.replace('-', '_')}_object_name": value for obj, value in source.object_names.items()}
    with run_within(cli_ctx):
        return read_live_snapshot(cli_ctx, warn_days, resource_group=source.resource_group, name=source.name,
                                  in_cluster=source.in_cluster, key_vault_id=source.key_vault_id,
                                  vault_name=source.vault_name, show=show, **names)


def respond(cmd, run, source, shown, *, table=None):
    """The output contract, printed before the exit status that matches it. Without a
    failure threshold (show-cert's default) a result that shows a certificate exits 0,
    and one that shows none (not a certificate, not readable) exits as diagnose would."""
    from azext_meshca.output.report import build_result, exit_with_status_after_output
    from azext_meshca.output.tables import findings_table, table_for
    table_for(cmd, table or findings_table, output_threshold=shown.output_threshold)
    result = build_result(run.findings, run.certificates, suppress=shown.suppress, source=source)
    if shown.failure_threshold or not result["certificates"]:
        exit_with_status_after_output(cmd, result, shown.failure_threshold or "error")
    return result
