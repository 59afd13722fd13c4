"""The local-files source of a plug-in CA set (model/plugin_set.py).

The only module that touches the local file system for certificate input. Bytes are
read with a cap so that a huge file cannot exhaust memory; the validator reports the
oversize object as a finding. ca-key is reduced to key facts (model/keyfacts.py) as soon as
it is read, as the Key Vault and cacerts sources do, so its bytes go no further.
"""

import os

from azure.cli.core.azclierror import FileOperationError

from azext_meshca.model.plugin import PLUGIN_OBJECTS, file_name


def read_capped(path):
    """Read at most one byte past the certificate engine's size cap, so the validator can
    say "too large" without loading a multi-gigabyte file; raise a one-line error if
    the path is not a regular file (a FIFO would block for ever, a device never end)
    or cannot be read."""
    from azext_meshca.model.certs import MAX_OBJECT_BYTES
    from azext_meshca.model.inputs import InputError, read_regular_file
    try:
        return read_regular_file(path, MAX_OBJECT_BYTES)
    except InputError as error:
        raise FileOperationError(str(error)) from None


def _key_reduced(objects):
    """The set with ca-key's bytes replaced by its key facts (None stays None)."""
    from azext_meshca.model.keyfacts import key_facts
    key = objects.get("ca-key")
    objects["ca-key"] = None if key is None else key_facts(key)
    return objects


def read_cert_dir(cert_dir):
    """The tools/certs layout: <object>.pem for each object. A missing file is a
    finding (the set is incomplete), a missing folder is an error."""
    from azext_meshca.model.plugin_set import FILES, new_set
    if not os.path.isdir(cert_dir):
        raise FileOperationError(f"{cert_dir} is not a folder.")
    objects, where = {}, {}
    for name in PLUGIN_OBJECTS:
        path = os.path.join(cert_dir, file_name(name))
        where[name] = "file " + path
        objects[name] = read_capped(path) if os.path.exists(path) else None
    return new_set(FILES, {"kind": "files", "files": where}, _key_reduced(objects), where)


def read_named_files(paths_by_object):
    """Explicit --root-cert/--ca-cert/--ca-key/--cert-chain files: each must be readable."""
    from azext_meshca.model.plugin_set import FILES, new_set
    objects, where = {}, {}
    for name in PLUGIN_OBJECTS:
        path = paths_by_object[name]
        where[name] = "file " + path
        objects[name] = read_capped(path)
    return new_set(FILES, {"kind": "files", "files": where}, _key_reduced(objects), where)


def pem_or_der(data):
    """A file's bytes as PEM: a DER certificate (one ASN.1 SEQUENCE, what
    ``openssl x509 -outform der`` writes) is turned into its PEM form so it is shown like
    any other; anything else is passed on as it is, for the certificate engine to judge."""
    if not data or b"-----BEGIN" in data or data[:1] != b"\x30":
        return data
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    try:
        return x509.load_der_x509_certificate(bytes(data)).public_bytes(Encoding.PEM)
    except ValueError:
        return data
