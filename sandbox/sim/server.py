"""HTTP(S) server framework shared by every simulated service.

Each simulated service (ARM, Key Vault, Kubernetes API, token endpoints) is a
plain class with ``handle(req: Request) -> Response``.  This module turns such a
class into a real loopback server so that the real ``az``, ``kubectl`` and the
python ``kubernetes`` client talk to it over real sockets and real TLS.  It also
owns the request log and the fault injector, because both must apply to every
service in the same way.
"""

import base64
import email.utils
import http.client
import io
import json
import queue
import re
import selectors
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Callable, Optional
from urllib.parse import parse_qs, urlsplit

# Upper bound for a "hang" fault: longer than any client timeout we care about,
# short enough that a forgotten fault cannot wedge a test run for ever.
MAX_HANG_SECONDS = 120.0

# Listen backlog of every simulated listener and of the proxy trap: a scan opens a thousand
# vault connections at once, and a SYN the backlog cannot hold is dropped and retransmitted
# one second later (Linux's initial RTO, RFC 6298 2.1). The kernel caps it at
# net.core.somaxconn (4096 since Linux 5.4).
LISTEN_BACKLOG = 4096


@dataclass
class Request:
    """One parsed HTTP request, as a service handler sees it."""

    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    principal: Optional[str] = None
    claims: dict = field(default_factory=dict)
    service: str = ""

    def json(self):
        """Body parsed as JSON; {} for an empty body so handlers stay short."""
        if not self.body:
            return {}
        return json.loads(self.body.decode("utf-8"))

    def arg(self, name, default=None):
        """First value of a query parameter (query keys are kept as sent)."""
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    """What a handler returns; a dict/list body is sent as JSON."""

    status: int = 200
    body: object = b""
    headers: dict = field(default_factory=dict)

    def encoded(self):
        """Return (bytes, headers) with a Content-Type that matches the body."""
        headers = dict(self.headers)
        body = self.body
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        elif isinstance(body, str):
            body = body.encode("utf-8")
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        elif body is None:
            body = b""
        return body, headers


_UNREAD = object()       # JsonOnce's body before anyone asked for it


class JsonOnce(Response):
    """A JSON answer serialised once, when it is made: the bytes Response.encoded would send.

    A handler that must take its answer under a lock (so the rows cannot change before they
    are written) serialises it there instead of copying it and serialising the copy later.
    ``body`` still reads as the dict (decoded on first use), and a caller that changes it gets
    its change sent, as with a plain Response: once ``body`` has been read, ``encoded``
    serialises it again. json.dumps(json.loads(text)) == text for json.dumps' own output, so
    the bytes are the same either way.
    """

    def __init__(self, status, answer, headers=None):     # pylint: disable=super-init-not-called
        # not Response.__init__: it would set ``body``, which here is decoded from the bytes
        self.status = status
        self.headers = dict(headers or {})
        self._text = json.dumps(answer).encode("utf-8")
        self._body = _UNREAD

    @property
    def body(self):
        """The answer as a dict, decoded from the bytes on first use (and kept: callers may edit it)."""
        if self._body is _UNREAD:
            self._body = json.loads(self._text)
        return self._body

    @body.setter
    def body(self, value):
        self._body = value

    def encoded(self):
        if self._body is not _UNREAD:
            return super().encoded()
        headers = dict(self.headers)
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
        return self._text, headers


def json_error(status, code, message, inner_code=None, headers=None):
    """An Azure-style error body: {"error": {"code", "message"[, "innererror"]}}."""
    error = {"code": code, "message": message}
    if inner_code:
        error["innererror"] = {"code": inner_code}
    return Response(status, {"error": error}, headers or {})


# --------------------------------------------------------------------------- tokens

def make_jwt(claims):
    """An unsigned-but-well-formed JWT: the simulator trusts only its own tokens."""
    header = {"typ": "JWT", "alg": "RS256", "kid": "sim"}

    def part(obj):
        raw = json.dumps(obj, separators=(",", ":")).encode("utf-8")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    signature = base64.urlsafe_b64encode(b"simulator-signature").rstrip(b"=").decode("ascii")
    return "%s.%s.%s" % (part(header), part(claims), signature)


