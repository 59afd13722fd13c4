"""Rules: pure functions from a snapshot to findings, and everything they judge with.

``registry`` (how a rule declares itself), ``checks`` (every rule, one module per area,
and the one runner), ``catalog`` (every code's facts), the certificate rules
(``validation``), the CA's path (``capath``), the access model, log parsing and the
consumer models (``consumers``). Kept light: the command table imports ``catalog``."""
