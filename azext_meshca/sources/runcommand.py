"""diagnose --via-run-command: the in-cluster reads through ARM's managedClusters/runCommand.

Why: a private or IP-restricted API server does not answer the operator's machine, but
AKS can run a command in a pod inside the cluster and return its output (ARM
``managedClusters/runCommand``, what ``az aks command invoke`` calls: Azure/azure-cli
src/azure-cli/azure/cli/command_modules/acs/custom.py, ``aks_runcommand``). It creates a
pod in the cluster, so it runs only when asked, never as a fall-back.

How: ONE runCommand request whose script runs ``kubectl get --raw`` for every GET the
in-cluster collectors (sources/cluster.py) would make, the dependent ones (logs of
istiod's pods, provider pods on their nodes, the cronjob's last pod) worked out in the
shell with ``kubectl -o go-template`` (no jq is assumed). Each answer is framed as a
section (key, exit status, size, body) between lines carrying a per-run nonce.
``parse_output`` reads the sections back and ``ReplayApi`` answers the collectors' own
``_get`` calls from them, so the same normalisers and graph nodes build the in-cluster
snapshot. A GET the script did not answer is a collection error saying so.

Limits, by construction:
- AKS cuts a command's output at 512 KB (MicrosoftDocs/azure-docs pull 115257,
  "The output for command invoke is limited to 512kB"; Azure/azure-cli issue 27484).
  Every section has a byte budget, and the script stops adding bodies once their sum
  would pass BODY_CAP; what was cut or left out is listed in the snapshot.
- istiod's log is filtered in the pod to the CA lines the collector keeps (its markers,
  each line cut to LOG_LINE_CHARS first), so the log bounds of the direct path still hold.
- The cacerts secret goes out through an allowlist: only the three certificate entries
  (CACERT_VALUES) carry their values. Every other entry, whatever its name or case
  (ca-key.pem, tls.key of the layout istiod also reads, any other spelling), leaves the
  pod as its name and size only, so no private-key bytes enter the command's output, which
  AKS stores as the command's result.
"""

import re
import secrets
from urllib.parse import quote, urlencode, urlsplit

from azext_meshca.sources import cluster as kube
from azext_meshca.model.snapshot import collected, collection_error

# 512 KB is what AKS returns at most (see above); bodies stay well under it, and the
# framing lines (at most MAX_SECTIONS of SECTION_OVERHEAD) fit in the rest.
OUTPUT_CAP = 512 * 1024
BODY_CAP = 432 * 1024
SECTION_OVERHEAD = 900
MAX_SECTIONS = 80
ERROR_CHARS = 300
# Pages of one list the script follows (limit/continue), as _paged does.
MAX_PAGES = 4
# Per-section budgets (bytes of body).
BUDGETS = {
    "version": 4 * 1024, "istiodPods": 128 * 1024, "deployment": 32 * 1024, "events": 64 * 1024,
    "spc": 32 * 1024, "cacerts": 32 * 1024, "rootConfigMaps": 96 * 1024, "cronjob": 32 * 1024,
    "istiodLogs": 64 * 1024, "providerPods": 24 * 1024, "providerLogs": 96 * 1024,
    "cronjobPods": 32 * 1024, "cronjobLog": 16 * 1024,
    "mountStatuses": 48 * 1024, "webhooks": 48 * 1024, "sidecars": 64 * 1024,
}
# Seconds the command may run in the pod; the run's deadline bounds the wait as well.
COMMAND_SECONDS = 90
POLL_SECONDS = 3
SOURCE = "runCommand"
# Error codes this path puts on kube.access (rules/checks/collection.py turns them into MCA913-MCA916).
FORBIDDEN_CODE = "RunCommandForbidden"
FAILED_CODE = "RunCommandFailed"
STOPPED_CODE = "ClusterStopped"
OUTPUT_CODE = "RunCommandOutput"
RUN_COMMAND_ACTION = "Microsoft.ContainerService/managedClusters/runCommand/action"
# The cacerts entries whose values leave the pod: the certificates the checks fingerprint
# (sources/cluster.py read_cacerts), matched exactly. Nothing else does.
CACERT_VALUES = ("root-cert.pem", "ca-cert.pem", "cert-chain.pem")

# kubectl prints "Error from server (<StatusReason>): <message>"; the HTTP status of each
# reason (kubernetes apimachinery pkg/apis/meta/v1/types.go, StatusReason constants).
STATUS_OF_REASON = {
    "BadRequest": 400, "Unauthorized": 401, "Forbidden": 403, "NotFound": 404, "MethodNotAllowed": 405,
    "NotAcceptable": 406, "AlreadyExists": 409, "Conflict": 409, "Gone": 410, "Invalid": 422,
    "TooManyRequests": 429, "InternalError": 500, "ServiceUnavailable": 503, "ServerTimeout": 504,
    "Timeout": 504,
}
_SERVER_ERROR = re.compile(r"Error from server \((\w+)\):\s*(.*)", re.S)


