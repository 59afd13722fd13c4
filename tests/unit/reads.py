"""A read-recording view of a frozen snapshot, for the declared-inputs meta-test (test only).

Why: a rule's ``@rule(..., inputs=...)`` (azext_meshca/rules/registry.py) is what the runner
checks before running it; a rule that reads an input it does not declare runs on a missing
item and judges nothing, silently. istio records the collections each analyzer reads through
a hook of its source analyzer and compares them with the analyzer's declared ``Metadata.Inputs``
(istio/istio pkg/config/analysis/analyzers/analyzers_test.go, ``CheckMetadataInputs``, with the
``local.CollectionReporterFn`` hook, commit 0098d99f8e43fe516aaac5a84a131b4ce3c8b9d1); this is
that hook for meshca's snapshot.

An input (``cluster``, ``vault``, ``roleAssignments``, ``secrets.<object>``, ``kube.<item>``)
is read when a rule reads anything of its item but ``ok`` and ``error`` (its ``data``, the
``cut`` beside it), and ``keyFacts`` or ``rotation`` (az aks mesh ca rotate's slot) when a rule
reads it. Reading ``ok`` or ``error`` is not
reading the input: the collection rules (MCA9xx) read exactly those, to say
why an input is missing. Everything else (target, options, collectedAt, fleet) is the
snapshot's frame, not a collected input. The view wraps the frozen snapshot
(model/snapshot.py ``freeze``) lazily, so production's freeze is unchanged.
"""

from collections.abc import Mapping

ITEMS = ("cluster", "vault", "roleAssignments")
GROUPS = ("secrets", "kube")
# Inputs read as a whole: ca-key's facts, and rotate's ``rotation`` slot (rules/checks/rotate.py).
WHOLE = ("keyFacts", "rotation")
STATUS = ("ok", "error")


class _View(Mapping):
    """A read-only mapping that logs reads into ``log`` (a set of input names)."""

    def __init__(self, value, log, slot=None):
        self._value = value
        self._log = log
        self._slot = slot

    def __iter__(self):
        return iter(self._value)

    def __len__(self):
        return len(self._value)

    def __contains__(self, key):
        return key in self._value

    def __getitem__(self, key):
        return self._value[key]


class _Item(_View):
    """One collected item: reading anything but its ``ok`` and ``error`` reads the input."""

    def __getitem__(self, key):
        if key not in STATUS:
            self._log.add(self._slot)
        return self._value[key]


class _Group(_View):
    """``secrets`` or ``kube``: each entry is an item of its own."""

    def __getitem__(self, key):
        item = self._value[key]
        return _Item(item, self._log, f"{self._slot}.{key}") if isinstance(item, Mapping) else item


class _Snapshot(_View):
    def __getitem__(self, key):
        value = self._value[key]
        if key in WHOLE and value is not None:
            self._log.add(key)
        if key in ITEMS and isinstance(value, Mapping):
            return _Item(value, self._log, key)
        if key in GROUPS and isinstance(value, Mapping):
            return _Group(value, self._log, key)
        return value


def recording(frozen, log):
    """``frozen`` (a snapshot from model/snapshot.py freeze) as a view that adds to ``log``
    the name of every input read through it."""
    return _Snapshot(frozen, log)
