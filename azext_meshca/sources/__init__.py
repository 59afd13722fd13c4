"""Sources: the only code that does I/O. Each one reads Azure, Key Vault, the cluster or
local files and hands over plain data (a snapshot, or a plug-in set); a failure becomes
evidence (``snapshot.collected(...)``), never an exception. Sources never judge: that is
``rules/``'s work."""
