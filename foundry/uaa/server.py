"""UAA's HTTPS listener: parses requests for `service.UAA` and writes its answers.

Logs method, path and status only: never a query string, form or header, since
those carry passwords, codes and tokens.
"""

from __future__ import annotations

import json
import logging
import ssl
from urllib.parse import unquote

from foundry.httpapi import Request as HTTPRequest
from foundry.httpserver import APIServer, Endpoint, Peer, Reply
from foundry.uaa.service import UAA, Request, Response

log = logging.getLogger("uaa")
MAX_BODY = 64 * 1024


def _reply(resp: Response) -> Reply:
    if resp.body is None:
        data = b""
    elif isinstance(resp.body, bytes):
        data = resp.body
    else:
        data = json.dumps(resp.body).encode()
    ctype = "text/plain" if isinstance(resp.body, bytes) else "application/json;charset=UTF-8"
    return Reply(resp.status, data, ctype if data else None, list(resp.headers.items()))


class UAAEndpoint(Endpoint):
    log = log
    server_version = "cflab-uaa"
    methods = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE"})
    max_body = MAX_BODY
    private_targets = True  # the stdlib's lines quote the target (query: codes)

    def __init__(self, uaa: UAA) -> None:
        self.uaa = uaa

    bad_length_message = too_large_message = "Bad Content-Length"
    failed_message = "Internal Server Error"

    def error(self, req: HTTPRequest, status: int, message: str) -> Reply:
        code = "server_error" if status >= 500 else "invalid_request"
        return _reply(Response(status, {"error": code, "error_description": message}))

    def respond(self, req: HTTPRequest, peer: Peer) -> Reply:
        headers = {k.lower(): v for k, v in req.headers.items()}
        return _reply(self.uaa.handle(Request(req.method, unquote(req.path), req.query,
                                              headers, req.body)))


def listen(address: tuple[str, int], uaa: UAA, tls: ssl.SSLContext | None) -> APIServer:
    return APIServer(address, UAAEndpoint(uaa), tls)
