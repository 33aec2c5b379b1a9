"""Backend connections: dial, TLS with route-integrity checks, keep-alive idle pools.

One idle pool per (address, tls, server_cert_domain_san): like gorouter, which
keeps an endpoint's transport (and its idle connections) only while the SAN is
unchanged, so a replaced instance never inherits another's connection.

An idle connection is closed after IDLE_CONN_TIMEOUT, gorouter's `IdleConnTimeout`
(proxy.go: 90 s, Go's default). Without it a connection to an instance that vanished
without closing it (a cell cut off, a backend that keeps the socket) stays pooled for
good, with its TLS state (~23 KiB each, measured with tracemalloc).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import tempfile
import time
from collections import deque
from typing import Protocol, Union

from foundry.gorouter.classifier import Failure, FailureKind, Phase, classify
from foundry.gorouter.config import Config
from foundry.gorouter.deadline import Deadline
from foundry.gorouter.framing import BACKEND_HEAD_LIMIT, STREAM, HeadTooLarge, ResponseFramer
from foundry.gorouter.hostname import hostname_error
from foundry.gorouter.http11 import HTTPError, ResponseHead
from foundry.gorouter.pool import Endpoint

Key = tuple[str, int, bool, str]
IDLE_CONN_TIMEOUT = 90.0


class AttemptFailed(Exception):
    """One attempt against one endpoint failed; carries gorouter's classification."""

    def __init__(self, failure: Failure, *, body_consumed: bool = False,
                 reused: bool = False, response_started: bool = False) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.body_consumed = body_consumed
        self.reused = reused
        self.response_started = response_started


def head_failure(err: BaseException, timed_out: bool, address: str, san: str,
                 idempotent: bool, body_consumed: bool, reused: bool) -> AttemptFailed:
    """The failed attempt for an error while waiting for a response head. `reused` (which
    earns one redial) only for a connection the backend closed: like Go's transport, a
    backend that took too long is not sent the request again."""
    if timed_out:
        return AttemptFailed(classify(TimeoutError(), Phase.READ, address=address,
                                      server_name=san, idempotent=idempotent),
                             body_consumed=body_consumed)
    if isinstance(err, asyncio.IncompleteReadError):
        if not err.partial:
            return AttemptFailed(classify(EOFError(), Phase.READ, address=address,
                                          server_name=san, idempotent=idempotent),
                                 body_consumed=body_consumed, reused=reused)
        return AttemptFailed(classify(ConnectionResetError(), Phase.READ, address=address,
                                      server_name=san),
                             body_consumed=body_consumed, reused=reused)
    if isinstance(err, HTTPError):
        return AttemptFailed(Failure(FailureKind.OTHER, f"malformed HTTP response: {err.reason}"),
                             body_consumed=body_consumed)
    if isinstance(err, asyncio.LimitOverrunError | HeadTooLarge):
        return AttemptFailed(Failure(FailureKind.OTHER, "net/http: response headers too long"),
                             body_consumed=body_consumed)
    return AttemptFailed(classify(err, Phase.READ, address=address, server_name=san,
                                  idempotent=idempotent),
                         body_consumed=body_consumed, reused=reused)


def body_failure(err: BaseException, address: str, san: str) -> AttemptFailed:
    """The failed attempt for an error reading a small body (nothing sent to the client)."""
    exc = EOFError() if isinstance(err, asyncio.IncompleteReadError) else err
    return AttemptFailed(classify(exc, Phase.READ, address=address, server_name=san),
                         body_consumed=True)


