"""Registers ``az aks mesh ca``. ``aks mesh`` belongs to the core CLI: never redeclare it."""

from azext_meshca.output.tables import certificates_table, checks_table, findings_table, fix_access_table, scan_table
from azext_meshca.output.sanitize import output_transform


def load_command_table(self, _):
    # Every result passes the one sanitiser before --query, any format or table transformer.
    with self.command_group('aks mesh ca', is_preview=True, transform=output_transform(self.cli_ctx)) as group:
        group.custom_command('validate-secrets', 'validate_secrets', table_transformer=findings_table)
        group.custom_command('show-cert', 'show_cert', table_transformer=certificates_table)
        group.custom_command('diagnose', 'diagnose', table_transformer=findings_table)
        group.custom_command('fix-access', 'fix_access', table_transformer=fix_access_table)
        group.custom_command('explain', 'explain')
        group.custom_command('list-checks', 'list_checks', table_transformer=checks_table)
        group.custom_command('scan', 'scan', table_transformer=scan_table)
    with self.command_group('aks mesh ca rotate', is_preview=True,
                            transform=output_transform(self.cli_ctx)) as group:
        group.custom_command('plan', 'rotate_plan')
        group.custom_command('advance', 'rotate_advance')
        group.custom_command('status', 'rotate_status')
