"""``az aks mesh ca explain CODE``: a finding code's page for a reader (like rustc --explain),
or with -o json|yaml the structured entry.

Shaped like cert-manager's cmctl commands: ``Options``, ``validate`` (pure), ``run`` (I/O).
"""

from collections import namedtuple

Options = namedtuple("Options", "code structured")


def validate(options):
    """The code, upper-cased; one usage line (exit 2) for one meshca does not have."""
    from azext_meshca.rules.catalog import CATALOG
    code = str(options.code or "").strip().upper()
    if code not in CATALOG:
        from azure.cli.core.azclierror import InvalidArgumentValueError
        from azext_meshca._validators import usage_error
        shown = code or "''"
        usage_error(InvalidArgumentValueError(f"{shown} is not a meshca finding code; az aks mesh ca list-checks "
                                              "lists them."))
    return options._replace(code=code)


def output_given(cmd):
    """Whether -o/--output was on the command line (azure-cli keeps the option names it
    parsed in cli_ctx.data['safe_params'], azure/cli/core/commands/__init__.py)."""
    given = cmd.cli_ctx.data.get("safe_params") or []
    return "-o" in given or "--output" in given


def run(options):
    """The structured entry to return, or the page printed (and None returned)."""
    from azext_meshca.output import pages
    if options.structured:
        return pages.entry_dict(options.code)
    print(pages.render_text(options.code), end="")
    return None
