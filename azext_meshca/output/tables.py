"""Table shapes for ``-o table``. Loaded with the command table: standard library only.

The findings table leads with the fix, as ``istioctl analyze`` prints one line per
message with what to do (istio/istio.io content/en/docs/reference/config/analysis/
message-format) and ``az aks check-acr`` one line per check with its verdict, and does
better for a cause that has symptoms: one row per root cause, holding its title, the
fact that decides the fix (``detail``), the fix itself and the symptoms it explains,
wrapped (never cut) to fit a 120-column terminal. ``-o json`` keeps every finding as it
is; the table only chooses what to show.
"""

import functools
import textwrap
from collections import OrderedDict

# 8 ("Severity") + 2 + 6 ("MCA401") + 2 + TEXT_WIDTH: every line of the table fits in 120 columns.
TEXT_WIDTH = 100
DEFAULT_OUTPUT_THRESHOLD = "warning"
_RANK = {"error": 0, "warning": 1, "info": 2}


def wrap(lines, width=TEXT_WIDTH):
    """Lines folded at spaces to ``width``; a word longer than that is broken, never cut."""
    folded = []
    for line in lines:
        if line:
            folded += textwrap.wrap(" ".join(str(line).split()), width, break_on_hyphens=False) or [""]
    return "\n".join(folded)


def _shown_rank(item):
    """A cause counts with the errors it explains, even when it is itself a warning
    (the order report.sort_findings gives)."""
    return _RANK["error"] if item.get("explains") else _RANK.get(item["severity"], 2)


def _fact(item):
    """What the finding concerns and the value that decides the fix (``detail``)."""
    obj, detail = item.get("object") or "", item.get("detail") or ""
    if obj and detail and obj not in detail:
        return f"{obj}: {detail}"
    return detail or obj


def _symptom_line(symptoms):
    parts = [f"{item['code']} {item['title']} ({_fact(item)})" if _fact(item) else
             f"{item['code']} {item['title']}" for item in symptoms]
    return f"Explains {len(symptoms)}: " + "; ".join(parts) if parts else ""


def _group(findings):
    """[(finding shown as a row, [symptoms grouped under it])]: a symptom goes under the
    root of the first of its causes that is present (following a symptom explained by a
    symptom, MCA801 by MCA812 by MCA710, to MCA710), and has a row of its own when none is."""
    by_code = {item["code"]: item for item in findings}

    def root(item, seen=()):
        for code in item.get("explainedBy") or ():
            if code in by_code and code not in seen:
                return root(by_code[code], seen + (item["code"],))
        return item["code"]

    rows, placed = [], {}
    for item in findings:
        top = root(item)
        if top == item["code"]:
            rows.append(item)
        else:
            placed.setdefault(top, []).append(item)
    return [(item, placed.pop(item["code"], [])) for item in rows]


def finding_rows(result, output_threshold=DEFAULT_OUTPUT_THRESHOLD):
    """(rows, hidden): the findings table's rows, and how many findings the threshold hid."""
    limit = _RANK.get(output_threshold or DEFAULT_OUTPUT_THRESHOLD, 1)
    rows, hidden = [], 0
    for item, symptoms in _group(result.get("findings") or []):
        if _shown_rank(item) > limit:
            hidden += 1
            continue
        remedy = item.get("remedy") or ""
        text = wrap([item["title"], _fact(item), f"Fix: {remedy}" if remedy else "", _symptom_line(symptoms)])
        rows.append(OrderedDict([("Severity", item["severity"]), ("Code", item["code"]),
                                 ("Root cause and fix", text)]))
    return rows, hidden


def findings_table(result, output_threshold=DEFAULT_OUTPUT_THRESHOLD):
    """One row per root cause with its fix and the symptoms it explains; findings below
    ``output_threshold`` (infos, by default) are counted in a last row, not shown."""
    rows, hidden = finding_rows(result, output_threshold)
    notes = []
    if not rows:
        notes.append(f"No findings at or above {output_threshold or DEFAULT_OUTPUT_THRESHOLD}: "
                     f"{result.get('status', '')}.")
    if hidden:
        notes.append(f"{hidden} finding(s) below {output_threshold} not shown: --output-threshold info shows "
                     "them, -o json has every finding.")
    suppressed = (result.get("summary") or {}).get("suppressed") or []
    if suppressed:
        notes.append(f"{len(suppressed)} suppressed: " + ", ".join(item["code"] for item in suppressed) + ".")
    if notes:  # in brackets: tabulate drops an empty row, so nothing else sets them off
        rows.append(OrderedDict([("Severity", ""), ("Code", ""),
                                 ("Root cause and fix", wrap(["[" + " ".join(notes) + "]"]))]))
    return rows


def table_for(cmd, transformer, **options):
    """Use ``transformer`` with this invocation's ``options`` (e.g. --output-threshold) for
    ``-o table``. azure-cli reads the transformer from the command table after the handler
    returns (azure/cli/core/commands/__init__.py, AzCliCommandInvoker.execute), so the
    handler sets it there, afresh on every invocation."""
    try:
        command = cmd.cli_ctx.invocation.commands_loader.command_table[cmd.name]
    except (AttributeError, KeyError):
        return
    command.table_transformer = functools.partial(transformer, **options)


