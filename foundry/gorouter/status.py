"""Status listeners (gorouter `router/health_listener.go`, `routes_listener.go`).

`/health` (and `/metrics`) on the status port; `/routes` only on 127.0.0.1 with
basic auth, as gorouter does, so the routing table is not exposed off-box.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import json
import logging
from collections.abc import Callable

from foundry.gorouter.http11 import HTTPError, parse_request_head, serialize_head

log = logging.getLogger("gorouter.status")


class Health:
    """Initializing → Healthy; Degraded on SIGUSR1 or a fatal error."""

    INITIALIZING, HEALTHY, DEGRADED = "initializing", "healthy", "degraded"

    def __init__(self) -> None:
        self.state = self.INITIALIZING

    @property
    def healthy(self) -> bool:
        return self.state == self.HEALTHY


def _response(status: str, body: bytes, ctype: str = "text/plain; charset=utf-8",
              extra: list[tuple[str, str]] | None = None) -> bytes:
    headers = [("Content-Type", ctype), ("Content-Length", str(len(body)))]
    headers += extra or []
    return serialize_head(f"HTTP/1.1 {status}", headers) + body


def check_basic_auth(header: str | None, user: str, password: str) -> bool:
    if not header or not header.startswith("Basic "):
        return False
    try:
        got = base64.b64decode(header[6:], validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return False
    return hmac.compare_digest(got, f"{user}:{password}")


class StatusServer:
    def __init__(self, health: Health, *, metrics_text: Callable[[], str],
                 routes_json: Callable[[], dict], user: str, password: str) -> None:
        self.health = health
        self.metrics_text = metrics_text
        self.routes_json = routes_json
        self.user = user
        self.password = password
        self.servers: list[asyncio.base_events.Server] = []
        self.status_port = 0
        self.routes_port = 0

    async def start(self, host: str, port: int, routes_port: int) -> None:
        s = await asyncio.start_server(self._serve_status, host, port, reuse_address=True)
        r = await asyncio.start_server(self._serve_routes, "127.0.0.1", routes_port,
                                       reuse_address=True)
        self.servers = [s, r]
        self.status_port = s.sockets[0].getsockname()[1]
        self.routes_port = r.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for s in self.servers:
            s.close()
        for s in self.servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(s.wait_closed(), 1)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     handler: Callable[[str, str | None], bytes]) -> None:
        try:
            while True:
                try:
                    async with asyncio.timeout(60):
                        raw = await reader.readuntil(b"\r\n\r\n")
                    req = parse_request_head(raw, 64 * 1024)
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError,
                        TimeoutError, HTTPError):
                    break
                writer.write(handler(req.path.split("?", 1)[0], req.get("authorization")))
                await writer.drain()
                if not req.keep_alive:
                    break
        except Exception:  # noqa: BLE001
            log.exception("status listener error")
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def _status(self, path: str, _auth: str | None) -> bytes:
        if path in ("/health", "/is-process-alive-do-not-use-for-loadbalancing"):
            nocache = [("Cache-Control", "private, max-age=0"), ("Expires", "0")]
            if path != "/health" or self.health.healthy:
                return _response("200 OK", b"ok\n", extra=nocache)
            return _response("503 Service Unavailable", b"", extra=nocache)
        if path == "/metrics":
            return _response("200 OK", self.metrics_text().encode(),
                             "text/plain; version=0.0.4; charset=utf-8")
        return _response("404 Not Found", b"404 page not found\n")

    def _routes(self, path: str, auth: str | None) -> bytes:
        if path != "/routes":
            return _response("404 Not Found", b"404 page not found\n")
        if not check_basic_auth(auth, self.user, self.password):
            return _response("401 Unauthorized", b"401 Unauthorized\n",
                             extra=[("WWW-Authenticate", "Basic")])
        body = json.dumps(self.routes_json()).encode()
        return _response("200 OK", body, "application/json")

    async def _serve_status(self, reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter) -> None:
        await self._serve(reader, writer, self._status)

    async def _serve_routes(self, reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter) -> None:
        await self._serve(reader, writer, self._routes)
