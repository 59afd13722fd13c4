"""The exported-snapshot source: ``diagnose --from-snapshot`` reads the snapshot a live run
wrote with --export (verbs/diagnose.py export_snapshot), and judges it as that run did.
"""

from azure.cli.core.azclierror import FileOperationError, ValidationError

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
