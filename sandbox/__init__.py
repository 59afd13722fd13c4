"""meshca's sandbox: loopback simulators of ARM, Key Vault, Entra ID, managed identity and
the Kubernetes API, with scenario files, and a runner for the real ``az``.

It drives the README's main job (``scripts/demo``), the bench (``bench/``) and the tests;
it is not part of the extension's wheel. ``python -m sandbox --list`` lists the scenarios.
"""
