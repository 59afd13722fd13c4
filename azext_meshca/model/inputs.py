"""The one gate every input passes before meshca reads it: type, size and encoding.

Input enters from local files (validate-secrets, show-cert, --from-snapshot) and from
services (Key Vault values, ARM bodies, pod logs, configmaps and secrets). Each entry
point calls one of these helpers with its own cap, so robustness is by construction:
nothing is parsed before its type is known and its size is bounded.

Stdlib only and free of azure-cli imports: callers turn ``InputError`` into the az
error (or the collection finding) that fits where they are.
"""

import os
import stat


class InputError(ValueError):
    """One line, safe to print: says what was found, never echoes the input's bytes."""


# What os.stat says a path is, in words a user recognises.
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def kind_of(mode):
    """'a named pipe (FIFO)', 'a folder', ... for a non-regular st_mode; None for a file."""
    if stat.S_ISREG(mode):
        return None
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def read_regular_file(path, cap):
    """At most ``cap + 1`` bytes of the regular file at ``path`` (one past the cap, so
    the caller can say "too large" without loading more).

    Why stat first and O_NONBLOCK: opening a FIFO for reading blocks until a writer
    comes, which is a hang for ever; a device may never end. The type is checked
    before the open, the open cannot block, and fstat re-checks the opened file in
    case the path was swapped in between.
    """
    try:
        found = kind_of(os.stat(path).st_mode)
    except FileNotFoundError:
        raise InputError(f"{path} does not exist.") from None
    except OSError as error:
        raise InputError(f"Cannot read {path}: {error.strerror or error}.") from None
    if found:
        raise InputError(f"{path} is {found}, not a regular file.")
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise InputError(f"Cannot read {path}: {error.strerror or error}.") from None
    with os.fdopen(descriptor, "rb") as handle:
        found = kind_of(os.fstat(handle.fileno()).st_mode)
        if found:
            raise InputError(f"{path} is {found}, not a regular file.")
        try:
            return handle.read(cap + 1)
        except OSError as error:
            raise InputError(f"Cannot read {path}: {error.strerror or error}.") from None


def check_size(data, cap, what):
    """Refuse ``data`` (bytes or text) longer than ``cap``, naming ``what``."""
    if data is not None and len(data) > cap:
        raise InputError(f"{what} is larger than {cap} bytes.")
    return data


def utf8_text(data, what):
    """Bytes -> text, strictly: invalid UTF-8 is an error that says where, not a guess."""
    if isinstance(data, str):
        return data
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{what} is not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset "
                         f"{error.start}).") from None


def capped_text(value, cap, what):
    """Service text (a log, a configmap value): None stays None, anything else is cut to
    ``cap`` characters. Logs and configmaps are evidence, so a cut is better than a refusal;
    callers that must judge the whole value use ``check_size`` instead."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{what} is a {type(value).__name__}, not text.")
    return value[:cap]


def as_mapping(value, what):
    """A JSON object from a service, or InputError naming what was expected."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{what} is a {_json_type(value)}, not an object.")
    return value


def as_list(value, what):
    """A JSON array from a service (None counts as empty), or InputError."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{what} is a {_json_type(value)}, not a list.")
    return value


def _json_type(value):
    names = {dict: "object", list: "list", str: "string", bool: "boolean", int: "number",
             float: "number", type(None): "null"}
    return names.get(type(value), type(value).__name__)
