"""Reading plug-in CA objects from local files.

The only module that touches the local file system for certificate input. Bytes are
read with a cap so that a huge file cannot exhaust memory; the validator reports the
oversize object as a finding.
"""

import os

from azure.cli.core.azclierror import FileOperationError

from azext_meshca.plugin import PLUGIN_OBJECTS, file_name



def read_capped(path):
    """Read at most one byte past the certificate engine's size cap, so the validator can
    say "too large" without loading a multi-gigabyte file; raise a one-line error if
    the path is not a regular file (a FIFO would block for ever, a device never end)
    or cannot be read."""
    from azext_meshca.certs import MAX_OBJECT_BYTES
    from azext_meshca.inputs import InputError, read_regular_file
    try:
        return read_regular_file(path, MAX_OBJECT_BYTES)
    except InputError as error:
        raise FileOperationError(str(error)) from None


def read_cert_dir(cert_dir):
    """The tools/certs layout: <object>.pem for each object. A missing file is a
    finding (the set is incomplete), a missing folder is an error."""
    if not os.path.isdir(cert_dir):
        raise FileOperationError("{} is not a folder.".format(cert_dir))
    objects, sources = {}, {}
    for name in PLUGIN_OBJECTS:
        path = os.path.join(cert_dir, file_name(name))
        sources[name] = "file " + path
        objects[name] = read_capped(path) if os.path.exists(path) else None
    return objects, sources


def read_named_files(paths_by_object):
    """Explicit --root-cert/--ca-cert/--ca-key/--cert-chain files: each must be readable."""
    objects, sources = {}, {}
    for name in PLUGIN_OBJECTS:
        path = paths_by_object[name]
        sources[name] = "file " + path
        objects[name] = read_capped(path)
    return objects, sources
