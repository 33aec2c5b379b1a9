"""Idle backend connections close after gorouter's IdleConnTimeout (90 s)."""

from __future__ import annotations

import asyncio

from foundry.gorouter.config import from_dict
from foundry.gorouter.pool import Endpoint
from foundry.gorouter.transport import IDLE_CONN_TIMEOUT, Transport


def test_an_idle_connection_is_closed_after_the_idle_timeout() -> None:
    assert IDLE_CONN_TIMEOUT == 90.0  # proxy.go: "setting the value to golang default transport"

    async def scenario() -> tuple[int, int, bool]:
        closed = asyncio.Event()

        async def backend(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()  # held open, like a backend that never closes; EOF = router closed
            closed.set()
            writer.close()

        server = await asyncio.start_server(backend, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        transport = Transport(from_dict({}))
        ep = Endpoint("127.0.0.1", port)
        conn = await transport.dial(ep)
        transport.release(conn)
        kept = transport.sweep(now=conn.idle_since + IDLE_CONN_TIMEOUT - 1)
        still_pooled = len(transport.idle[transport.key_for(ep)])
        dropped = transport.sweep(now=conn.idle_since + IDLE_CONN_TIMEOUT + 1)
        async with asyncio.timeout(5):
            await closed.wait()
        server.close()
        return kept + still_pooled * 10, dropped, transport.key_for(ep) in transport.idle

    kept, dropped, pool_left = asyncio.run(scenario())
    assert kept == 10      # nothing dropped before the timeout, the connection still pooled
    assert dropped == 1 and not pool_left  # then closed (the backend saw EOF), pool removed
