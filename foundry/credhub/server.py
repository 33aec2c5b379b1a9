"""CredHub's HTTPS edge: TLS, client authentication, JSON in and out, an access log."""

from __future__ import annotations

import datetime as dt
import logging
import ssl
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from foundry.credhub.api import CredHubAPI, Request, Response
from foundry.credhub.auth import Actor, Authenticator, AuthError
from foundry.credhub.tls import peer_chain_der

log = logging.getLogger("credhub")

MAX_BODY = 1024 * 1024
HANDSHAKE_TIMEOUT = 10.0


class _Handler(BaseHTTPRequestHandler):
    server_version = "CredHub"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    server: CredHubServer

    def setup(self) -> None:
        self.request.settimeout(HANDSHAKE_TIMEOUT)
        self.request.do_handshake()
        self.request.settimeout(60)
        self.chain = peer_chain_der(self.request)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the access log below carries actor and outcome instead

    def _send(self, resp: Response) -> None:
        data = resp.encoded()
        self.send_response(resp.status)
        if data:
            self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self) -> None:
        raw = (self.headers.get("Content-Length") or "0").strip()
        if not raw.isdigit() or not raw.isascii():
            # not a number; a negative one would read until the client hangs up
            self.close_connection = True
            self._send(Response(400, {"error": "The request could not be fulfilled because the "
                                               "request path or body did not meet expectation."}))
            return
        length = int(raw)
        if length > MAX_BODY:
            self.close_connection = True
            self._send(Response(413, {"error": "The request body is too large."}))
            return
        body = self.rfile.read(length) if length else b""
        req = Request.from_target(self.command, self.path, body)
        actor: Actor | None = None
        if req.path.rstrip("/") not in CredHubAPI.PUBLIC:
            try:
                actor = self.server.auth.authenticate(self.chain, dt.datetime.now(dt.UTC))
            except AuthError as e:
                log.info("%s %s %s -> 401 (%s)", self.client_address[0], req.method, req.path,
                         e.reason)
                self._send(Response(401, {"error": e.message}))
                return
        try:
            resp = self.server.api.handle(req, actor)
        except Exception:  # noqa: BLE001 - answer in CredHub's shape, log the bug
            log.exception("unhandled error for %s %s", req.method, req.path)
            resp = Response(500, {"error": "An application error occurred. Please contact "
                                           "your CredHub administrator."}, "bug")
        log.info("%s %s %s actor=%s -> %d (%s)", self.client_address[0], req.method, req.path,
                 actor.name if actor else "-", resp.status, resp.note)
        self._send(resp)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _dispatch


class CredHubServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: CredHubAPI, auth: Authenticator,
                 tls: ssl.SSLContext) -> None:
        super().__init__(address, _Handler)
        self.api, self.auth = api, auth
        self.socket = tls.wrap_socket(self.socket, server_side=True,
                                      do_handshake_on_connect=False)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.info("connection from %s failed", client_address, exc_info=True)

