"""HTTP/1.1 keep-alive through the router: many requests on ONE client connection.

A black-box regression net. Each test drives one raw client socket to the router,
frames the responses itself (Content-Length, chunked, until-close) and checks what
the backends saw: how many connections they accepted and how many requests they got.
A socket timeout turns a hang into a failure; every other wait polls a condition.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from gorouter_harness import Backend, Harness, Pki, wait_until

from foundry.gorouter import cork

CLIENT_TIMEOUT = 10.0  # per recv: a response that never comes fails the test
CHUNKS = [b"first,", b"x" * 100_000, b",last"]
LARGE = bytes(range(256)) * (600 * 1024 // 256)  # 600 KiB: streamed, not sent with the head
UNTIL_CLOSE = b"no length, no chunks: the body ends when the backend closes" * 100


def body(raw: bytes) -> dict:
    return json.loads(raw)


# -- the client side -------------------------------------------------------------
@dataclass
class Response:
    status: int
    fields: list[tuple[str, str]]  # names lower-cased, in order
    body: bytes

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None

    def get_all(self, name: str) -> list[str]:
        return [v for k, v in self.fields if k == name]


def request_bytes(host: str, path: str = "/", *, method: str = "GET",
                  headers: dict[str, str] | None = None, payload: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if payload:
        lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


class Client:
    """One keep-alive connection to the router; reads exactly one response at a time."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT)
        self.buf = bytearray()

    def _fill(self) -> None:
        data = self.sock.recv(65536)  # raises TimeoutError instead of blocking forever
        if not data:
            raise EOFError(f"router closed the connection (buffered: {bytes(self.buf)!r})")
        self.buf += data

    def read_exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def _line(self, sep: bytes = b"\r\n") -> bytes:
        while (i := self.buf.find(sep)) < 0:
            self._fill()
        return self.read_exactly(i + len(sep))

    def read_response(self, method: str = "GET") -> Response:
        head = self._line(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split(" ")[1])
        fields = [(k.strip().lower(), v.strip())
                  for k, v in (line.split(":", 1) for line in head[1:] if line)]
        resp = Response(status, fields, b"")
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return resp
        if (resp.get("transfer-encoding") or "").lower() == "chunked":
            out = bytearray()
            while size := int(self._line().split(b";")[0], 16):
                out += self.read_exactly(size)
                assert self.read_exactly(2) == b"\r\n", "chunk not followed by CRLF"
            while self._line() != b"\r\n":  # trailers
                pass
            resp.body = bytes(out)
        elif (length := resp.get("content-length")) is not None:
            resp.body = self.read_exactly(int(length))
        else:
            resp.body = self.read_to_eof()
        return resp

    def read_to_eof(self) -> bytes:
        while data := self.sock.recv(65536):
            self.buf += data
        return self.read_exactly(len(self.buf))

    def request(self, host: str, path: str = "/", *, method: str = "GET",
                headers: dict[str, str] | None = None, payload: bytes = b"") -> Response:
        self.sock.sendall(request_bytes(host, path, method=method, headers=headers,
                                        payload=payload))
        return self.read_response(method)

    def close(self) -> None:
        self.sock.close()


@contextmanager
def client(harness: Harness) -> Iterator[Client]:
    c = Client(harness.router.proxy.port)
    try:
        yield c
    finally:
        c.close()