def backend_ssl_context(cfg: Config) -> ssl.SSLContext:
    """Roots = system pool + ca_certs; client cert = backends.cert_chain/private_key.

    There is deliberately no way to skip verification: gorouter removed it for
    backends (routing-release #180), `skip_ssl_validation` only affects route services.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # The chain is OpenSSL's to verify; the name is checked after the handshake
    # (hostname.py) so a mismatch can be reported in Go's words.
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_default_certs()
    for pem in cfg.ca_certs:
        ctx.load_verify_locations(cadata=pem)
    if cfg.backend_cert_chain:
        with tempfile.TemporaryDirectory() as d:
            cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
            with open(cert, "w") as f:
                f.write(cfg.backend_cert_chain)
            with open(key, "w") as f:
                f.write(cfg.backend_private_key)
            ctx.load_cert_chain(cert, key)
    return ctx


class BackendReader(asyncio.StreamReader):
    """A StreamReader that counts the bytes it was fed and the bytes read from it.

    A connection may leave stream mode only with nothing left unread, and asyncio
    has no public way to ask a StreamReader that (its `_buffer` is private). A read
    this class does not count (readline goes through readuntil, read(-1) through
    read(n)) would only make `pending` too large: the connection is then closed
    rather than reused, never reused with bytes left over.
    """

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.fed = 0
        self.taken = 0

    def pending(self) -> int:
        """Bytes fed and not yet read."""
        return self.fed - self.taken

    def feed_data(self, data: bytes) -> None:
        self.fed += len(data)
        super().feed_data(data)

    async def read(self, n: int = -1) -> bytes:
        data = await super().read(n)
        if n >= 0:  # read(-1) counts through the read(limit) calls it makes
            self.taken += len(data)
        return data

    async def readexactly(self, n: int) -> bytes:
        data = await super().readexactly(n)
        self.taken += n
        return data

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        data = await super().readuntil(separator)
        self.taken += len(data)
        return data


class ResponseWaiter(Protocol):
    """What waits on a backend connection in fast mode (the proxy's FastAttempt)."""

    def on_response(self, resp: ResponseHead, body: bytes) -> None: ...
    def on_stream(self, resp: ResponseHead) -> None: ...
    def on_error(self, exc: BaseException, head_done: bool) -> None: ...


class BackendProtocol(asyncio.StreamReaderProtocol):
    """A backend connection's protocol, in one of two modes.

    Stream mode feeds the StreamReader the stream-based path reads from. Fast mode
    frames one response at a time straight from `data_received` and calls the waiter
    back: no task, future or reader per request. A response that is not small and
    length-delimited switches the connection to stream mode with the rest fed on.
    """

    def __init__(self, reader: BackendReader, loop: asyncio.AbstractEventLoop,
                 head_timeout: float) -> None:
        super().__init__(reader, loop=loop)
        self.loop = loop
        self.reader = reader
        self.stream = True
        self.framer: ResponseFramer | None = None
        self.waiter: ResponseWaiter | None = None
        self.stray = False  # bytes arrived that no request asked for: not reusable
        self.writer: asyncio.StreamWriter | None = None
        # endpoint_timeout for a response head, in either mode (a body has none): armed
        # by expect() here, around the head's read on the stream path
        self.head_deadline = Deadline(loop, head_timeout, self._head_timed_out)

    def expect(self, waiter: ResponseWaiter, method: str) -> None:
        self.stream = False
        self.framer = ResponseFramer(method)
        self.waiter = waiter
        self.head_deadline.arm()

    def _head_timed_out(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()  # connection_lost → the waiter's on_error

    def to_fast(self) -> bool:
        """Whether a usable connection can leave stream mode: only when its reader holds
        nothing (a complete exchange) and no error."""
        reader = self.reader
        return reader.exception() is None and reader.pending() == 0

    def data_received(self, data: bytes) -> None:
        if self.stream:
            super().data_received(data)
            return
        framer = self.framer
        if framer is None:
            self.stray = True
            return
        try:
            result = framer.feed(data)
        except Exception as e:  # noqa: BLE001 - HTTPError, HeadTooLarge: the waiter classifies
            self._fail(e)
            return
        if result is None:
            if framer.resp is not None:
                self.head_deadline.disarm()
            return
        self.head_deadline.disarm()
        kind, resp, body, rest = result
        waiter = self.waiter
        self.framer = self.waiter = None
        if kind == STREAM:
            self.stream = True
            if rest:
                self.reader.feed_data(rest)
            waiter.on_stream(resp)
            return
        if rest:
            self.stray = True
        waiter.on_response(resp, body)

    def eof_received(self) -> bool | None:
        keep_open = super().eof_received()
        if not self.stream and self.waiter is not None:
            self._fail(None)
        return keep_open

    def connection_lost(self, exc: BaseException | None) -> None:
        self.head_deadline.cancel()
        super().connection_lost(exc)
        if not self.stream and self.waiter is not None:
            self._fail(exc)

    def _fail(self, exc: BaseException | None) -> None:
        framer, waiter = self.framer, self.waiter
        self.framer = self.waiter = None
        self.stray = True
        self.head_deadline.disarm()
        if exc is None:  # EOF: what StreamReader.readuntil/readexactly would raise
            exc = asyncio.IncompleteReadError(framer.buf if framer else b"", None)
        waiter.on_error(exc, framer is not None and framer.head_done)


class Connection:
    __slots__ = ("reader", "writer", "key", "reused", "protocol", "idle_since")

    def __init__(self, reader: BackendReader, writer: asyncio.StreamWriter,
                 key: Key, protocol: BackendProtocol) -> None:
        self.reader = reader
        self.writer = writer
        self.key = key
        self.reused = False
        self.protocol = protocol
        self.idle_since = 0.0

    def usable(self) -> bool:
        return (not self.writer.is_closing() and not self.reader.at_eof()
                and not self.protocol.stray)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.transport.abort()


# Where the stream path takes up an attempt the callback path began: from the start
# (None), after its failure, or with a response head whose body must be streamed.
Resume = Union["AttemptFailed", tuple[Connection, ResponseHead], None]


class Transport:
    def __init__(self, cfg: Config, ssl_context: ssl.SSLContext | None = None,
                 max_idle_per_endpoint: int = 100,
                 idle_timeout: float = IDLE_CONN_TIMEOUT) -> None:
        self.cfg = cfg
        self.ssl_context = ssl_context or backend_ssl_context(cfg)
        self.max_idle = max_idle_per_endpoint
        self.idle_timeout = idle_timeout
        self.idle: dict[Key, deque[Connection]] = {}

    @staticmethod
    def key_for(ep: Endpoint) -> Key:
        return (ep.host, ep.port, ep.tls, ep.server_cert_domain_san)

    async def get(self, ep: Endpoint) -> Connection:
        key = self.key_for(ep)
        idle = self.idle.get(key)
        while idle:
            conn = idle.pop()
            if conn.usable():
                conn.reused = True
                conn.protocol.stream = True
                return conn
            conn.close()
        return await self.dial(ep, key)

    def get_idle(self, ep: Endpoint) -> Connection | None:
        """An idle connection ready for fast mode, or None (the caller dials)."""
        idle = self.idle.get((ep.host, ep.port, ep.tls, ep.server_cert_domain_san))
        while idle:
            conn = idle.pop()
            # a connection last used in fast mode never fed its reader: nothing to check there
            if conn.usable() and (not conn.protocol.stream or conn.protocol.to_fast()):
                conn.reused = True
                return conn
            conn.close()
        return None

    async def dial(self, ep: Endpoint, key: Key | None = None) -> Connection:
        address = ep.key
        try:
            async with asyncio.timeout(self.cfg.endpoint_dial_timeout):
                loop = asyncio.get_running_loop()
                reader = BackendReader(BACKEND_HEAD_LIMIT, loop)
                protocol = BackendProtocol(reader, loop, self.cfg.endpoint_timeout)
                transport, _ = await loop.create_connection(lambda: protocol, ep.host, ep.port)
                writer = protocol.writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        except Exception as e:  # noqa: BLE001 - every dial error is classified
            raise AttemptFailed(classify(e, Phase.DIAL, address=address)) from e
        conn = Connection(reader, writer, key or self.key_for(ep), protocol)
        if ep.tls:
            server_name = ep.server_cert_domain_san or ep.host
            try:
                async with asyncio.timeout(self.cfg.tls_handshake_timeout):
                    await writer.start_tls(self.ssl_context, server_hostname=server_name,
                                           ssl_handshake_timeout=self.cfg.tls_handshake_timeout + 1)
            except Exception as e:  # noqa: BLE001
                conn.close()
                raise AttemptFailed(classify(e, Phase.HANDSHAKE, address=address,
                                             server_name=server_name)) from e
            ssl_object = writer.get_extra_info("ssl_object")
            mismatch = hostname_error(ssl_object.getpeercert() if ssl_object else {},
                                      server_name)
            if mismatch is not None:
                conn.close()
                raise AttemptFailed(Failure(FailureKind.HOSTNAME_MISMATCH,
                                            f"tls: failed to verify certificate: {mismatch}"))
        return conn

    def release(self, conn: Connection) -> None:
        if not conn.usable():
            conn.close()
            return
        idle = self.idle.get(conn.key)
        if idle is None:
            idle = self.idle[conn.key] = deque()
        if len(idle) >= self.max_idle:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    def sweep(self, now: float | None = None) -> int:
        """Drop idle connections the backend has closed or that sat idle longer than
        the idle timeout (and pools left empty). Run with the pruning cycle, so a
        connection goes between idle_timeout and idle_timeout + that interval."""
        oldest = (time.monotonic() if now is None else now) - self.idle_timeout
        dropped = 0
        for key in list(self.idle):
            alive: deque[Connection] = deque()
            for c in self.idle[key]:
                if c.usable() and c.idle_since >= oldest:
                    alive.append(c)
                else:
                    c.close()
                    dropped += 1
            if alive:
                self.idle[key] = alive
            else:
                del self.idle[key]
        return dropped

    def close_all(self) -> None:
        for idle in self.idle.values():
            for conn in idle:
                conn.close()
        self.idle.clear()
