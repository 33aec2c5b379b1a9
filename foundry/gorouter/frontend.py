"""The client side of one router connection: request heads framed from callbacks.

Profiling the stream-based loop showed most of a request's cost in asyncio's
machinery (a task resumed through five nested coroutines, StreamReader buffers,
futures per read) rather than in routing. So a connection starts in fast mode:
heads are framed in `data_received` and bodiless requests are routed there
(`Proxy.serve_fast`). While a request is in flight, pipelined bytes wait in
`buf`. A request with a body or an upgrade hands the connection to the stream
loop (`Proxy.serve_stream`) for the rest of its life.

Answers and backend requests of the callback path go through the loop's Cork
(cork.py); before anything is written to the client directly, what it corked is
sent first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from foundry.gorouter.cork import Cork
from foundry.gorouter.deadline import CLIENT_IDLE_TIMEOUT, Deadline
from foundry.gorouter.framing import HeadTooLarge, split_head
from foundry.gorouter.http11 import HTTPError, RequestHead, parse_request_head

if TYPE_CHECKING:
    from foundry.gorouter.roles import ProxyCore

log = logging.getLogger("gorouter.proxy")


class ClientProtocol(asyncio.StreamReaderProtocol):
    def __init__(self, proxy: ProxyCore, loop: asyncio.AbstractEventLoop) -> None:
        self.limit = proxy.cfg.max_header_bytes
        reader = asyncio.StreamReader(limit=self.limit, loop=loop)
        super().__init__(reader, loop=loop)
        self.proxy = proxy
        self.loop = loop
        self.reader = reader
        self.writer: asyncio.StreamWriter = None  # type: ignore[assignment]
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.client_ip = ""
        self.client_addr = ""
        self.buf = b""
        self.busy = False  # a request is in flight
        self.stream = False  # the stream loop owns the connection
        self.eof = False
        self.closed = False
        self.read_paused = False
        self.write_paused = False  # the client's socket buffer is full (pause_writing)
        # armed while waiting for the next request; the stream loop has its own
        self.idle = Deadline(loop, CLIENT_IDLE_TIMEOUT, self._idle_expired)
        self.task: asyncio.Task | None = None
        self.cork: Cork = proxy.cork_for(loop)
        self.corked = -1  # the cork's generation at this connection's last corked write

    # -- asyncio callbacks -------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport = transport  # type: ignore[assignment]
        self.writer = asyncio.StreamWriter(self.transport, self, self.reader, self.loop)
        peer = transport.get_extra_info("peername") or ("", 0)
        self.client_ip, self.client_addr = str(peer[0]), f"{peer[0]}:{peer[1]}"
        self.idle.arm()

    def data_received(self, data: bytes) -> None:
        if self.stream:
            super().data_received(data)
            return
        self.buf = self.buf + data if self.buf else data
        if not self.busy:
            self._serve_next()
        elif len(self.buf) > self.limit and not self.read_paused:
            self.read_paused = True  # a pipelining client waits for the answers
            self.transport.pause_reading()

    def eof_received(self) -> bool | None:
        if self.stream:
            return super().eof_received()
        self.eof = True
        if not self.buf:  # what the stream path's client-gone check looks at
            self.reader.feed_eof()
        if not self.busy:
            self._serve_next()
        return True  # keep the write side for an answer in flight

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.idle.cancel()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        self.write_paused = True
        super().pause_writing()

    def resume_writing(self) -> None:
        self.write_paused = False
        super().resume_writing()
        if not self.busy and not self.stream:
            self._serve_next()

    # -- requests ------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        """An answer, sent once the loop is through its ready events (cork.py)."""
        self.corked = self.cork.write(self.transport, data)

    def _uncork(self) -> None:
        """Before a direct write: what this connection corked goes out first."""
        if self.cork.pending_on(self.corked):
            self.cork.flush()

    def _serve_next(self) -> None:
        while not (self.busy or self.stream or self.closed):
            if self.write_paused:  # the client reads slower than we answer: wait for it
                return
            self._uncork()  # a pipelined request may be answered at once
            buf = self.buf
            try:
                n = split_head(buf, self.limit)
            except HeadTooLarge:
                self._close(self.proxy.head_too_large())
                return
            if not n:
                if self.eof:
                    self._close()
                elif self.read_paused:
                    self.read_paused = False
                    self.transport.resume_reading()
                return
            self.buf = buf[n:]
            received_at = time.time()
            try:
                req = parse_request_head(buf[:n], self.limit)
            except HTTPError as e:
                self._close(self.proxy.bad_request(e, self.client_addr))
                return
            try:
                keep = self.proxy.serve_fast(self, req, received_at)
            except Exception:  # noqa: BLE001 - one connection must never take the router down
                log.exception("unexpected error serving %s", self.client_addr)
                self._close()
                return
            if keep is None:
                self.idle.disarm()
                return  # answered later: request_done()
            if not keep:
                self._close()
                return
            self.idle.arm()

    def request_begun(self) -> None:
        """A request is in flight until request_done()."""
        self.busy = True
        self.cork.in_flight += 1

    def request_done(self, keep: bool) -> None:
        """The request in flight has been answered."""
        self.busy = False
        self.cork.in_flight -= 1
        if not keep:
            self._close()
            return
        self.idle.arm()
        if self.buf or self.eof or self.read_paused:  # else _serve_next has nothing to do
            self._serve_next()

    def run(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run the stream path for one request (the connection stays busy until done)."""
        self.task = self.loop.create_task(coro)

    def to_stream(self, req: RequestHead, received_at: float) -> None:
        """Hand the connection, from `req` on, to the stream loop."""
        self._uncork()
        self.stream = True
        self.idle.cancel()
        if self.buf:
            self.reader.feed_data(self.buf)
            self.buf = b""
        if self.eof:
            self.reader.feed_eof()
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self.task = self.loop.create_task(
            self.proxy.serve_stream(self.reader, self.writer, (req, received_at)))

    def _close(self, last: bytes = b"") -> None:
        if self.closed:
            return
        self._uncork()
        self.closed = True
        if last:
            self.transport.write(last)
        self.transport.close()

    def _idle_expired(self) -> None:
        if not (self.closed or self.stream):
            self._close()
