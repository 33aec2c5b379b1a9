"""A backend connection knows what it left unread without asyncio's private `_buffer`."""

from __future__ import annotations

import asyncio

from foundry.gorouter.transport import BackendProtocol, BackendReader


def test_pending_counts_what_was_fed_and_not_read() -> None:
    async def scenario() -> list[int]:
        reader = BackendReader(1024, asyncio.get_running_loop())
        seen = [reader.pending()]
        reader.feed_data(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        seen.append(reader.pending())
        await reader.readuntil(b"\r\n\r\n")
        seen.append(reader.pending())
        await reader.readexactly(2)
        seen.append(reader.pending())
        await reader.read(10)
        seen.append(reader.pending())
        reader.feed_data(b"a\nbc")
        await reader.readline()  # through readuntil: counted once
        seen.append(reader.pending())
        reader.feed_eof()
        await reader.read()  # read(-1) counts through its read(limit) calls, once
        seen.append(reader.pending())
        return seen

    assert asyncio.run(scenario()) == [0, 43, 5, 3, 0, 2, 0]


def test_a_connection_with_unread_bytes_cannot_leave_stream_mode() -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        loop = asyncio.get_running_loop()
        reader = BackendReader(1024, loop)
        protocol = BackendProtocol(reader, loop, 60.0)
        empty = protocol.to_fast()
        reader.feed_data(b"stray")
        stray = protocol.to_fast()
        await reader.readexactly(5)
        return empty, stray, protocol.to_fast()

    assert asyncio.run(scenario()) == (True, False, True)