# -- backends --------------------------------------------------------------------
class CountingBackend(Backend):
    """The harness backend, counting the connections it accepted (after any TLS handshake)."""

    def __init__(self, name: str, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.accepted = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        await self._session(reader, writer)

    async def _session(self, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
        await Backend._serve(self, reader, writer)


class ScriptedBackend(CountingBackend):
    """Plain HTTP/1.1 with chosen keep-alive manners and a few special paths.

    /chunked answers with Transfer-Encoding: chunked, /large with a 600 KiB body,
    /until-close with a body delimited by closing the connection; anything else
    with JSON naming the instance, path, method and body.
    """

    def __init__(self, name: str, *, close_header: bool = False, close_after: bool = False,
                 answer_per_conn: int | None = None) -> None:
        super().__init__(name)
        self.close_header = close_header  # "Connection: close", then close
        self.close_after = close_after  # close after each response, saying nothing
        self.answer_per_conn = answer_per_conn  # then read one more request and close
        self.dropped = 0
        self.ended = 0  # connections the router (or we) closed

    def _response(self, method: str, path: str, data: bytes) -> bytes:
        extra = b"Connection: close\r\n" if self.close_header else b""
        if path == "/chunked":
            framed = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in CHUNKS) + b"0\r\n\r\n"
            return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" + extra + b"\r\n" + framed
        if path == "/large":
            return (b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n" + extra
                    + b"Content-Length: %d\r\n\r\n" % len(LARGE) + LARGE)
        if path == "/until-close":
            return b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + UNTIL_CLOSE
        if path == "/malformed":
            return b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n"
        payload = json.dumps({"instance": self.name, "method": method, "path": path,
                              "body": data.decode()}).encode()
        return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + extra
                + b"Content-Length: %d\r\n\r\n" % len(payload) + payload)

    async def _session(self, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
        answered = 0
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, path, _ = head[0].split(" ")
                headers = {k.strip().lower(): v.strip()
                           for k, v in (line.split(":", 1) for line in head[1:] if line)}
                n = int(headers.get("content-length", "0"))
                data = await reader.readexactly(n) if n else b""
                if self.answer_per_conn is not None and answered >= self.answer_per_conn:
                    self.dropped += 1
                    return  # close without a response
                self.requests += 1
                answered += 1
                writer.write(self._response(method, path, data))
                await writer.drain()
                if self.close_header or self.close_after or path == "/until-close":
                    return
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, ValueError):
            pass
        finally:
            self.ended += 1
            writer.close()


B = TypeVar("B", bound=Backend)


def start(harness: Harness, b: B) -> B:
    harness.lt.run(b.start())
    harness.backends.append(b)  # stopped with the harness
    return b


def route(harness: Harness, host: str, b: Backend, **kw: Any) -> None:
    harness.register(host, b, **kw)
    harness.wait_registered(host, b)


def serving(harness: Harness, host: str, b: B, **router: Any) -> B:
    """A router (with `router` overrides) and backend `b` registered at `host`."""
    harness.start_router(**router)
    start(harness, b)
    route(harness, host, b)
    return b


def ok_json(r: Response, path: str, instance: str) -> dict:
    assert r.status == 200, (r.status, r.fields, r.body[:200])
    got = body(r.body)
    assert (got["path"], got["instance"]) == (path, instance), got
    return got


def log_lines(harness: Harness) -> list[str]:
    with open(harness.router.cfg.access_log_file) as f:
        return [line for line in f.read().splitlines() if line]


# -- tests -----------------------------------------------------------------------
def test_sequential_gets_reuse_one_backend_connection(harness: Harness) -> None:
    b = serving(harness, "ka.example.com", CountingBackend("plain"))
    ids: set[str | None] = set()
    with client(harness) as c:
        for i in range(20):
            r = c.request("ka.example.com", f"/r{i}")
            ok_json(r, f"/r{i}", "plain")
            assert r.get("connection") is None  # the router keeps the client connection
            ids.add(r.get("x-vcap-request-id"))
    assert len(ids) == 20
    assert (b.accepted, b.requests) == (1, 20)


def test_tls_backend_connection_is_reused(harness: Harness, pki: Pki,
                                          guid: Callable[[], str]) -> None:
    g = guid()
    harness.start_router(ca_certs=[pki.identity_ca.cert_pem.decode(),
                                   pki.root.cert_pem.decode()])
    b = start(harness, CountingBackend("tls", cred=pki.instance(g)))
    route(harness, "tls-ka.example.com", b, tls=True, guid=g)
    with client(harness) as c:
        for i in range(20):
            ok_json(c.request("tls-ka.example.com", f"/t{i}"), f"/t{i}", "tls")
    assert (b.accepted, b.requests) == (1, 20)  # one TLS handshake for all of them


def test_pipelined_requests_answered_in_order(harness: Harness) -> None:
    b = serving(harness, "pipe.example.com", CountingBackend("pipe"))
    with client(harness) as c:
        c.sock.sendall(b"".join(request_bytes("pipe.example.com", f"/p{i}") for i in range(3)))
        responses = [c.read_response() for _ in range(3)]
        for i, r in enumerate(responses):
            ok_json(r, f"/p{i}", "pipe")
        assert len({r.get("x-vcap-request-id") for r in responses}) == 3
        ok_json(c.request("pipe.example.com", "/after"), "/after", "pipe")
    assert (b.accepted, b.requests) == (1, 4)


