"""Argument validators: cheap checks on what the user typed, before any I/O happens."""

from azure.cli.core.azclierror import (InvalidArgumentValueError, MutuallyExclusiveArgumentError,
                                       RequiredArgumentMissingError)


def validate_warn_days(namespace):
    if namespace.warn_days is not None and namespace.warn_days < 0:
        raise InvalidArgumentValueError('--warn-days must be zero or more.')


def validate_suppress(namespace):
    """--suppress CODE[=object]: a known code, in that shape."""
    from azext_meshca.catalog import CATALOG
    from azext_meshca.report import parse_suppression
    for text in namespace.suppress or ():
        try:
            code, _ = parse_suppression(text)
        except ValueError as error:
            raise InvalidArgumentValueError(f'--suppress: {error}.') from None
        if code not in CATALOG:
            raise InvalidArgumentValueError(f'--suppress: {code} is not a meshca finding code '
                                            '(az aks mesh ca list-checks lists them).')


def _live_sources(namespace):
    """Which live sources were named: the cluster (-g/-n) and/or a vault."""
    cluster = bool(namespace.resource_group_name or namespace.name)
    vault = bool(namespace.key_vault_id or namespace.vault_name)
    if cluster and not (namespace.resource_group_name and namespace.name):
        raise RequiredArgumentMissingError('Give both --resource-group/-g and --name/-n.')
    if namespace.key_vault_id and namespace.vault_name:
        raise MutuallyExclusiveArgumentError('Give --key-vault-id or --vault-name, not both.')
    if namespace.in_cluster and not cluster:
        raise RequiredArgumentMissingError('--in-cluster needs --resource-group/-g and --name/-n.')
    names = [getattr(namespace, field, None) for field in
             ('root_cert_object_name', 'ca_cert_object_name', 'ca_key_object_name', 'cert_chain_object_name')]
    if any(names) and not vault:
        raise RequiredArgumentMissingError('The --*-object-name options go with --key-vault-id or --vault-name '
                                           '(with -g/-n the cluster names the objects).')
    return [source for source, given in (('cluster', cluster), ('vault', vault)) if given]


def _exactly_one(sources, choices):
    if len(sources) != 1:
        raise MutuallyExclusiveArgumentError('Give exactly one source: ' + choices + '.')


def validate_cert_source(namespace):
    """validate-secrets reads one source: a folder, four files, a cluster or a vault."""
    files = [namespace.root_cert, namespace.ca_cert, namespace.ca_key, namespace.cert_chain]
    given_files = [path for path in files if path]
    if given_files and len(given_files) != len(files):
        raise RequiredArgumentMissingError('Give all four of --root-cert, --ca-cert, --ca-key and --cert-chain '
                                           '(or use --cert-dir).')
    sources = _live_sources(namespace) + (['dir'] if namespace.cert_dir else []) + (['files'] if given_files else [])
    if not sources:
        raise RequiredArgumentMissingError('Give --cert-dir DIR, or --root-cert, --ca-cert, --ca-key and '
                                           '--cert-chain, or -g/-n, or --key-vault-id/--vault-name.')
    _exactly_one(sources, '--cert-dir, the four file options, -g/-n, or --key-vault-id/--vault-name')


def validate_show_cert_source(namespace):
    """show-cert reads one source."""
    sources = _live_sources(namespace) + [name for name, given in (('file', namespace.file),
                                                                   ('dir', namespace.cert_dir)) if given]
    _exactly_one(sources, '--file, --cert-dir, -g/-n, or --key-vault-id/--vault-name')


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
    if namespace.timeout is not None and namespace.timeout < 1:
        raise InvalidArgumentValueError('--timeout must be 1 second or more.')


def validate_via_run_command(namespace):
    """--via-run-command reads the cluster through AKS's run-command instead of a kubeconfig."""
    if not getattr(namespace, "via_run_command", False):
        return
    if namespace.kubeconfig or namespace.skip_cluster or namespace.from_snapshot:
        raise MutuallyExclusiveArgumentError(
            '--via-run-command reads the cluster through AKS run-command: drop --kubeconfig/--context, '
            '--skip-cluster and --from-snapshot.')