class RunCommandError(Exception):
    """What went wrong on this path (the command did not run or complete, or its output
    does not answer a GET), already worded: describe_error passes its collection error on."""

    def __init__(self, error):
        super().__init__(error["reason"])
        self.collection_error = error


class ReplayedText(str):
    """A log body filtered in the pod: ``source_bytes`` is the size of what the API
    server returned, which the head-and-tail logic of cluster.py judges."""

    source_bytes = None


def request_key(path, query=None):
    """The one spelling of a GET, shared by the script and the replay: the path and its
    query pairs sorted, values percent-encoded as urllib's quote does."""
    pairs = sorted((str(key), str(value)) for key, value in (query or []) if value is not None)
    return path + ("?" + urlencode(pairs, quote_via=quote) if pairs else "")


# --------------------------------------------------------------------------- the script

def _shell_key(path, query, *names):
    """request_key with shell variables in it: a value or name given as @NAME@ (which
    request_key percent-encodes) comes out as ${name}; Kubernetes object and node names
    need no percent-encoding, so the key the shell builds is the one the replay looks up."""
    key = request_key(path, query)
    for name in names:
        key = key.replace(quote(f"@{name.upper()}@", safe=""), "${" + name + "}")
    return key


def _q(text):
    """A shell single-quoted word."""
    return "'" + str(text).replace("'", "'\"'\"'") + "'"


_PRELUDE = r"""set +e
LC_ALL=C; export LC_ALL
N=@NONCE@; T=$(mktemp -d 2>/dev/null || echo "/tmp/meshca-rc-$$"); mkdir -p "$T"
BODIES=0; SECTIONS=0; DROPPED=0
# kubectl never reads the loops' input
k() { kubectl "$@" < /dev/null; }
# emit KEY RC BODYFILE SOURCEBYTES BUDGET MODE: one framed section (MODE json drops a body over
# budget, head keeps its first BUDGET bytes, tail its last); bodies stop at BODY_CAP in all.
emit() {
  k=$1; rc=$2; f=$3; src=$4; budget=$5; mode=$6; cut=0
  size=$(wc -c < "$f" | tr -d ' ')
  if [ "$size" -gt "$budget" ]; then
    cut=$size
    case $mode in
      head) head -c "$budget" "$f" > "$T/o" ;;
      tail) tail -c "$budget" "$f" | sed 1d > "$T/o" ;;
      *) : > "$T/o" ;;
    esac
  else
    cp "$f" "$T/o"
  fi
  osize=$(wc -c < "$T/o" | tr -d ' ')
  if [ $((BODIES + osize)) -gt @BODY_CAP@ ] || [ "$SECTIONS" -ge @MAX_SECTIONS@ ]; then
    cut=$size; : > "$T/o"; osize=0
    if [ "$SECTIONS" -ge @MAX_SECTIONS@ ]; then DROPPED=$((DROPPED + 1)); return; fi
  fi
  BODIES=$((BODIES + osize)); SECTIONS=$((SECTIONS + 1))
  err=$(head -c @ERROR_CHARS@ "$T/e" 2>/dev/null | tr '\n\r' '  ')
  printf '@@%s begin %s rc=%s bytes=%s cut=%s\n' "$N" "$k" "$rc" "$src" "$cut"
  printf '@@%s stderr %s\n' "$N" "$err"
  cat "$T/o"
  printf '\n@@%s end\n' "$N"
}
get() { k get --raw "$1" > "$T/b" 2> "$T/e"; rc=$?; emit "$1" "$rc" "$T/b" "$(wc -c < "$T/b" | tr -d ' ')" "$2" "$3"; }
# paged KEY-WITHOUT-CONTINUE PATH BUDGET: a list and its next pages (continue sorts first).
paged() {
  k=$1; page=1
  while :; do
    get "$k" "$3" json
    tok=$(grep -o '"continue":"[^"]*"' "$T/b" | head -n 1 | sed 's/^"continue":"//; s/"$//; s/+/%2B/g; s/=/%3D/g')
    [ -n "$tok" ] && [ "$page" -lt @MAX_PAGES@ ] || break
    page=$((page + 1)); k="$2?continue=$tok&${1#*\?}"
  done
}
: > "$T/e"
printf '%s\n' @MARKERS@ > "$T/markers"
"""


def _get_line(path, budget, query=None, paged=False):
    """One static GET of the script (``paged``: with its next pages)."""
    key = request_key(path, query)
    return f"paged {_q(key)} {_q(path)} {budget}" if paged else f"get {_q(key)} {budget} json"


