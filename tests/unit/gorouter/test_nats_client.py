"""The router's own NATS client: the protocol parser and the connection lifecycle."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from foundry.gorouter.config import from_dict
from foundry.gorouter.nats_client import (
    ERR,
    INFO,
    MSG,
    OK,
    PING,
    PONG,
    NatsSubscriber,
    ProtocolError,
    ProtocolParser,
)
from foundry.gorouter.registry import Registry
from orchestrator.waiting import wait_for_async

REG = json.dumps({"host": "10.0.0.1", "port": 8080, "uris": ["a.example.com"],
                  "private_instance_id": "i1"}).encode()
STREAM = (b'INFO {"server_id":"x","max_payload":1048576}\r\n'
          b"PING\r\n"
          + b"MSG router.register 1 %d\r\n%s\r\n" % (len(REG), REG)
          + b"MSG router.greet 1 _INBOX.abc 0\r\n\r\n"
          + b"+OK\r\nPONG\r\n"
          + b"MSG router.unregister 1 5\r\nab\r\nc\r\n"  # CRLF inside a payload
          + b"HMSG router.register 1 21 26\r\nNATS/1.0\r\nX-A: bb\r\n\r\nhello\r\n"
          + b"-ERR 'Unknown Protocol Operation'\r\n")
EXPECTED = [
    (INFO, b'{"server_id":"x","max_payload":1048576}'),
    (PING,),
    (MSG, b"router.register", None, REG),
    (MSG, b"router.greet", b"_INBOX.abc", b""),
    (OK,),
    (PONG,),
    (MSG, b"router.unregister", None, b"ab\r\nc"),
    (MSG, b"router.register", None, b"hello"),
    (ERR, b"Unknown Protocol Operation"),
]


def test_parser_whole_stream() -> None:
    assert ProtocolParser().feed(STREAM) == EXPECTED


def test_parser_every_split_point() -> None:
    for cut in range(1, len(STREAM)):
        p = ProtocolParser()
        assert p.feed(STREAM[:cut]) + p.feed(STREAM[cut:]) == EXPECTED, cut


def test_parser_byte_by_byte() -> None:
    p = ProtocolParser()
    out: list[tuple] = []
    for i in range(len(STREAM)):
        out += p.feed(STREAM[i:i + 1])
    assert out == EXPECTED


def test_parser_large_payload_in_pieces() -> None:
    payload = b"x" * 900_000
    frame = b"MSG router.register 1 %d\r\n%s\r\nPING\r\n" % (len(payload), payload)
    p = ProtocolParser()
    out: list[tuple] = []
    for i in range(0, len(frame), 65536):
        out += p.feed(frame[i:i + 65536])
    assert out == [(MSG, b"router.register", None, payload), (PING,)]


def test_parser_many_messages_in_one_chunk() -> None:
    frames = b"".join(b"MSG router.register 1 %d\r\n%s\r\n" % (len(REG), REG)
                      for _ in range(1000))
    out = ProtocolParser().feed(frames)
    assert len(out) == 1000 and all(m == (MSG, b"router.register", None, REG) for m in out)


@pytest.mark.parametrize("bad", [b"MSG router.register 1 x\r\n", b"MSG a\r\n",
                                 b"MSG a 1 b c 5\r\n", b"BOGUS\r\n",
                                 b"MSG a 1 3\r\nabcd\r\n", b"x" * 5000])
def test_parser_rejects_garbage(bad: bytes) -> None:
    with pytest.raises(ProtocolError):
        ProtocolParser().feed(bad)


# -- against a scripted server ------------------------------------------------------
class FakeServer:
    """Just enough of nats-server: INFO, CONNECT, SUB, PUB, PING/PONG; it can drop
    connections and stop answering PINGs."""

    def __init__(self) -> None:
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self.clients: list[asyncio.StreamWriter] = []
        self.lines: list[bytes] = []
        self.published: list[tuple[bytes, bytes]] = []
        self.subs = 0
        self.answer_pings = True

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        self.drop()

    def drop(self) -> None:
        for w in self.clients:
            w.transport.abort()
        self.clients.clear()

    async def _serve(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.clients.append(w)
        w.write(b'INFO {"server_id":"fake","max_payload":1048576}\r\n')
        try:
            while line := await r.readline():
                self.lines.append(line)
                if line.startswith(b"PING"):
                    if self.answer_pings:
                        w.write(b"PONG\r\n")
                elif line.startswith(b"SUB "):
                    self.subs += 1
                elif line.startswith(b"PUB "):
                    parts = line.split()
                    data = await r.readexactly(int(parts[-1]) + 2)
                    self.published.append((parts[1], data[:-2]))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass

    def send(self, data: bytes) -> None:
        for w in self.clients:
            w.write(data)


async def _until(cond, timeout: float = 10.0) -> None:
    await wait_for_async(cond, timeout, 0.01, retry_on=())


def _subscriber(port: int, **kw) -> tuple[NatsSubscriber, Registry, list[bool]]:
    cfg = from_dict({"nats": {"hosts": [{"hostname": "127.0.0.1", "port": port}]},
                     "ip": "10.9.9.9"})
    registry = Registry(clock=time.monotonic)
    states: list[bool] = []
    return (NatsSubscriber(cfg, registry, on_state=states.append, reconnect_time_wait=0.05,
                           **kw), registry, states)


def test_subscribe_register_greet_and_reconnect() -> None:
    async def scenario() -> None:
        server = FakeServer()
        await server.start()
        sub, registry, states = _subscriber(server.port)
        await sub.start()
        try:
            await _until(lambda: sub.starts_published == 1)
            assert sub.connected and server.subs == 1 and states == [True]
            assert any(ln.startswith(b"SUB router.* ") for ln in server.lines)
            start = json.loads(dict(server.published)[b"router.start"])
            assert start["hosts"] == ["10.9.9.9"]

            # Many messages in one write, split across TCP segments as they come.
            frames = b"".join(
                b"MSG router.register 1 %d\r\n%s\r\n" % (len(p), p)
                for p in (json.dumps({"host": "10.0.0.1", "port": 9000 + i,
                                      "uris": [f"r{i}.example.com"]}).encode()
                          for i in range(2000)))
            server.send(frames + b"MSG router.register 1 8\r\nnot json\r\n"
                        + b"MSG router.greet 1 _INBOX.q 0\r\n\r\n")
            await _until(lambda: len(registry.table) == 2000 and sub.dropped == 1)
            await _until(lambda: (b"_INBOX.q", sub.start_payload) in server.published)

            server.send(b"PING\r\n")
            await _until(lambda: sum(ln.startswith(b"PONG") for ln in server.lines) == 1)

            server.drop()  # NATS goes away: the table stays, router.start again on reconnect
            await _until(lambda: sub.starts_published == 2)
            assert states == [True, False, True] and server.subs == 2
            assert len(registry.table) == 2000
        finally:
            await sub.close()
            await server.stop()

    asyncio.run(scenario())


def test_unanswered_pings_mean_a_stale_connection() -> None:
    async def scenario() -> None:
        server = FakeServer()
        await server.start()
        sub, _, states = _subscriber(server.port, ping_interval=0.05)
        await sub.start()
        try:
            await _until(lambda: sub.starts_published == 1)
            server.answer_pings = False
            await _until(lambda: False in states)
            server.answer_pings = True
            await _until(lambda: sub.starts_published >= 2 and sub.connected)
        finally:
            await sub.close()
            await server.stop()

    asyncio.run(scenario())


def test_connect_retries_until_a_server_is_up() -> None:
    async def scenario() -> None:
        attempts: list[int] = []

        async def hang_up(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            attempts.append(1)  # not a NATS server: the connection closes before INFO
            w.close()

        srv = await asyncio.start_server(hang_up, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        sub, _, states = _subscriber(port)
        await sub.start()
        server = FakeServer()
        try:
            await _until(lambda: len(attempts) >= 3)  # it keeps trying, and never connected
            assert not sub.connected and states == [] and sub.starts_published == 0
            srv.close()
            await srv.wait_closed()
            server.port = port
            await server.start()
            await _until(lambda: sub.connected and sub.starts_published == 1)
            assert states == [True]
        finally:
            await sub.close()
            await server.stop()

    asyncio.run(scenario())


def test_auth_error_is_a_failed_connect() -> None:
    async def scenario() -> None:
        attempts: list[bytes] = []

        async def reject(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            w.write(b'INFO {"auth_required":true}\r\n')
            attempts.append(await r.readline())
            w.write(b"-ERR 'Authorization Violation'\r\n")
            await w.drain()
            w.close()

        srv = await asyncio.start_server(reject, "127.0.0.1", 0)
        sub, _, states = _subscriber(srv.sockets[0].getsockname()[1])
        await sub.start()
        try:
            # each attempt sent CONNECT, was refused, and was retried as a failed connect
            await _until(lambda: len(attempts) >= 3)
            assert all(line.startswith(b"CONNECT ") for line in attempts)
            assert not sub.connected and states == [] and sub.starts_published == 0
        finally:
            await sub.close()
            srv.close()

    asyncio.run(scenario())


def test_close_ends_the_subscriber_even_when_the_cancel_is_swallowed() -> None:
    """Python 3.11's wait_for returns the result instead of raising when the cancel races
    the awaited future (gh-86296): here, the connection lost as the router stops."""

    async def scenario() -> None:
        server = FakeServer()
        await server.start()
        sub, _, _ = _subscriber(server.port)
        swallowed: list[bool] = []

        async def serve_like_a_racing_wait_for(conn) -> None:  # noqa: ANN001
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed.append(True)  # as wait_for does when conn.lost is done too

        sub._serve = serve_like_a_racing_wait_for  # type: ignore[method-assign]
        await sub.start()
        try:
            await _until(lambda: sub.connected)
            closing = asyncio.create_task(sub.close())
            done, _ = await asyncio.wait({closing}, timeout=5)
            assert closing in done, "close() hung: the subscriber went on reconnecting"
            assert swallowed == [True] and sub._task is not None and sub._task.done()
        finally:
            if sub._task is not None:
                sub._task.cancel()
            await server.stop()

    asyncio.run(scenario())
