"""diagnose: collect a snapshot, run every check on it, shape the result.

Collection is the only I/O; ``analyse`` is pure, which is why ``--from-snapshot``
gives the same findings as the live run it was exported from.
"""

import re
import sys

from azure.cli.core.azclierror import FileOperationError, ValidationError

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


# A real snapshot is tens of kilobytes; 2,000 namespaces' configmaps stay far below this.
MAX_SNAPSHOT_BYTES = 50 * 1024 * 1024


def load_snapshot(path):
    """An exported snapshot: a regular file, at most MAX_SNAPSHOT_BYTES, UTF-8 JSON of
    this meshca's snapshot version and shape. Anything else is one error line."""
    from azext_meshca.model.inputs import InputError, check_size, read_regular_file, utf8_text
    from azext_meshca.model.snapshot import from_json
    try:
        data = read_regular_file(path, MAX_SNAPSHOT_BYTES)
        check_size(data, MAX_SNAPSHOT_BYTES, path)
        text = utf8_text(data, path)
    except InputError as error:
        raise FileOperationError(str(error)) from None
    try:
        return from_json(text)
    except ValueError as error:
        raise ValidationError(f"{path} is not a meshca snapshot: {str(error).splitlines()[0]}") from None


def analyse(snapshot, warn_days, suppress=None, shared=None):
    """Findings and the result dict, from the snapshot alone (``suppress``: report.build_result;
    ``shared``: checks.run_rules', for judging many snapshots)."""
    from azext_meshca.rules.checks import run_rules
    from azext_meshca.output.report import build_result
    findings, certificates, not_run = run_rules(snapshot, warn_days=warn_days, shared=shared)
    name_objects_by_role(findings, snapshot)
    fill_remedies(findings, snapshot)
    result = build_result(findings, certificates, suppress=suppress, target=dict(snapshot.get("target") or {}),
                          collectedAt=snapshot.get("collectedAt"))
    kept = result["findings"]
    result["summary"].update(
        rootCauses=[item["code"] for item in kept
                    if item["severity"] == "error" and item.get("explains") and not item.get("explainedBy")],
        notChecked=[item["code"] for item in kept if item["area"] == "collection"],
        notRun=not_run)
    return result


def name_objects_by_role(findings, snapshot):
    """One object, one name: a finding about a Key Vault secret the plug-in config names
    (MCA802's ``test-ca-cert``, from the provider's log) is about the plug-in object it
    stands for (``ca-cert``), as the certificate findings are; the secret's own name stays
    in ``secretName`` (and in the message). --suppress MCA802=ca-cert then means what it says.
    A secret that stands for two objects keeps its own name."""
    from azext_meshca.model.plugin import secret_names
    plugin = ((snapshot.get("cluster") or {}).get("data") or {}).get("plugin") or {}
    roles = {}
    for obj, name in secret_names(plugin).items():
        if name:
            roles.setdefault(name, []).append(obj)
    for item in findings:
        found = roles.get(item.get("object"))
        if found and len(found) == 1 and found[0] != item["object"]:
            item["secretName"] = item["object"]
            item["object"] = found[0]
    return findings


def fill_remedies(findings, snapshot):
    """Remedies with the names the snapshot knows (the cluster's, the vault's, each
    object's secret): the certificate engine builds findings before it knows them."""
    from azext_meshca.rules.catalog import fill_remedy, render_remedy
    from azext_meshca.rules.checks import build_context
    from azext_meshca.model.plugin import secret_names
    context = build_context(snapshot)
    names = {key: value for key, value in context.items() if isinstance(value, str) and not value.startswith("<")}
    secrets = secret_names(((snapshot.get("cluster") or {}).get("data") or {}).get("plugin"))
    for item in findings:
        known = dict(names, secret_name=item.get("secretName") or secrets.get(item.get("object")) or "")
        if item.get("secretName"):  # renamed by name_objects_by_role: its file is the object's
            render_remedy(item, dict(known, object=item["object"]))
        else:
            fill_remedy(item, known)
    return findings
