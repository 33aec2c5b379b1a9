"""The broker's plain-HTTP edge (the foundation network only, as CF brokers often are)."""

from __future__ import annotations

import json
import logging
from typing import Any

from foundry.httpapi import Request
from foundry.httpserver import APIServer, Endpoint, Peer, Reply
from foundry.service_broker.broker import Broker
from foundry.service_broker.credhub_client import CredHubError

log = logging.getLogger("service_broker")
MAX_BODY = 256 * 1024


def _json(status: int, body: Any) -> Reply:
    return Reply(status, json.dumps(body).encode(), "application/json")


class BrokerEndpoint(Endpoint):
    """The Open Service Broker API; a CredHub that cannot be reached is a 502."""

    log = log
    server_version = "cflab-service-broker"
    max_body = MAX_BODY

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    failed_message = "internal broker error"

    def error(self, req: Request, status: int, message: str) -> Reply:
        return _json(status, {"description": message})

    def respond(self, req: Request, peer: Peer) -> Reply:
        # the last non-blank value of each parameter, as parse_qsl into a dict gives it
        query = {k: vs[-1] for k, v in req.query.items() if (vs := [x for x in v if x])}
        try:
            return _json(*self.broker.handle(req.method, req.path, query, req.body,
                                             dict(req.headers.items())))
        except (CredHubError, OSError) as e:
            log.warning("CredHub call failed for %s %s: %s", req.method, req.path, e)
            return _json(502, {"description": f"CredHub is unavailable: {e}"})


def listen(address: tuple[str, int], broker: Broker) -> APIServer:
    return APIServer(address, BrokerEndpoint(broker))
