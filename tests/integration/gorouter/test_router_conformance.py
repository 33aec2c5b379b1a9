"""Issue 13 B: the router answers as the real gorouter (5174c18, routing-release 2024-10) did.

Each test is one measured difference between cflab's router and the real one run
side by side; the expected answers come from gorouter's source (handlers/lookup.go,
helpers.go, proxy/round_tripper, Go's net/http and crypto/x509).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable

from gorouter_harness import (
    Backend,
    Harness,
    Pki,
    accept_until_closed,
    close_draining,
    wait_until,
)

from foundry.pki import issue_leaf


def body(raw: bytes) -> dict:
    return json.loads(raw)


class ScriptedBackend(Backend):
    """A plain backend whose connection handler is the test's own."""

    def __init__(self, name: str, handler: Callable[[asyncio.StreamReader,
                                                     asyncio.StreamWriter], Awaitable[None]]):
        super().__init__(name)
        self.handler = handler

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests += 1
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def scripted(harness: Harness, name: str, handler) -> ScriptedBackend:
    b = ScriptedBackend(name, handler)
    harness.lt.run(b.start())
    harness.backends.append(b)
    return b


# -- B1, B8: lookup errors -----------------------------------------------------
def test_404_quotes_the_host_header_as_sent(harness: Harness) -> None:
    harness.start_router()
    status, headers, raw = harness.get("NoPe.apps.internal:8080")
    assert status == 404
    assert raw == b"404 Not Found: Requested route ('NoPe.apps.internal:8080') does not exist.\n"
    assert headers["x-cf-routererror"] == "unknown_route"
    assert headers["cache-control"] == "no-cache, no-store"
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["x-content-type-options"] == "nosniff"


def test_empty_host_may_be_cached_two_seconds(harness: Harness) -> None:
    harness.start_router()
    status, headers, raw = harness.get("")
    assert status == 400 and headers["x-cf-routererror"] == "empty_host"
    assert headers["cache-control"] == "public,max-age=2"
    assert raw == b"400 Bad Request: Request had empty Host header\n"


# -- B2: X-CF-APP-INSTANCE -----------------------------------------------------
def test_x_cf_app_instance_routes_to_that_instance(harness: Harness) -> None:
    harness.start_router()
    app = str(uuid.uuid4())
    b0, b1 = harness.backend("i0"), harness.backend("i1")
    harness.register("inst.example.com", b0, app=app, private_instance_index="0")
    harness.register("inst.example.com", b1, app=app, private_instance_index="1")
    harness.wait_registered("inst.example.com", b0)
    harness.wait_registered("inst.example.com", b1)
    for _ in range(4):
        status, _, raw = harness.get("inst.example.com", headers={"X-CF-APP-INSTANCE": f"{app}:1"})
        assert status == 200
        got = body(raw)
        assert got["instance"] == "i1"
        assert "x-cf-app-instance" not in got["headers"]  # gorouter strips it
    seen = {body(harness.get("inst.example.com")[2])["instance"] for _ in range(4)}
    assert seen == {"i0", "i1"}  # without the header: round robin as before


def test_x_cf_app_instance_malformed_is_400(harness: Harness) -> None:
    harness.start_router()
    app = str(uuid.uuid4())
    b = harness.backend("only")
    harness.register("inst.example.com", b, app=app)
    harness.wait_registered("inst.example.com", b)
    for bad in ("nope", f"{app}", f"{app}:x", f"{app.upper()}:0", f"{app}:0:1", f"{app}:-1"):
        status, headers, raw = harness.get("inst.example.com",
                                           headers={"X-CF-App-Instance": bad})
        assert status == 400, bad
        assert headers["x-cf-routererror"] == "invalid_cf_app_instance_header"
        assert headers["cache-control"] == "no-cache, no-store"
        assert raw == b"400 Bad Request: Invalid X-CF-App-Instance Header\n"
    assert b.requests == 0


