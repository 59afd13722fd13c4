"""Table shapes for ``-o table``. Loaded with the command table: standard library only."""

from collections import OrderedDict

DETAIL_WIDTH = 60


def short(text, width=DETAIL_WIDTH):
    """At most ``width`` characters, with an ellipsis when cut."""
    text = " ".join(str(text or "").split())
    return text if len(text) <= width else text[:width - 1] + "…"


def findings_table(result):
    """One concise row per finding, with the key value to act on (the finding's
    ``detail``: days left, the missing permission, ...); ``-o json`` has the evidence
    and remedies."""
    rows = []
    for item in result.get("findings", []):
        rows.append(OrderedDict([
            ("Severity", item["severity"]),
            ("Code", item["code"]),
            ("Object", item.get("object") or ""),
            ("Finding", item["title"]),
            ("Detail", short(item.get("detail"))),
        ]))
    if not rows:
        rows.append(OrderedDict([("Severity", ""), ("Code", ""), ("Object", ""),
                                 ("Finding", "No findings: " + result.get("status", "")), ("Detail", "")]))
    return rows


def checks_table(rules):
    """One row per rule: its name, its codes, what it reads."""
    return [OrderedDict([("Rule", item["rule"]), ("Codes", " ".join(item["codes"])),
                         ("Inputs", ", ".join(item["inputs"]) or "-"), ("Subject", item["subject"])])
            for item in rules]


def certificates_table(result):
    """One row per certificate: where it is, who it is, and when it ends."""
    rows = []
    for cert in result.get("certificates", []):
        rows.append(OrderedDict([
            ("Object", cert.get("object", "")),
            ("Index", cert.get("index", "")),
            ("Subject", cert.get("subject", "")),
            ("Issuer", cert.get("issuer", "")),
            ("NotAfter", cert.get("notAfter", "")),
            ("DaysLeft", cert.get("daysLeft", "")),
            ("CA", cert.get("isCa", "")),
            ("SHA256", cert.get("fingerprintSha256", "")[:23]),
        ]))
    for item in result.get("findings", []):
        if item["severity"] == "error":
            rows.append(OrderedDict([("Object", item.get("object") or ""), ("Index", ""),
                                     ("Subject", f"{item['code']}: {item['title']}"),
                                     ("Issuer", ""), ("NotAfter", ""), ("DaysLeft", ""),
                                     ("CA", ""), ("SHA256", "")]))
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
    """One row per cluster, worst first (scan already sorted them), then what was not scanned."""
    rows = []
    for item in result.get("clusters", []):
        row = OrderedDict([
            ("Subscription", item.get("subscriptionId") or ""),
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
        rows.append(row)
    for gap in result.get("findings", []):
        rows.append(OrderedDict([("Subscription", gap.get("subscriptionId") or ""), ("ResourceGroup", ""),
                                 ("Cluster", "(not scanned)"), ("Revision", ""), ("Vault", ""),
                                 ("Permissions", ""), ("Status", "incomplete"), ("RootCause", gap["code"])]))
    return rows
