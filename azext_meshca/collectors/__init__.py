"""Collectors: the only code in diagnose that does I/O. Each one returns a
``snapshot.collected(...)`` item and never raises: a failure becomes evidence."""