def decode_jwt(token):
    """Claims of a JWT, or {} if the string is not one (never raises)."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
        return claims if isinstance(claims, dict) else {}
    except (IndexError, ValueError, UnicodeDecodeError):
        return {}


# token -> its claims: a run sends a few tokens thousands of times each, and decoding one
# (base64, then JSON) cost more than the rest of a Key Vault answer's bookkeeping
_CLAIMS = {}
_CLAIMS_KEPT = 4096


def bearer_claims(headers):
    """Claims of the bearer token in an Authorization header, {} if none (a copy: callers may edit it)."""
    auth = headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        return {}
    token = auth[7:].strip()
    claims = _CLAIMS.get(token)
    if claims is None:
        if len(_CLAIMS) >= _CLAIMS_KEPT:
            _CLAIMS.clear()
        claims = _CLAIMS[token] = decode_jwt(token)
    return dict(claims)


# --------------------------------------------------------------------------- request log

class RequestLog:
    """Thread-safe list of every request every service answered (or dropped)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = []

    def append(self, entry):
        with self._lock:
            self._entries.append(entry)

    def entries(self, service=None, method=None, path_regex=None):
        """A copy of the log, optionally filtered, so callers can assert on it."""
        with self._lock:
            entries = list(self._entries)
        if service:
            entries = [e for e in entries if e["service"] == service]
        if method:
            entries = [e for e in entries if e["method"] == method.upper()]
        if path_regex:
            pattern = re.compile(path_regex, re.I)
            entries = [e for e in entries if pattern.search(e["path"])]
        return entries

    def clear(self):
        with self._lock:
            self._entries.clear()


# --------------------------------------------------------------------------- faults

FAULT_KINDS = ("latency", "throttle", "error", "reset", "hang", "hook")


@dataclass
class Fault:
    """One injected misbehaviour, matched by service + method + path regex.

    kind: latency (sleep ``ms`` then answer normally), throttle (429 with
    Retry-After ``retry_after``), error (``status``, default 500; 503 too),
    reset (close the socket without answering), hang (sleep ``seconds`` bounded by
    MAX_HANG_SECONDS, then close), hook (call ``action(request)`` then answer
    normally; used to simulate a concurrent writer).  ``count`` is how many
    matching requests it applies to (None = all); ``query`` (a regex on the raw
    query string) narrows the match, e.g. to the token for one resource.

    Two faults are not per request and live outside this class: a TLS handshake
    failure (``BrokenTlsListener``) and a name that does not resolve (a host under
    ``.invalid``, RFC 6761); see SimulatorEnv.broken_url().
    """

    kind: str
    service: str = "*"
    method: str = "*"
    path: str = ".*"
    count: Optional[int] = 1
    status: int = 500
    ms: int = 0
    retry_after: int = 1
    seconds: float = 60.0
    action: Optional[Callable] = None
    query: str = ""
    hits: int = 0

    def matches(self, service, method, path, query=""):
        if self.count is not None and self.hits >= self.count:
            return False
        if self.service not in ("*", service):
            return False
        if self.method not in ("*", method.upper()):
            return False
        if self.query and re.search(self.query, query, re.I) is None:
            return False
        return re.search(self.path, path, re.I) is not None


