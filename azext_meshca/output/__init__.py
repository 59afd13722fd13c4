"""Output: the result contract (``report``), table shapes (``tables``), the one sanitiser
and the per-code pages. Kept light: the command table imports ``tables`` and ``sanitize``."""
