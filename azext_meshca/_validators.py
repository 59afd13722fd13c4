"""Argument validators: cheap checks on what the user typed, before any request is sent.

A mistake on the command line exits 2, as azure-cli's parser does for an argument it
cannot parse (azure/cli/core/parser.py ``AzCliCommandParser.error`` and
``validation_error``: print the error, then ``exit(2)``), so every command gives the same
status for the same mistake: fix-access without -g (argparse) and diagnose without -g
(this module) both exit 2.
"""

import os

from azure.cli.core.azclierror import (InvalidArgumentValueError, MutuallyExclusiveArgumentError,
                                       RequiredArgumentMissingError)

USAGE_EXIT = 2


def usage_error(error):
    """Report ``error`` (an AzCLIError) as azure-cli's parser reports a usage mistake: one
    line on stderr, exit status 2."""
    error.print_error()
    error.send_telemetry()
    raise SystemExit(USAGE_EXIT)


def _usage(check):
    """A validator whose AzCLIError is a usage mistake (exit 2), not a failed run (exit 1)."""
    def validator(namespace):
        try:
            check(namespace)
        except (InvalidArgumentValueError, MutuallyExclusiveArgumentError, RequiredArgumentMissingError) as error:
            usage_error(error)
    validator.__name__ = check.__name__
    validator.__doc__ = check.__doc__
    return validator


@_usage
def validate_warn_days(namespace):
    if namespace.warn_days is not None and namespace.warn_days < 0:
        raise InvalidArgumentValueError('--warn-days must be zero or more.')


def _check_timeout(namespace):
    if getattr(namespace, 'timeout', None) is not None and namespace.timeout < 1:
        raise InvalidArgumentValueError('--timeout must be 1 second or more.')


@_usage
def validate_timeout(namespace):
    """scan's --timeout: the run's deadline, 1 second or more (diagnose checks its own in
    validate_diagnose_source, with the rest of its source)."""
    _check_timeout(namespace)


@_usage
def validate_suppress(namespace):
    """--suppress CODE[=object] ...: space- or comma-separated, with wildcards (MCA7*); each
    pattern must match a meshca code. The list is flattened for report.split_suppressed."""
    from azext_meshca.rules.catalog import CATALOG
    from azext_meshca.output.report import code_matches, parse_suppression, suppression_values
    values = suppression_values(namespace.suppress)
    for text in values:
        try:
            pattern, _ = parse_suppression(text)
        except ValueError as error:
            raise InvalidArgumentValueError(f'--suppress: {error}.') from None
        if not any(code_matches(code, pattern) for code in CATALOG):
            raise InvalidArgumentValueError(f'--suppress: {pattern} matches no meshca finding code '
                                            '(az aks mesh ca list-checks lists them).')
    namespace.suppress = values or None


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


@_usage
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


@_usage
def validate_show_cert_source(namespace):
    """show-cert reads one source."""
    sources = _live_sources(namespace) + [name for name, given in (('file', namespace.file),
                                                                   ('dir', namespace.cert_dir)) if given]
    _exactly_one(sources, '--file, --cert-dir, -g/-n, or --key-vault-id/--vault-name')


@_usage
def validate_diagnose_source(namespace):
    """diagnose judges a live cluster (-g/-n) or an exported snapshot, not both."""
    live = namespace.resource_group_name or namespace.name
    if namespace.from_snapshot:
        if live or namespace.export or namespace.kubeconfig or namespace.context:
            raise MutuallyExclusiveArgumentError(
                '--from-snapshot analyses offline: drop -g/-n, --kubeconfig, --context and --export.')
        return
    if not (namespace.resource_group_name and namespace.name):
        raise RequiredArgumentMissingError('Give --resource-group/-g and --name/-n (or --from-snapshot FILE).')
    _check_timeout(namespace)
    defaulted = bool(namespace.context and not namespace.kubeconfig)
    if defaulted and not getattr(namespace, 'via_run_command', False):
        namespace.kubeconfig = default_kubeconfig()
    if namespace.kubeconfig and not getattr(namespace, 'via_run_command', False):
        if defaulted and not os.path.exists(namespace.kubeconfig):
            raise InvalidArgumentValueError(f'--context: there is no kubeconfig at {namespace.kubeconfig}, the '
                                            'default kubectl reads; set KUBECONFIG or pass --kubeconfig.')
        check_kubeconfig(namespace.kubeconfig, namespace.context)


def default_kubeconfig():
    """The kubeconfig kubectl reads without --kubeconfig: the first file of $KUBECONFIG
    that exists, else ~/.kube/config (k8s.io/client-go tools/clientcmd/loader.go
    RecommendedHomeFile and the KUBECONFIG precedence)."""
    for path in (os.environ.get('KUBECONFIG') or '').split(os.pathsep):
        if path and os.path.exists(path):
            return path
    return os.path.join(os.path.expanduser('~'), '.kube', 'config')


def check_kubeconfig(path, context):
    """The kubeconfig exists, is YAML, and holds ``context`` (or a current-context): a
    missing file or an unknown context is an argument mistake, not a finding about the cluster."""
    import yaml
    from azext_meshca.sources.cluster import KUBECONFIG_BYTES
    from azext_meshca.model.inputs import InputError, check_size, read_regular_file, utf8_text
    try:
        data = check_size(read_regular_file(path, KUBECONFIG_BYTES), KUBECONFIG_BYTES, path)
        config = yaml.safe_load(utf8_text(data, path))
    except InputError as error:
        raise InvalidArgumentValueError(f'--kubeconfig: {error}') from None
    except yaml.YAMLError:
        raise InvalidArgumentValueError(f'--kubeconfig: {path} is not a kubeconfig (not YAML).') from None
    if not isinstance(config, dict):
        raise InvalidArgumentValueError(f'--kubeconfig: {path} is not a kubeconfig (not a mapping).')
    wanted = context or config.get('current-context')
    if isinstance(wanted, str) or wanted is None:
        contexts = config.get('contexts') if isinstance(config.get('contexts'), list) else []
        names = [str(entry.get('name')) for entry in contexts if isinstance(entry, dict)]
        if not wanted:
            raise InvalidArgumentValueError(f'--kubeconfig: {path} sets no current-context; name one with --context.')
        if wanted not in names:
            known = ', '.join(sorted(names)[:10]) or 'none'
            raise InvalidArgumentValueError(f'--context: {wanted} is not a context of {path} (it has: {known}).')
    # Everything else client-go would refuse (fields of the wrong type, insecure-skip-tls-verify
    # beside a certificate authority) is decided once, where the connection is set up.
    from azext_meshca.sources.kubehttp import KubeconfigError, selected_cluster_and_user
    try:
        selected_cluster_and_user(config, context)
    except KubeconfigError as error:
        raise InvalidArgumentValueError(f'--kubeconfig: {path}: {error}.') from None


@_usage
def validate_via_run_command(namespace):
    """--via-run-command reads the cluster through AKS's run-command instead of a kubeconfig."""
    if not getattr(namespace, "via_run_command", False):
        return
    if namespace.kubeconfig or namespace.skip_cluster or namespace.from_snapshot:
        raise MutuallyExclusiveArgumentError(
            '--via-run-command reads the cluster through AKS run-command: drop --kubeconfig/--context, '
            '--skip-cluster and --from-snapshot.')
