"""foundry.httpserver on loopback: the body limit, a job's bug, and TLS per connection."""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundry.httpapi import Request
from foundry.httpserver import GO_PLAIN_HTTP_REPLY, APIServer, Endpoint, Peer, Reply, server_context
from foundry.pki.ca import Credential, issue_leaf, new_ca


class Echo(Endpoint):
    """Answers the body it read; `/boom` raises, as a job's bug would."""

    max_body = 16

    def __init__(self) -> None:
        self.peers: list[Peer] = []

    def respond(self, req: Request, peer: Peer) -> Reply:
        self.peers.append(peer)
        if req.path == "/boom":
            raise RuntimeError("a bug")
        return Reply(200, json.dumps({"path": req.path, "body": req.body.decode(),
                                      "query": req.query}).encode(), "application/json",
                     [("X-Seen", req.headers.get("x-test", "-"))])


@pytest.fixture
def serve() -> Iterator:
    servers: list[APIServer] = []

    def start(endpoint: Endpoint, tls: ssl.SSLContext | None = None, **kw) -> APIServer:
        srv = APIServer(("127.0.0.1", 0), endpoint, tls, **kw)
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        servers.append(srv)
        return srv
    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _get(port: int, path: str = "/", **kw) -> tuple[int, dict, bytes]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request(kw.pop("method", "GET"), path, **kw)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def test_answers_the_endpoints_reply(serve) -> None:
    srv = serve(Echo())
    status, headers, body = _get(srv.port, "/v1/x?a=1&a=2", method="POST", body=b"hi",
                                 headers={"X-Test": "yes"})
    assert status == 200 and headers["X-Seen"] == "yes"
    assert headers["Content-Type"] == "application/json"
    assert headers["Content-Length"] == str(len(body))
    assert json.loads(body) == {"path": "/v1/x", "body": "hi", "query": {"a": ["1", "2"]}}
    assert headers["Server"].startswith("cflab Python/")


def test_a_body_over_the_limit_is_413_json_and_the_connection_closes(serve) -> None:
    srv = serve(Echo())
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        # the body is never sent: a server that waited for it would time this out
        s.sendall(b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n\r\n")
        data = s.makefile("rb").read()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ") and b"Content-Type: application/json" in head
    assert json.loads(body) == {"error": "body too large"}  # answered, then closed
    assert _get(srv.port, "/x", method="POST", body=b"x" * 16)[0] == 200  # at the limit


def test_a_drained_oversized_body_keeps_the_connection(serve) -> None:
    ep = Echo()
    ep.drain_factor = 4
    srv = serve(ep)
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    c.request("POST", "/x", body=b"x" * 40)
    r = c.getresponse()
    assert r.status == 413 and json.loads(r.read()) == {"error": "body too large"}
    c.request("GET", "/after")  # the same connection: the 40 bytes were read and dropped
    r = c.getresponse()
    assert r.status == 200 and json.loads(r.read())["path"] == "/after"
    c.close()


@pytest.mark.parametrize("length", ["-1", "abc", "+5", "٣"])
def test_a_content_length_that_is_not_a_number_is_400(serve, length: str) -> None:
    srv = serve(Echo())
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(f"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: {length}\r\n\r\n".encode())
        data = s.makefile("rb").read()  # answered, then closed: no read until EOF
    assert data.startswith(b"HTTP/1.1 400 ")
    assert data.endswith(b'{"error": "Content-Length is not a number"}')


def test_a_jobs_exception_is_500_and_the_server_keeps_serving(serve, caplog) -> None:
    srv = serve(Echo())
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    c.request("GET", "/boom?secret=1")
    r = c.getresponse()
    assert r.status == 500 and json.loads(r.read()) == {"error": "internal error"}
    c.request("GET", "/still")  # the same connection, then a new one
    assert c.getresponse().status == 200
    c.close()
    assert _get(srv.port, "/again")[0] == 200
    bug = [r for r in caplog.records if r.exc_info]
    assert len(bug) == 1 and "unhandled error for GET /boom" in bug[0].getMessage()
    assert "secret" not in caplog.text


def test_a_method_the_job_does_not_serve_is_501(serve) -> None:
    ep = Echo()
    ep.methods = frozenset({"GET"})
    srv = serve(ep)
    assert _get(srv.port, "/x", method="DELETE")[0] == 501
    assert _get(srv.port, "/x")[0] == 200


def test_head_gets_the_headers_without_the_body(serve) -> None:
    ep = Echo()
    ep.methods = frozenset({"GET", "HEAD"})
    srv = serve(ep)
    status, headers, body = _get(srv.port, "/x", method="HEAD")
    assert status == 200 and int(headers["Content-Length"]) > 0 and body == b""


# ---- TLS -------------------------------------------------------------------------------

@functools.cache
def _pki() -> tuple[Credential, Credential, Credential, Credential]:
    ca, other = new_ca("testCA"), new_ca("someoneElsesCA")
    server = issue_leaf(ca, "api", dns_names=["localhost"], ip_addresses=["127.0.0.1"])
    client = issue_leaf(ca, "client", server_auth=False, client_auth=True)
    return ca, other, server, client


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, str]:
    ca, _, server, client = _pki()
    files = {"ca": ca.cert_pem, "server.crt": server.chain_pem, "server.key": server.key_pem,
             "client.crt": client.chain_pem, "client.key": client.key_pem}
    for name, pem in files.items():
        (tmp_path / name).write_bytes(pem)
    return {name: str(tmp_path / name) for name in files}


