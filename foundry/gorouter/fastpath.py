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

from foundry.gorouter.exchange import Exchange
from foundry.gorouter.headers import backend_request_head
from foundry.gorouter.http11 import ResponseHead
from foundry.gorouter.pool import Endpoint
from foundry.gorouter.transport import Connection, Resume, body_failure, head_failure

log = logging.getLogger("gorouter.proxy")

if TYPE_CHECKING:
    from foundry.gorouter.roles import ClientConnection, ProxyCore


class FastAttempt:
    """The waiter on one pooled backend connection (transport.ResponseWaiter); the
    request's state is the exchange's."""

    __slots__ = ("proxy", "cp", "x", "conn")

    def __init__(self, proxy: ProxyCore, cp: ClientConnection, x: Exchange, ep: Endpoint,
                 conn: Connection) -> None:
        self.proxy, self.cp, self.x, self.conn = proxy, cp, x, conn
        x.attempt(ep, time.time())
        conn.protocol.expect(self, x.req.method)
        cp.cork.write(conn.writer.transport, backend_request_head(x.req, x.ctx, ep))

    # -- ResponseWaiter --------------------------------------------------------------
    def on_response(self, resp: ResponseHead, body: bytes) -> None:
        try:
            self._respond(resp, body)
        except Exception:  # noqa: BLE001 - never leave the client waiting
            log.exception("unexpected error answering %s", self.cp.client_addr)
            self.conn.close()
            self.cp.request_done(False)

    def _respond(self, resp: ResponseHead, body: bytes) -> None:
        x, proxy, conn, cp = self.x, self.proxy, self.conn, self.cp
        x.attempt_over()
        x.add_backend_time()
        rec = x.rec
        close_client = not x.req.keep_alive
        head_out = proxy.response_head(x, resp, close_client)
        rec.status = resp.status
        if not cp.closed:
            cp.send(head_out + body if body else head_out)
        rec.bytes_sent = len(body)
        if resp.keep_alive:
            proxy.transport.release(conn)
        else:
            conn.close()
        proxy.finish(rec)
        cp.request_done(not close_client)

    def on_stream(self, resp: ResponseHead) -> None:
        """A body to stream (or an upgrade): the stream path relays it."""
        self.x.attempt_over()
        self._hand_on((self.conn, resp))

    def on_error(self, exc: BaseException, head_done: bool) -> None:
        x, conn = self.x, self.conn
        x.attempt_over()
        conn.close()  # a malformed response leaves it open; nothing can reuse it
        ep = x.ep
        assert ep is not None
        if head_done:
            failed = body_failure(exc, ep.key, ep.server_cert_domain_san)
        else:
            failed = head_failure(exc, conn.protocol.head_deadline.fired, ep.key,
                                  ep.server_cert_domain_san, x.idempotent, False, conn.reused)
        self._hand_on(failed)

    def _hand_on(self, resume: Resume) -> None:
        self.cp.run(self.proxy.resume(self.cp, self.x, resume))
