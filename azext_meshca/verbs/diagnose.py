"""diagnose: collect a snapshot, run every check on it, shape the result.

Collection is the only I/O; ``analyse`` is pure, which is why ``--from-snapshot``
gives the same findings as the live run it was exported from. Shaped like cert-manager's
cmctl commands: ``Options``, ``validate`` (pure), ``run`` (the I/O).
"""

import re
import sys
from collections import namedtuple

from azure.cli.core.azclierror import FileOperationError, ValidationError

from azext_meshca.sources.snapshot_file import load_snapshot

Options = namedtuple("Options", "resource_group name kubeconfig context skip_cluster revision warn_days export "
                                "from_snapshot failure_threshold suppress timeout via_run_command output_threshold")


def validate(options):
    """Nothing beyond what _validators.py checked when the arguments were parsed
    (--revision is checked against the cluster once it is read: check_revisions)."""
    return options


def run(cmd, options):
    """Read the snapshot (collect, or --from-snapshot), export it when asked, judge it, and
    print the result before the exit status that matches it."""
    from azext_meshca.output.tables import findings_table, table_for
    from azext_meshca.output.report import exit_with_status_after_output
    table_for(cmd, findings_table, output_threshold=options.output_threshold)
    if options.from_snapshot:
        snapshot = load_snapshot(options.from_snapshot)
    else:
        from azext_meshca.sources.deadline import run_within
        with run_within(cmd.cli_ctx, options.timeout):
            snapshot = collect(cmd.cli_ctx, options.resource_group, options.name, revisions=options.revision,
                               skip_cluster=options.skip_cluster, kubeconfig=options.kubeconfig,
                               context=options.context, warn_days=options.warn_days,
                               via_run_command=options.via_run_command)
        if options.export:
            export_snapshot(snapshot, options.export)
    result = analyse(snapshot, options.warn_days, suppress=options.suppress)
    exit_with_status_after_output(cmd, result, options.failure_threshold)
    return result


# Anything that looks like a PEM private key must never be written out.
_PRIVATE_KEY_MARKER = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def _progress_reporter(cli_ctx):
    """Progress lines on stderr, only when a person is watching."""
    if not sys.stderr.isatty():
        return None
    controller = cli_ctx.get_progress_controller(det=False)

    def report(message):
        controller.add(message="meshca: " + message)
    report.end = controller.end
    return report


def collect(cli_ctx, resource_group, cluster_name, **options):
    from azext_meshca.sources.snapshot_builder import collect_snapshot
    progress = _progress_reporter(cli_ctx)
    try:
        snapshot = collect_snapshot(cli_ctx, resource_group, cluster_name, progress=progress, **options)
    finally:
        if progress:
            progress.end()
    # collect_snapshot always fills "cluster" (pylint infers new_snapshot's placeholder None)
    if not snapshot["cluster"]["ok"]:  # pylint: disable=unsubscriptable-object
        # Nothing else can be read without the cluster: a one-line error (exit 3 for a
        # name that does not exist, 1 otherwise), not a report that "problems were found".
        from azext_meshca.sources.errors import raise_for_failed_read
        raise_for_failed_read(snapshot["cluster"], f"cluster {resource_group}/{cluster_name}")
    check_revisions(snapshot, options.get("revisions"))
    return snapshot


def check_revisions(snapshot, asked):
    """--revision names revisions the cluster runs: another is an argument mistake (exit 2,
    _validators.usage_error), not MCA810/MCA814 findings about istiod pods that cannot exist.
    A cluster that runs none is left to MCA101."""
    running = list((snapshot["cluster"].get("data") or {}).get("revisions") or [])
    unknown = [revision for revision in asked or () if running and revision not in running]
    if unknown:
        from azure.cli.core.azclierror import InvalidArgumentValueError
        from azext_meshca._validators import usage_error
        usage_error(InvalidArgumentValueError(
            f"--revision: {', '.join(unknown)} is not a revision of this cluster (serviceMeshProfile.istio."
            f"revisions: {', '.join(running)})."))


def export_snapshot(snapshot, path):
    from azext_meshca.model.snapshot import to_json
    text = to_json(snapshot)
    if _PRIVATE_KEY_MARKER.search(text):  # defence in depth: collectors never keep key bytes
        raise ValidationError("Refusing to export: the snapshot would contain private-key material.")
    write_private_file(path, text)


def write_private_file(path, text):
    """Write ``text`` to ``path`` readable by its owner only (0600), never through a symlink.

    Why: a snapshot names the vault, the identity and the cluster's objects, and is written
    where the operator says. ``open(path, "w")`` followed a symlink planted at that path and
    overwrote its target, and created the file 0644. Here a symlink is refused, and the text
    goes to a new file made by mkstemp (0600, O_EXCL) in the same directory, renamed over
    ``path`` once complete: a rename replaces the name itself, so a symlink swapped in at
    the last moment is replaced, not followed, and no reader sees half a file."""
    import os
    import tempfile
    if os.path.islink(path):
        raise FileOperationError(f"Refusing to write {path}: it is a symbolic link. Give the real path.")
    if os.path.isdir(path):
        raise FileOperationError(f"Cannot write {path}: it is a directory.")
    directory = os.path.dirname(os.path.abspath(path))
    temporary = None
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=".meshca-export-", dir=directory)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
        temporary = None
    except OSError as error:
        raise FileOperationError(f"Cannot write {path}: {error.strerror or error}.") from None
    finally:
        if temporary is not None:
            try:
                os.remove(temporary)
            except OSError:
                pass


def analyse(snapshot, warn_days, suppress=None, shared=None, select=None):
    """Findings and the result dict, from the snapshot alone (``suppress``: report.build_result;
    ``shared``, ``select``: the runner's, rules/runner.py run_rules)."""
    from azext_meshca.rules.runner import run_rules
    from azext_meshca.output.report import build_result
    findings, certificates, not_run = run_rules(snapshot, select=select, warn_days=warn_days, shared=shared)
    result = build_result(findings, certificates, suppress=suppress, target=dict(snapshot.get("target") or {}),
                          collectedAt=snapshot.get("collectedAt"))
    kept = result["findings"]
    result["summary"].update(
        rootCauses=[item["code"] for item in kept
                    if item["severity"] == "error" and item.get("explains") and not item.get("explainedBy")],
        notChecked=[item["code"] for item in kept if item["area"] == "collection"],
        notRun=not_run)
    return result
