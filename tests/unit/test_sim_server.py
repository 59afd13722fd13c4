"""The simulator's HTTP handler (sandbox/sim/server.py) reads a request as http.server does.

Its parse_request reads plain header blocks without the email parser (#25: that parser cost
more than the rest of a Key Vault answer) and hands anything else to
BaseHTTPRequestHandler.parse_request (cpython Lib/http/server.py). Each request below goes
through both, and everything a handler or a client sees must be the same: the verdict,
method, path, version, keep-alive, every header in order, what was written back (an error,
100 Continue) and what is left unread (the body).
"""

import io
from http.server import BaseHTTPRequestHandler

import pytest

from sandbox.sim import server

LONG = b"X-Long: " + b"a" * 70000 + b"\r\n"
MANY = b"".join(b"X-%d: v\r\n" % index for index in range(101))
REQUESTS = {
    "key vault GET": b"GET /secrets/ca-cert?api-version=7.4 HTTP/1.1\r\nHost: kv1.vault.loop.test\r\n"
                     b"User-Agent: azsdk-python-keyvault-secrets/4.8.0\r\nAccept-Encoding: gzip, deflate\r\n"
                     b"Accept: application/json\r\nConnection: keep-alive\r\nAuthorization: Bearer a.b.c\r\n\r\n",
    "PUT with a body": b"PUT /secrets/x HTTP/1.1\r\nContent-Length: 4\r\nContent-Type: application/json\r\n\r\nbody",
    "HTTP/1.0": b"GET / HTTP/1.0\r\nHost: a\r\n\r\n",
    "HTTP/1.0 keep-alive": b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
    "close": b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
    "double slash": b"GET //evil.example/x HTTP/1.1\r\n\r\n",
    "odd values": b"GET / HTTP/1.1\r\nX-Trailing: v  \r\nX-Empty:\r\nX-Tight:v\r\nX-Tab:\t v\r\nx-dup: 1\r\n"
                  b"X-Dup: 2\r\nX-Latin: caf\xe9\r\n\r\n",
    "LF only": b"GET / HTTP/1.1\nHost: a\nX-B: c\n\nrest",
    "expect 100-continue": b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
    "expect on HTTP/1.0": b"POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
    "folded header": b"GET / HTTP/1.1\r\nX-Fold: a\r\n b\r\nHost: c\r\n\r\n",
    "name with a space": b"GET / HTTP/1.1\r\nBad Name: v\r\nHost: c\r\n\r\n",
    "bare CR in a value": b"GET / HTTP/1.1\r\nX-R: a\rb\r\n\r\n",
    "From line": b"GET / HTTP/1.1\r\nFrom me\r\nHost: c\r\n\r\n",
    "no empty line": b"GET / HTTP/1.1\r\nHost: c\r\n",
    "line too long": b"GET / HTTP/1.1\r\n" + LONG + b"\r\n",
    "too many headers": b"GET / HTTP/1.1\r\n" + MANY + b"\r\n",
    "HTTP/2.0": b"GET / HTTP/2.0\r\n\r\n",
    "bad version": b"GET / HTTP/1.x\r\n\r\n",
    "HTTP/0.9": b"GET /\r\n",
    "HTTP/0.9 POST": b"POST /\r\n",
    "four words": b"GET / x HTTP/1.1\r\n\r\n",
    "blank": b"\r\n",
}


def _parsed(raw, parse):
    """What ``parse`` leaves on a handler that has read ``raw``'s request line."""
    handler = server._Handler.__new__(server._Handler)  # pylint: disable=protected-access  # the unit under test
    handler.rfile, handler.wfile = io.BytesIO(raw), io.BytesIO()
    handler.raw_requestline = handler.rfile.readline(65537)
    handler.request_version = "HTTP/0.9"
    handler.close_connection = True
    handler.date_time_string = lambda timestamp=None: "<date>"
    verdict = parse(handler)
    headers = getattr(handler, "headers", None)
    return {"verdict": verdict, "command": handler.command, "path": getattr(handler, "path", None),
            "version": handler.request_version, "close": handler.close_connection,
            "requestline": getattr(handler, "requestline", None),
            "headers": list(headers.items()) if headers is not None else None,
            "written": handler.wfile.getvalue(), "unread": handler.rfile.read()}


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_a_request_reads_as_http_server_reads_it(name):
    raw = REQUESTS[name]
    assert _parsed(raw, server._Handler.parse_request) == _parsed(raw, BaseHTTPRequestHandler.parse_request)


def test_plain_requests_skip_the_email_parser(monkeypatch):
    """The fast path is taken (else the grid above would compare the base class with itself)."""
    def refuse(*_args, **_kwargs):
        raise AssertionError("email parser used")
    monkeypatch.setattr(server.http.client, "parse_headers", refuse)
    assert _parsed(REQUESTS["key vault GET"], server._Handler.parse_request)["verdict"] is True


def test_the_date_header_is_formatdate_of_now():
    handler = server._Handler.__new__(server._Handler)
    for _ in range(3):  # a second may turn between the two
        if handler.date_time_string() == BaseHTTPRequestHandler.date_time_string(handler):
            return
    raise AssertionError("Date text differs from http.server's")


def test_bearer_claims_are_a_copy_of_the_tokens_claims():
    token = server.make_jwt({"oid": "o1", "tid": "t1"})
    first = server.bearer_claims({"authorization": "Bearer " + token})
    first["oid"] = "edited"
    assert server.bearer_claims({"authorization": "Bearer " + token}) == {"oid": "o1", "tid": "t1"}
    assert server.bearer_claims({"authorization": "Basic x"}) == {}