@pytest.mark.parametrize("manners", ["close_header", "close_after"])
def test_backend_closing_after_each_response(harness: Harness, manners: str) -> None:
    b = serving(harness, "closer.example.com", ScriptedBackend("closer", **{manners: True}))
    with client(harness) as c:
        for i in range(10):
            r = c.request("closer.example.com", f"/c{i}")
            ok_json(r, f"/c{i}", "closer")
            # The backend's Connection: close is hop-by-hop: the client keeps its connection.
            assert r.get("connection") is None
    assert (b.accepted, b.requests) == (10, 10)


def test_reused_connection_closed_without_response_is_redialled(harness: Harness) -> None:
    harness.start_router()
    # Each backend connection answers its first request and drops the second unanswered.
    b = start(harness, ScriptedBackend("once", answer_per_conn=1))
    route(harness, "once.example.com", b)
    with client(harness) as c:
        for i in range(10):
            ok_json(c.request("once.example.com", f"/o{i}"), f"/o{i}", "once")
    # Requests 2..10 each met a dropped reused connection and were redialled once.
    assert (b.accepted, b.requests, b.dropped) == (10, 10, 9)
    wait_until(lambda: len(log_lines(harness)) == 10, what="10 access log lines")
    assert all(" 200 " in line and 'x_cf_routererror:"-"' in line for line in log_lines(harness))


def test_chunked_and_large_responses_keep_the_connection(harness: Harness) -> None:
    b = serving(harness, "bodies.example.com", ScriptedBackend("bodies"))
    with client(harness) as c:
        ok_json(c.request("bodies.example.com", "/s0"), "/s0", "bodies")
        ok_json(c.request("bodies.example.com", "/s1"), "/s1", "bodies")
        r = c.request("bodies.example.com", "/chunked")
        assert r.status == 200 and r.get("transfer-encoding") == "chunked"
        assert r.body == b"".join(CHUNKS)
        r = c.request("bodies.example.com", "/large")
        assert r.status == 200 and r.get("content-length") == str(len(LARGE))
        assert r.body == LARGE
        ok_json(c.request("bodies.example.com", "/s2"), "/s2", "bodies")
    assert (b.accepted, b.requests) == (1, 5)


def test_until_close_response_ends_the_client_connection(harness: Harness) -> None:
    b = serving(harness, "eof.example.com", ScriptedBackend("eof"))
    with client(harness) as c:
        ok_json(c.request("eof.example.com", "/first"), "/first", "eof")
        r = c.request("eof.example.com", "/until-close")
        assert r.status == 200 and r.get("connection") == "close"
        assert r.get("content-length") is None and r.get("transfer-encoding") is None
        assert r.body == UNTIL_CLOSE  # read to EOF: the router closed after the body
    assert (b.accepted, b.requests) == (1, 2)


def test_hung_request_on_reused_connection_is_502_and_client_keeps_going(
        harness: Harness) -> None:
    b = serving(harness, "hang-ka.example.com", CountingBackend("hang"), endpoint_timeout="500ms")
    with client(harness) as c:
        ok_json(c.request("hang-ka.example.com", "/first"), "/first", "hang")
        c.sock.sendall(request_bytes("hang-ka.example.com", "/hang"))
        wait_until(lambda: b.requests == 2, what="/hang reached the backend")
        assert b.accepted == 1  # /hang went out on the pooled connection
        r = c.read_response()
        assert r.status == 502
        assert r.get("x-cf-routererror") == "endpoint_failure (context deadline exceeded)"
        assert r.body == b"502 Bad Gateway: Registered endpoint failed to handle the request.\n"
        assert r.get("connection") is None  # a GET's 502 keeps the client connection
        ok_json(c.request("hang-ka.example.com", "/next"), "/next", "hang")
    assert b.requests == 3  # a backend that timed out is not sent the request again


