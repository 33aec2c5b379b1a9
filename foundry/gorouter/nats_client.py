"""NATS edge (gorouter `mbus/subscriber.go`, `mbus/client.go`).

Subscribes `router.*`; register/unregister go to the registry, `router.greet`
gets the start message as reply, and `router.start` is published on connect and
after every reconnect so route emitters re-send everything. While NATS is away
the last routing table keeps serving.

The router speaks the NATS client protocol itself (INFO, CONNECT, PING/PONG,
SUB, MSG, PUB, -ERR) over an asyncio Protocol instead of using nats-py: a
heartbeat storm of 100k routes every 20 s is mostly per-message overhead in a
general client (a task and a Msg object per message). Here each chunk read from
the socket is parsed in one pass (`ProtocolParser`) and the messages are
applied to the registry in bounded batches, so request handling still gets the
event loop between batches. Reconnect: every server of `nats.hosts` in turn,
`reconnect_time_wait` between rounds, forever; a connection whose PINGs go
unanswered (`max_outstanding_pings`) is treated as lost.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import socket
import uuid
from collections.abc import Callable

from foundry.gorouter.config import Config
from foundry.gorouter.registry import InvalidRegistryMessage, Registry, parse_registry_message

log = logging.getLogger("gorouter.nats")

MAX_CONTROL_LINE = 4096  # nats-server's max_control_line default
BATCH = 512  # messages applied per event-loop turn
PING_INTERVAL = 20.0
MAX_OUTSTANDING_PINGS = 2
CONNECT_TIMEOUT = 2.0
SID = b"1"

REGISTER = b"router.register"
UNREGISTER = b"router.unregister"
GREET = b"router.greet"


class ProtocolError(Exception):
    """The server sent something that is not the NATS protocol; the connection is dropped."""


# Parsed items: (kind, a, b, c). kind MSG: (subject, reply or None, payload);
# PING/PONG/OK: no fields; INFO: (json bytes); ERR: (message bytes).
MSG, PING, PONG, OK, INFO, ERR = range(6)


class ProtocolParser:
    """Incremental parser for the server → client side of the NATS protocol.

    `feed(data)` returns every complete item in `data` plus what was buffered;
    frames may be split anywhere (inside a control line, a payload or its CRLF).
    """

    __slots__ = ("_buf", "_chunks", "_have", "_need")

    def __init__(self) -> None:
        self._buf = b""
        self._chunks: list[bytes] = []  # a large payload arriving in pieces
        self._have = 0
        self._need = 0  # bytes needed before parsing is worth retrying

    def feed(self, data: bytes) -> list[tuple]:
        if self._need:
            self._chunks.append(data)
            self._have += len(data)
            if self._have < self._need:
                return []
            data = b"".join(self._chunks)
            self._chunks.clear()
            self._have = self._need = 0
        elif self._buf:
            data = self._buf + data
        self._buf = b""
        out: list[tuple] = []
        append = out.append
        pos = 0
        n = len(data)
        find = data.find
        while pos < n:
            end = find(b"\r\n", pos)
            if end < 0:
                if n - pos > MAX_CONTROL_LINE:
                    raise ProtocolError("control line too long")
                break
            op = data[pos:pos + 4]
            if op == b"MSG " or op == b"msg ":
                parts = data[pos + 4:end].split()
                # digits only, as nats-server writes it: int() would also take "-15",
                # and a negative size stepped the parser back onto this line forever
                if not parts or not parts[-1].isdigit():
                    raise ProtocolError(f"bad MSG line {data[pos:end][:128]!r}")
                size = int(parts[-1])
                if len(parts) == 3:
                    reply = None
                elif len(parts) == 4:
                    reply = parts[2]
                else:
                    raise ProtocolError(f"bad MSG line {data[pos:end][:128]!r}")
                start = end + 2
                stop = start + size
                if stop + 2 > n:  # payload not complete yet: keep the whole frame
                    self._need = stop + 2 - pos
                    break
                if data[stop:stop + 2] != b"\r\n":
                    raise ProtocolError("MSG payload not followed by CRLF")
                append((MSG, parts[0], reply, data[start:stop]))
                pos = stop + 2
                continue
            if op == b"HMSG":
                # Headers are never requested (CONNECT headers:false); accept and skip them.
                parts = data[pos + 5:end].split()
                if len(parts) not in (4, 5) or not parts[-2].isdigit() or not parts[-1].isdigit():
                    raise ProtocolError(f"bad HMSG line {data[pos:end][:128]!r}")
                hdr, total = int(parts[-2]), int(parts[-1])
                reply = parts[2] if len(parts) == 5 else None
                start = end + 2
                stop = start + total
                if stop + 2 > n:
                    self._need = stop + 2 - pos
                    break
                if data[stop:stop + 2] != b"\r\n" or not 0 <= hdr <= total:
                    raise ProtocolError("bad HMSG frame")
                append((MSG, parts[0], reply, data[start + hdr:stop]))
                pos = stop + 2
                continue
            line = data[pos:end]
            pos = end + 2
            word = line.split(b" ", 1)[0].upper()
            if word == b"PING":
                append((PING,))
            elif word == b"PONG":
                append((PONG,))
            elif word == b"+OK":
                append((OK,))
            elif word == b"INFO":
                append((INFO, line[5:]))
            elif word == b"-ERR":
                append((ERR, line[5:].strip().strip(b"'")))
            else:
                raise ProtocolError(f"unknown protocol line {line[:128]!r}")
        if pos < n:
            rest = data[pos:]
            if self._need:
                self._chunks.append(rest)
                self._have = len(rest)
            else:
                self._buf = rest
        return out


def local_ip(cfg: Config) -> str:
    """The router's address for router.start `hosts` (gorouter: localip.LocalIP())."""
    if cfg.ip:
        return cfg.ip
    target = cfg.nats_hosts[0].hostname if cfg.nats_hosts else "8.8.8.8"
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((target, 4222))
        return s.getsockname()[0]
    return "127.0.0.1"


