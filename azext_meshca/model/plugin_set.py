"""The plug-in CA set as every source hands it over, and the one pipeline over it.

validate-secrets and show-cert read a set from one of three sources, and each returns
the same shape (``new_set``):

- local files (``--cert-dir`` or the four named files): sources/files.py;
- Key Vault (the objects a cluster's plug-in config names, or a vault named on the
  command line): sources/live.py;
- the cluster's ``cacerts`` secret (``--in-cluster``): sources/live.py.

``objects`` maps root-cert, ca-cert and cert-chain to PEM bytes and ca-key to its key
facts (model/keyfacts.py): every source reduces the private key at the moment it reads it,
so no private byte travels further. ``None`` means the object is absent.
``findings`` are what the source itself learnt about the objects (a Key Vault secret
is disabled, the operator may not read it); ``unread`` lists the objects such a
finding already accounts for, which the certificate engine must not call "missing".

This module is the shape only (the base layer: sources build it, rules judge it);
the pipeline over it is rules/plugin_set.py.
"""

FILES = "files"
KEY_VAULT = "keyVault"
CLUSTER = "cluster"
KINDS = (FILES, KEY_VAULT, CLUSTER)


def new_set(kind, source, objects, where, *, findings=(), unread=()):
    """One plug-in set. ``source`` is the output's ``source`` (what was read);
    ``where`` maps each object to the words messages use ("file ./x/ca-cert.pem")."""
    assert kind in KINDS, kind
    return {"kind": kind, "source": dict(source), "objects": dict(objects), "where": dict(where),
            "findings": list(findings), "unread": list(unread)}