def test_x_cf_app_instance_unknown_index_is_400_unknown_route(harness: Harness) -> None:
    harness.start_router()
    app = str(uuid.uuid4())
    b = harness.backend("only")
    harness.register("inst.example.com", b, app=app)
    harness.wait_registered("inst.example.com", b)
    status, headers, raw = harness.get("Inst.example.com:80",
                                       headers={"X-CF-APP-INSTANCE": f"{app}:7"})
    assert status == 400
    assert headers["x-cf-routererror"] == "unknown_route"
    assert headers["cache-control"] == "no-cache, no-store"
    assert raw == (f"400 Bad Request: Requested instance ('7') with guid ('{app}') does not "
                   "exist for route ('Inst.example.com:80')\n").encode()
    # An unknown route with the header says the same, with 400 rather than 404.
    status, headers, _ = harness.get("none.example.com", headers={"X-CF-APP-INSTANCE": f"{app}:0"})
    assert status == 400 and headers["x-cf-routererror"] == "unknown_route"
    assert b.requests == 0


# -- B3: OPTIONS * ---------------------------------------------------------------
def test_options_asterisk_is_answered_by_the_server(harness: Harness) -> None:
    harness.start_router()
    b = harness.backend("x")
    harness.register("opt.example.com", b)
    harness.wait_registered("opt.example.com", b)
    out = harness.raw(b"OPTIONS * HTTP/1.1\r\nHost: opt.example.com\r\n\r\n"
                      b"OPTIONS * HTTP/1.1\r\nHost: unknown.example.com\r\nContent-Length: 3\r\n"
                      b"Connection: close\r\n\r\nabc")
    assert out.count(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nDate: ") == 2, out
    assert b.requests == 0


# -- B4: Go's hostname error -----------------------------------------------------
def test_san_mismatch_names_what_the_cert_is_valid_for(harness: Harness, pki: Pki,
                                                        guid) -> None:
    harness.start_router(ca_certs=[pki.root.cert_pem.decode()])
    actual, expected = guid(), guid()
    b = harness.backend("reused", cred=pki.instance(actual))
    harness.register("san.example.com", b, tls=True, guid=expected)
    harness.wait_registered("san.example.com", b)
    status, headers, raw = harness.get("san.example.com")
    assert status == 503 and raw == b"503 Service Unavailable\n"
    assert headers["x-cf-routererror"] == (
        "endpoint_failure (tls: failed to verify certificate: x509: certificate is valid for "
        f"{actual}, not {expected})")
    assert "cache-control" not in headers  # Go's http.Error sets none


def test_san_mismatch_with_a_cert_without_names(harness: Harness, pki: Pki, guid) -> None:
    harness.start_router(ca_certs=[pki.root.cert_pem.decode()])
    expected = guid()
    b = harness.backend("nameless", cred=issue_leaf(pki.identity_ca, "someone-else"))
    harness.register("nameless.example.com", b, tls=True, guid=expected)
    harness.wait_registered("nameless.example.com", b)
    status, headers, _ = harness.get("nameless.example.com")
    assert status == 503
    assert headers["x-cf-routererror"] == (
        "endpoint_failure (tls: failed to verify certificate: x509: certificate is not valid "
        f"for any names, but wanted to match {expected})")


# -- B5: a pool emptied by a failure -------------------------------------------
def test_route_emptied_by_a_failure_is_404_by_default(harness: Harness, pki: Pki,
                                                        guid) -> None:
    harness.start_router(ca_certs=[pki.root.cert_pem.decode()])
    b = harness.backend("wrong", cred=pki.instance(guid()))
    harness.register("gone.example.com", b, tls=True, guid=guid())
    harness.wait_registered("gone.example.com", b)
    assert harness.get("gone.example.com")[0] == 503  # pruned: the SAN did not match
    status, headers, raw = harness.get("Gone.example.com")
    assert status == 404 and headers["x-cf-routererror"] == "unknown_route"
    assert raw == b"404 Not Found: Requested route ('Gone.example.com') does not exist.\n"


def test_route_emptied_by_a_failure_with_empty_pool_response_code_503(
        harness: Harness, pki: Pki, guid) -> None:
    harness.start_router(ca_certs=[pki.root.cert_pem.decode()],
                         empty_pool_response_code_503=True)
    b = harness.backend("wrong", cred=pki.instance(guid()))
    harness.register("gone.example.com", b, tls=True, guid=guid())
    harness.wait_registered("gone.example.com", b)
    assert harness.get("gone.example.com")[0] == 503
    status, headers, raw = harness.get("gone.example.com")
    assert status == 503 and headers["x-cf-routererror"] == "no_endpoints"
    assert headers["cache-control"] == "public,max-age=2"
    assert raw == (b"503 Service Unavailable: Requested route ('gone.example.com') has no "
                   b"available endpoints.\n")


# -- B6: EOF, as the error handler sees it ----------------------------------------
class SilentCloser:
    """A plain TCP listener that reads what comes and closes without a word."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        accept_until_closed(self.sock, self._one)

    def _one(self, conn: socket.socket) -> None:
        self.accepted += 1
        conn.settimeout(5)
        try:
            conn.recv(65536)
        except OSError:
            conn.close()
            return
        close_draining(conn)

    def close(self) -> None:
        self.sock.close()


def test_plain_backend_where_tls_was_expected_is_eof(harness: Harness, pki: Pki) -> None:
    harness.start_router(ca_certs=[pki.root.cert_pem.decode()])
    closer = SilentCloser()
    try:
        harness.nats.publish("router.register", {
            "host": "127.0.0.1", "tls_port": closer.port, "uris": ["eof.example.com"],
            "private_instance_id": "i", "server_cert_domain_san": "i"})
        wait_until(lambda: harness.routes().get("eof.example.com"), what="registered")
        status, headers, raw = harness.get("eof.example.com")
        assert status == 502
        assert headers["x-cf-routererror"] == "endpoint_failure (EOF)"
        assert raw == b"502 Bad Gateway: Registered endpoint failed to handle the request.\n"
        # io.EOF is not prunable: the endpoint stays in the pool
        assert harness.addresses("eof.example.com") == {f"127.0.0.1:{closer.port}"}
    finally:
        closer.close()


def test_backend_closing_after_the_request_is_eof_without_idempotent_note(
        harness: Harness) -> None:
    harness.start_router()

    async def close_after_head(reader: asyncio.StreamReader, _w: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")

    b = scripted(harness, "closer", close_after_head)
    harness.register("closer.example.com", b)
    harness.wait_registered("closer.example.com", b)
    status, headers, _ = harness.get("closer.example.com")
    assert status == 502
    assert headers["x-cf-routererror"] == "endpoint_failure (EOF)"


# -- B7: Go's reason phrase --------------------------------------------------------
def test_status_line_carries_gos_reason_phrase(harness: Harness) -> None:
    harness.start_router()

    async def odd_reason(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            code = head.split(b" ")[1].lstrip(b"/")
            writer.write(b"HTTP/1.1 " + code + b" Unsupported method ('HEAD')\r\n"
                         b"Content-Length: 2\r\n\r\nno")
            await writer.drain()

    b = scripted(harness, "odd", odd_reason)
    harness.register("odd.example.com", b)
    harness.wait_registered("odd.example.com", b)
    out = harness.raw(b"GET /501 HTTP/1.1\r\nHost: odd.example.com\r\n\r\n"
                      b"GET /299 HTTP/1.1\r\nHost: odd.example.com\r\n\r\n"
                      b"GET /200 HTTP/1.1\r\nHost: odd.example.com\r\nConnection: close\r\n\r\n")
    lines = re.findall(rb"HTTP/1\.1 [^\r\n]*", out)
    assert lines == [b"HTTP/1.1 501 Not Implemented", b"HTTP/1.1 299 status code 299",
                     b"HTTP/1.1 200 OK"]
