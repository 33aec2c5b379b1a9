"""The broker's plain-HTTP edge (the foundation network only, as CF brokers often are)."""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from foundry.service_broker.broker import Broker
from foundry.service_broker.credhub_client import CredHubError

log = logging.getLogger("service_broker")
MAX_BODY = 256 * 1024


class _Handler(BaseHTTPRequestHandler):
    server_version = "cflab-service-broker"
    protocol_version = "HTTP/1.1"
    server: BrokerServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.info("%s %s", self.address_string(), format % args)

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            status, body = 413, {"description": "body too large"}
        else:
            raw = self.rfile.read(length) if length else b""
            path, _, qs = self.path.partition("?")
            try:
                status, body = self.server.broker.handle(
                    self.command, path, dict(parse_qsl(qs)), raw, dict(self.headers.items()))
            except (CredHubError, OSError) as e:
                log.warning("CredHub call failed for %s %s: %s", self.command, path, e)
                status, body = 502, {"description": f"CredHub is unavailable: {e}"}
            except Exception:  # noqa: BLE001
                log.exception("unhandled error for %s %s", self.command, path)
                status, body = 500, {"description": "internal broker error"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _dispatch


class BrokerServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], broker: Broker) -> None:
        super().__init__(address, _Handler)
        self.broker = broker

