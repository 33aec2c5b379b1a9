"""One way to serve a control-plane job's HTTP API (BBS, Cloud Controller, CredHub, the
service broker, UAA), so each job only says what differs: its API and its error shapes.

`APIServer` is a threaded listener; with TLS it wraps each connection in that
connection's own thread under a handshake timeout, so a slow or silent client never
holds up accept(). `APIHandler` reads a request into `foundry.httpapi.Request` under
the job's body limit (413 in the job's JSON), calls the job's `Endpoint`, and writes
its `Reply`; an exception from the job is logged and answered 500, and the listener
goes on serving.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from foundry.httpapi import Request

HANDSHAKE_TIMEOUT_S = 10.0
TLS_HANDSHAKE = 0x16  # the first byte of a TLS record carrying a ClientHello
# What Go's net/http answers a plain HTTP request on a TLS listener, then it closes.
GO_PLAIN_HTTP_REPLY = (b"HTTP/1.0 400 Bad Request\r\n\r\n"
                       b"Client sent an HTTP request to an HTTPS server.\n")
ALL_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})


def server_context(cert_file: str, key_file: str,
                   client_ca_file: str | None = None) -> ssl.SSLContext:
    """TLS 1.2+ with our certificate. With `client_ca_file` it is mutual TLS: a client
    certificate from that CA is required (Go's ``tls.RequireAndVerifyClientCert``)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    if client_ca_file:
        ctx.load_verify_locations(client_ca_file)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


@dataclass
class Reply:
    """What goes on the wire; Content-Length is added, Content-Type only when set."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False  # close the connection after this answer (e.g. a body left unread)


@dataclass(frozen=True)
class Peer:
    """The client: its address and, on a TLS listener, the connection (for its chain)."""

    address: tuple[str, int]
    tls: ssl.SSLSocket | None = None


class Endpoint:
    """A job's side of one listener. A job subclasses it, sets the class attributes
    and overrides `respond`, and `error` if its JSON errors have another shape."""

    log = logging.getLogger("httpserver")
    server_version = "cflab"
    sys_version = BaseHTTPRequestHandler.sys_version
    methods: frozenset[str] = ALL_METHODS - {"HEAD"}
    request_class: type[Request] = Request
    max_body = 1024 * 1024
    # An oversized body up to this multiple of the limit is read and dropped, so the
    # 413 reaches a client still sending and the connection stays usable; beyond it, close.
    drain_factor = 1
    # The stdlib's own log lines quote the request target; a job whose targets carry
    # secrets (codes, credential names) drops them.
    private_targets = False

    def admit(self, req: Request) -> Reply | None:
        """An answer given before the body is read (e.g. a token check), or None."""
        return None

    def limit(self, req: Request) -> int:
        return self.max_body

    bad_length_message = "Content-Length is not a number"  # a negative one would read to EOF
    too_large_message = "body too large"
    failed_message = "internal error"

    def error(self, req: Request, status: int, message: str) -> Reply:
        """The job's JSON error; `bad_length`, `too_large` and `failed` answer with it."""
        return Reply(status, json.dumps({"error": message}).encode(), "application/json")

    def bad_length(self, req: Request) -> Reply:
        return self.error(req, 400, self.bad_length_message)

    def too_large(self, req: Request, limit: int) -> Reply:
        return self.error(req, 413, self.too_large_message)

    def respond(self, req: Request, peer: Peer) -> Reply:
        raise NotImplementedError

    def failed(self, req: Request) -> Reply:
        """The answer when `admit` or `respond` raised."""
        return self.error(req, 500, self.failed_message)

    def access(self, client: str, req: Request, status: int) -> None:
        """One line per answer: no query string, no header, no body."""
        self.log.info("%s %s %s %d", client, req.method, req.path, status)


class APIHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: APIServer

    def version_string(self) -> str:
        ep = self.server.endpoint
        return f"{ep.server_version} {ep.sys_version}".rstrip()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # Endpoint.access logs each answer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        ep = self.server.endpoint
        if not ep.private_targets:
            ep.log.info("%s %s", self.address_string(), format % args)

    def _dispatch(self) -> None:
        ep = self.server.endpoint
        if self.command not in ep.methods:
            self.send_error(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method ({self.command!r})")
            return
        req = ep.request_class.from_target(self.command, self.path, headers=self.headers)
        try:
            reply = ep.admit(req)
        except Exception:  # noqa: BLE001 - a job's bug answers 500, the listener lives on
            reply = self._failed(req)
        if reply is None:
            reply = self._read_body(req)
        if reply is None:
            tls = self.request if isinstance(self.request, ssl.SSLSocket) else None
            try:
                reply = ep.respond(req, Peer(self.client_address, tls))
            except Exception:  # noqa: BLE001
                reply = self._failed(req)
        self._send(reply)
        ep.access(self.address_string(), req, reply.status)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def _failed(self, req: Request) -> Reply:
        ep = self.server.endpoint
        ep.log.exception("unhandled error for %s %s", req.method, req.path)
        return ep.failed(req)

    def _read_body(self, req: Request) -> Reply | None:
        """Sets `req.body`; or the answer for a bad Content-Length or one over the limit."""
        ep = self.server.endpoint
        raw = (self.headers.get("Content-Length") or "0").strip()
        if not (raw.isascii() and raw.isdigit()):
            self.close_connection = True
            return ep.bad_length(req)
        length, limit = int(raw), ep.limit(req)
        if length <= limit:
            req.body = self.rfile.read(length) if length else b""
            return None
        if length <= limit * ep.drain_factor:
            remaining = length
            while remaining > 0 and (chunk := self.rfile.read(min(remaining, 1 << 16))):
                remaining -= len(chunk)
        else:
            self.close_connection = True
        return ep.too_large(req, limit)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        if reply.content_type is not None:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if reply.close:
            self.close_connection = True
        if self.command != "HEAD":
            self.wfile.write(reply.body)


class APIServer(ThreadingHTTPServer):
    """A job's listener: plain HTTP when `tls` is None, else TLS (server-only or mutual,
    as the context says), handshaken per connection in that connection's thread.

    `plain_http_reply`, if set, is written to a client that speaks plain HTTP to the TLS
    port before the connection closes (Go's answer for the BBS); otherwise such a client
    fails the handshake and is closed. `idle_timeout` bounds each read after the handshake.
    """

    allow_reuse_address = True  # on this class only, never on the stdlib's
    daemon_threads = True

    def __init__(self, address: tuple[str, int], endpoint: Endpoint,
                 tls: ssl.SSLContext | None = None, *, plain_http_reply: bytes | None = None,
                 idle_timeout: float | None = None,
                 handshake_timeout: float = HANDSHAKE_TIMEOUT_S) -> None:
        super().__init__(address, APIHandler)
        self.endpoint, self.tls = endpoint, tls
        self.plain_http_reply, self.idle_timeout = plain_http_reply, idle_timeout
        self.handshake_timeout = handshake_timeout

    @property
    def port(self) -> int:
        return self.server_address[1]

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            request.settimeout(self.idle_timeout)
            super().finish_request(request, client_address)
            return
        conn = self._handshake(request, f"{client_address[0]}:{client_address[1]}")
        if conn is None:
            return
        try:
            conn.settimeout(self.idle_timeout)
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            conn.close()

    def _handshake(self, sock: socket.socket, peer: str) -> ssl.SSLSocket | None:
        """The TLS connection, or None once a failed or plain-HTTP client is logged."""
        log = self.endpoint.log
        sock.settimeout(self.handshake_timeout)
        try:
            if self.plain_http_reply is not None:
                first = sock.recv(1, socket.MSG_PEEK)
                if not first:
                    return None
                if first[0] != TLS_HANDSHAKE:
                    sock.sendall(self.plain_http_reply)
                    log.info("http: TLS handshake error from %s: client sent an HTTP request"
                             " to an HTTPS server", peer)
                    return None
            assert self.tls is not None
            return self.tls.wrap_socket(sock, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log.info("http: TLS handshake error from %s: %s", peer, e)
            return None

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that broke mid-request: logged, the listener goes on."""
        self.endpoint.log.info("connection from %s failed", client_address,
                               exc_info=self.endpoint.log.isEnabledFor(logging.DEBUG))
