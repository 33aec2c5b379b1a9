"""The HTTP edge: a stdlib ThreadingHTTPServer in front of BBSService, plus the
convergence loop (full pass every ``convergence_interval``; a quick look every second
for lost cells, as the real BBS converges at once when a cell presence disappears).

With TLS configured the API is mutual TLS, as diego-release runs it (Go's
``tls.RequireAndVerifyClientCert`` against the foundation's CA): a client without a
certificate from that CA fails the handshake, and plain HTTP gets the answer Go's
net/http gives it. The handshake runs in the connection's thread, so a slow or silent
client never holds up the accept loop.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from foundry.bbs.api import BBSService
from foundry.bbs.config import BBSConfig
from foundry.bbs.restart import RestartCalculator
from foundry.bbs.state import BBSState
from foundry.bbs.store import Store
from foundry.jobconfig import split_host_port

log = logging.getLogger("bbs")
MAX_BODY = 4 * 1024 * 1024
HANDSHAKE_TIMEOUT_S = 10.0
TLS_HANDSHAKE = 0x16  # the first byte of a TLS record carrying a ClientHello
# What Go's net/http answers a plain HTTP request on a TLS listener, then it closes.
PLAIN_HTTP_REPLY = (b"HTTP/1.0 400 Bad Request\r\n\r\n"
                    b"Client sent an HTTP request to an HTTPS server.\n")


def server_context(ca_file: str, cert_file: str, key_file: str) -> ssl.SSLContext:
    """TLS 1.2+, our certificate, and a client certificate from `ca_file` required."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    ctx.load_verify_locations(ca_file)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


class APIServer(ThreadingHTTPServer):
    """The API listener: plain HTTP when `tls` is None, else mutual TLS."""

    allow_reuse_address = True
    daemon_threads = True
    tls: ssl.SSLContext | None = None

    def finish_request(self, request, client_address) -> None:  # type: ignore[override]
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        peer = f"{client_address[0]}:{client_address[1]}"
        request.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            first = request.recv(1, socket.MSG_PEEK)
            if first and first[0] != TLS_HANDSHAKE:
                request.sendall(PLAIN_HTTP_REPLY)
                log.info("http: TLS handshake error from %s: client sent an HTTP request"
                         " to an HTTPS server", peer)
                return
            if not first:
                return
            conn = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log.info("http: TLS handshake error from %s: %s", peer, e)
            return
        try:
            conn.settimeout(None)
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            conn.close()


class HealthHandler(BaseHTTPRequestHandler):
    """diego's BBS health listener: `GET /ping` → 200, on loopback, no TLS."""

    server_version = "bbs"

    def do_GET(self) -> None:  # noqa: N802
        status = 200 if self.path == "/ping" else 404
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt: str, *args: object) -> None:
        pass


def make_handler(service: BBSService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "bbs"

        def _dispatch(self) -> None:
            body = None
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(413, {"error": "body: too large"})
                return
            if length:
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError as e:
                    self._send(400, {"error": f"body: invalid JSON: {e}"})
                    return
            status, payload = service.handle(self.command, self.path, body)
            self._send(status, payload)

        def _send(self, status: int, payload: object) -> None:
            data = b"" if status == 204 else json.dumps(payload).encode() + b"\n"
            self.send_response(status)
            if status != 204:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _dispatch

        def log_message(self, fmt: str, *args: object) -> None:
            if self.path.startswith("/ping") or "/work" in self.path:
                return
            log.debug("%s %s", self.address_string(), fmt % args)

    return Handler


class BBSServer:
    def __init__(self, cfg: BBSConfig) -> None:
        self.cfg = cfg
        self.store = Store(cfg.db_path)
        calc = RestartCalculator(backoff_base_s=cfg.restart_backoff_base,
                                 backoff_max_s=cfg.restart_backoff_max)
        state = BBSState(time.time_ns, calc, cell_presence_ttl_s=cfg.cell_presence_ttl,
                         crash_reset_timeout_s=cfg.crash_reset_timeout)
        self.store.load(state)
        self.service = BBSService(state, self.store)
        self.httpd = APIServer(cfg.address, make_handler(self.service))
        if cfg.tls:
            self.httpd.tls = server_context(cfg.ca_file, cfg.server_cert_file,
                                            cfg.server_key_file)
        self.health: APIServer | None = None
        if cfg.health_address:
            self.health = APIServer(split_host_port(cfg.health_address), HealthHandler)
        self.stopping = threading.Event()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def _converger(self) -> None:
        next_full = time.monotonic() + self.cfg.convergence_interval
        tick = min(1.0, self.cfg.convergence_interval)
        while not self.stopping.wait(tick):
            try:
                if time.monotonic() >= next_full:
                    next_full = time.monotonic() + self.cfg.convergence_interval
                    self.service.converge()
                else:
                    self.service.converge(only_if_cells_lost=True)
            except Exception:  # keep converging whatever one pass hit
                log.exception("convergence failed")

    def serve_forever(self) -> None:
        self.service.converge()  # a restarted BBS catches up at once
        threading.Thread(target=self._converger, name="convergence", daemon=True).start()
        if self.health is not None:
            threading.Thread(target=self.health.serve_forever, kwargs={"poll_interval": 0.5},
                             name="health", daemon=True).start()
        log.info("bbs listening on %s:%d (%s), db %s", self.cfg.address[0], self.port,
                 "mutual TLS" if self.httpd.tls else "plain HTTP", self.cfg.db_path)
        self.httpd.serve_forever(poll_interval=0.5)

    def shutdown(self) -> None:
        self.stopping.set()
        if self.health is not None:
            self.health.shutdown()
        self.httpd.shutdown()

    def close(self) -> None:
        self.httpd.server_close()
        if self.health is not None:
            self.health.server_close()
        self.store.close()
