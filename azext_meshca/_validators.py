"""Argument validators: cheap checks on what the user typed, before any I/O happens."""

from azure.cli.core.azclierror import (InvalidArgumentValueError, MutuallyExclusiveArgumentError,
                                       RequiredArgumentMissingError)


def validate_warn_days(namespace):
    if namespace.warn_days is not None and namespace.warn_days < 0:
        raise InvalidArgumentValueError('--warn-days must be zero or more.')


def validate_cert_source(namespace):
    """validate-secrets reads one source: a folder, or the four files."""
    files = [namespace.root_cert, namespace.ca_cert, namespace.ca_key, namespace.cert_chain]
    given_files = [path for path in files if path]
    if namespace.cert_dir and given_files:
        raise MutuallyExclusiveArgumentError('Use either --cert-dir or the four file options, not both.')
    if not namespace.cert_dir and not given_files:
        raise RequiredArgumentMissingError('Give --cert-dir DIR, or --root-cert, --ca-cert, --ca-key and --cert-chain.')
    if given_files and len(given_files) != len(files):
        raise RequiredArgumentMissingError('Give all four of --root-cert, --ca-cert, --ca-key and --cert-chain '
                       '(or use --cert-dir).')


def validate_show_cert_source(namespace):
    """show-cert reads one source."""
    if bool(namespace.file) == bool(namespace.cert_dir):
        raise MutuallyExclusiveArgumentError('Give exactly one of --file or --cert-dir.')


def validate_diagnose_source(namespace):
    """diagnose judges a live cluster (-g/-n) or an exported snapshot, not both."""
    live = namespace.resource_group_name or namespace.name
    if namespace.from_snapshot:
        if live or namespace.export or namespace.kubeconfig:
            raise MutuallyExclusiveArgumentError(
                '--from-snapshot analyses offline: drop -g/-n, --kubeconfig and --export.')
        return
    if not (namespace.resource_group_name and namespace.name):
        raise RequiredArgumentMissingError('Give --resource-group/-g and --name/-n (or --from-snapshot FILE).')
    if namespace.context and not namespace.kubeconfig:
        raise RequiredArgumentMissingError('--context needs --kubeconfig.')
