"""A local HTTP proxy that records and refuses every request it has no route for.

The harness points HTTPS_PROXY/HTTP_PROXY at it (with NO_PROXY=127.0.0.1,localhost),
so any attempt by az, kubectl or our code to reach a non-loopback host lands
here instead of on the network.  The test session asserts it saw zero attempts.

Each simulator has its own trap, whose routes answer ``CONNECT <name>.vault.loop.test:443``
with that simulator's Key Vault: vaults are reached by name, as in Azure, and never leave
loopback. A route to an in-process service (a SimServer) is served in place: the trap
answers ``200 Connection Established`` and hands the same socket to the service, which
speaks TLS and HTTP on it as on a connection of its own listener (sandbox/sim/server.py
``SimServer.serve_connection``). No second TCP connection, no thread copying bytes: the trap
and the vault share the machine with az, and their CPU would move what a bench measures.
A route to a bare port (a BrokenTlsListener standing for a broken vault) is still relayed
byte for byte. What a simulator's trap refuses is recorded in the process-wide trap as well
(``global_trap``), which the test session checks.
"""

import socket
import threading
import time

from sandbox.sim.server import LISTEN_BACKLOG, WORKERS

_global = None
_global_lock = threading.Lock()


class ProxyTrap:
    """Accepts connections, logs the first request line (CONNECT host or URL), answers 403."""

    def __init__(self, parent=None):
        self._parent = parent
        self._routes = {}
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(LISTEN_BACKLOG)
        self.port = self._sock.getsockname()[1]
        self._lock = threading.Lock()
        self._attempts = []
        # routed CONNECTs: served in place by an in-process service, or relayed to a port
        # through a second TCP connection (tests read these to tell which happened)
        self.counters = {"in_place": 0, "relayed": 0}
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="proxytrap", daemon=True)
        self._thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def attempts(self):
        """Every refused request: {time, line} (line is e.g. 'CONNECT host:443 HTTP/1.1')."""
        with self._lock:
            return list(self._attempts)

    def add_route(self, authority, target):
        """Answer ``CONNECT authority`` (``host:port``, any case) with ``target``: an in-process
        service (anything with ``serve_connection(sock, address)``, a SimServer), served on the
        client's own socket, or a port on 127.0.0.1, relayed to."""
        with self._lock:
            self._routes[authority.lower()] = target

    def remove_route(self, authority):
        """Stop tunnelling ``authority``: a .loop.test name then does not resolve (see _answer)."""
        with self._lock:
            self._routes.pop(authority.lower(), None)

    def _record(self, line):
        with self._lock:
            self._attempts.append({"time": time.time(), "line": line})
        if self._parent is not None:
            self._parent._record(line)  # pylint: disable=protected-access  # same class

    def _serve(self):
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            WORKERS.run(self._answer, conn)     # a thread of its own, reused after

    def _answer(self, conn):
        """Serve or tunnel a routed CONNECT; refuse, and record, anything else."""
        try:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 8192:
                chunk = conn.recv(1024)
                if not chunk:
                    break
                data += chunk
            line = data.split(b"\r\n", 1)[0].decode("latin-1", "replace")
            authority = _connect_authority(line)
            with self._lock:
                target = self._routes.get(authority)
            if isinstance(target, int):
                self._tunnel(conn, target)
                return
            if target is not None:
                self._serve_in_place(conn, target)
                return
            if authority and authority.rsplit(":", 1)[0].endswith(SIMULATED_SUFFIX):
                # A vault name nobody created: in Azure its name would not resolve, and a
                # proxy answers that with 502. Under .test (RFC 6761) it resolves nowhere, so
                # it is not an outbound attempt.
                # The reason phrase says so, as a proxy's error page does (Squid: ERR_DNS_FAIL).
                conn.sendall(b"HTTP/1.1 502 Bad Gateway (name does not resolve)\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
                return
            self._record(line)
            body = b"meshca test proxy trap: outbound network access is not allowed in tests\n"
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        except OSError:
            pass
        finally:
            conn.close()        # a no-op when the service's TLS socket took it over (ssl detaches it)

    def _serve_in_place(self, conn, service):
        """Answer the CONNECT, then let ``service`` speak TLS and HTTP on this same socket.

        A stopped service is a refused connection, as its closed listener was: no answer.
        """
        if getattr(service, "stopped", False):
            return
        with self._lock:
            self.counters["in_place"] += 1
        conn.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        conn.settimeout(None)
        service.serve_connection(conn, conn.getpeername())

    def _tunnel(self, conn, port):
        """Answer the CONNECT and copy bytes both ways until either side closes."""
        upstream = socket.create_connection(("127.0.0.1", port), timeout=5)
        with self._lock:
            self.counters["relayed"] += 1
        try:
            conn.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            for sock in (conn, upstream):
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            back = threading.Thread(target=_copy, args=(upstream, conn), name="proxytrap-tunnel", daemon=True)
            back.start()
            _copy(conn, upstream)
            back.join(timeout=60)
        finally:
            upstream.close()

    def close(self):
        self._closed = True
        try:
            self._sock.close()
        except OSError:
            pass


# The simulated cloud's own names (sandbox/sim/harness.py KEYVAULT_DNS_SUFFIX).
SIMULATED_SUFFIX = ".loop.test"


def _connect_authority(line):
    """``host:port`` (lower case) of a ``CONNECT host:port HTTP/1.x`` line, else None."""
    parts = line.split()
    if len(parts) != 3 or parts[0].upper() != "CONNECT":
        return None
    return parts[1].lower()


def _copy(source, target):
    """Copy ``source`` to ``target`` until ``source`` closes, then close ``target``'s
    sending side so the other direction ends too."""
    try:
        while True:
            chunk = source.recv(65536)
            if not chunk:
                break
            target.sendall(chunk)
    except OSError:
        pass
    try:
        target.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def global_trap():
    """The one trap shared by every simulator in this process."""
    global _global
    with _global_lock:
        if _global is None:
            _global = ProxyTrap()
        return _global


def attempts():
    """Attempts recorded by the process-wide trap ([] if it was never started)."""
    return _global.attempts() if _global is not None else []
