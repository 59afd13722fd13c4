"""Command entry points. Thin on purpose: read the input, call the engine, shape the result.

Heavy imports (cryptography, SDKs, kubernetes) happen inside these functions so the
command table loads fast.
"""


def _respond(cmd, findings, certificates, source, *, failure_threshold="error", suppress=None,
             output_threshold=None, table=None):
    """The output contract, printed before the exit status that matches it. Without a
    ``failure_threshold`` (show-cert's default) a result that shows a certificate exits 0,
    and one that shows none (not a certificate, not readable) exits as diagnose would."""
    from azext_meshca.output.report import build_result, exit_with_status_after_output
    from azext_meshca.output.tables import findings_table, table_for
    table_for(cmd, table or findings_table, output_threshold=output_threshold)
    result = build_result(_fill_names(findings, source), certificates, suppress=suppress, source=source)
    if failure_threshold or not result["certificates"]:
        exit_with_status_after_output(cmd, result, failure_threshold or "error")
    return result


def _fill_names(findings, source):
    """Remedies with the vault's and the secrets' names when the set came from Key Vault
    (the certificate engine judged bytes, not where they were)."""
    from azext_meshca.rules.catalog import fill_remedy
    if (source or {}).get("kind") != "keyVault":
        return findings
    objects = source.get("objects") or {}
    for item in findings:
        fill_remedy(item, {"vault_name": source.get("vault") or "", "secret_name": objects.get(item.get("object"))})
    return findings


def _plugin_set(cmd, warn_days, cert_dir, named_files, read_key, **live):
    """The set from its one source: a folder, four named files, Key Vault or cacerts.
    Returns (plugin set, API client when read from the cluster)."""
    from azext_meshca.sources import files
    if cert_dir:
        return files.read_cert_dir(cert_dir), None
    if named_files and any(named_files.values()):
        return files.read_named_files(named_files), None
    from azext_meshca.sources.live import read_live_set
    return read_live_set(cmd.cli_ctx, warn_days, read_key=read_key, **live)


def validate_secrets(cmd, *,  # pylint: disable=too-many-locals
                     cert_dir=None, root_cert=None, ca_cert=None, ca_key=None, cert_chain=None, warn_days=None,
                     resource_group_name=None, name=None, in_cluster=False, key_vault_id=None, vault_name=None,
                     root_cert_object_name=None, ca_cert_object_name=None, ca_key_object_name=None,
                     cert_chain_object_name=None, failure_threshold="error", suppress=None,
                     output_threshold=None):
    from azext_meshca.rules import plugin_set
    from azext_meshca.model.snapshot import now_utc
    named_files = {"root-cert": root_cert, "ca-cert": ca_cert, "ca-key": ca_key, "cert-chain": cert_chain}
    found, _ = _plugin_set(cmd, warn_days, cert_dir, named_files, True, resource_group=resource_group_name, name=name,
                           in_cluster=in_cluster, key_vault_id=key_vault_id, vault_name=vault_name,
                           root_cert_object_name=root_cert_object_name, ca_cert_object_name=ca_cert_object_name,
                           ca_key_object_name=ca_key_object_name, cert_chain_object_name=cert_chain_object_name)
    findings, certificates = plugin_set.validate(found, now_utc(), warn_days)
    return _respond(cmd, findings, certificates, found["source"], failure_threshold=failure_threshold,
                    suppress=suppress, output_threshold=output_threshold)


def show_cert(cmd, *,  # pylint: disable=too-many-locals
              file=None, cert_dir=None, warn_days=None, resource_group_name=None, name=None, in_cluster=False,
              key_vault_id=None, vault_name=None, root_cert_object_name=None, ca_cert_object_name=None,
              cert_chain_object_name=None, failure_threshold=None, suppress=None, output_threshold=None):
    """Shows what it was given and exits 0 when it could show it: a certificate that has
    expired is still shown (``fp=$(... -o tsv)`` must work under ``set -e``);
    --failure-threshold opts into diagnose's exit statuses."""
    from azext_meshca.rules import plugin_set
    from azext_meshca.output.tables import certificates_table
    from azext_meshca.model.snapshot import now_utc
    shown = {"failure_threshold": failure_threshold, "suppress": suppress, "output_threshold": output_threshold,
             "table": certificates_table}
    if file:  # one bundle of any kind (PEM, or one DER certificate), not a plug-in set
        from azext_meshca.sources import files
        from azext_meshca.rules.validation import describe_objects
        findings, certificates = describe_objects({"file": files.pem_or_der(files.read_capped(file))},
                                                  now_utc(), sources={"file": file}, warn_days=warn_days)
        return _respond(cmd, findings, certificates, {"kind": "files", "files": {"file": file}}, **shown)
    found, api = _plugin_set(cmd, warn_days, cert_dir, None, False, resource_group=resource_group_name, name=name,
                             in_cluster=in_cluster, key_vault_id=key_vault_id, vault_name=vault_name,
                             root_cert_object_name=root_cert_object_name, ca_cert_object_name=ca_cert_object_name,
                             ca_key_object_name=None, cert_chain_object_name=cert_chain_object_name)
    extra, extra_where, source = {}, {}, found["source"]
    if api is not None:  # the cluster: istiod's trusted root beside cacerts
        from azext_meshca.sources.live import ROOT_CONFIGMAP, cluster_root_objects
        extra = cluster_root_objects(api)
        extra_where = {"istio-ca-root-cert": "configmap " + ROOT_CONFIGMAP}
        source = dict(source, configMap=ROOT_CONFIGMAP)
    findings, certificates = plugin_set.describe(found, now_utc(), warn_days, extra=extra, extra_where=extra_where)
    return _respond(cmd, findings, certificates, source, **shown)


