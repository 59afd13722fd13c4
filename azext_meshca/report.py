"""The output contract every meshca command keeps, and its exit statuses.

A result is a plain dict (camelCase keys, so ``--query`` works unchanged)::

    {"status": "passed" | "warnings" | "failed" | "incomplete",
     "findings": [{"code", "severity", "area", "object", "title",
                   "message", "remedy", "evidence", ...}],
     "certificates": [...],
     ...command-specific keys}

Exit statuses (documented in README.md):
  0  no error-level finding ("passed" or "warnings")
  1  the command could not run: unreadable input, invalid argument values, Azure errors
  2  the command line does not parse (azure-cli's own status for usage errors)
  3  a named Azure resource was not found (azure-cli's own status)
  4  error-level findings: problems found
  5  no error-level finding, but some checks could not run (area "collection")
"""

from azext_meshca.catalog import ERROR, INFO, WARNING

EXIT_OK = 0
EXIT_PROBLEMS = 4
EXIT_INCOMPLETE = 5

_SEVERITY_RANK = {ERROR: 0, WARNING: 1, INFO: 2}


def overall_status(findings):
    """failed > incomplete > warnings > passed."""
    severities = {item["severity"] for item in findings}
    if ERROR in severities:
        return "failed"
    if any(item["area"] == "collection" and item["severity"] != INFO for item in findings):
        return "incomplete"
    if WARNING in severities:
        return "warnings"
    return "passed"


def exit_status(result):
    """The process exit status that matches a result's status."""
    return {"failed": EXIT_PROBLEMS, "incomplete": EXIT_INCOMPLETE}.get(result["status"], EXIT_OK)


def _rank(item):
    """A cause ranks with the errors it explains, even when it is itself a warning
    (a firewall that denies by default explains a failed mount)."""
    if item.get("explains"):
        return _SEVERITY_RANK[ERROR]
    return _SEVERITY_RANK[item["severity"]]


def sort_findings(findings):
    """Most severe first; the order checks produced them is kept within a rank,
    so a root cause reported before its symptoms stays before them."""
    return sorted(findings, key=_rank)


def build_result(findings, certificates=None, **extra):
    findings = sort_findings(findings)
    result = {"status": overall_status(findings)}
    result.update(extra)
    result["findings"] = findings
    result["certificates"] = list(certificates or [])
    return result


def exit_with_status_after_output(cmd, result):
    """Print the result as usual, then exit with the status it calls for."""
    exit_after_output(cmd, exit_status(result))


def exit_after_output(cmd, code):
    """Let az print this invocation's result, then exit with ``code`` (nothing to do for 0).

    azure-cli's invoker builds its CommandResultItem with exit status 0 and knack reads it
    before printing (knack/cli.py ``CLI.invoke``), so the only way to print a result and
    still exit non-zero is a SystemExit from EVENT_CLI_SUCCESSFUL_EXECUTE, which knack raises
    after the output is written; azure/cli/__main__.py passes its code through.

    The handler belongs to this invocation only: it removes itself when it fires, and an
    EVENT_CLI_POST_EXECUTE handler (raised in ``invoke``'s ``finally``) removes both even when
    printing failed. Otherwise a CLI object that runs several commands (``az interactive``,
    azure-cli-testsdk, ``get_default_cli()``) would exit every later command with ``code``.
    knack's own ``--query`` filter removes its handler the same way (knack/query.py).
    """
    if code == EXIT_OK:
        return
    from knack.events import EVENT_CLI_POST_EXECUTE, EVENT_CLI_SUCCESSFUL_EXECUTE
    cli_ctx = cmd.cli_ctx

    def _forget():
        cli_ctx.unregister_event(EVENT_CLI_SUCCESSFUL_EXECUTE, _exit)
        cli_ctx.unregister_event(EVENT_CLI_POST_EXECUTE, _forget_after_invoke)

    def _exit(_cli_ctx, **_kwargs):
        _forget()
        raise SystemExit(code)

    def _forget_after_invoke(_cli_ctx, **_kwargs):
        _forget()

    cli_ctx.register_event(EVENT_CLI_SUCCESSFUL_EXECUTE, _exit)
    cli_ctx.register_event(EVENT_CLI_POST_EXECUTE, _forget_after_invoke)
