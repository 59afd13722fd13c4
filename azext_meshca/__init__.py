"""meshca: diagnose and fix the AKS Istio add-on's plug-in CA (``az aks mesh ca``).

Load time matters: ``az aks mesh ca -h`` must stay as fast as ``az aks mesh -h``.
This module and everything it imports at load (``_help``, ``commands``, ``_params``,
``_format``, ``_validators``) use only azure-cli core and the standard library; the
SDKs, ``cryptography`` and ``kubernetes`` are imported inside the command functions.
"""

from azure.cli.core import AzCommandsLoader

from azext_meshca._help import helps  # pylint: disable=unused-import


class MeshcaCommandsLoader(AzCommandsLoader):

    def __init__(self, cli_ctx=None):
        from azure.cli.core.commands import CliCommandType
        meshca_custom = CliCommandType(operations_tmpl='azext_meshca.custom#{}')
        super().__init__(cli_ctx=cli_ctx, custom_command_type=meshca_custom)

    def load_command_table(self, args):
        from azext_meshca.commands import load_command_table
        load_command_table(self, args)
        return self.command_table

    def load_arguments(self, command):
        from azext_meshca._params import load_arguments
        load_arguments(self, command)


COMMAND_LOADER_CLS = MeshcaCommandsLoader
