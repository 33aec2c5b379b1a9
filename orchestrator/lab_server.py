"""The HTTP and SSE side of `cflab lab` (the logic is in `orchestrator.lab`).

Threads, not asyncio: a run's own work (the runner, its load threads) is threads, and
the page needs one event stream and a few small JSON answers. It listens on 127.0.0.1
only. A request that starts something (POST) must carry `X-Cflab-Lab: 1` and name this
server in its Host: another site's page in the same browser can send neither (a custom
header needs a CORS preflight this server never allows), so it cannot start runs.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from orchestrator.lab import Conflict, Lab, QueryError, parse_query, past_runs, scenario_list
from orchestrator.scenario.schema import ScenarioError

STATIC = Path(__file__).with_name("lab_static")
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8"}
CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'"
KEEPALIVE = 10.0
RUN_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}$")
QUERIES = {"/api/state": {}, "/api/scenarios": {}, "/api/runs": {}, "/api/foundation": {},
           "/events": {"after": "int"}}
POSTS = {"/api/runs": {"scenario": "str", "mode": "modes"}, "/api/mode": {"mode": "mode"}}


def load_static() -> dict[str, tuple[bytes, str]]:
    files = {"/": ((STATIC / "index.html").read_bytes(), TYPES[".html"])}
    for p in sorted(STATIC.iterdir()):
        if p.suffix in TYPES and p.name != "index.html":
            files[f"/static/{p.name}"] = (p.read_bytes(), TYPES[p.suffix])
    return files


class LabServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, lab: Lab, port: int = 0, host: str = "127.0.0.1") -> None:
        self.lab = lab
        self.static = load_static()
        self.closing = threading.Event()
        super().__init__((host, port), Handler)
        self.port = self.server_address[1]

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        self.closing.set()
        with self.lab.cond:
            self.lab.cond.notify_all()
        self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    server: LabServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass  # the terminal shows the run, not every poll

    # -- answers -------------------------------------------------------------

    def _send(self, status: int, body: bytes, ctype: str = "application/json",
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        headers = {"Content-Type": ctype, "Content-Length": str(len(body)),
                   "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
                   **(extra or {})}
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, doc: Any) -> None:
        self._send(status, json.dumps(doc, default=str).encode() + b"\n")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _query(self, url: Any, allowed: dict[str, str]) -> dict[str, Any] | None:
        try:
            return parse_query(parse_qs(url.query, keep_blank_values=True,
                                        strict_parsing=bool(url.query)), allowed)
        except (QueryError, ValueError) as exc:
            self._error(400, str(exc))
            return None

    # -- GET -----------------------------------------------------------------

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        path, lab = url.path, self.server.lab
        if path in self.server.static:
            if url.query:
                return self._error(400, f"{path} takes no query")
            body, ctype = self.server.static[path]
            return self._send(200, body, ctype, {"Content-Security-Policy": CSP}
                              if path == "/" else None)
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "runs" and parts[2] == "timeline.png":
            return self._timeline(parts[1])
        if path not in QUERIES:
            return self._error(404, f"no such page: {path}")
        query = self._query(url, QUERIES[path])
        if query is None:
            return None
        if path == "/api/state":
            return self._json(200, lab.snapshot())
        if path == "/api/scenarios":
            return self._json(200, {"scenarios": scenario_list(lab.scenarios)})
        if path == "/api/runs":
            return self._json(200, {"out": str(lab.out), "runs": past_runs(lab.out)})
        if path == "/api/foundation":
            return self._json(200, lab.foundation())
        return self._events(query.get("after"))

    def _timeline(self, name: str) -> None:
        png = self.server.lab.out / name / "timeline.png"
        if not RUN_NAME.match(name) or not png.is_file():
            return self._error(404, f"no timeline for run {name!r}")
        self._send(200, png.read_bytes(), "image/png")

    def _events(self, after: int | None) -> None:
        """The SSE stream: the lab's state, then each event as it is published."""
        lab, closing = self.server.lab, self.server.closing
        self.send_response(200)
        for k, v in (("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"),
                     ("Connection", "close"), ("X-Accel-Buffering", "no")):
            self.send_header(k, v)
        self.end_headers()
        self.close_connection = True
        try:
            self.wfile.write(b"retry: 1000\n\n")
            cursor = -1 if after is None else after
            idle = 0.0
            while not closing.is_set():
                events = None if cursor < 0 else lab.wait_events(cursor, 1.0)
                if events is None:  # first connect, or fell behind: the state as it is
                    snap = lab.snapshot()
                    cursor = snap["seq"]
                    self.wfile.write(sse("snapshot", snap, cursor))
                elif events:
                    for seq, kind, data in events:
                        self.wfile.write(sse(kind, data, seq))
                        cursor = seq
                    idle = 0.0
                else:
                    idle += 1.0
                    if idle >= KEEPALIVE:
                        self.wfile.write(b": keep-alive\n\n")
                        idle = 0.0
                self.wfile.flush()
        except (ConnectionError, OSError):
            return

    # -- POST ----------------------------------------------------------------

    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        lab = self.server.lab
        if url.path not in POSTS:
            return self._error(404, f"no such action: {url.path}")
        if self.headers.get("Content-Length", "0") != "0" or \
                "Transfer-Encoding" in self.headers:
            self.close_connection = True
            return self._error(400, "actions take their values in the query, not a body")
        host = self.headers.get("Host", "")
        if host not in (f"127.0.0.1:{self.server.port}", f"localhost:{self.server.port}") \
                or self.headers.get("X-Cflab-Lab") != "1":
            return self._error(403, "actions come from the lab's own page"
                                    " (X-Cflab-Lab: 1, Host 127.0.0.1)")
        query = self._query(url, POSTS[url.path])
        if query is None:
            return None
        try:
            if url.path == "/api/runs":
                if "scenario" not in query:
                    return self._error(400, "scenario is required")
                run = lab.start(query["scenario"], query.get("mode"))
                return self._json(202, {"run": run.id, "scenario": run.scenario,
                                        "modes": run.modes})
            if "mode" not in query:
                return self._error(400, "mode is required")
            lab.switch_mode(query["mode"])
            return self._json(202, {"switching_to": query["mode"]})
        except ScenarioError as exc:
            return self._error(400, str(exc))
        except Conflict as exc:
            return self._error(409, str(exc))


def sse(kind: str, data: Any, seq: int) -> bytes:
    return f"id: {seq}\nevent: {kind}\ndata: {json.dumps(data, default=str)}\n\n".encode()
