"""A local HTTP proxy that records and refuses every request.

The harness points HTTPS_PROXY/HTTP_PROXY at it (with NO_PROXY=127.0.0.1,localhost),
so any attempt by az, kubectl or our code to reach a non-loopback host lands
here instead of on the network.  The test session asserts it saw zero attempts.
"""

import socket
import threading
import time

_global = None
_global_lock = threading.Lock()


class ProxyTrap:
    """Accepts connections, logs the first request line (CONNECT host or URL), answers 403."""

    def __init__(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(32)
        self.port = self._sock.getsockname()[1]
        self._lock = threading.Lock()
        self._attempts = []
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

    def _serve(self):
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._refuse, args=(conn,), daemon=True).start()

    def _refuse(self, conn):
        try:
            conn.settimeout(5)
            data = b""
            while b"\r\n" not in data and len(data) < 8192:
                chunk = conn.recv(1024)
                if not chunk:
                    break
                data += chunk
            line = data.split(b"\r\n", 1)[0].decode("latin-1", "replace")
            with self._lock:
                self._attempts.append({"time": time.time(), "line": line})
            body = b"meshca test proxy trap: outbound network access is not allowed in tests\n"
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self._closed = True
        try:
            self._sock.close()
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
