"""The HTTP edge: a `foundry.httpserver` listener in front of BBSService, plus the
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
import threading
import time
from urllib.parse import urlencode

from foundry.bbs.api import BBSService
from foundry.bbs.config import BBSConfig
from foundry.bbs.restart import RestartCalculator
from foundry.bbs.state import BBSState
from foundry.bbs.store import Store
from foundry.httpapi import Request
from foundry.httpserver import GO_PLAIN_HTTP_REPLY, APIServer, Endpoint, Peer, Reply, server_context
from foundry.jobconfig import split_host_port

log = logging.getLogger("bbs")
MAX_BODY = 4 * 1024 * 1024


def _json(status: int, payload: object) -> Reply:
    if status == 204:
        return Reply(204)
    return Reply(status, json.dumps(payload).encode() + b"\n", "application/json")


class BBSEndpoint(Endpoint):
    """The BBS API: JSON in, `BBSService` decides, JSON out (204 bare)."""

    log = log
    server_version = "bbs"
    max_body = MAX_BODY
    bad_length_message = "body: invalid Content-Length"
    too_large_message = "body: too large"

    def __init__(self, service: BBSService) -> None:
        self.service = service

    def error(self, req: Request, status: int, message: str) -> Reply:
        return _json(status, {"error": message})

    def respond(self, req: Request, peer: Peer) -> Reply:
        body = None
        if req.body:
            try:
                body = json.loads(req.body)
            except ValueError as e:
                return self.error(req, 400, f"body: invalid JSON: {e}")
        # BBSService parses its own query; the parsed one, re-encoded, reads the same
        target = f"{req.path}?{urlencode(req.query, doseq=True)}" if req.query else req.path
        return _json(*self.service.handle(req.method, target, body))

    def access(self, client: str, req: Request, status: int) -> None:
        if not (req.path.startswith("/ping") or "/work" in req.path):  # cells poll these
            log.debug("%s %s %s %d", client, req.method, req.path, status)


class HealthEndpoint(Endpoint):
    """diego's BBS health listener: `GET /ping` → 200, on loopback, no TLS."""

    log = log
    server_version = "bbs"
    methods = frozenset({"GET"})

    def respond(self, req: Request, peer: Peer) -> Reply:
        return Reply(200 if req.path == "/ping" else 404)

    def access(self, client: str, req: Request, status: int) -> None:
        pass


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
        tls = server_context(cfg.server_cert_file, cfg.server_key_file, cfg.ca_file) \
            if cfg.tls else None
        self.httpd = APIServer(cfg.address, BBSEndpoint(self.service), tls,
                               plain_http_reply=GO_PLAIN_HTTP_REPLY)
        self.health: APIServer | None = None
        if cfg.health_address:
            self.health = APIServer(split_host_port(cfg.health_address), HealthEndpoint())
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
