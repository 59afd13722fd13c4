"""Arguments for ``az aks mesh ca``. Standard library and azure-cli core only (load time)."""

from azure.cli.core.commands.parameters import get_enum_type

from azext_meshca._validators import (validate_cert_source, validate_diagnose_source, validate_show_cert_source,
                                      validate_suppress, validate_timeout, validate_via_run_command,
                                      validate_warn_days)

WARN_DAYS_DEFAULT = 30

PLUGIN_FILE_ARGS = (
    ('root_cert', '--root-cert', 'File holding the root certificate(s), as root-cert.pem does.'),
    ('ca_cert', '--ca-cert', 'File holding the intermediate certificate istiod signs with, as ca-cert.pem does.'),
    ('ca_key', '--ca-key', 'File holding the private key of that intermediate, as ca-key.pem does.'),
    ('cert_chain', '--cert-chain', 'File holding the intermediate followed by every certificate up to the root, '
                                   'as cert-chain.pem does.'),
)


# diagnose, validate-secrets and scan take the same severities (catalog.SEVERITIES, not
# imported here: the catalog loads only when a command runs).
FAILURE_THRESHOLD_TYPE = get_enum_type(['error', 'warning', 'info'])
# fix-access --mode: auto, then rules/access_model.py PERMISSION_MODELS (fixaccess/plan.py MODES; not imported
# here for the same reason; tests/unit/test_access_one_module.py holds them equal).
FIX_ACCESS_MODES = ['auto', 'policy', 'rbac']
# show-cert shows what it is given and exits 0 unless --failure-threshold asks for a verdict.
FAILURE_DEFAULTS = {'diagnose': 'error', 'validate-secrets': 'error', 'show-cert': None, 'scan': 'error'}
FAILURE_HELP = {
    'diagnose': 'Exit with status 4 when a finding of this severity or above is left (after --suppress).',
    'validate-secrets': 'Exit with status 4 when a finding of this severity or above is left (after --suppress).',
    'show-cert': 'Exit with status 4 when a finding of this severity or above is left (after --suppress). '
                 'Without it show-cert exits 0 whenever it could show what it was given.',
    'scan': 'Exit with status 4 when any cluster has a finding of this severity or above (after --suppress).',
}
# -o table hides findings below this, as istioctl analyze's --output-threshold hides messages
# (istio/istio istioctl/cmd/analyze.go: outputLevel, default Info, decoupled from failureLevel).
OUTPUT_THRESHOLD_DEFAULT = 'warning'


