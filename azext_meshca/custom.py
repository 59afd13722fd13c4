"""Command entry points. Thin on purpose: each hands its arguments to its verb
(azext_meshca/verbs/: options, validate, run).

Heavy imports (cryptography, SDKs, kubernetes) happen inside these functions so the
command table loads fast.
"""


def _source(cert_dir, named_files, *, resource_group_name, name, in_cluster, key_vault_id, vault_name, object_names):
    from azext_meshca.verbs.certsource import Source
    return Source(cert_dir, named_files, resource_group_name, name, in_cluster, key_vault_id, vault_name,
                  object_names)


def validate_secrets(cmd, *,  # pylint: disable=too-many-locals
                     cert_dir=None, root_cert=None, ca_cert=None, ca_key=None, cert_chain=None, warn_days=None,
                     resource_group_name=None, name=None, in_cluster=False, key_vault_id=None, vault_name=None,
                     root_cert_object_name=None, ca_cert_object_name=None, ca_key_object_name=None,
                     cert_chain_object_name=None, failure_threshold="error", suppress=None,
                     output_threshold=None):
    from azext_meshca.verbs import validate_secrets as verb
    from azext_meshca.verbs.certsource import Shown, object_names
    named_files = object_names(root_cert, ca_cert, ca_key, cert_chain)
    source = _source(cert_dir, named_files, resource_group_name=resource_group_name, name=name,
                     in_cluster=in_cluster, key_vault_id=key_vault_id, vault_name=vault_name,
                     object_names=object_names(root_cert_object_name, ca_cert_object_name, ca_key_object_name,
                                               cert_chain_object_name))
    options = verb.Options(source, warn_days, Shown(failure_threshold, suppress, output_threshold))
    return verb.run(cmd, verb.validate(options))


def show_cert(cmd, *,  # pylint: disable=too-many-locals
              file=None, cert_dir=None, warn_days=None, resource_group_name=None, name=None, in_cluster=False,
              key_vault_id=None, vault_name=None, root_cert_object_name=None, ca_cert_object_name=None,
              cert_chain_object_name=None, failure_threshold=None, suppress=None, output_threshold=None):
    from azext_meshca.verbs import show_cert as verb
    from azext_meshca.verbs.certsource import Shown, object_names
    source = _source(cert_dir, None, resource_group_name=resource_group_name, name=name, in_cluster=in_cluster,
                     key_vault_id=key_vault_id, vault_name=vault_name,
                     object_names=object_names(root_cert_object_name, ca_cert_object_name, None,
                                               cert_chain_object_name))
    options = verb.Options(file, source, warn_days, Shown(failure_threshold, suppress, output_threshold))
    return verb.run(cmd, verb.validate(options))


def diagnose(cmd, *,  # pylint: disable=too-many-locals
             resource_group_name=None, name=None, kubeconfig=None, context=None, skip_cluster=False, revision=None,
             warn_days=None, export=None, from_snapshot=None, failure_threshold="error", suppress=None, timeout=None,
             via_run_command=False, output_threshold=None):
    from azext_meshca.verbs import diagnose as verb
    options = verb.Options(resource_group_name, name, kubeconfig=kubeconfig, context=context,
                           skip_cluster=skip_cluster, revision=revision, warn_days=warn_days, export=export,
                           from_snapshot=from_snapshot, failure_threshold=failure_threshold, suppress=suppress,
                           timeout=timeout, via_run_command=via_run_command, output_threshold=output_threshold)
    return verb.run(cmd, verb.validate(options))


def fix_access(cmd, resource_group_name, name, *, mode=None, secret_permissions=None, dry_run=False, yes=False,
               wait_for_istiod=False, timeout=None):
    from azext_meshca.verbs.fixaccess import run_fix_access
    return run_fix_access(cmd, resource_group_name, name, mode=mode, secret_permissions=secret_permissions,
                          dry_run=dry_run, yes=yes, wait=wait_for_istiod, timeout=timeout)


def explain(cmd, code):
    from azext_meshca.verbs import explain as verb
    return verb.run(verb.validate(verb.Options(code, verb.output_given(cmd))))


def list_checks(cmd):  # pylint: disable=unused-argument
    from azext_meshca.verbs import list_checks as verb
    return verb.run(verb.validate(verb.Options()))


def scan(cmd, *, subscriptions=None, management_groups=None, read_secrets=False, warn_days=None,
         failure_threshold=None, suppress=None, timeout=None):
    from azext_meshca.verbs.scan import run_scan
    from azext_meshca.verbs.scan_view import resolve_subscriptions
    if subscriptions:
        subscriptions = resolve_subscriptions(cmd.cli_ctx, subscriptions)
    return run_scan(cmd, subscriptions=subscriptions, management_groups=management_groups,
                    read_secrets=read_secrets, warn_days=30 if warn_days is None else warn_days,
                    failure_threshold=failure_threshold, suppress=suppress, timeout=timeout)


def rotate_plan(cmd, resource_group_name, name, *, new_dir=None, plan_file=None):
    from azext_meshca.verbs.rotate import options, run, validate
    opts = options.options("plan", resource_group_name, name, new_dir=new_dir, plan_file=plan_file)
    validate.validate(opts)
    return run.run_plan(cmd, opts)


def rotate_advance(cmd, resource_group_name, name, *, plan_file=None, new_dir=None, yes=False, dry_run=False,
                   wait=False, timeout=None):
    from azext_meshca.verbs.rotate import options, run, validate
    opts = options.options("advance", resource_group_name, name, plan_file=plan_file, new_dir=new_dir, yes=yes,
                           dry_run=dry_run, wait=wait, timeout=timeout)
    validate.validate(opts)
    return run.run_advance(cmd, opts)


def rotate_status(cmd, resource_group_name, name, *, plan_file=None):
    from azext_meshca.verbs.rotate import options, run, validate
    opts = options.options("status", resource_group_name, name, plan_file=plan_file)
    validate.validate(opts)
    return run.run_status(cmd, opts)
