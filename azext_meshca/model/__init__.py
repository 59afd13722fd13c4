"""The base layer: what every other layer shares, pure and without I/O.

The snapshot's shape (``snapshot``, ``snapshot_schema``), the plug-in CA's vocabulary
(``plugin``), Azure resource IDs and role assignments (``resource_ids``, ``roles``: the one
filter of a principal's assignments on a vault), the in-cluster item table and the add-on's
object names (``incluster``), certificate parsing (``certs``, ``keyfacts``) and the one
gate every input passes (``inputs``). Nothing here imports another layer.
"""
