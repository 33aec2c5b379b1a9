"""HTTP edges (`foundry.httpserver`): the public HTTPS API and the plain-HTTP internal port
cells use for bits."""

from __future__ import annotations

import logging
import re
import threading
from typing import cast

from foundry.cloud_controller.api import API, Request, Response
from foundry.cloud_controller.auth import Authenticator, load_public_key
from foundry.cloud_controller.bits import BitsStore
from foundry.cloud_controller.config import CCConfig
from foundry.cloud_controller.errors import CCError
from foundry.httpapi import Request as HTTPRequest
from foundry.httpserver import APIServer, Endpoint, Peer, Reply, server_context

log = logging.getLogger("cloud_controller")

MAX_JSON_BODY = 1024 * 1024
DRAIN_FACTOR = 4  # read and discard an oversized upload up to this multiple, then answer 413
BITS_PATH = re.compile(r"^/internal/v1/bits/(?P<app>[0-9a-f-]{36})/(?P<sha>[0-9a-f]{64})\.tgz$")
NOT_FOUND = Response(404, b"not found\n", "text/plain")


class _CCEndpoint(Endpoint):
    """What both CC listeners share: /healthz, CF's error shapes, the request id echoed."""

    log = log
    server_version = "cflab-cloud-controller"
    methods = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
    request_class = Request
    drain_factor = DRAIN_FACTOR

    def __init__(self, api: API) -> None:
        self.api = api

    @staticmethod
    def reply(req: HTTPRequest, resp: Response, close: bool = False) -> Reply:
        return Reply(resp.status, resp.encoded(), resp.content_type,
                     [("X-Vcap-Request-Id", req.headers.get("X-Vcap-Request-Id", "-"))], close)

    def cc_error(self, req: HTTPRequest, err: CCError, close: bool = False) -> Reply:
        body = err.v3() if req.path.startswith("/v3") else err.v2()
        return self.reply(req, Response(err.status, body), close)

    def admit(self, req: HTTPRequest) -> Reply | None:
        if req.path == "/healthz":
            return self.reply(req, Response(200, b"ok\n", "text/plain"))
        return None

    def bad_length(self, req: HTTPRequest) -> Reply:
        return self.cc_error(req, CCError("MessageParseError", "Content-Length is not a number"))

    def too_large(self, req: HTTPRequest, limit: int) -> Reply:
        return self.cc_error(req, CCError("AppBitsTooLarge",
                                       f"Package may not be larger than {limit} bytes"))

    def failed(self, req: HTTPRequest) -> Reply:
        return self.reply(req, Response(500, {"code": 10001, "error_code": "UnknownError",
                                              "description": "An unknown error occurred."}))


class PublicEndpoint(_CCEndpoint):
    """The v2/v3 API: a UAA token is checked before the body is read."""

    def __init__(self, api: API, auth: Authenticator, max_bits_bytes: int) -> None:
        super().__init__(api)
        self.auth, self.max_bits_bytes = auth, max_bits_bytes

    def admit(self, req: HTTPRequest) -> Reply | None:
        if (early := super().admit(req)) is not None:
            return early
        try:
            self.auth.caller(req.method, req.path, req.headers.get("Authorization"))
        except CCError as e:
            # the body is not read: don't reuse the stream
            return self.cc_error(req, e, req.headers.get("Content-Length", "0") not in ("", "0"))
        return None

    def limit(self, req: HTTPRequest) -> int:
        return self.max_bits_bytes if req.path.endswith("/bits") else MAX_JSON_BODY

    def respond(self, req: HTTPRequest, peer: Peer) -> Reply:
        return self.reply(req, self.api.handle(cast(Request, req)))


class InternalEndpoint(_CCEndpoint):
    """The plain-HTTP port cells use: the API's internal routes and the droplet bits."""

    max_body = MAX_JSON_BODY * 4

    def __init__(self, api: API, bits: BitsStore) -> None:
        super().__init__(api)
        self.bits = bits

    def respond(self, req: HTTPRequest, peer: Peer) -> Reply:
        if req.method in ("GET", "POST"):
            resp = self.api.internal(cast(Request, req))
            if resp is not None or req.method == "POST":
                return self.reply(req, resp or NOT_FOUND)
        m = BITS_PATH.match(req.path)
        if req.method in ("GET", "HEAD") and m:
            data = self.bits.read(m["app"], m["sha"])
            if data is not None:
                return self.reply(req, Response(200, data, "application/gzip"))
        return self.reply(req, NOT_FOUND)


def authenticator(cfg: CCConfig) -> Authenticator:
    """Checks tokens with UAA's key; with none configured no token is valid (never open)."""
    if not cfg.uaa_verification_key_file:
        log.warning("no uaa_verification_key_file: every API call will be refused")
        return Authenticator({})
    with open(cfg.uaa_verification_key_file, "rb") as f:
        return Authenticator({"uaa": load_public_key(f.read())})


class CCServers:
    """The public (HTTPS) and internal (HTTP) listeners, each on its own thread."""

    def __init__(self, cfg: CCConfig, api: API, bits: BitsStore) -> None:
        tls = server_context(cfg.cert_file, cfg.key_file) if cfg.cert_file else None
        auth = authenticator(cfg)
        self.public = APIServer(cfg.split(cfg.listen_address),
                                PublicEndpoint(api, auth, cfg.max_bits_bytes), tls)
        self.internal = APIServer(cfg.split(cfg.internal_listen_address),
                                  InternalEndpoint(api, bits))
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for srv, name in ((self.public, "public"), (self.internal, "internal")):
            t = threading.Thread(target=srv.serve_forever, name=f"cc-{name}", daemon=True)
            t.start()
            self.threads.append(t)
        log.info("cloud controller listening on %s (api) and %s (internal)",
                 self.public.server_address, self.internal.server_address)

    def shutdown(self) -> None:
        for srv in (self.public, self.internal):
            srv.shutdown()
            srv.server_close()
