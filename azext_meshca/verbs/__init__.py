"""One module (or package) per command, shaped like cert-manager's cmctl: the options,
their validation, and ``run``, the only part that does I/O (through ``sources``)."""
