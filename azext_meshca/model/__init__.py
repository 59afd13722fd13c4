"""The base layer: what every other layer shares, pure and without I/O.

The snapshot's shape (``snapshot``, ``snapshot_schema``), the plug-in CA's vocabulary
(``plugin``), Azure resource IDs, certificate parsing (``certs``, ``keyfacts``) and the
one gate every input passes (``inputs``). Nothing here imports another layer.
"""
