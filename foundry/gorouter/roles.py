"""The two sides of a client connection, as the connection-level modules see each other.

frontend.py (a client connection's callbacks) and fastpath.py (one attempt on a
pooled backend connection) call back into the proxy, and the proxy creates
both. Naming what each needs from the other here keeps the imports one-way:
proxy → frontend/fastpath → roles, never back (tests/unit/gorouter/test_import_graph.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Protocol

from foundry.gorouter.accesslog import AccessLogRecord
from foundry.gorouter.config import Config
from foundry.gorouter.cork import Cork
from foundry.gorouter.exchange import Exchange
from foundry.gorouter.http11 import HTTPError, RequestHead, ResponseHead
from foundry.gorouter.transport import Resume, Transport


class ClientConnection(Protocol):
    """What the callback path needs of a client connection (frontend.ClientProtocol)."""

    closed: bool
    client_addr: str
    transport: asyncio.Transport
    cork: Cork

    def send(self, data: bytes) -> None: ...
    def request_begun(self) -> None: ...
    def request_done(self, keep: bool) -> None: ...
    def run(self, coro: Coroutine[Any, Any, None]) -> None: ...


class ProxyCore(Protocol):
    """What a client connection and a fast attempt need of the proxy (proxy.Proxy)."""

    cfg: Config
    transport: Transport

    def cork_for(self, loop: asyncio.AbstractEventLoop) -> Cork: ...
    def head_too_large(self) -> bytes: ...
    def bad_request(self, e: HTTPError, client_addr: str) -> bytes: ...
    def serve_fast(self, cp: Any, req: RequestHead, received_at: float) -> bool | None: ...
    def serve_stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     first: tuple[RequestHead, float] | None = None
                     ) -> Coroutine[Any, Any, None]: ...
    def response_head(self, x: Exchange, resp: ResponseHead, close_client: bool) -> bytes: ...
    def finish(self, rec: AccessLogRecord) -> None: ...
    def resume(self, cp: Any, x: Exchange, resume: Resume) -> Coroutine[Any, Any, None]: ...