def test_post_between_gets_is_echoed(harness: Harness) -> None:
    b = serving(harness, "post-ka.example.com", CountingBackend("echo"))
    with client(harness) as c:
        ok_json(c.request("post-ka.example.com", "/g0"), "/g0", "echo")
        ok_json(c.request("post-ka.example.com", "/g1"), "/g1", "echo")
        got = ok_json(c.request("post-ka.example.com", "/p", method="POST",
                                payload=b"hello keep-alive"), "/p", "echo")
        assert got["method"] == "POST" and got["body"] == "hello keep-alive"
        assert got["headers"]["content-length"] == "16"
        ok_json(c.request("post-ka.example.com", "/g2"), "/g2", "echo")
    assert (b.accepted, b.requests) == (1, 4)


def test_unknown_route_mid_sequence_keeps_the_connection(harness: Harness) -> None:
    b = serving(harness, "known.example.com", CountingBackend("known"))
    with client(harness) as c:
        ok_json(c.request("known.example.com", "/a"), "/a", "known")
        r = c.request("nope.example.com", "/x")
        assert r.status == 404 and r.get("x-cf-routererror") == "unknown_route"
        assert r.body == b"404 Not Found: Requested route ('nope.example.com') does not exist.\n"
        assert r.get("connection") is None
        ok_json(c.request("known.example.com", "/b"), "/b", "known")
    assert (b.accepted, b.requests) == (1, 2)


def test_client_gone_on_reused_backend_connection_is_logged_499(harness: Harness) -> None:
    b = serving(harness, "gone-ka.example.com", CountingBackend("slow"), endpoint_timeout="1s")
    with client(harness) as c:
        ok_json(c.request("gone-ka.example.com", "/quick"), "/quick", "slow")
        c.sock.sendall(request_bytes("gone-ka.example.com", "/hang"))
        wait_until(lambda: b.requests == 2, what="/hang reached the backend")
    assert b.accepted == 1  # /hang went out on the pooled connection
    hang = wait_until(lambda: [x for x in log_lines(harness) if '"GET /hang ' in x],
                      what="access log line for /hang")
    assert len(hang) == 1
    assert '"GET /hang HTTP/1.1" 499 ' in hang[0]
    assert 'x_cf_routererror:"endpoint_failure (context canceled)"' in hang[0]
    assert any('"GET /quick HTTP/1.1" 200 ' in x for x in log_lines(harness))


def test_access_log_has_one_line_per_keepalive_request(harness: Harness) -> None:
    b = serving(harness, "log-ka.example.com", CountingBackend("logged"))
    n = 8
    with client(harness) as c:
        host, port = c.sock.getsockname()[:2]
        local = f"{host}:{port}"
        ids = [c.request("log-ka.example.com", f"/l{i}").get("x-vcap-request-id")
               for i in range(n)]
    lines = wait_until(lambda: len(log_lines(harness)) >= n and log_lines(harness),
                       what=f"{n} access log lines")
    assert len(lines) == n
    for i, line in enumerate(lines):
        assert f'"GET /l{i} HTTP/1.1" 200 ' in line
        assert f'"{local}"' in line  # every request came in on the same client connection
    logged = [re.search(r'vcap_request_id:"([^"]+)"', line).group(1) for line in lines]
    assert logged == ids and len(set(logged)) == n
    assert b.accepted == 1


def test_sticky_cookie_on_reused_backend_connection(harness: Harness) -> None:
    harness.start_router()
    s1, s2 = start(harness, CountingBackend("s1")), start(harness, CountingBackend("s2"))
    route(harness, "sticky-ka.example.com", s1, guid="guid-1")
    route(harness, "sticky-ka.example.com", s2, guid="guid-2")
    backends = {"s1": (s1, "guid-1"), "s2": (s2, "guid-2")}
    with client(harness) as c:

        def warm() -> bool:  # until both backends hold a pooled connection
            assert c.request("sticky-ka.example.com", "/warm").status == 200
            return s1.requests > 0 and s2.requests > 0

        wait_until(warm, what="both backends served once", interval=0)
        r = c.request("sticky-ka.example.com", "/sticky")
        assert r.status == 200
        first = body(r.body)["instance"]
        served, want = backends[first]
        assert served.accepted == 1 and served.requests >= 2  # a reused connection
        cookies = r.get_all("set-cookie")
        assert "JSESSIONID=abc; Path=/" in cookies
        assert f"__VCAP_ID__={want}; Path=/; HttpOnly" in cookies
        for _ in range(4):
            r = c.request("sticky-ka.example.com", "/",
                          headers={"Cookie": f"JSESSIONID=abc; __VCAP_ID__={want}"})
            assert r.status == 200 and body(r.body)["instance"] == first
    assert (s1.accepted, s2.accepted) == (1, 1)


