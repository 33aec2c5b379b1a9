"""CredHub's HTTPS edge: TLS, client authentication, JSON in and out, an access log."""

from __future__ import annotations

import datetime as dt
import logging
import ssl
from typing import cast

from foundry.credhub.api import CredHubAPI, Request, Response
from foundry.credhub.auth import Actor, Authenticator, AuthError
from foundry.credhub.tls import peer_chain_der
from foundry.httpapi import Request as HTTPRequest
from foundry.httpserver import APIServer, Endpoint, Peer, Reply

log = logging.getLogger("credhub")

MAX_BODY = 1024 * 1024
IDLE_TIMEOUT_S = 60.0


def _reply(resp: Response) -> Reply:
    data = resp.encoded()
    return Reply(resp.status, data, "application/json;charset=UTF-8" if data else None)


class CredHubEndpoint(Endpoint):
    """CredHub's API behind client-certificate authentication, with its own access log
    (actor and outcome, never a value)."""

    log = log
    server_version = "CredHub"
    sys_version = ""
    request_class = Request
    max_body = MAX_BODY
    private_targets = True

    def __init__(self, api: CredHubAPI, auth: Authenticator) -> None:
        self.api, self.auth = api, auth

    bad_length_message = ("The request could not be fulfilled because the request path or "
                          "body did not meet expectation.")
    too_large_message = "The request body is too large."
    failed_message = "An application error occurred. Please contact your CredHub administrator."

    def error(self, req: HTTPRequest, status: int, message: str) -> Reply:
        return _reply(Response(status, {"error": message}))

    def failed(self, req: HTTPRequest) -> Reply:
        log.info("%s %s -> 500 (bug)", req.method, req.path)
        return super().failed(req)

    def respond(self, req: HTTPRequest, peer: Peer) -> Reply:
        actor: Actor | None = None
        if req.path.rstrip("/") not in CredHubAPI.PUBLIC:
            try:
                actor = self.auth.authenticate(peer_chain_der(peer.tls), dt.datetime.now(dt.UTC))
            except AuthError as e:
                log.info("%s %s %s -> 401 (%s)", peer.address[0], req.method, req.path,
                         e.reason)
                return self.error(req, 401, e.message)
        resp = self.api.handle(cast(Request, req), actor)
        log.info("%s %s %s actor=%s -> %d (%s)", peer.address[0], req.method, req.path,
                 actor.name if actor else "-", resp.status, resp.note)
        return _reply(resp)

    def access(self, client: str, req: HTTPRequest, status: int) -> None:
        pass  # respond logs actor and outcome instead


def listen(address: tuple[str, int], api: CredHubAPI, auth: Authenticator,
           tls: ssl.SSLContext) -> APIServer:
    """CredHub's HTTPS listener; a connection idle for a minute is closed."""
    return APIServer(address, CredHubEndpoint(api, auth), tls, idle_timeout=IDLE_TIMEOUT_S)