def start_message(cfg: Config, router_id: str | None = None) -> dict:
    """common.RouterStart; minimumRegisterIntervalInSeconds is start_response_delay_interval."""
    return {
        "id": router_id or f"{cfg.index}-{uuid.uuid4()}",
        "hosts": [local_ip(cfg)],
        "minimumRegisterIntervalInSeconds": int(cfg.start_response_delay_interval),
        "pruneThresholdInSeconds": int(cfg.droplet_stale_threshold),
    }


def pub_frame(subject: bytes | str, payload: bytes) -> bytes:
    if isinstance(subject, str):
        subject = subject.encode()
    return b"PUB %s %d\r\n%s\r\n" % (subject, len(payload), payload)


class _Connection(asyncio.Protocol):
    """One TCP connection to a NATS server; messages go to `sub.dispatch`."""

    def __init__(self, sub: NatsSubscriber) -> None:
        self.sub = sub
        self.parser = ProtocolParser()
        self.transport: asyncio.Transport | None = None
        self.info: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pongs: collections.deque[asyncio.Future[None]] = collections.deque()
        self.backlog: collections.deque[tuple] = collections.deque()
        self.paused = False
        self.error: str = ""

    # -- asyncio.Protocol -----------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        with contextlib.suppress(OSError, AttributeError):
            transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP,
                                                          socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        try:
            items = self.parser.feed(data)
        except ProtocolError as e:
            log.warning("nats-protocol-error: %s", e)
            self.close()
            return
        msgs = self.backlog
        for item in items:
            kind = item[0]
            if kind == MSG:
                msgs.append(item)
            elif kind == PING:
                self.write(b"PONG\r\n")
            elif kind == PONG:
                if self.pongs:
                    fut = self.pongs.popleft()
                    if not fut.done():
                        fut.set_result(None)
            elif kind == INFO:
                self._on_info(item[1])
            elif kind == ERR:
                self.error = item[1].decode("utf-8", "replace")
                log.warning("nats-error: %s", self.error)
                if not self.info.done():
                    self.info.set_exception(ConnectionError(self.error))
                for fut in self.pongs:
                    if not fut.done():
                        fut.set_exception(ConnectionError(self.error))
                self.pongs.clear()
        if msgs and not self.paused:
            self._drain()

    def _on_info(self, raw: bytes) -> None:
        try:
            info = json.loads(raw)
        except ValueError:
            info = {}
        if not self.info.done():
            self.info.set_result(info if isinstance(info, dict) else {})

    def _drain(self) -> None:
        """Apply up to BATCH messages; pause reading while a backlog remains."""
        msgs = self.backlog
        dispatch = self.sub.dispatch
        for _ in range(min(BATCH, len(msgs))):
            _, subject, reply, payload = msgs.popleft()
            dispatch(subject, reply, payload, self)
        if msgs:
            if not self.paused and self.transport is not None:
                self.paused = True
                with contextlib.suppress(Exception):
                    self.transport.pause_reading()
            asyncio.get_running_loop().call_soon(self._drain)
        elif self.paused:
            self.paused = False
            if self.transport is not None and not self.transport.is_closing():
                with contextlib.suppress(Exception):
                    self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        err = ConnectionError(self.error or str(exc or "connection closed"))
        if not self.info.done():
            self.info.set_exception(err)
        for fut in self.pongs:
            if not fut.done():
                fut.set_exception(err)
        self.pongs.clear()
        if not self.lost.done():
            self.lost.set_result(None)
        for fut in (self.info,):
            if fut.done() and not fut.cancelled():
                fut.exception()  # mark retrieved

    # -- helpers --------------------------------------------------------------
    @property
    def open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def ping(self) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self.open:
            fut.set_exception(ConnectionError("not connected"))
            return fut
        self.pongs.append(fut)
        self.write(b"PING\r\n")
        return fut

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class NatsSubscriber:
    def __init__(self, cfg: Config, registry: Registry, *,
                 on_state: Callable[[bool], None] | None = None,
                 reconnect_time_wait: float = 0.5,
                 ping_interval: float = PING_INTERVAL, announce: bool = True) -> None:
        self.cfg = cfg
        # router.start and router.greet belong to the router, not to each of its processes
        self.announce = announce
        self.registry = registry
        self.on_state = on_state or (lambda _connected: None)
        self.reconnect_time_wait = reconnect_time_wait
        self.ping_interval = ping_interval
        self.start_payload = json.dumps(start_message(cfg)).encode()
        self.conn: _Connection | None = None
        self._ready = False
        self._task: asyncio.Task | None = None
        self._closing = False
        self.dropped = 0
        self.received = 0
        self.starts_published = 0
        self.connects = 0
        self.server = ""

    @property
    def connected(self) -> bool:
        return self._ready and self.conn is not None and self.conn.open

    def servers(self) -> list[str]:
        auth = ""
        if self.cfg.nats_user:
            auth = f"{self.cfg.nats_user}:{self.cfg.nats_pass}@"
        return [f"nats://{auth}{h.hostname}:{h.port}" for h in self.cfg.nats_hosts]

    async def start(self) -> None:
        """Connect in the background; the router serves whether or not NATS is up."""
        self._task = asyncio.create_task(self._run())

    # -- connection lifecycle ---------------------------------------------------
    async def _run(self) -> None:
        first = True
        # Python 3.11's wait_for can swallow a cancel that races the connection's loss
        # (gh-86296): the flag ends the loop even then, so a stop never hangs.
        while not self._closing:
            for host in self.cfg.nats_hosts:
                try:
                    conn = await self._connect(host.hostname, host.port)
                except Exception as e:  # noqa: BLE001 - keep trying; the table keeps serving
                    log.warning("nats-connection-failed %s:%d: %s", host.hostname, host.port, e)
                    continue
                self.connects += 1
                if first:
                    log.info("nats-connected %s:%d", host.hostname, host.port)
                else:
                    log.info("nats-reconnected %s:%d", host.hostname, host.port)
                first = False
                self.on_state(True)
                if self.announce:
                    await self.publish_start()
                await self._serve(conn)
                self._ready = False
                if self._closing:
                    return
                log.warning("nats-disconnected")
                self.on_state(False)
            await asyncio.sleep(self.reconnect_time_wait)

    async def _connect(self, hostname: str, port: int) -> _Connection:
        loop = asyncio.get_running_loop()
        conn: _Connection | None = None
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                _, conn = await loop.create_connection(lambda: _Connection(self), hostname, port)
                info = await conn.info
                if info.get("tls_required"):
                    raise ConnectionError("server requires TLS, which the router does not speak")
                opts: dict = {"verbose": False, "pedantic": False, "name": "gorouter",
                              "lang": "python", "version": "cflab", "protocol": 1,
                              "headers": False, "no_responders": False}
                if self.cfg.nats_user:
                    opts["user"], opts["pass"] = self.cfg.nats_user, self.cfg.nats_pass
                conn.write(b"CONNECT " + json.dumps(opts).encode() + b"\r\n")
                await conn.ping()  # PONG: CONNECT accepted (an auth failure is -ERR)
                conn.write(b"SUB router.* " + SID + b"\r\n")
                await conn.ping()
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        self.conn = conn
        self.server = f"{hostname}:{port}"
        self._ready = True
        return conn

    async def _serve(self, conn: _Connection) -> None:
        """Keepalive PINGs until the connection is lost or goes stale."""
        outstanding: list[asyncio.Future[None]] = []
        while True:
            try:
                await asyncio.wait_for(asyncio.shield(conn.lost), self.ping_interval)
                return
            except TimeoutError:
                pass
            outstanding = [f for f in outstanding if not f.done()]
            if len(outstanding) >= MAX_OUTSTANDING_PINGS:
                log.warning("nats-stale-connection: %d PINGs unanswered", len(outstanding))
                conn.close()
                await conn.lost
                return
            fut = conn.ping()
            fut.add_done_callback(_retrieve)
            outstanding.append(fut)

    async def publish_start(self) -> None:
        conn = self.conn
        if conn is None or not conn.open:
            return
        try:
            conn.write(pub_frame("router.start", self.start_payload))
            async with asyncio.timeout(2):
                await conn.ping()  # flush: the server has it once it answers
            self.starts_published += 1
        except Exception as e:  # noqa: BLE001
            log.warning("router-start-publish-failed: %s", e)

    # -- messages ---------------------------------------------------------------
    def dispatch(self, subject: bytes, reply: bytes | None, payload: bytes,
                 conn: _Connection) -> None:
        self.received += 1
        if subject == REGISTER:
            handler = self.registry.register
        elif subject == UNREGISTER:
            handler = self.registry.unregister
        elif subject == GREET:
            if reply and self.announce:
                conn.write(pub_frame(reply, self.start_payload))
            return
        else:
            return  # router.start from other routers, etc.
        try:
            handler(parse_registry_message(payload))
        except InvalidRegistryMessage as e:
            self.dropped += 1
            log.warning("validation-error subject=%s error=%s payload=%r", subject.decode(), e,
                        payload[:256])
        except Exception:  # noqa: BLE001 - a hostile payload must not kill the subscriber
            self.dropped += 1
            log.exception("registry-message-failed subject=%s payload=%r", subject.decode(),
                          payload[:256])

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        self._ready = False
        if self.conn is not None:
            self.conn.close()


def _retrieve(fut: asyncio.Future) -> None:
    if not fut.cancelled():
        fut.exception()