def build_script(revisions, nonce=None):
    """The shell script run in the command pod, and its nonce."""
    from azext_meshca.model.plugin import MOUNT_EVENT_REASONS
    nonce = nonce or secrets.token_hex(8)
    revisions = list(revisions or [])
    ns, csi = kube.ISTIO_NAMESPACE, kube.CSI_NAMESPACE
    lines = [_PRELUDE.replace("@NONCE@", nonce).replace("@BODY_CAP@", str(BODY_CAP))
             .replace("@MAX_SECTIONS@", str(MAX_SECTIONS)).replace("@ERROR_CHARS@", str(ERROR_CHARS))
             .replace("@MAX_PAGES@", str(MAX_PAGES))
             .replace("@MARKERS@", " ".join(_q(marker) for marker in kube.ISTIOD_CA_MARKERS))]
    lines.append(_get_line("/version", BUDGETS["version"]))
    selector = "app=istiod" + (f",istio.io/rev in ({','.join(revisions)})" if revisions else "")
    lines.append(_get_line(kube.namespaced_path(ns, "pods"), BUDGETS["istiodPods"],
                           [("labelSelector", selector), ("limit", kube.PAGE_SIZE)], paged=True))
    for revision in revisions:
        for plural, name, group, budget in (
                ("deployments", "istiod-" + revision, "apps/v1", BUDGETS["deployment"]),
                ("secretproviderclasses", "istio-spc-" + revision, "secrets-store.csi.x-k8s.io/v1", BUDGETS["spc"]),
                ("cronjobs", "istio-cert-validator-cronjob-" + revision, "batch/v1", BUDGETS["cronjob"])):
            lines.append(_get_line(kube.namespaced_path(ns, plural, name, group), budget))
    for reason in MOUNT_EVENT_REASONS:
        lines.append(_get_line(kube.namespaced_path(ns, "events"), BUDGETS["events"],
                               [("fieldSelector", "reason=" + reason), ("limit", kube.PAGE_SIZE)], paged=True))
    lines.append(_get_line(kube.namespaced_path(ns, "secretproviderclasspodstatuses",
                                                group="secrets-store.csi.x-k8s.io/v1"), BUDGETS["mountStatuses"],
                           [("limit", kube.PAGE_SIZE)], paged=True))
    lines.append(_get_line(kube.WEBHOOKS_PATH, BUDGETS["webhooks"],
                           [("labelSelector", kube.WEBHOOK_SELECTOR), ("limit", kube.PAGE_SIZE)], paged=True))
    lines.append(_sidecars_block())
    lines.append(_cacerts_block(ns))
    lines.append(_root_configmaps_block())
    lines.append(_istiod_logs_block(ns, selector))
    lines.append(_provider_block(ns, csi))
    lines.append(_cronjob_block(ns, revisions))
    lines.append("printf '@@%s done sections=%s bytes=%s dropped=%s\\n' \"$N\" \"$SECTIONS\" \"$BODIES\" "
                 "\"$DROPPED\"\nrm -rf \"$T\"")
    return "\n".join(lines) + "\n", nonce


def _cacerts_block(ns):
    """The cacerts secret as {"data": {...}, "withheld": {key: base64 length}}: every key is
    listed (the checks read the key names), only CACERT_VALUES carry their values. The
    allowlist is decided in the pod by kubectl's go-template (``eq`` with several arguments
    is true when the first equals any other: Go text/template), so a value outside it is
    never printed at all; its length is the size of its base64 text."""
    key = request_key(kube.namespaced_path(ns, "secrets", "cacerts"))
    allowed = " ".join(f'"{name}"' for name in CACERT_VALUES)
    template = ('{{range $k, $v := .data}}{{$k}}|{{if eq $k ' + allowed + '}}{{$v}}|{{else}}|{{len $v}}{{end}}'
                '{{"\\n"}}{{end}}')
    return f"""k get secret cacerts -n {_q(ns)} -o go-template={_q(template)} > "$T/s" 2> "$T/e"; rc=$?
if [ "$rc" = 0 ]; then
  {{ printf '{{"data":{{'; sep=''; while IFS='|' read -r k v n; do [ -n "$k" ] || continue
      printf '%s"%s":"%s"' "$sep" "$k" "$v"; sep=','; done < "$T/s"
    printf '}},"withheld":{{'; sep=''; while IFS='|' read -r k v n; do [ -n "$n" ] || continue
      printf '%s"%s":%s' "$sep" "$k" "$n"; sep=','; done < "$T/s"; printf '}}}}'; }} > "$T/b"
else : > "$T/b"; fi
emit {_q(key)} "$rc" "$T/b" "$(wc -c < "$T/b" | tr -d ' ')" {BUDGETS['cacerts']} json"""