def diagnose(cmd, *,  # pylint: disable=too-many-locals
             resource_group_name=None, name=None, kubeconfig=None, context=None, skip_cluster=False, revision=None,
             warn_days=None, export=None, from_snapshot=None, failure_threshold="error", suppress=None, timeout=None,
             via_run_command=False, output_threshold=None):
    from azext_meshca.verbs import diagnose as engine
    from azext_meshca.output.tables import findings_table, table_for
    from azext_meshca.output.report import exit_with_status_after_output
    table_for(cmd, findings_table, output_threshold=output_threshold)
    if from_snapshot:
        snapshot = engine.load_snapshot(from_snapshot)
    else:
        from azext_meshca.sources.deadline import DEFAULT_TIMEOUT, Deadline, attach, detach
        attach(cmd.cli_ctx, Deadline(timeout or DEFAULT_TIMEOUT))
        try:
            snapshot = engine.collect(cmd.cli_ctx, resource_group_name, name, revisions=revision,
                                      skip_cluster=skip_cluster, kubeconfig=kubeconfig, context=context,
                                      warn_days=warn_days, via_run_command=via_run_command)
        finally:
            detach(cmd.cli_ctx)
        if export:
            engine.export_snapshot(snapshot, export)
    result = engine.analyse(snapshot, warn_days, suppress=suppress)
    exit_with_status_after_output(cmd, result, failure_threshold)
    return result


def fix_access(cmd, resource_group_name, name, *, mode=None, secret_permissions=None, dry_run=False, yes=False,
               wait_for_istiod=False, timeout=None):
    from azext_meshca.verbs.fixaccess import run_fix_access
    return run_fix_access(cmd, resource_group_name, name, mode=mode, secret_permissions=secret_permissions,
                          dry_run=dry_run, yes=yes, wait=wait_for_istiod, timeout=timeout)


def explain(cmd, code):
    """A finding code's page for a reader (like rustc --explain), or with -o json|yaml the
    structured entry."""
    from azure.cli.core.azclierror import InvalidArgumentValueError
    from azext_meshca.rules.catalog import CATALOG
    from azext_meshca.output import pages
    code = str(code or "").strip().upper()
    if code not in CATALOG:
        from azext_meshca._validators import usage_error
        shown = code or "''"
        usage_error(InvalidArgumentValueError(f"{shown} is not a meshca finding code; az aks mesh ca list-checks "
                                              "lists them."))
    if _output_given(cmd):
        return pages.entry_dict(code)
    print(pages.render_text(code), end="")
    return None


def _output_given(cmd):
    """Whether -o/--output was on the command line (azure-cli keeps the option names it
    parsed in cli_ctx.data['safe_params'], azure/cli/core/commands/__init__.py)."""
    given = cmd.cli_ctx.data.get("safe_params") or []
    return "-o" in given or "--output" in given


def list_checks(cmd):  # pylint: disable=unused-argument
    """Every registered rule: its name, the codes it may emit, the inputs it needs."""
    import inspect
    from azext_meshca.rules.checks import ALL_RULES
    return [{"rule": rule.name, "codes": list(rule.codes), "subject": rule.subject, "inputs": list(rule.inputs),
             "summary": (inspect.getdoc(rule.function) or "").split("\n", maxsplit=1)[0]} for rule in ALL_RULES]


def scan(cmd, *, subscriptions=None, management_groups=None, read_secrets=False, warn_days=None,
         failure_threshold=None, suppress=None):
    from azext_meshca.verbs.scan import run_scan
    from azext_meshca.verbs.scan_view import resolve_subscriptions
    if subscriptions:
        subscriptions = resolve_subscriptions(cmd.cli_ctx, subscriptions)
    return run_scan(cmd, subscriptions=subscriptions, management_groups=management_groups,
                    read_secrets=read_secrets, warn_days=30 if warn_days is None else warn_days,
                    failure_threshold=failure_threshold, suppress=suppress)
