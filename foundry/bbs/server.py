"""The HTTP edge: a stdlib ThreadingHTTPServer in front of BBSService, plus the
convergence loop (full pass every ``convergence_interval``; a quick look every second
for lost cells, as the real BBS converges at once when a cell presence disappears)."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from foundry.bbs.api import BBSService
from foundry.bbs.config import BBSConfig
from foundry.bbs.restart import RestartCalculator
from foundry.bbs.state import BBSState
from foundry.bbs.store import Store

log = logging.getLogger("bbs")
MAX_BODY = 4 * 1024 * 1024


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
        ThreadingHTTPServer.allow_reuse_address = True
        self.httpd = ThreadingHTTPServer(cfg.address, make_handler(self.service))
        self.httpd.daemon_threads = True
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
        log.info("bbs listening on %s:%d, db %s", self.cfg.address[0], self.port,
                 self.cfg.db_path)
        self.httpd.serve_forever(poll_interval=0.5)

    def shutdown(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()

    def close(self) -> None:
        self.httpd.server_close()
        self.store.close()
