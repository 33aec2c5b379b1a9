"""HTTP edges: the public HTTPS API and the plain-HTTP internal port cells use for bits."""

from __future__ import annotations

import logging
import re
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from foundry.cloud_controller.api import API, Request, Response
from foundry.cloud_controller.auth import Authenticator, load_public_key
from foundry.cloud_controller.bits import BitsStore
from foundry.cloud_controller.config import CCConfig
from foundry.cloud_controller.errors import CCError

log = logging.getLogger("cloud_controller")

MAX_JSON_BODY = 1024 * 1024
DRAIN_FACTOR = 4  # read and discard an oversized upload up to this multiple, then answer 413
BITS_PATH = re.compile(r"^/internal/v1/bits/(?P<app>[0-9a-f-]{36})/(?P<sha>[0-9a-f]{64})\.tgz$")


class _Handler(BaseHTTPRequestHandler):
    server_version = "cflab-cloud-controller"
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.info("%s %s", self.address_string(), format % args)

    def _send(self, resp: Response) -> None:
        data = resp.encoded()
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Vcap-Request-Id", self.headers.get("X-Vcap-Request-Id", "-"))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _body(self, limit: int) -> bytes | None:
        """The body, or None after answering 400 for a Content-Length that is not a number
        (a negative one would read until the client hangs up) or 413 for one over ``limit``."""
        raw = (self.headers.get("Content-Length") or "0").strip()
        if not raw.isdigit() or not raw.isascii():
            self.close_connection = True
            err = CCError("MessageParseError", "Content-Length is not a number")
            self._send(Response(400, err.v3() if self.path.startswith("/v3") else err.v2()))
            return None
        length = int(raw)
        if length <= limit:
            return self.rfile.read(length) if length else b""
        if length <= limit * DRAIN_FACTOR:
            remaining = length
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 16))
                if not chunk:
                    break
                remaining -= len(chunk)
        else:
            self.close_connection = True
        err = CCError("AppBitsTooLarge", f"Package may not be larger than {limit} bytes")
        v3 = self.path.startswith("/v3")
        self._send(Response(413, err.v3() if v3 else err.v2()))
        return None

    def _dispatch(self) -> None:
        if self.path.split("?")[0] == "/healthz":
            self._send(Response(200, b"ok\n", "text/plain"))
            return
        if self.server.internal:
            self._internal()
            return
        try:
            self.server.auth.caller(self.command, self.path.split("?")[0],
                                    self.headers.get("Authorization"))
        except CCError as e:
            if self.headers.get("Content-Length", "0") not in ("", "0"):
                self.close_connection = True  # the body is not read: don't reuse the stream
            self._send(Response(e.status, e.v3() if self.path.startswith("/v3") else e.v2()))
            return
        limit = self.server.cfg.max_bits_bytes if self.path.split("?")[0].endswith("/bits") \
            else MAX_JSON_BODY
        body = self._body(limit)
        if body is None:
            return
        try:
            resp = self.server.api.handle(Request.from_target(self.command, self.path, body))
        except Exception:  # noqa: BLE001 - an unexpected bug must still answer in CF's shape
            log.exception("unhandled error for %s %s", self.command, self.path)
            resp = Response(500, {"code": 10001, "description": "An unknown error occurred.",
                                  "error_code": "UnknownError"})
        self._send(resp)

    def _internal(self) -> None:
        if self.command == "POST":
            body = self._body(MAX_JSON_BODY * 4)
            if body is None:
                return
            resp = self.server.api.internal(Request.from_target("POST", self.path, body))
            self._send(resp or Response(404, b"not found\n", "text/plain"))
            return
        if self.command == "GET":
            resp = self.server.api.internal(Request.from_target("GET", self.path))
            if resp is not None:
                self._send(resp)
                return
        m = BITS_PATH.match(self.path.split("?")[0])
        if self.command in ("GET", "HEAD") and m:
            data = self.server.bits.read(m["app"], m["sha"])
            if data is not None:
                self._send(Response(200, data, "application/gzip"))
                return
        self._send(Response(404, b"not found\n", "text/plain"))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], cfg: CCConfig, api: API, bits: BitsStore,
                 internal: bool, tls: ssl.SSLContext | None, auth: Authenticator) -> None:
        super().__init__(address, _Handler)
        self.cfg, self.api, self.bits, self.internal = cfg, api, bits, internal
        self.auth = auth
        if tls is not None:
            # Handshake lazily in the handler thread, so one slow client can't stall accept().
            self.socket = tls.wrap_socket(self.socket, server_side=True,
                                          do_handshake_on_connect=False)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.info("connection from %s failed", client_address, exc_info=True)


def tls_context(cfg: CCConfig) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    return ctx


def authenticator(cfg: CCConfig) -> Authenticator:
    """Checks tokens with UAA's key; with none configured no token is valid (never open)."""
    if not cfg.uaa_verification_key_file:
        log.warning("no uaa_verification_key_file: every API call will be refused")
        return Authenticator({})
    with open(cfg.uaa_verification_key_file, "rb") as f:
        return Authenticator({"uaa": load_public_key(f.read())})


class CCServers:
    """The public (HTTPS) and internal (HTTP) listeners, each on its own thread."""

    def __init__(self, cfg: CCConfig, api: API, bits: BitsStore) -> None:
        tls = tls_context(cfg) if cfg.cert_file else None
        auth = authenticator(cfg)
        self.public = _Server(cfg.split(cfg.listen_address), cfg, api, bits, False, tls, auth)
        self.internal = _Server(cfg.split(cfg.internal_listen_address), cfg, api, bits, True,
                                None, auth)
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for srv, name in ((self.public, "public"), (self.internal, "internal")):
            t = threading.Thread(target=srv.serve_forever, name=f"cc-{name}", daemon=True)
            t.start()
            self.threads.append(t)
        log.info("cloud controller listening on %s (api) and %s (internal)",
                 self.public.server_address, self.internal.server_address)

    def shutdown(self) -> None:
        for srv in (self.public, self.internal):
            srv.shutdown()
            srv.server_close()