def _sidecars_block():
    """The injected pods, reduced in the pod to what renewal needs and counted: one
    ``count namespace<TAB>status annotation<TAB>istio-proxy startedAt<TAB>SECRET_TTL``
    line (uniq -c) per distinct tuple (parse_output rebuilds the list the collector reads), so the
    answer stays small whatever the number of pods."""
    query = [("labelSelector", kube.SIDECAR_SELECTOR), ("limit", kube.SIDECAR_PAGE_SIZE)]
    key = request_key("/api/v1/pods", query)
    started = '{{if eq .name "istio-proxy"}}{{if .state.running}}{{.state.running.startedAt}}{{end}}{{end}}'
    template = ('{{range .items}}{{.metadata.namespace}}{{"\\t"}}'
                '{{with .metadata.annotations}}{{printf "%q" (index . "sidecar.istio.io/status")}}{{end}}{{"\\t"}}'
                '{{range .status.containerStatuses}}' + started + '{{end}}'
                '{{range .status.initContainerStatuses}}' + started + '{{end}}{{"\\t"}}'
                '{{range .spec.containers}}{{if eq .name "istio-proxy"}}{{range .env}}'
                '{{if eq .name "SECRET_TTL"}}{{.value}}{{end}}{{end}}{{end}}{{end}}{{"\\n"}}{{end}}')
    return f"""k get pods -A -l {_q(kube.SIDECAR_SELECTOR)} --chunk-size={kube.SIDECAR_PAGE_SIZE} \
  -o go-template={_q(template)} > "$T/c" 2> "$T/e"; rc=$?
sort "$T/c" | uniq -c > "$T/b"
emit {_q('reduced:' + key)} "$rc" "$T/b" "$(wc -c < "$T/c" | tr -d ' ')" {BUDGETS['sidecars']} json"""


