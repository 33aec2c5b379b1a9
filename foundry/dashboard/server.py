"""The dashboard's HTTP server: the page, its two static files, a JSON snapshot and the
server-sent event stream (`/events`) that pushes every change as it happens.

Plain asyncio streams: one small HTTP/1.1 reader is all the page needs, and the job
keeps to the platform image's packages. The page's Content-Security-Policy allows
only this origin, so nothing can come from a CDN.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from foundry.dashboard.hub import Hub
from foundry.dashboard.state import SECTIONS, QueryError, parse_query, sse_event

log = logging.getLogger("dashboard.server")
STATIC = Path(__file__).with_name("static")
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'"
HEAD_LIMIT = 8 * 1024
KEEPALIVE = 15.0  # an SSE comment this often keeps proxies and the browser from timing out
QUERIES = {"/api/state": {"sections": "sections", "requests": "int"},
           "/events": {"sections": "sections", "requests": "int"}}


def load_static() -> dict[str, tuple[bytes, str]]:
    """URL path → (body, content type), read once: the page cannot ask for other files."""
    files = {"/": (STATIC / "index.html").read_bytes()}
    for p in sorted(STATIC.iterdir()):
        if p.is_file() and p.suffix in TYPES and p.name != "index.html":
            files[f"/static/{p.name}"] = p.read_bytes()
    return {k: (v, TYPES[Path("index.html" if k == "/" else k).suffix]) for k, v in files.items()}


def response(status: str, body: bytes, ctype: str = "application/json",
             extra: dict[str, str] | None = None, keep_alive: bool = True) -> bytes:
    headers = {"Content-Type": ctype, "Content-Length": str(len(body)),
               "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
               "Connection": "keep-alive" if keep_alive else "close", **(extra or {})}
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode() + b"\r\n" + body


def error(status: str, message: str, keep_alive: bool = True) -> bytes:
    return response(status, json.dumps({"error": message}).encode() + b"\n",
                    keep_alive=keep_alive)


class DashboardServer:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.static = load_static()
        self.server: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        self.server = await asyncio.start_server(self._serve, host, port, reuse_address=True,
                                                 limit=HEAD_LIMIT)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 1)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    async with asyncio.timeout(60):
                        raw = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
                    return
                except asyncio.LimitOverrunError:
                    writer.write(error("431 Request Header Fields Too Large",
                                       "request head over 8 KiB", keep_alive=False))
                    return
                lines = raw.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                    writer.write(error("400 Bad Request", "malformed request line",
                                       keep_alive=False))
                    return
                method, target, version = parts
                headers = {}
                for ln in lines[1:]:
                    name, sep, value = ln.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
                    writer.write(error("400 Bad Request", "the dashboard takes no request body",
                                       keep_alive=False))
                    return
                keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
                if await self._handle(method, target, writer, keep):
                    return  # an event stream ended the connection
                await writer.drain()
                if not keep:
                    return
        except ConnectionError:
            pass
        except Exception:  # noqa: BLE001
            log.exception("dashboard request failed")
        finally:
            with contextlib.suppress(Exception):
                await writer.drain()
                writer.close()

    async def _handle(self, method: str, target: str, writer: asyncio.StreamWriter,
                      keep: bool) -> bool:
        """Answer one request; True when it was the event stream (the connection is spent)."""
        url = urlsplit(target)
        path = url.path
        if method not in ("GET", "HEAD"):
            writer.write(error("405 Method Not Allowed", f"{method} is not served here", keep))
            return False
        if path == "/health":
            writer.write(response("200 OK", b"ok\n", "text/plain", keep_alive=keep))
            return False
        if path in self.static:
            if url.query:
                writer.write(error("400 Bad Request", f"{path} takes no query", keep))
                return False
            body, ctype = self.static[path]
            extra = {"Content-Security-Policy": CSP} if path == "/" else {}
            writer.write(response("200 OK", b"" if method == "HEAD" else body, ctype, extra,
                                  keep))
            return False
        if path not in QUERIES:
            writer.write(error("404 Not Found", f"no such page: {path}", keep))
            return False
        try:
            query = parse_query(parse_qs(url.query, keep_blank_values=True,
                                         strict_parsing=bool(url.query)), QUERIES[path])
        except (QueryError, ValueError) as e:
            writer.write(error("400 Bad Request", str(e), keep))
            return False
        sections = query.get("sections", SECTIONS)
        requests = query.get("requests", 50)
        if path == "/api/state":
            self.hub.look()
            body = {**self.hub.state.snapshot(sections, requests), "server_time": time.time()}
            writer.write(response("200 OK", json.dumps(body).encode(), keep_alive=keep))
            return False
        await self._events(writer, sections, requests)
        return True

    async def _events(self, writer: asyncio.StreamWriter, sections: tuple[str, ...],
                      requests: int) -> None:
        """The SSE stream: a snapshot, then every patch and request as the hub pushes it."""
        sub = self.hub.subscribe(sections)
        try:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         b"Cache-Control: no-cache\r\nConnection: close\r\n"
                         b"X-Accel-Buffering: no\r\n\r\nretry: 1000\n\n")
            snap = {**self.hub.state.snapshot(sections, requests), "server_time": time.time()}
            writer.write(sse_event("snapshot", snap, self.hub.state.seq))
            await writer.drain()
            while True:
                try:
                    event = await asyncio.wait_for(sub.queue.get(), KEEPALIVE)
                except TimeoutError:
                    event = b": keep-alive\n\n"
                if event is None:
                    return  # dropped for lagging: the page reconnects for a fresh snapshot
                writer.write(event)
                await writer.drain()
        finally:
            self.hub.unsubscribe(sub)