def test_websocket_upgrade_after_keepalive_requests(harness: Harness) -> None:
    b = serving(harness, "ws-ka.example.com", CountingBackend("ws"))
    with client(harness) as c:
        ok_json(c.request("ws-ka.example.com", "/a"), "/a", "ws")
        ok_json(c.request("ws-ka.example.com", "/b"), "/b", "ws")
        r = c.request("ws-ka.example.com", "/ws",
                      headers={"Upgrade": "websocket", "Connection": "Upgrade"})
        assert r.status == 101 and r.get("upgrade") == "websocket"
        assert r.get("connection") == "Upgrade"
        c.sock.sendall(b"ping")
        assert c.read_exactly(4) == b"PING"  # tunnelled both ways
    assert b.requests == 3


def test_post_is_not_replayed_on_a_dropped_reused_connection(harness: Harness) -> None:
    b = serving(harness, "post-once.example.com", ScriptedBackend("once", answer_per_conn=1))
    with client(harness) as c:
        ok_json(c.request("post-once.example.com", "/first"), "/first", "once")
        r = c.request("post-once.example.com", "/p", method="POST", payload=b"abc")
        assert r.status == 502
        assert r.get("x-cf-routererror") == "endpoint_failure (EOF)"
    # The backend read the POST once and dropped it; the router did not send it again.
    assert (b.accepted, b.requests, b.dropped) == (1, 1, 1)


def test_malformed_response_on_a_reused_connection_is_502_and_not_reused(
        harness: Harness) -> None:
    b = serving(harness, "bad-ka.example.com", ScriptedBackend("bad"))
    with client(harness) as c:
        ok_json(c.request("bad-ka.example.com", "/first"), "/first", "bad")
        r = c.request("bad-ka.example.com", "/malformed")
        assert r.status == 502
        assert (r.get("x-cf-routererror") or "").startswith("endpoint_failure")
        wait_until(lambda: b.ended == 1, what="the router closed the malformed connection")
        ok_json(c.request("bad-ka.example.com", "/after"), "/after", "bad")
    # the connection that carried the malformed response was closed, not pooled again
    assert (b.accepted, b.requests) == (2, 3)


def test_rejected_post_keeps_the_connection_when_its_body_is_small(harness: Harness) -> None:
    """Go's server reads and drops up to 256 KiB of a body the handler left unread."""
    b = serving(harness, "known-post.example.com", CountingBackend("known"))
    with client(harness) as c:
        r = c.request("nope.example.com", "/x", method="POST", payload=b"a" * 1000)
        assert r.status == 404 and r.get("connection") is None
        ok_json(c.request("known-post.example.com", "/b"), "/b", "known")
        r = c.request("nope.example.com", "/y", method="POST", payload=b"b" * 200_000)
        assert r.status == 404 and r.get("connection") is None
        ok_json(c.request("known-post.example.com", "/c"), "/c", "known")
    assert (b.accepted, b.requests) == (1, 2)


def test_corked_answers_are_not_overtaken_by_a_direct_one(harness: Harness,
                                                           monkeypatch) -> None:
    """With every write corked (cork.py), a pipelined 404 (written at once) still comes
    after the corked 200 before it, and a close sends what was corked first."""
    monkeypatch.setattr(cork, "CORK_FROM", 0)
    b = serving(harness, "cork.example.com", CountingBackend("cork"))
    with client(harness) as c:
        # a pooled backend connection first: the callback path (which corks) needs one
        ok_json(c.request("cork.example.com", "/warm"), "/warm", "cork")
        c.sock.sendall(request_bytes("cork.example.com", "/a")
                       + request_bytes("nope.example.com", "/x")
                       + request_bytes("cork.example.com", "/b"))
        first, second, third = (c.read_response() for _ in range(3))
        ok_json(first, "/a", "cork")
        assert second.status == 404 and second.get("x-cf-routererror") == "unknown_route"
        ok_json(third, "/b", "cork")
        c.sock.sendall(request_bytes("cork.example.com", "/last",
                                     headers={"Connection": "close"}))
        last = c.read_response()
        ok_json(last, "/last", "cork")
        assert last.get("connection") == "close"
    assert (b.accepted, b.requests) == (1, 4)  # the 404 never reached it
