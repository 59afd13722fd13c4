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
  4  problems found: a finding at or above --failure-threshold (default error)
  5  nothing at or above the threshold, but some checks could not run (area "collection")

CI controls (diagnose, validate-secrets): ``--failure-threshold error|warning|info``
moves the bar for exit 4; ``--suppress CODE[=object] ...`` (wildcards, commas) takes known findings out of
``findings`` into ``summary.suppressed`` (never dropped), and status and exit status
follow what is left. Collection findings ("could not check") keep exit 5 whatever
the threshold: they say nothing was judged, not that something is wrong.
"""

from azext_meshca.rules.catalog import ERROR, INFO, WARNING

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


def at_or_above(severity, threshold):
    """True when ``severity`` is ``threshold`` or more severe (error > warning > info)."""
    return _SEVERITY_RANK[severity] <= _SEVERITY_RANK[threshold]


def exit_status(result, threshold=ERROR):
    """The process exit status for a result: 4 when a finding (other than "could not
    check") is at or above ``threshold``, else 5 when incomplete, else 0."""
    if result["status"] == "failed" or any(
            item["area"] != "collection" and at_or_above(item["severity"], threshold)
            for item in result.get("findings") or ()):
        return EXIT_PROBLEMS
    return EXIT_INCOMPLETE if result["status"] == "incomplete" else EXIT_OK


def suppression_values(values):
    """--suppress's values as one flat list: each may be a list (a repeated flag or
    space-separated values) and may hold several comma-separated entries."""
    flat = []
    for value in values or ():
        for text in value if isinstance(value, (list, tuple)) else [value]:
            flat += [part.strip() for part in str(text).split(",") if part.strip()]
    return flat


def parse_suppression(text):
    """'MCA301', 'MCA7*' or 'MCA718=ca-cert' -> (code pattern, object pattern or None);
    ValueError when malformed. ``*`` and ``?`` are wildcards, as in a shell."""
    code, _, obj = str(text).partition("=")
    code = code.strip().upper()
    digits = code[3:]
    wild = any(char in digits for char in "*?")
    if not (code.startswith("MCA") and all(char.isdigit() or char in "*?" for char in digits)
            and (len(digits) == 3 or (wild and len(digits) <= 3))):
        raise ValueError(f"'{text}' is not CODE or CODE=object (for example MCA301, MCA7* or MCA718=ca-cert)")
    return code, (obj.strip() or None) if "=" in str(text) else None


def code_matches(value, pattern):
    """Whether ``value`` matches a suppression pattern (exactly, or by its * and ? wildcards)."""
    from fnmatch import fnmatchcase
    return fnmatchcase(str(value), pattern)


def is_suppressed(item, suppressions):
    """Whether a finding matches one of the (code, object or None) suppressions."""
    return any(code_matches(item["code"], code) and (obj is None or code_matches(str(item.get("object") or ""), obj))
               for code, obj in suppressions)


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


def split_suppressed(findings, suppress=None):
    """(kept, suppressed) for ``--suppress`` values (CODE or CODE=object)."""
    suppressions = [parse_suppression(text) for text in suppression_values(suppress)]
    kept = [item for item in findings if not is_suppressed(item, suppressions)]
    return kept, [item for item in findings if is_suppressed(item, suppressions)]


def build_result(findings, certificates=None, suppress=None, **extra):
    """The result dict; suppressed findings go to ``summary.suppressed``, and the
    status is judged on what is left."""
    findings, suppressed = split_suppressed(sort_findings(findings), suppress)
    result = {"status": overall_status(findings)}
    result.update(extra)
    summary = dict(result.get("summary") or {})
    summary.update(counts(findings))
    summary["suppressed"] = suppressed
    result["summary"] = summary
    result["findings"] = findings
    result["certificates"] = list(certificates or [])
    return result


def counts(findings):
    return {"errors": sum(1 for item in findings if item["severity"] == ERROR),
            "warnings": sum(1 for item in findings if item["severity"] == WARNING),
            "infos": sum(1 for item in findings if item["severity"] == INFO)}


def exit_with_status_after_output(cmd, result, threshold=ERROR):
    """Print the result as usual, then exit with the status it calls for."""
    exit_after_output(cmd, exit_status(result, threshold))


def skip_global_transforms(cmd):
    """Spare this invocation's result az's global transforms, which do nothing to it.

    azure-cli walks every command's result twice after ``todict``
    (azure/cli/core/commands/transform.py, registered on EVENT_INVOKER_TRANSFORM_RESULT):
    ``_add_resource_group`` adds ``resourceGroup`` to each object with an ``id`` and no resource
    group, and ``_add_x509_hex`` adds ``x509ThumbprintHex`` beside each ``x509Thumbprint``. A
    scan result holds neither key (tests/unit/test_scan.py checks a judged fleet), so both walks
    leave its 5,000 rows as they are. ``unregister_global_transforms`` is azure-cli's own way to
    skip them (``az rest`` calls it, azure/cli/command_modules/util/custom.py ``rest_call``);
    the invocation's end registers them again (when_invocation_ends).
    """
    from azure.cli.core.commands.transform import register_global_transforms, unregister_global_transforms
    cli_ctx = cmd.cli_ctx
    unregister_global_transforms(cli_ctx)
    when_invocation_ends(cli_ctx, lambda: register_global_transforms(cli_ctx))


def hand_over_as_is(cmd):
    """Let az take this invocation's result as it stands when it is plain JSON, without
    azure-cli's ``todict`` walk of it.

    azure-cli's invoker passes every command's result, after the command's ``transform``,
    through ``todict`` (azure/cli/core/commands/__init__.py ``_run_job``, which imports it from
    azure/cli/core/util.py at the call, in every release meshca supports), to turn SDK models
    into dicts. On plain JSON (dicts, lists, str, int, float, bool, None) that walk only
    rebuilds an equal copy, at a few calls per value: for scan's 5,000 rows some 230,000
    values and about 0.4 s of CPU (bench/scan_speed.py, #25). azure-cli has no way for a
    command to say its result is plain already, so this makes the next ``todict`` call, the
    invoker's on the transformed result (output/sanitize.py ``output_transform``), return a
    value that is_plain_json finds plain as it is, and anything else as az's own would.
    ``todict`` is az's own again after that one call, or when the invocation ends
    (when_invocation_ends) if no call came."""
    from azure.cli.core import util as az_util
    azure_todict = az_util.todict

    def restore():
        if az_util.todict is todict_once:
            az_util.todict = azure_todict

    def todict_once(obj, post_processor=None):
        restore()
        return obj if is_plain_json(obj) else azure_todict(obj, post_processor)

    az_util.todict = todict_once
    when_invocation_ends(cmd.cli_ctx, restore)


_JSON_SCALARS = frozenset((str, int, float, bool, type(None)))


def is_plain_json(value):
    """Whether ``value`` is built of dicts with str keys, lists and JSON scalars only (their
    exact types, not subclasses: an SDK model or an Enum is never taken for one), which
    azure-cli's ``todict`` would return unchanged. One pass without a call per value: it stands
    in for that walk (hand_over_as_is)."""
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is dict:
            if not all(type(key) is str for key in item):   # pylint: disable=unidiomatic-typecheck
                return False
            pending.extend(child for child in item.values() if type(child) not in _JSON_SCALARS)
        elif kind is list:
            pending.extend(child for child in item if type(child) not in _JSON_SCALARS)
        elif kind not in _JSON_SCALARS:
            return False
    return True


def when_invocation_ends(cli_ctx, undo):
    """Call ``undo()`` once, when this az invocation ends, and forget it.

    EVENT_CLI_POST_EXECUTE is raised in knack's ``CLI.invoke`` ``finally``, so ``undo`` runs
    whether the command succeeded, failed or exited; the handler removes itself, so a CLI
    object that runs several commands (``az interactive``, azure-cli-testsdk,
    ``get_default_cli()``) does not carry one invocation's change into the next. knack's own
    ``--query`` filter removes its handler the same way (knack/query.py)."""
    from knack.events import EVENT_CLI_POST_EXECUTE

    def _undo(_cli_ctx, **_kwargs):
        cli_ctx.unregister_event(EVENT_CLI_POST_EXECUTE, _undo)
        undo()

    cli_ctx.register_event(EVENT_CLI_POST_EXECUTE, _undo)


def exit_after_output(cmd, code):
    """Let az print this invocation's result, then exit with ``code`` (nothing to do for 0).

    azure-cli's invoker builds its CommandResultItem with exit status 0 and knack reads it
    before printing (knack/cli.py ``CLI.invoke``), so the only way to print a result and
    still exit non-zero is a SystemExit from EVENT_CLI_SUCCESSFUL_EXECUTE, which knack raises
    after the output is written; azure/cli/__main__.py passes its code through.

    The handler belongs to this invocation only: it removes itself when it fires, and the
    invocation's end removes it even when printing failed (when_invocation_ends). Otherwise a
    CLI object that runs several commands would exit every later command with ``code``.
    """
    if code == EXIT_OK:
        return
    from knack.events import EVENT_CLI_SUCCESSFUL_EXECUTE
    cli_ctx = cmd.cli_ctx

    def _exit(_cli_ctx, **_kwargs):
        cli_ctx.unregister_event(EVENT_CLI_SUCCESSFUL_EXECUTE, _exit)
        raise SystemExit(code)

    cli_ctx.register_event(EVENT_CLI_SUCCESSFUL_EXECUTE, _exit)
    when_invocation_ends(cli_ctx, lambda: cli_ctx.unregister_event(EVENT_CLI_SUCCESSFUL_EXECUTE, _exit))
