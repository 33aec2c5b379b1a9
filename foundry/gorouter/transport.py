"""Backend connections: dial, TLS with route-integrity checks, keep-alive idle pools.

One idle pool per (address, tls, server_cert_domain_san): like gorouter, which
keeps an endpoint's transport (and its idle connections) only while the SAN is
unchanged, so a replaced instance never inherits another's connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import tempfile
from collections import deque

from foundry.gorouter.classifier import Failure, Phase, classify
from foundry.gorouter.config import Config
from foundry.gorouter.pool import Endpoint

Key = tuple[str, int, bool, str]


class AttemptFailed(Exception):
    """One attempt against one endpoint failed; carries gorouter's classification."""

    def __init__(self, failure: Failure, *, body_consumed: bool = False,
                 reused: bool = False, response_started: bool = False) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.body_consumed = body_consumed
        self.reused = reused
        self.response_started = response_started


def backend_ssl_context(cfg: Config) -> ssl.SSLContext:
    """Roots = system pool + ca_certs; client cert = backends.cert_chain/private_key.

    There is deliberately no way to skip verification: gorouter removed it for
    backends (routing-release #180), `skip_ssl_validation` only affects route services.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
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


class Connection:
    __slots__ = ("reader", "writer", "key", "reused")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 key: Key) -> None:
        self.reader = reader
        self.writer = writer
        self.key = key
        self.reused = False

    def usable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class Transport:
    def __init__(self, cfg: Config, ssl_context: ssl.SSLContext | None = None,
                 max_idle_per_endpoint: int = 100) -> None:
        self.cfg = cfg
        self.ssl_context = ssl_context or backend_ssl_context(cfg)
        self.max_idle = max_idle_per_endpoint
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
                return conn
            conn.close()
        return await self.dial(ep, key)

    async def dial(self, ep: Endpoint, key: Key | None = None) -> Connection:
        address = ep.key
        try:
            async with asyncio.timeout(self.cfg.endpoint_dial_timeout):
                reader, writer = await asyncio.open_connection(ep.host, ep.port)
        except Exception as e:  # noqa: BLE001 - every dial error is classified
            raise AttemptFailed(classify(e, Phase.DIAL, address=address)) from e
        conn = Connection(reader, writer, key or self.key_for(ep))
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
        return conn

    def release(self, conn: Connection) -> None:
        if not conn.usable():
            conn.close()
            return
        idle = self.idle.setdefault(conn.key, deque())
        if len(idle) >= self.max_idle:
            conn.close()
            return
        idle.append(conn)

    def sweep(self) -> int:
        """Drop idle connections the backend has closed (and pools left empty)."""
        dropped = 0
        for key in list(self.idle):
            idle = self.idle[key]
            alive = deque(c for c in idle if c.usable())
            for c in idle:
                if not c.usable():
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
