"""``az aks mesh ca list-checks``: every registered rule, its codes, the inputs it needs and
the optional inputs it also reads when they were collected (rules/registry.py ``optional``).

Shaped like cert-manager's cmctl commands: ``Options``, ``validate`` (pure), ``run``.
"""

import inspect
from collections import namedtuple

Options = namedtuple("Options", "")


def validate(options):
    return options


def run(_options):
    from azext_meshca.rules.checks import ALL_RULES
    return [{"rule": rule.name, "codes": list(rule.codes), "subject": rule.subject, "inputs": list(rule.inputs),
             "optionalInputs": list(rule.optional),
             "summary": (inspect.getdoc(rule.function) or "").split("\n", maxsplit=1)[0]} for rule in ALL_RULES]
