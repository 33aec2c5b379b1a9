"""One request's state, from routing to its last byte, on either request path.

The callback path (fastpath.py) and the stream path (proxy.py) hand a request
to each other mid-way, so its state lives in one object both read rather than
in a dozen arguments each passes on. It holds no sockets or streams: the
paths keep the I/O, this keeps what was decided (the pool, the endpoint
iterator, the header values) and the bookkeeping of attempts.
"""

from __future__ import annotations

import time

from foundry.gorouter.accesslog import AccessLogRecord
from foundry.gorouter.classifier import is_idempotent
from foundry.gorouter.headers import RequestContext
from foundry.gorouter.http11 import RequestHead
from foundry.gorouter.pool import Endpoint, EndpointIterator, EndpointPool


class Exchange:
    __slots__ = ("req", "rec", "client_ip", "has_body", "pool", "ctx", "it", "requested",
                 "ep", "started")

    def __init__(self, req: RequestHead, rec: AccessLogRecord, client_ip: str,
                 has_body: bool) -> None:
        self.req = req
        self.rec = rec
        self.client_ip = client_ip
        self.has_body = has_body
        # set once routed (Proxy.route)
        self.pool: EndpointPool = None  # type: ignore[assignment]
        self.ctx: RequestContext = None  # type: ignore[assignment]
        self.it: EndpointIterator = None  # type: ignore[assignment]
        self.requested = ""  # the sticky instance the client asked for
        # the attempt in progress
        self.ep: Endpoint | None = None
        self.started = 0.0

    @property
    def idempotent(self) -> bool:
        """Whether a failed attempt may be sent again (classifier.is_idempotent)."""
        return is_idempotent(self.req, self.has_body)

    def attempt(self, ep: Endpoint, started: float) -> None:
        """An attempt on `ep` begins: the access log names it, least-connection counts it."""
        self.ep, self.started = ep, started
        self.rec.endpoint(ep)
        ep.in_flight += 1

    def attempt_over(self) -> None:
        """The endpoint no longer serves this attempt (its response may still be relayed)."""
        self.ep.in_flight -= 1  # type: ignore[union-attr]

    def add_backend_time(self) -> None:
        self.rec.backend_time += time.time() - self.started