class FaultInjector:
    """Holds the active faults; a server asks it before answering each request."""

    def __init__(self):
        self._lock = threading.Lock()
        self._faults = []
        self.shutdown_event = threading.Event()

    def add(self, fault=None, **spec):
        """Add a Fault (or build one from keyword fields); returns it."""
        fault = fault or Fault(**spec)
        if fault.kind not in FAULT_KINDS:
            raise ValueError("unknown fault kind %r" % fault.kind)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self):
        with self._lock:
            self._faults.clear()

    def take(self, service, method, path, query=""):
        """The first matching fault (consuming one of its count), or None."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(service, method, path, query):
                    fault.hits += 1
                    return fault
        return None

    def active(self):
        with self._lock:
            return [f for f in self._faults if f.count is None or f.hits < f.count]


def fault_from_spec(spec):
    """Build a Fault from a scenario/JSON dict (no callables there)."""
    allowed = {"kind", "service", "method", "path", "count", "status", "ms", "retry_after", "seconds", "query"}
    unknown = set(spec) - allowed
    if unknown:
        raise ValueError("unknown fault field(s): %s" % ", ".join(sorted(unknown)))
    fields = dict(spec)
    if "method" in fields:
        fields["method"] = fields["method"].upper()
    return Fault(**fields)


# --------------------------------------------------------------------------- server

# http.client's limits on a header block (_MAXLINE, _MAXHEADERS), which the base class enforces
_MAX_HEADER_LINE = 65536
_MAX_HEADERS = 100
# a header line the email parser reads as exactly ``name``, ``value`` (email/feedparser.py headerRE,
# email/_policybase.py Compat32.header_source_parse): no folding, no CR but the line's end
_SIMPLE_HEADER = re.compile(r"([!-9;-~]+):[ \t]*([^\r\n]*)\r?\n")
_DATE = [(None, "")]      # (second, Date text), shared by every handler


def _header_lines(rfile):
    """The header block's lines as http.client._read_headers reads them, without its errors:
    it stops where that function would raise, so the base class, reading the same lines,
    raises the same error."""
    lines = []
    while True:
        line = rfile.readline(_MAX_HEADER_LINE + 1)
        lines.append(line)
        if len(line) > _MAX_HEADER_LINE or len(lines) > _MAX_HEADERS or line in (b"\r\n", b"\n", b""):
            return lines


def _simple_headers(lines):
    """An HTTPMessage of ``lines`` when each is a plain ``name: value`` line and the block ends
    with an empty line; None when the email parser must judge them."""
    if lines[-1] not in (b"\r\n", b"\n"):
        return None
    message = http.client.HTTPMessage()
    for line in lines[:-1]:
        match = _SIMPLE_HEADER.fullmatch(line.decode("iso-8859-1"))
        if match is None:
            return None
        message.set_raw(match.group(1), match.group(2))
    return message


class _Handler(BaseHTTPRequestHandler):
    """Turns one HTTP exchange into Request -> service.handle -> Response."""

    protocol_version = "HTTP/1.1"
    server_version = "meshca-sim/1.0"
    # TCP_NODELAY, as Go sets on every TCP connection, the API server's included (golang/go
    # src/net/tcpsock.go newTCPConn: setNoDelay(fd, true)). Without it a
    # response's body, written after its headers, waits on a kept-alive connection for the
    # client's delayed ACK of the headers (Nagle's algorithm): 40 ms on Linux, which no
    # real service adds.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002 - base-class signature
        """Silence the default stderr access log; the RequestLog records everything."""

    def parse_request(self):
        """http.server's parse_request, with a plain request's headers read without the email parser.

        ``http.client.parse_headers`` hands every header block to ``email.parser``, which cost
        more than the rest of a Key Vault answer. A request line ``METHOD target HTTP/1.x``
        followed by lines ``name: value`` (no folding, no stray CR) is read here into the same
        ``http.client.HTTPMessage``, with the same values; anything else (and any error) goes to
        the base class, which reads the same bytes.
        """
        words = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n").split()
        if len(words) != 3 or words[2] not in ("HTTP/1.1", "HTTP/1.0"):
            return super().parse_request()
        lines = _header_lines(self.rfile)
        headers = _simple_headers(lines)
        if headers is None:
            real, self.rfile = self.rfile, io.BytesIO(b"".join(lines))
            try:
                return super().parse_request()
            finally:
                self.rfile = real
        return self._accept_simple_request(words, headers)

    def _accept_simple_request(self, words, headers):
        """What BaseHTTPRequestHandler.parse_request sets for a valid HTTP/1.x request
        (cpython Lib/http/server.py, 3.11): command, path ('//' reduced), version, headers,
        keep-alive from the version and Connection, and Expect: 100-continue."""
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        self.command, self.path, self.request_version = words
        if self.path.startswith("//"):
            self.path = "/" + self.path.lstrip("/")
        self.headers = headers
        self.close_connection = self.request_version != "HTTP/1.1"
        conntype = headers.get("Connection", "").lower()
        if conntype == "close":
            self.close_connection = True
        elif conntype == "keep-alive":
            self.close_connection = False
        if (headers.get("Expect", "").lower() == "100-continue" and self.request_version == "HTTP/1.1"
                and not self.handle_expect_100()):
            return False
        return True

    def date_time_string(self, timestamp=None):
        """The Date header's text, made once a second (formatdate's text changes only then)."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        now = int(time.time())
        second, text = _DATE[0]
        if second != now:
            text = email.utils.formatdate(now, usegmt=True)
            _DATE[0] = (now, text)
        return text

    def _dispatch(self):
        sim = self.server
        self._started = time.time()  # when the request line arrived: the waterfall's start
        split = urlsplit(self.path)
        path = split.path or "/"
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        claims = bearer_claims(headers)
        req = Request(
            method=self.command.upper(),
            path=path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=headers,
            body=body,
            principal=claims.get("oid"),
            claims=claims,
            service=sim.name,
        )
        if not path.startswith("/_sim/"):
            fault = sim.faults.take(sim.name, req.method, path, split.query)
            if fault is not None and self._apply_fault(fault, req):
                return
        try:
            resp = sim.route(req)
        except Exception as exc:  # a simulator bug must show up as a 500, not a dead socket
            resp = json_error(500, "SimulatorError", "%s: %s" % (type(exc).__name__, exc))
        self._log(req, resp.status)
        self._send(resp)

    def _apply_fault(self, fault, req):
        """Apply a fault; True when the request is fully handled by it."""
        sim = self.server
        if fault.kind == "latency":
            sim.faults.shutdown_event.wait(fault.ms / 1000.0)
            return False
        if fault.kind == "hook":
            if fault.action is not None:
                fault.action(req)
            return False
        if fault.kind == "throttle":
            resp = json_error(429, "TooManyRequests", "Simulated throttling.",
                              headers={"Retry-After": str(fault.retry_after)})
            self._log(req, 429)
            self._send(resp)
            return True
        if fault.kind == "error":
            resp = json_error(fault.status, "InternalServerError" if fault.status == 500 else "ServiceUnavailable",
                              "Simulated server error.")
            self._log(req, fault.status)
            self._send(resp)
            return True
        if fault.kind == "hang":
            self._log(req, 0)
            sim.faults.shutdown_event.wait(min(fault.seconds, MAX_HANG_SECONDS))
            self._reset()
            return True
        # reset
        self._log(req, 0)
        self._reset()
        return True

    def _reset(self):
        """Close the socket abruptly (RST) without any HTTP answer."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    def _log(self, req, status):
        self.server.log.append({
            "service": self.server.name,
            "method": req.method,
            "path": req.path,
            "query": req.query,
            "principal": req.principal,
            "status": status,
            "start": getattr(self, "_started", None),
            "time": time.time(),
        })

    def _send(self, resp):
        """Status line, headers and body in one write: one TLS record, one send, as a server
        that buffers its answer sends it (the bytes are those of end_headers then the body)."""
        body, headers = resp.encoded()
        self.send_response(resp.status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self._headers_buffer.append(b"\r\n")          # end_headers, without its flush
        if self.command != "HEAD":
            self._headers_buffer.append(body)
        self.flush_headers()
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


class _Workers:
    """Daemon threads that serve one connection after another, started only when none is idle.

    A thread per connection, as ThreadingHTTPServer gives, costs a thread's start for each of
    the thousand vault connections a scan opens; a finished connection's thread takes the
    next one instead (the idle count is a semaphore, as concurrent.futures.ThreadPoolExecutor
    keeps it). Daemon threads, so a kept-alive connection never holds up the process's exit.
    """

    def __init__(self):
        self._tasks = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)

    def run(self, function, *args):
        """Call ``function(*args)`` on an idle worker, or on a new one if none is idle."""
        self._tasks.put((function, args))
        if not self._idle.acquire(blocking=False):
            threading.Thread(target=self._work, name="sim-worker", daemon=True).start()

    def _work(self):
        while True:
            function, args = self._tasks.get()
            try:
                function(*args)
            except Exception:  # pylint: disable=broad-except  # one connection's failure must not end the worker
                pass
            function = args = None      # keep no finished connection alive while idle
            self._idle.release()


WORKERS = _Workers()


class _Acceptor:
    """One thread accepts for every listening SimServer of the process, blocked in epoll.

    socketserver's ``serve_forever`` gives each server a thread that wakes every poll interval:
    a thousand simulated vaults made a thousand such threads. Here a listener costs a
    registration, and the thread wakes only when a connection arrives; each accepted connection
    is served on a worker thread of its own (``WORKERS``), as ThreadingHTTPServer serves it.
    """

    def __init__(self):
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()        # register/unregister against the accept loop
        self._thread = None

    def add(self, listener, server):
        """Accept on ``listener`` (a bound, listening socket) for ``server`` (a SimServer)."""
        listener.setblocking(False)
        with self._lock:
            self._selector.register(listener, selectors.EVENT_READ, server)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sim-acceptor", daemon=True)
                self._thread.start()

    def remove(self, listener):
        """Stop accepting on ``listener``; the caller then closes it."""
        with self._lock:
            try:
                self._selector.unregister(listener)
            except (KeyError, ValueError):
                pass

    def _run(self):
        while True:
            events = self._selector.select()
            with self._lock:
                for key, _ in events:
                    if self._selector.get_map().get(key.fd) is key:    # not removed meanwhile
                        self._accept_all(key.fileobj, key.data)

    @staticmethod
    def _accept_all(listener, server):
        """Accept every connection waiting on ``listener`` (a burst of a thousand comes at once)."""
        while True:
            try:
                conn, address = listener.accept()
            except OSError:          # BlockingIOError: none left; anything else: closed meanwhile
                return
            conn.setblocking(True)
            WORKERS.run(server.serve_connection, conn, address)


_ACCEPTOR = _Acceptor()


class SimServer:
    """One service, HTTPS unless ``tls_context`` is None, reached on a loopback port or in place.

    The port is bound on first use of ``port`` or ``url`` (every service but a vault asks at
    once); a vault reached only by name never binds one: the proxy trap hands each routed
    CONNECT to ``serve_connection`` (sandbox/sim/proxytrap.py). Either way the connection is
    served by the same ``_Handler``, so faults, latency and the request log apply alike.

    ``control`` (optional) answers ``/_sim/...`` paths, so bench scripts in other
    processes can read the log and add faults over HTTP.
    """

    def __init__(self, name, service, log, faults, tls_context=None, control=None, host="127.0.0.1"):
        self.name = name
        self.service = service
        self.log = log
        self.faults = faults
        self.control = control
        self._tls = tls_context
        self.host = host
        self._listener = None
        self._port = None
        self._started = False
        self.stopped = False

    @property
    def port(self):
        """The loopback port, bound (and, once started, accepted on) when first asked for."""
        if self._port is None and not self.stopped:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, 0))
            listener.listen(LISTEN_BACKLOG)
            self._listener, self._port = listener, listener.getsockname()[1]
            if self._started:
                _ACCEPTOR.add(listener, self)
        return self._port

    @property
    def url(self):
        scheme = "https" if self._tls is not None else "http"
        return "%s://%s:%d" % (scheme, self.host, self.port)

    def route(self, req):
        if req.path.startswith("/_sim/") and self.control is not None:
            return self.control.handle(req)
        return self.service.handle(req)

    def serve_connection(self, conn, address):
        """Serve HTTP(S) on an accepted (or CONNECT-tunnelled) socket until the client is done.

        Quiet on hang-ups and TLS noise, which are normal under fault tests (as
        socketserver's ``handle_error`` was made quiet here before); closes the socket after.
        """
        try:
            if self._tls is not None:
                # the handshake runs on the handler's first read, on this connection's thread
                conn = self._tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
            _Handler(conn, address, self)
        except Exception:  # pylint: disable=broad-except  # a client's hang-up must not print a traceback
            pass
        finally:
            try:
                conn.shutdown(socket.SHUT_WR)        # as socketserver's shutdown_request
            except OSError:
                pass
            conn.close()

    def start(self):
        self._started = True
        if self._listener is not None:
            _ACCEPTOR.add(self._listener, self)
        return self

    def stop(self):
        """Stop serving and close the listening socket (new connections are refused)."""
        self.stopped = True
        if self._listener is not None:
            _ACCEPTOR.remove(self._listener)
            self._listener.close()
            self._listener = None


class BrokenTlsListener:
    """A loopback port that answers every connection with bytes that are not TLS.

    Stands for a TLS handshake failure (a middlebox, a wrong service on the port): the
    client's handshake ends with an SSL error such as WRONG_VERSION_NUMBER, before any
    HTTP is spoken, so no request is ever logged.
    """

    GARBAGE = b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\nthis port does not speak TLS\r\n"

    def __init__(self, host="127.0.0.1"):
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self._sock.listen(LISTEN_BACKLOG)
        self._sock.settimeout(0.2)
        self.host, self.port = host, self._sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="sim-broken-tls", daemon=True)
        self._thread.start()

    @property
    def url(self):
        return "https://%s:%d" % (self.host, self.port)

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            try:
                conn.settimeout(2)
                conn.sendall(self.GARBAGE)
            except OSError:
                pass
            finally:
                conn.close()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


def server_tls_context(cert_file, key_file):
    """A server-side TLS context for the simulator's loopback certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


def free_port():
    """A loopback port nobody listens on (used for the "unreachable" fault)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ControlService:
    """``/_sim/*`` endpoints: read/reset the request log, add/clear faults."""

    def __init__(self, log, faults, world=None):
        self.log = log
        self.faults = faults
        self.world = world

    def handle(self, req):
        if req.path == "/_sim/log" and req.method == "GET":
            return Response(200, {"entries": self.log.entries(service=req.arg("service"))})
        if req.path == "/_sim/reset-log" and req.method == "POST":
            self.log.clear()
            return Response(204)
        if req.path == "/_sim/faults" and req.method == "POST":
            try:
                specs = req.json()
                specs = specs if isinstance(specs, list) else [specs]
                for spec in specs:
                    self.faults.add(fault_from_spec(spec))
            except (ValueError, TypeError) as exc:
                return json_error(400, "BadFault", str(exc))
            return Response(204)
        if req.path == "/_sim/faults" and req.method == "DELETE":
            self.faults.clear()
            return Response(204)
        if req.path == "/_sim/rotation" and req.method == "GET":
            # the rotation world's violations and state (sandbox/sim/kube_rotation.py), for tests
            # and the demo in another process; the product never reads /_sim
            rotation = getattr(self.world, "rotation", None)
            if rotation is None:
                return json_error(404, "NotFound", "this scenario has no rotationWorld")
            return Response(200, {"state": rotation.state(), "violations": rotation.violations()})
        if req.path == "/_sim/faults" and req.method == "GET":
            active = [{"kind": f.kind, "service": f.service, "method": f.method, "path": f.path,
                       "count": f.count, "hits": f.hits} for f in self.faults.active()]
            return Response(200, {"faults": active})
        return json_error(404, "NotFound", "no such control path")
