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
    """Print the result as usual, then exit with the status it calls for.

    knack fires EVENT_CLI_SUCCESSFUL_EXECUTE after the output is written; raising
    SystemExit there keeps the printed result and sets the exit status (FACTS.md §6).
    """
    exit_after_output(cmd, exit_status(result))


def exit_after_output(cmd, code):
    """Let az print the command's result, then exit with ``code`` (nothing to do for 0)."""
    if code == EXIT_OK:
        return
    from knack.events import EVENT_CLI_SUCCESSFUL_EXECUTE

    def _exit(_cli_ctx, **_kwargs):
        raise SystemExit(code)

    cmd.cli_ctx.register_event(EVENT_CLI_SUCCESSFUL_EXECUTE, _exit)