def checks_table(rules):
    """One row per rule: its name, its codes, what it reads."""
    return [OrderedDict([("Rule", item["rule"]), ("Codes", " ".join(item["codes"])),
                         ("Inputs", ", ".join(item["inputs"]) or "-"), ("Subject", item["subject"])])
            for item in rules]


def _groups(certificates):
    """Consecutive certificates of one object, in the order given."""
    groups = []
    for cert in certificates:
        if groups and groups[-1][0].get("object") == cert.get("object"):
            groups[-1].append(cert)
        else:
            groups.append([cert])
    return groups


def _as_tree(group):
    """[(prefix, certificate)]: a chain (each certificate issued by the next, as cert-chain
    holds it) drawn from its root down (root -> intermediate -> ...); anything else as given."""
    chained = len(group) > 1 and all(cert.get("issuer") == parent.get("subject")
                                     for cert, parent in zip(group, group[1:]))
    if not chained:
        return [("", cert) for cert in group]
    return [(("  " * (depth - 1) + "└─ ") if depth else "", cert) for depth, cert in enumerate(reversed(group))]


def certificates_table(result, output_threshold=DEFAULT_OUTPUT_THRESHOLD):
    """One row per certificate, a chain drawn as a tree from its root; then the findings,
    in their own section, as the findings table shows them."""
    rows = []
    for group in _groups(result.get("certificates", [])):
        for prefix, cert in _as_tree(group):
            rows.append(OrderedDict([
                ("Object", cert.get("object", "")),
                ("Certificate", wrap([prefix + str(cert.get("subject", ""))], 44)),
                ("NotAfter", str(cert.get("notAfter", ""))[:10]),
                ("DaysLeft", cert.get("daysLeft", "")),
                ("CA", cert.get("isCa", "")),
                ("SHA256", str(cert.get("fingerprintSha256", ""))[:23]),
            ]))
    findings, _ = finding_rows(result, output_threshold)
    if findings:
        rows.append(OrderedDict([("Object", "FINDINGS"), ("Certificate", ""), ("NotAfter", ""), ("DaysLeft", ""),
                                 ("CA", ""), ("SHA256", "")]))
        for row in findings:
            rows.append(OrderedDict([("Object", f"{row['Severity']} {row['Code']}"),
                                     ("Certificate", wrap(row["Root cause and fix"].split("\n"), 44)),
                                     ("NotAfter", ""), ("DaysLeft", ""), ("CA", ""), ("SHA256", "")]))
    return rows


def fix_access_table(result):
    """fix-access in one row: what was decided, for whom, on which vault."""
    identity = result.get("identity") or {}
    vault = result.get("vault") or {}
    waited = result.get("wait")
    row = OrderedDict([
        ("Outcome", result.get("outcome", "")),
        ("Mode", result.get("mode", "")),
        ("Vault", vault.get("name", "")),
        ("Identity", identity.get("objectId", "")),
        ("Change", result.get("summary", "")),
    ])
    if waited is not None:
        row["IstiodReady"] = waited.get("ready")
    return [row]


def scan_table(result):
    """One row per cluster or unscanned subscription, worst first: what could not be
    scanned ranks with the failed clusters, above the ones that passed. The scan's notes
    (info findings) are in -o json, not rows."""
    rows = []
    for item in result.get("clusters", []):
        row = OrderedDict([
            ("Subscription", item.get("subscriptionName") or item.get("subscriptionId") or ""),
            ("ResourceGroup", item.get("resourceGroup") or ""),
            ("Cluster", item.get("cluster") or ""),
            ("Revision", item.get("revision") or ""),
            ("Vault", item.get("vault") or ""),
            ("Permissions", item.get("permissionModel") or ""),
            ("Status", item.get("status") or ""),
            ("RootCause", item.get("rootCause") or ""),
        ])
        if "expiresInDays" in item:
            row["ExpiresInDays"] = "" if item["expiresInDays"] is None else item["expiresInDays"]
        rows.append((_SCAN_ORDER.get(item.get("status"), 9), row))
    for gap in result.get("findings", []):
        if gap.get("severity") == "info":   # a note (MCA908: scan reads no cluster), not a part left unscanned
            continue
        row = OrderedDict([("Subscription", gap.get("subscriptionName") or gap.get("subscriptionId") or ""),
                           ("ResourceGroup", ""),
                           ("Cluster", _NONE_FOUND if gap["code"] == "MCA930" else "(not scanned)"),
                           ("Revision", ""), ("Vault", ""), ("Permissions", ""),
                           ("Status", "incomplete"), ("RootCause", gap["code"])])
        rows.append((_SCAN_ORDER["incomplete"], row))
    ordered = [row for _, row in sorted(rows, key=lambda pair: pair[0])]
    if not ordered:
        ordered.append(OrderedDict([("Subscription", ""), ("ResourceGroup", ""),
                                    ("Cluster", _NONE_FOUND), ("Revision", ""), ("Vault", ""), ("Permissions", ""),
                                    ("Status", result.get("status", "")), ("RootCause", "")]))
    return ordered


_NONE_FOUND = "No plug-in CA cluster found"
# scan's rows, worst first (scan.STATUS_ORDER; not imported here: load time).
_SCAN_ORDER = {"failed": 0, "incomplete": 1, "warnings": 2, "passed": 3}