# One argument_context per command, as azure-cli's own _params.py modules are laid out.
def load_arguments(self, _):  # pylint: disable=too-many-statements
    with self.argument_context('aks mesh ca') as context:
        context.argument('warn_days', type=int, options_list=['--warn-days'], default=WARN_DAYS_DEFAULT,
                         validator=validate_warn_days,
                         help='Warn when a certificate expires within this many days.')

    with self.argument_context('aks mesh ca validate-secrets') as context:
        context.argument('cert_dir', options_list=['--cert-dir'], validator=validate_cert_source,
                         help='Folder holding root-cert.pem, ca-cert.pem, ca-key.pem and cert-chain.pem '
                              "(the layout Istio's tools/certs produces).")
        for dest, option, text in PLUGIN_FILE_ARGS:
            context.argument(dest, options_list=[option], arg_group='Files', help=text)

    with self.argument_context('aks mesh ca show-cert') as context:
        context.argument('file', options_list=['--file', '-f'], validator=validate_show_cert_source,
                         help='A file holding one or more certificates: PEM, or one DER certificate.')
        context.argument('cert_dir', options_list=['--cert-dir'],
                         help='Folder holding the plug-in CA files; every certificate in it is shown.')

    with self.argument_context('aks mesh ca fix-access') as context:
        context.argument('resource_group_name', options_list=['--resource-group', '-g'],
                         help='Resource group of the AKS cluster.')
        context.argument('name', options_list=['--name', '-n'], help='Name of the AKS cluster.')
        context.argument('mode', options_list=['--mode'], arg_type=get_enum_type(FIX_ACCESS_MODES),
                         default='auto',
                         help="How to grant: auto follows the vault's permission model: an access policy on an "
                              "access-policy vault, Key Vault Secrets User on an Azure RBAC vault.")
        context.argument('secret_permissions', options_list=['--secret-permissions'], nargs='+',
                         arg_type=get_enum_type(['get', 'list']),
                         help='Secret permissions for the access policy (policy mode). Default: get, all the CSI '
                              'provider needs; "get list" reproduces the troubleshooting article.')
        context.argument('dry_run', options_list=['--dry-run'], action='store_true',
                         help='Print the plan and change nothing.')
        context.argument('yes', options_list=['--yes', '-y'], action='store_true',
                         help='Apply without asking for confirmation.')
        # Not azure-cli's --wait (which waits for a long-running operation): this waits for
        # istiod's pods. The old name stays as a deprecated alias, the azure-cli way.
        context.argument('wait_for_istiod', action='store_true',
                         options_list=['--wait-for-istiod',
                                       context.deprecate(target='--wait', redirect='--wait-for-istiod', hide=True)],
                         help='After the change, wait until the istiod pods leave Init and are Ready.')
        context.argument('timeout', options_list=['--timeout'], type=int,
                         help='Seconds --wait-for-istiod waits for istiod. Default: 300.')

    with self.argument_context('aks mesh ca diagnose') as context:
        context.argument('resource_group_name', options_list=['--resource-group', '-g'],
                         validator=validate_diagnose_source,
                         help='Resource group of the AKS cluster.')
        context.argument('name', options_list=['--name', '-n'], help='Name of the AKS cluster.')
        context.argument('kubeconfig', options_list=['--kubeconfig'], arg_group='Cluster access',
                         help='Reach the API server with this kubeconfig instead of the AKS user credential.')
        context.argument('context', options_list=['--context'], arg_group='Cluster access',
                         help='The kubeconfig context to use.')
        context.argument('skip_cluster', options_list=['--skip-cluster'], action='store_true',
                         arg_group='Cluster access', help='Run the Azure-side checks only.')
        context.argument('via_run_command', options_list=['--via-run-command'], action='store_true',
                         arg_group='Cluster access', validator=validate_via_run_command,
                         help='Read the in-cluster objects through AKS run-command (one managedClusters/runCommand '
                              'request), for a private or IP-restricted API server you cannot reach. This CREATES A '
                              'POD in the cluster that runs kubectl, and needs Microsoft.ContainerService/'
                              'managedClusters/runCommand/action (e.g. Azure Kubernetes Service Cluster Admin Role '
                              'or Contributor; not Azure Kubernetes Service Cluster User Role). Never done unless '
                              'asked.')
        context.argument('revision', options_list=['--revision'], nargs='+',
                         help='Istio revision(s) to check, e.g. asm-1-24. Default: every revision in '
                              'serviceMeshProfile.')
        context.argument('export', options_list=['--export'], arg_group='Snapshot',
                         help='Write the collected snapshot (no private-key bytes) to this JSON file.')
        context.argument('from_snapshot', options_list=['--from-snapshot'], arg_group='Snapshot',
                         help='Analyse a snapshot written by --export, with no network at all.')
        context.argument('timeout', options_list=['--timeout'], type=int,
                         help='Seconds the whole collection may take, retries and Retry-After waits '
                              'included. What it cuts is reported as not checked. Default: 120.')

    with self.argument_context('aks mesh ca explain') as context:
        context.positional('code', help='A finding code, e.g. MCA401.')

    for command in ('diagnose', 'validate-secrets', 'show-cert', 'scan'):
        with self.argument_context('aks mesh ca ' + command) as context:
            context.argument('failure_threshold', options_list=['--failure-threshold'], arg_group='CI',
                             arg_type=FAILURE_THRESHOLD_TYPE, default=FAILURE_DEFAULTS[command],
                             help=FAILURE_HELP[command])
            # 'extend' (argparse, Python 3.8+): --suppress A B, --suppress A --suppress B and
            # --suppress A,B all give one list, as --subscriptions and --secret-permissions take theirs.
            context.argument('suppress', options_list=['--suppress'], nargs='+', action='extend', arg_group='CI',
                             validator=validate_suppress,
                             help='Known findings to set aside: CODE or CODE=object, space- or comma-separated, '
                                  'with * and ? as wildcards (e.g. MCA301 MCA7* MCA718=ca-cert). Suppressed '
                                  'findings are listed in summary.suppressed and do not count for the status or '
                                  'the exit status.')
        if command != 'scan':
            with self.argument_context('aks mesh ca ' + command) as context:
                context.argument('output_threshold', options_list=['--output-threshold'], arg_group='Output',
                                 arg_type=FAILURE_THRESHOLD_TYPE, default=OUTPUT_THRESHOLD_DEFAULT,
                                 help='The least severe findings -o table shows, as istioctl analyze '
                                      '--output-threshold. -o json, yaml and tsv always hold every finding.')

    with self.argument_context('aks mesh ca scan') as context:
        context.argument('subscriptions', options_list=['--subscriptions'], nargs='+',
                         help='Subscriptions to scan, by name or ID, as az account list shows them. Default: '
                              'the one --subscription names, else every subscription your az login knows.')
        context.argument('management_groups', options_list=['--management-groups'], nargs='+',
                         help='Scan the subscriptions under these management groups instead.')
        context.argument('read_secrets', options_list=['--read-secrets'], action='store_true',
                         help='Also read the four Key Vault objects (once per distinct vault and object set, '
                              'with your credentials) and run the certificate checks, for an expiry per cluster.')
        context.argument('timeout', options_list=['--timeout'], type=int, validator=validate_timeout,
                         help='Seconds the whole collection may take (Resource Graph and, with --read-secrets, '
                              'Key Vault), retries and Retry-After waits included. What it cuts is reported as '
                              'not checked. Default: 120.')

    for command in ('validate-secrets', 'show-cert'):
        configmap = '' if command == 'validate-secrets' else ' and the istio-ca-root-cert configmap'
        with self.argument_context('aks mesh ca ' + command) as context:
            context.argument('resource_group_name', options_list=['--resource-group', '-g'], arg_group='Cluster',
                             help="Resource group of the AKS cluster: read the Key Vault objects the cluster's "
                                  "plug-in CA configuration names.")
            context.argument('name', options_list=['--name', '-n'], arg_group='Cluster',
                             help='Name of the AKS cluster.')
            context.argument('in_cluster', options_list=['--in-cluster'], action='store_true', arg_group='Cluster',
                             help="With -g/-n: read what the cluster holds instead (the cacerts secret"
                                  f"{configmap} in aks-istio-system).")
            context.argument('key_vault_id', options_list=['--key-vault-id'], arg_group='Key Vault',
                             help='Resource ID of the vault holding the plug-in CA secrets.')
            context.argument('vault_name', options_list=['--vault-name'], arg_group='Key Vault',
                             help='Name of the vault (searched in the current subscription).')
            for obj in ('root-cert', 'ca-cert', 'ca-key', 'cert-chain'):
                if command == 'show-cert' and obj == 'ca-key':
                    continue
                context.argument(obj.replace('-', '_') + '_object_name', options_list=[f'--{obj}-object-name'],
                                 arg_group='Key Vault',
                                 help=f'Name of the {obj} secret. Default: {obj}.')

    for command in ('plan', 'advance', 'status'):
        with self.argument_context('aks mesh ca rotate ' + command) as context:
            context.argument('resource_group_name', options_list=['--resource-group', '-g'],
                             help='Resource group of the AKS cluster.')
            context.argument('name', options_list=['--name', '-n'], help='Name of the AKS cluster.')
            context.argument('plan_file', options_list=['--plan-file'],
                             help='The rotation plan (JSON, no secret values). plan writes it (default '
                                  './meshca-rotation-plan.json); status works without it, from Key Vault tags.')
            if command != 'status':
                context.argument('new_dir', options_list=['--new-dir'],
                                 help="Folder with the new material as Istio's tools/certs makes it: root-cert.pem, "
                                      "ca-cert.pem, ca-key.pem, cert-chain.pem.")
    with self.argument_context('aks mesh ca rotate advance') as context:
        context.argument('yes', options_list=['--yes', '-y'], action='store_true',
                         help='Write without asking for confirmation.')
        context.argument('dry_run', options_list=['--dry-run'], action='store_true',
                         help='Show what the next stage would write, and write nothing.')
        context.argument('wait', options_list=['--wait'], action='store_true',
                         help="After writing, poll until the stage's gate holds or --timeout passes.")
        context.argument('timeout', options_list=['--timeout'], type=int,
                         help='Seconds --wait polls at most. Default: 1800.')
