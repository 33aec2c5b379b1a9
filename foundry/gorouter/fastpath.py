"""One attempt of a bodiless request on a pooled backend connection, from callbacks.

The happy path (a small, length-delimited response) is answered here with one
write to the client. Everything else is handed to the stream path at the point
where it stands, so retries, redials and classification stay in one place
(`Proxy._proxy`/`_attempt`): a failure as the AttemptFailed the stream path would
have raised, a large, chunked or upgraded response as its parsed head.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from foundry.gorouter.classifier import is_idempotent
from foundry.gorouter.headers import RequestContext, backend_request_head
from foundry.gorouter.http11 import RequestHead, ResponseHead
from foundry.gorouter.pool import Endpoint, EndpointIterator, EndpointPool
from foundry.gorouter.transport import Connection, Resume, body_failure, head_failure

log = logging.getLogger("gorouter.proxy")

if TYPE_CHECKING:
    from foundry.gorouter.accesslog import AccessLogRecord
    from foundry.gorouter.roles import ClientConnection, ProxyCore


class FastAttempt:
    __slots__ = ("proxy", "cp", "req", "pool", "rec", "ctx", "it", "requested", "ep", "conn",
                 "started")

    def __init__(self, proxy: ProxyCore, cp: ClientConnection, req: RequestHead,
                 pool: EndpointPool,
                 rec: AccessLogRecord, ctx: RequestContext, it: EndpointIterator,
                 requested: str, ep: Endpoint, conn: Connection) -> None:
        self.proxy, self.cp, self.req, self.pool, self.rec = proxy, cp, req, pool, rec
        self.ctx, self.it, self.requested, self.ep, self.conn = ctx, it, requested, ep, conn
        rec.endpoint(ep)
        ep.in_flight += 1
        self.started = time.time()
        # endpoint_timeout bounds the wait for the response head, as on the stream path
        conn.protocol.expect(self, req.method, proxy.cfg.endpoint_timeout)  # type: ignore[union-attr]
        conn.writer.write(backend_request_head(req, ctx, ep))

    def _end(self) -> None:
        self.ep.in_flight -= 1

    # -- ResponseWaiter --------------------------------------------------------------
    def on_response(self, resp: ResponseHead, body: bytes) -> None:
        try:
            self._respond(resp, body)
        except Exception:  # noqa: BLE001 - never leave the client waiting
            log.exception("unexpected error answering %s", self.cp.client_addr)
            self.conn.close()
            self.cp.request_done(False)

    def _respond(self, resp: ResponseHead, body: bytes) -> None:
        self._end()
        proxy, req, rec, conn, cp = self.proxy, self.req, self.rec, self.conn, self.cp
        rec.backend_time += time.time() - self.started
        close_client = not req.keep_alive
        head_out = proxy.response_head(resp, req, self.ep, self.pool, self.ctx,
                                       self.requested, close_client)
        rec.status = resp.status
        if not cp.closed:
            cp.transport.write(head_out + body if body else head_out)
        rec.bytes_sent = len(body)
        if resp.keep_alive:
            proxy.transport.release(conn)
        else:
            conn.close()
        proxy.finish(rec)
        cp.request_done(not close_client)

    def on_stream(self, resp: ResponseHead) -> None:
        """A body to stream (or an upgrade): the stream path relays it."""
        self._end()
        self._hand_on((self.conn, resp))

    def on_error(self, exc: BaseException, head_done: bool) -> None:
        self._end()
        self.conn.close()  # a malformed response leaves it open; nothing can reuse it
        ep = self.ep
        if head_done:
            failed = body_failure(exc, ep.key, ep.server_cert_domain_san)
        else:
            timed_out = self.conn.protocol.timed_out  # type: ignore[union-attr]
            failed = head_failure(exc, timed_out, ep.key, ep.server_cert_domain_san,
                                  is_idempotent(self.req, False), False, self.conn.reused)
        self._hand_on(failed)

    def _hand_on(self, resume: Resume) -> None:
        self.cp.run(self.proxy.resume(self.cp, self.req, self.pool, self.rec, self.ctx, self.it,
                                      self.requested, (self.ep, resume, self.started)))