def withheld_entries(output, ns=None):
    """[{key, bytes}] of the cacerts entries whose values stayed in the pod (the script's
    ``withheld``), ``bytes`` the decoded size at most (base64 length / 4 * 3: the padding's
    0-2 bytes are not known without the value). [] when the section is absent or unreadable."""
    import json
    section = output.sections.get(request_key(kube.namespaced_path(ns or kube.ISTIO_NAMESPACE, "secrets", "cacerts")))
    if section is None or section.rc != 0 or section.cut:
        return []
    try:
        withheld = json.loads(section.body).get("withheld") or {}
    except (ValueError, AttributeError):
        return []
    return [{"key": str(name), "bytes": int(length) // 4 * 3} for name, length in sorted(withheld.items())
            if isinstance(length, int)]


def _root_configmaps_block():
    """Every namespace's istio-ca-root-cert, each distinct PEM once: ``P <quoted PEM>``
    then ``N <namespace>`` lines (parse_output rebuilds the list the collector reads)."""
    query = [("fieldSelector", "metadata.name=" + kube.ROOT_CONFIGMAP), ("limit", kube.ROOT_CONFIGMAP_PAGE_SIZE)]
    key = request_key("/api/v1/configmaps", query)
    template = ('{{range .items}}{{if .data}}{{printf "%q" (index .data "root-cert.pem")}}{{else}}""{{end}}'
                '{{"\\t"}}{{.metadata.namespace}}{{"\\n"}}{{end}}')
    return f"""k get configmaps -A --field-selector metadata.name={kube.ROOT_CONFIGMAP} \\
  -o go-template={_q(template)} > "$T/c" 2> "$T/e"; rc=$?
tab=$(printf '\\t')
sort "$T/c" | {{ last=''; while IFS="$tab" read -r pem nsname; do
  if [ "$pem" != "$last" ]; then printf 'P %s\\n' "$pem"; last=$pem; fi; printf 'N %s\\n' "$nsname"; done; }} > "$T/b"
emit {_q('dedup:' + key)} "$rc" "$T/b" "$(wc -c < "$T/c" | tr -d ' ')" {BUDGETS['rootConfigMaps']} json"""


def _istiod_logs_block(ns, selector):
    """Head (and, when the head is full, tail) of each Running istiod pod's discovery log,
    filtered to the CA lines in the pod. A full head's last line is dropped before the
    filter and an empty line stands in for it, which cluster.py drops in its place."""
    path = kube.namespaced_path(ns, "pods", "@POD@") + "/log"
    head = _shell_key(path, [("container", "discovery"), ("limitBytes", kube.ISTIOD_HEAD_BYTES)], "pod")
    tail = _shell_key(path, [("container", "discovery"), ("limitBytes", kube.ISTIOD_LOG_BYTES),
                             ("tailLines", kube.ISTIOD_LOG_LINES)], "pod")
    template = '{{range .items}}{{.metadata.name}}|{{.status.phase}}|{{.spec.nodeName}}{{"\\n"}}{{end}}'
    cut_filter = "ca_lines"
    return f"""ca_lines() {{ cut -c1-{kube.LOG_LINE_CHARS} | grep -F -f "$T/markers"; }}
k get pods -n {_q(ns)} -l {_q(selector)} -o go-template={_q(template)} > "$T/pods" 2>/dev/null
running=$(grep -c '|Running|' "$T/pods"); [ "$running" -gt 0 ] || running=1
per=$(({BUDGETS['istiodLogs']} / running))
grep '|Running|' "$T/pods" > "$T/run"
while IFS='|' read -r pod phase node; do
  k get --raw "{head}" > "$T/h" 2> "$T/e"; rc=$?; hsize=$(wc -c < "$T/h" | tr -d ' ')
  if [ "$rc" = 0 ] && [ "$hsize" -ge {kube.ISTIOD_HEAD_BYTES} ]; then
    {{ sed '$d' "$T/h" | {cut_filter}; echo; }} > "$T/f"
  else {cut_filter} < "$T/h" > "$T/f"; fi
  emit "{head}" "$rc" "$T/f" "$hsize" "$per" head
  if [ "$rc" = 0 ] && [ "$hsize" -ge {kube.ISTIOD_HEAD_BYTES} ]; then
    k get --raw "{tail}" > "$T/h" 2> "$T/e"; rc=$?
    {cut_filter} < "$T/h" > "$T/f"
    emit "{tail}" "$rc" "$T/f" "$(wc -c < "$T/h" | tr -d ' ')" "$per" tail
  fi
done < "$T/run\""""


def _provider_block(ns, csi):
    """The nodes of istiod's pods and of its mount events (sorted, at most
    MAX_PROVIDER_NODES, as provider_nodes does), their provider pods and those logs."""
    from azext_meshca.model.plugin import MOUNT_EVENT_REASONS
    pods_key = _shell_key(kube.namespaced_path(csi, "pods"),
                          [("labelSelector", "app=secrets-store-provider-azure"),
                           ("fieldSelector", "spec.nodeName=@NODE@"), ("limit", kube.PAGE_SIZE)], "node")
    log_key = _shell_key(kube.namespaced_path(csi, "pods", "@POD@") + "/log",
                         [("limitBytes", kube.PROVIDER_LOG_BYTES), ("tailLines", kube.PROVIDER_LOG_LINES)], "pod")
    involved = '{{range .items}}{{.involvedObject.name}}|{{.source.host}}|{{.reportingInstance}}{{"\\n"}}{{end}}'
    events = "\n".join(
        f"  k get events -n {_q(ns)} --field-selector reason={reason} "
        f"-o go-template={_q(involved)} 2>/dev/null"
        " | while IFS='|' read -r inv host inst; do case $inv in istiod*)"
        " [ -n \"$host\" ] && [ \"$host\" != '<no value>' ] && echo \"$host\" || echo \"$inst\";; esac; done"
        for reason in MOUNT_EVENT_REASONS)
    names = '{{range .items}}{{.metadata.name}}{{"\\n"}}{{end}}'
    return f"""{{ cut -d'|' -f3 "$T/pods"
{events}
}} | grep -v '^$' | grep -v '<no value>' | sort -u | head -n {kube.MAX_PROVIDER_NODES} > "$T/nodes"
count=$(wc -l < "$T/nodes" | tr -d ' '); [ "$count" -gt 0 ] || count=1
per=$(({BUDGETS['providerLogs']} / count))
while read -r node; do
  get "{pods_key}" {BUDGETS['providerPods']} json
  k get pods -n {_q(csi)} -l app=secrets-store-provider-azure --field-selector "spec.nodeName=$node" \\
    -o go-template={_q(names)} 2>/dev/null > "$T/pp"
  while read -r pod; do get "{log_key}" "$per" tail; done < "$T/pp"
done < "$T/nodes\""""


def _cronjob_block(ns, revisions):
    """Each cert-validator cronjob's last Job (<cronjob>-<unix minutes of lastScheduleTime>,
    kubernetes pkg/controller/cronjob/utils.go getJobName, minutes computed in the shell
    from the civil date), the pods of those Jobs, and the newest pod's log."""
    pods_key = _shell_key(kube.namespaced_path(ns, "pods"),
                          [("labelSelector", "job-name=@JOB@"), ("limit", kube.PAGE_SIZE)], "job")
    log_key = _shell_key(kube.namespaced_path(ns, "pods", "@POD@") + "/log",
                         [("limitBytes", kube.CRONJOB_LOG_BYTES), ("tailLines", kube.CRONJOB_LOG_LINES)], "pod")
    created = '{{range .items}}{{.metadata.creationTimestamp}} {{.metadata.name}}{{"\\n"}}{{end}}'
    names = " ".join(_q("istio-cert-validator-cronjob-" + revision) for revision in revisions)
    if not names:
        return ""
    return f""": > "$T/jobpods"
for cj in {names}; do
  t=$(k get cronjob "$cj" -n {_q(ns)} -o go-template='{{{{.status.lastScheduleTime}}}}' 2>/dev/null)
  case $t in [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z) ;; *) continue ;; esac
  y=${{t%%-*}}; r=${{t#*-}}; m=${{r%%-*}}; r=${{r#*-}}; d=${{r%%T*}}; r=${{r#*T}}
  hh=${{r%%:*}}; r=${{r#*:}}; mi=${{r%%:*}}
  m=${{m#0}}; d=${{d#0}}; hh=${{hh#0}}; mi=${{mi#0}}
  [ "$m" -le 2 ] && y=$((y - 1))
  era=$((y / 400)); yoe=$((y - era * 400)); mp=$(( m > 2 ? m - 3 : m + 9 ))
  doy=$(((153 * mp + 2) / 5 + d - 1)); doe=$((yoe * 365 + yoe / 4 - yoe / 100 + doy))
  days=$((era * 146097 + doe - 719468)); job="$cj-$((days * 1440 + hh * 60 + mi))"
  get "{pods_key}" {BUDGETS['cronjobPods']} json
  k get pods -n {_q(ns)} -l "job-name=$job" -o go-template={_q(created)} 2>/dev/null >> "$T/jobpods"
done
newest=$(sort "$T/jobpods" | tail -n 1 | cut -d' ' -f2)
if [ -n "$newest" ]; then pod=$newest; get "{log_key}" {BUDGETS['cronjobLog']} tail; fi"""


# --------------------------------------------------------------------------- the output

class Section:  # pylint: disable=too-few-public-methods
    """One framed answer: key, kubectl's exit status, the API's size, what was cut, body."""

    def __init__(self, *, key, rc, source_bytes, cut, stderr, body):
        self.key, self.rc, self.source_bytes = key, rc, source_bytes
        self.cut, self.stderr, self.body = cut, stderr, body


class Output:  # pylint: disable=too-few-public-methods  # a parse result, read by ReplayApi
    """The parsed run-command output: sections by key, whether the end line came, and
    why any section or the rest was lost."""

    def __init__(self, sections, complete, garbled, dropped=0):
        self.sections = sections
        self.complete = complete
        self.garbled = garbled
        self.dropped = dropped

    def cut_keys(self):
        """Sections whose body was cut or left out to stay under the output cap."""
        return [key for key, section in self.sections.items() if section.cut]


_BEGIN = re.compile(r"^@@(?P<nonce>[0-9a-f]+) begin (?P<key>\S+) rc=(?P<rc>-?\d+) bytes=(?P<bytes>\d+) "
                    r"cut=(?P<cut>\d+)$")


def parse_output(text, nonce):
    """Sections of ``text`` framed with ``nonce``. Never raises: a section cut off by the
    output cap (or garbled) is left out and ``complete`` is False when the end line is
    missing, so each GET it would have answered is reported as unanswered."""
    sections, garbled, dropped = {}, 0, 0
    text = text if isinstance(text, str) else ""
    lines = text.split("\n")
    index, complete = 0, False
    end_line = f"@@{nonce} end"
    while index < len(lines):
        line = lines[index].rstrip("\r")
        match = _BEGIN.match(line)
        if line.startswith(f"@@{nonce} done"):
            complete = True
            found = re.search(r"dropped=(\d+)", line)
            dropped = int(found.group(1)) if found else 0
            break
        if not match or match.group("nonce") != nonce:
            if line.startswith(f"@@{nonce} "):
                garbled += 1
            index += 1
            continue
        stderr_line = lines[index + 1] if index + 1 < len(lines) else ""
        prefix = f"@@{nonce} stderr"
        if not stderr_line.startswith(prefix):
            garbled += 1
            index += 1
            continue
        try:
            end = lines.index(end_line, index + 2)
        except ValueError:
            break  # cut off: the rest of the output is missing
        body = "\n".join(lines[index + 2:end])
        # the script adds one newline before the end line
        section = Section(key=match.group("key"), rc=int(match.group("rc")), source_bytes=int(match.group("bytes")),
                          cut=int(match.group("cut")), stderr=stderr_line[len(prefix):].strip(), body=body)
        sections[section.key] = section
        index = end + 1
    return Output(sections, complete, garbled, dropped)


class ReplayApi:  # pylint: disable=too-few-public-methods  # the one verb of kubehttp's clients
    """Answers cluster._get's calls from a run-command Output with the ``get`` the
    direct clients have (sources/kubehttp.py), so the collectors run unchanged."""

    host = "managedClusters/runCommand"

    def __init__(self, output, facts=None):
        self.output = output
        self.facts = dict(facts or {})

    def get(self, path, query=None, text=False, timeout=None):  # pylint: disable=unused-argument
        """(status, body) as KubeHttpClient.get gives them, a log's body as ReplayedText;
        an answer other than 2xx raises KubeApiError."""
        from azext_meshca.sources.kubehttp import KubeApiError
        url = request_key(path, list((query or {}).items()))
        section = self._section(url)
        if section.rc != 0:
            raise KubeApiError(*_server_error(section))
        if url.split("?")[0].endswith("/log"):
            log = ReplayedText(section.body)
            log.source_bytes = section.source_bytes
            return 200, log
        return 200, section.body.encode("utf-8")

    def _section(self, url):
        """The section answering ``url``; RunCommandError when the output has none (or
        only a cut one) for it."""
        section = self.output.sections.get(url) or self._rebuilt(url)
        if section is None:
            if not self.output.complete:
                why = "the run-command output ended before it"
            elif self.output.dropped:
                why = (f"the run-command script left out {self.output.dropped} answers over its limit of "
                       f"{MAX_SECTIONS}")
            else:
                why = "the run-command script did not read it"
            raise RunCommandError(collection_error(f"GET {_short(url)}: not answered ({why})", code=OUTPUT_CODE))
        if section.cut and (not section.body or not url.split("?")[0].endswith("/log")):
            raise RunCommandError(collection_error(
                f"GET {_short(url)}: its answer ({section.cut} bytes) was left out to keep the run-command output "
                f"under AKS's {OUTPUT_CAP // 1024} KB cap", code=OUTPUT_CODE))
        return section

    def _rebuilt(self, url):
        """A list the script reduced in the pod, as the list JSON: the root configmaps (each
        distinct PEM sent once) or the injected pods (each distinct tuple sent once, counted)."""
        for prefix, rebuild in (("dedup:", _configmap_list), ("reduced:", _sidecar_list)):
            section = self.output.sections.get(prefix + url)
            if section is not None:
                return Section(key=url, rc=section.rc, source_bytes=section.source_bytes, cut=section.cut,
                               stderr=section.stderr, body=rebuild(section.body))
        return None


def _sidecar_list(body):
    """The pods list JSON cluster.read_sidecars reads, from _sidecars_block's counted lines."""
    import json
    items = []
    for line in body.split("\n"):
        count, _, rest = line.strip(" ").partition(" ")  # uniq -c: the count, a space, the line
        fields = rest.split("\t")
        if len(fields) != 4 or not count.isdigit():
            continue
        namespace, status, started, ttl = fields
        try:
            status = json.loads(status) if status else ""
        except ValueError:
            status = ""
        proxy = {"name": "istio-proxy", "env": [{"name": "SECRET_TTL", "value": ttl}] if ttl else []}
        pod = {"metadata": {"namespace": namespace,
                            "annotations": {"sidecar.istio.io/status": status if isinstance(status, str) else ""}},
               "spec": {"containers": [proxy]},
               "status": {"containerStatuses": [{"name": "istio-proxy",
                                                 "state": {"running": {"startedAt": started}} if started else {}}]}}
        items.extend([pod] * min(int(count), kube.SIDECAR_PAGE_SIZE * kube.MAX_SIDECAR_PAGES))
    return json.dumps({"items": items, "metadata": {}})


def _configmap_list(body):
    import json
    items, pem = [], ""
    for line in body.split("\n"):
        if line.startswith("P "):
            try:
                pem = json.loads(line[2:])
            except ValueError:
                pem = ""
            pem = pem if isinstance(pem, str) else ""
        elif line.startswith("N "):
            items.append({"metadata": {"namespace": line[2:]}, "data": {"root-cert.pem": pem}})
    items.sort(key=lambda item: item["metadata"]["namespace"])
    return json.dumps({"items": items, "metadata": {}})


def _server_error(section):
    """(status, reason, Status body) of kubectl's "Error from server (<StatusReason>)" for
    a GET, the status from its StatusReason; RunCommandError when kubectl got no answer."""
    import json
    match = _SERVER_ERROR.search(section.stderr or "")
    if match:
        reason, message = match.group(1), match.group(2).strip()
        return STATUS_OF_REASON.get(reason, 500), reason, json.dumps({"kind": "Status", "message": message})
    detail = (section.stderr or "").strip() or f"kubectl exited with {section.rc}"
    raise RunCommandError(collection_error(f"GET {_short(section.key)} in the command pod failed: {detail}"[:300],
                                           code="CannotConnect"))


def _short(url):
    path = urlsplit(url).path
    return path if len(path) <= 120 else path[:117] + "..."


# --------------------------------------------------------------------------- ARM

def run_client(cli_ctx, target, plan):
    """(ReplayApi, source, None, revisions), or (None, None, failed item, revisions)
    with an error code rules/checks/collection.py reports (MCA913-MCA916)."""
    revisions = plan["revisions"]
    cluster = plan["cluster"]
    if str(cluster.get("powerState") or "").lower() == "stopped":
        return None, None, collected(error=collection_error(
            "the cluster is stopped (powerState Stopped): AKS runs no command in a stopped cluster",
            code=STOPPED_CODE)), revisions
    script, nonce = build_script(revisions)
    try:
        result = _invoke(cli_ctx, target, cluster, script)
    except RunCommandError as failed:
        return None, None, collected(error=failed.collection_error), revisions
    except Exception as error:  # pylint: disable=broad-except
        return None, None, collected(error=classify_arm_error(error)), revisions
    output = parse_output(result.get("logs") or "", nonce)
    facts = {"commandId": result.get("id"), "exitCode": result.get("exitCode"),
             "outputBytes": len((result.get("logs") or "").encode("utf-8")),
             "complete": output.complete,
             "cut": [_short(key.replace("dedup:", "").replace("reduced:", "")) for key in output.cut_keys()]
             + ([f"{output.dropped} answers over the limit of {MAX_SECTIONS}"] if output.dropped else []),
             "withheld": withheld_entries(output)}
    return ReplayApi(output, facts), SOURCE, None, revisions


def pod_command(script):
    """The command line AKS runs: the script, written to a file by a quoted here-document
    (no expansion), under timeout(1) when the pod has it, so a hung read cannot hold the pod."""
    return (f"f=\"${{TMPDIR:-/tmp}}/meshca-$$.sh\"; cat > \"$f\" <<'MESHCA_SCRIPT_END'\n{script}MESHCA_SCRIPT_END\n"
            f"if command -v timeout >/dev/null 2>&1; then timeout {COMMAND_SECONDS} sh \"$f\"; else sh \"$f\"; fi; "
            "status=$?; rm -f \"$f\"; exit $status\n")


def _invoke(cli_ctx, target, cluster, script):
    """One runCommand, polled until done or the run's deadline; the result as a dict."""
    from azure.cli.core.profiles import ResourceType, get_sdk
    from azext_meshca._client_factory import CREDENTIAL_CALL_OPTIONS, cf_managed_clusters
    from azext_meshca.sources.deadline import deadline_of
    deadline = deadline_of(cli_ctx)
    token = None
    if (cluster.get("aad") or {}).get("managed"):
        # AAD clusters run the command as the caller: a token for the AKS AAD server app
        # (az aks command invoke does the same, _get_dataplane_aad_token).
        from azext_meshca._client_factory import aks_aad_token
        token = aks_aad_token(cli_ctx)
    # The model of whichever SDK this az bundles (AutoRest's versioned models on older
    # releases, TypeSpec's on newer ones), as az aks command invoke gets it (cmd.get_models).
    request_model = get_sdk(cli_ctx, ResourceType.MGMT_CONTAINERSERVICE, "RunCommandRequest", mod="models",
                            operation_group="managed_clusters")
    request = request_model(command=pod_command(script), context="", cluster_token=token)
    client = cf_managed_clusters(cli_ctx, target.get("subscriptionId"))
    # retry_total=0, as az aks command invoke passes: a retried POST could start a second
    # command pod; one request is what the operator asked for.
    poller = client.begin_run_command(target["resourceGroup"], target["cluster"], request,
                                      polling_interval=POLL_SECONDS, retry_total=0, **CREDENTIAL_CALL_OPTIONS)
    poller.wait(timeout=max(1.0, deadline.remaining()))
    if not poller.done():
        raise RunCommandError(collection_error(
            f"the run-command did not finish within the run's --timeout of {deadline.seconds} s (it may still be "
            "running in the cluster)", code=FAILED_CODE))
    result = poller.result()
    answer = {"id": getattr(result, "id", None), "state": str(getattr(result, "provisioning_state", "") or ""),
              "exitCode": getattr(result, "exit_code", None), "logs": getattr(result, "logs", None),
              "reason": getattr(result, "reason", None)}
    command = f" (command {answer['id']})" if answer["id"] else ""
    if answer["state"].lower() == "failed":
        reason = answer["reason"] or "no reason given"
        raise RunCommandError(collection_error(f"the run-command{command} failed: {reason}", code=FAILED_CODE))
    if answer["exitCode"] not in (0, None):
        if answer["exitCode"] in (124, 137):  # timeout(1)'s status, or killed
            why = f"it timed out in the command pod after at most {COMMAND_SECONDS} s"
        else:
            why = f"its last line: {_last_line(answer['logs'])}"
        raise RunCommandError(collection_error(
            f"the run-command{command} script exited with {answer['exitCode']} ({why})", code=FAILED_CODE))
    return answer


def _last_line(logs):
    """The last line of the output that is not the script's own framing."""
    lines = [line for line in str(logs or "").splitlines() if line.strip() and not line.startswith("@@")]
    return (lines[-1][:160] if lines else "no output").strip()


def classify_arm_error(error):
    """The runCommand POST's failure as a collection error: 403 names the action, a stopped
    cluster is said so, the rest as describe_error words it (code RunCommandFailed)."""
    from azext_meshca.sources.errors import describe_error
    described = describe_error(error)
    reason = described.get("reason") or ""
    if described.get("status") == 403:
        return collection_error(reason, 403, FORBIDDEN_CODE)
    if re.search(r"power\s*state\s*\(?\s*stopped|is stopped|powerState.*Stopped", reason, re.I):
        return collection_error(reason, described.get("status"), STOPPED_CODE)
    if described.get("code") == "Deadline":
        return described
    return collection_error(reason, described.get("status"), FAILED_CODE)