def _client_ctx(pki: dict[str, str], cert: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=pki["ca"])
    if cert:
        ctx.load_cert_chain(pki["client.crt"], pki["client.key"])
    return ctx


def _tls_get(port: int, ctx: ssl.SSLContext, path: str = "/x") -> int:
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=ctx)
    try:
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def test_server_only_tls_answers_and_passes_the_connection(serve, pki) -> None:
    ep = Echo()
    srv = serve(ep, server_context(pki["server.crt"], pki["server.key"]))
    assert _tls_get(srv.port, _client_ctx(pki, cert=False)) == 200
    assert isinstance(ep.peers[0].tls, ssl.SSLSocket) and ep.peers[0].address[0] == "127.0.0.1"


def test_a_silent_client_does_not_block_the_next_handshake(serve, pki) -> None:
    srv = serve(Echo(), server_context(pki["server.crt"], pki["server.key"]),
                handshake_timeout=3.0)
    silent = socket.create_connection(("127.0.0.1", srv.port), timeout=5)  # says nothing
    try:
        time.sleep(0.2)  # accepted by now
        start = time.monotonic()
        assert _tls_get(srv.port, _client_ctx(pki, cert=False)) == 200
        assert time.monotonic() - start < 2.0
        silent.settimeout(6)
        assert silent.recv(1) == b""  # then the silent one is dropped at the timeout
    finally:
        silent.close()


def test_mutual_tls_refuses_a_client_without_a_certificate(serve, pki) -> None:
    ep = Echo()
    srv = serve(ep, server_context(pki["server.crt"], pki["server.key"], pki["ca"]))
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.RemoteDisconnected)):
        _tls_get(srv.port, _client_ctx(pki, cert=False))
    assert ep.peers == []
    assert _tls_get(srv.port, _client_ctx(pki, cert=True)) == 200


def _plain_exchange(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
        got = bytearray()
        with contextlib.suppress(ConnectionResetError):  # the unread request may reset
            while chunk := s.recv(65536):
                got += chunk
        return bytes(got)


def test_plain_http_on_the_tls_port_gets_the_configured_answer(serve, pki) -> None:
    ctx = server_context(pki["server.crt"], pki["server.key"], pki["ca"])
    srv = serve(Echo(), ctx, plain_http_reply=GO_PLAIN_HTTP_REPLY)
    assert _plain_exchange(srv.port) == GO_PLAIN_HTTP_REPLY
    assert _tls_get(srv.port, _client_ctx(pki, cert=True)) == 200


def test_plain_http_on_the_tls_port_is_closed_without_a_configured_answer(serve, pki) -> None:
    srv = serve(Echo(), server_context(pki["server.crt"], pki["server.key"]))
    assert _plain_exchange(srv.port) == b""


def test_address_reuse_is_set_on_the_subclass_only() -> None:
    from http.server import ThreadingHTTPServer
    from socketserver import TCPServer

    assert APIServer.__dict__["allow_reuse_address"] is True
    assert APIServer.__dict__["daemon_threads"] is True
    assert "allow_reuse_address" not in ThreadingHTTPServer.__dict__
    assert TCPServer.allow_reuse_address is False
