"""UAA's HTTPS listener: parses requests for `service.UAA` and writes its answers.

Logs method, path and status only: never a query string, form or header, since
those carry passwords, codes and tokens.
"""

from __future__ import annotations

import json
import logging
import ssl
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from foundry.uaa.service import UAA, Request, Response

log = logging.getLogger("uaa")
MAX_BODY = 64 * 1024


class _Handler(BaseHTTPRequestHandler):
    server_version = "cflab-uaa"
    protocol_version = "HTTP/1.1"
    server: UAAServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # the stdlib line holds the request target (query: codes); we log our own

    def _send(self, resp: Response) -> None:
        if resp.body is None:
            data = b""
        elif isinstance(resp.body, bytes):
            data = resp.body
        else:
            data = json.dumps(resp.body).encode()
        self.send_response(resp.status)
        ctype = "application/json;charset=UTF-8" if not isinstance(resp.body, bytes) \
            else "text/plain"
        if data:
            self.send_header("Content-Type", ctype)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        log.info("%s %s %s %d", self.address_string(), self.command,
                 self.path.split("?")[0], resp.status)

    def _dispatch(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self._send(Response(413 if length > 0 else 400,
                                {"error": "invalid_request",
                                 "error_description": "Bad Content-Length"}))
            return
        body = self.rfile.read(length) if length else b""
        req = Request.from_target(self.command, self.path, dict(self.headers.items()), body)
        try:
            resp = self.server.uaa.handle(req)
        except Exception:  # noqa: BLE001 - a bug still answers, without leaking the request
            log.exception("unhandled error for %s %s", self.command, req.path)
            resp = Response(500, {"error": "server_error",
                                  "error_description": "Internal Server Error"})
        self._send(resp)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch


class UAAServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], uaa: UAA, tls: ssl.SSLContext | None) -> None:
        super().__init__(address, _Handler)
        self.uaa = uaa
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True,
                                          do_handshake_on_connect=False)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.info("connection from %s failed", client_address)


def tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    return ctx
