"""One sanitiser for every renderer: no control character of the data reaches the terminal.

Why: results carry text meshca does not control: object names from the cluster
(SecretProviderClass names), the add-on's objectId, tenants and settings from ARM, and
whole snapshots that are shared between people. A control character in them is an
instruction to the terminal: ESC starts a sequence (OSC 52 writes the clipboard, ``ESC[2J``
clears the screen), U+009B is a one-character CSI that ``-o json`` printed raw (az's JSON
output keeps non-ASCII characters: knack ``output.format_json``, ``ensure_ascii=False``).

``clean`` replaces every C0 control (U+0000-U+001F), DEL (U+007F) and C1 control
(U+0080-U+009F) in every string of a result, keys included, with a visible ``\\xNN``.
Newline is kept only where the format escapes it (json, yaml); table and tsv get it
replaced as well, since there it would break the row. Loaded with the command table:
standard library only.

commands.py installs it as the command group's ``transform``, which azure-cli applies to
every command's result before ``--query`` and before any output format or table transformer
(azure-cli src/azure-cli-core/azure/cli/core/commands/__init__.py, ``_run_job``).
"""

import re

_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROLS_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")
# Formats that escape a newline inside a string (az's -o json, jsonc, yaml, yamlc).
ESCAPING_FORMATS = ("json", "jsonc", "yaml", "yamlc")


def _visible(match):
    return f"\\x{ord(match.group(0)):02x}"


def clean_text(text, keep_newline=False):
    """``text`` with each control character written as ``\\xNN``.

    Every character the patterns match is one ``str.isprintable`` refuses (C0, DEL and C1
    are category Cc), so a printable string is returned as it is, without the regex: scan's
    5,000 rows hold some 400,000 strings, nearly all plain (#25)."""
    if text.isprintable():
        return text
    pattern = _CONTROLS_BUT_NEWLINE if keep_newline else _CONTROLS
    return pattern.sub(_visible, text)


def clean(value, keep_newline=False):
    """``value`` (JSON-shaped: dicts, lists, scalars) with every string cleaned, tuples as lists.

    What needs no change is not copied: a dict or list in which nothing changed is returned
    as it is, so a result without a control character (nearly every one) is passed on
    without a second copy of it. scan's 5,000 rows hold some 230,000 values (#25); a copy of
    them was about 8 MiB of az's peak memory (bench/scan_speed.py). A printable str is
    kept without a call (the test clean_text makes first, written out)."""
    if isinstance(value, str):
        return clean_text(value, keep_newline)
    if isinstance(value, dict):
        return _clean_dict(value, keep_newline)
    if isinstance(value, (list, tuple)):
        items = [item if isinstance(item, str) and item.isprintable() else clean(item, keep_newline) for item in value]
        unchanged = isinstance(value, list) and all(new is old for new, old in zip(items, value))
        return value if unchanged else items
    return value


def _clean_dict(value, keep_newline):
    """clean for one dict: the same dict when no key or value changed, else a new one."""
    pairs = [(key if isinstance(key, str) and key.isprintable() else clean(key, keep_newline),
              item if isinstance(item, str) and item.isprintable() else clean(item, keep_newline))
             for key, item in value.items()]
    if all(new_key is key and new_item is item for (new_key, new_item), (key, item) in zip(pairs, value.items())):
        return value
    return dict(pairs)


def output_transform(cli_ctx):
    """The ``transform`` for ``cli_ctx``'s commands: clean the result for the output format
    the invocation asked for (knack records it as ``invocation.data['output']``)."""
    def transform(result):
        invocation = getattr(cli_ctx, "invocation", None)
        output = (getattr(invocation, "data", None) or {}).get("output")
        return clean(result, keep_newline=output in ESCAPING_FORMATS)
    return transform
