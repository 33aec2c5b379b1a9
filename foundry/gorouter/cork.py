"""Writes held until the event loop has handled one poll's worth of ready events.

A write to a peer asleep in epoll wakes it, and on a small machine the wake-up
costs the writer more than the write. The router used to wake the backend and
the client once per request: the backend answers one request in far less time
than the router takes to route the next, so it was asleep again each time.
Writes the callback path makes while the loop works through one batch of ready
events wait here and go out together from a callback the loop runs right after
that batch (`call_soon`), so a peer woken by the first finds the rest already
queued. With a request or two in flight a batch holds one event, and corking
only adds a loop pass (an extra epoll_wait), so writes are corked only from
CORK_FROM requests in flight on.

A corked write must never be overtaken by a direct one on the same connection:
`pending_on` tells a connection whether its last corked write is still queued,
and it flushes first (a pipelined request answered at once, a close).
"""

from __future__ import annotations

import asyncio
import os

# requests in flight on the callback path; 0 corks every write (the tests run so too)
CORK_FROM = int(os.environ.get("CFLAB_GOROUTER_CORK_FROM", "4"))


class Cork:
    __slots__ = ("loop", "pending", "scheduled", "flushes", "in_flight")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: list[tuple[asyncio.BaseTransport, bytes]] = []
        self.scheduled = False
        self.flushes = 0  # a generation: a write queued at generation n is out once > n
        self.in_flight = 0  # kept by the client connections (begin/end of a request)

    def write(self, transport: asyncio.WriteTransport, data: bytes) -> int:
        """Queue `data` for `transport`, or send it now when little is in flight and
        nothing is queued; returns the generation to pass to `pending_on`."""
        if self.in_flight < CORK_FROM and not self.pending:
            transport.write(data)
            return -1
        self.pending.append((transport, data))
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self._flush_soon)
        return self.flushes

    def pending_on(self, generation: int) -> bool:
        """Whether a write queued at `generation` has not gone out yet."""
        return generation == self.flushes and bool(self.pending)

    def _flush_soon(self) -> None:
        self.scheduled = False
        self.flush()

    def flush(self) -> None:
        """Send every queued write, in the order queued (a closed transport's are dropped)."""
        self.flushes += 1
        pending = self.pending
        if not pending:
            return
        self.pending = []
        for transport, data in pending:
            if not transport.is_closing():
                transport.write(data)  # type: ignore[attr-defined]
