"""The I/O edge: TLS-terminating TCP proxy connections on asyncio protocols.

TLS is driven by hand with ``ssl.SSLObject`` over two ``MemoryBIO``s instead of
asyncio's SSL transport, which pre-allocates a 256 KiB buffer per connection;
here a connection costs the OpenSSL state plus a few small Python objects.
Each accepted connection snapshots the listener's SSLContext, so a certificate
swap only affects handshakes that start after it.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import TYPE_CHECKING

from .san import peer_sans, san_allowed
from .stats import Stats

if TYPE_CHECKING:
    from .model import Cluster, Listener, SocketAddress

log = logging.getLogger("envoy.conn")

READ_CHUNK = 16384  # one TLS record
HIGH_WATER = 64 * 1024


class ClusterState:
    """A static cluster with round-robin choice and Envoy's upstream counters."""

    def __init__(self, config: Cluster, stats: Stats) -> None:
        self.config = config
        self._rr = 0
        p = f"cluster.{config.name}."
        self.cx_total = stats.counter(p + "upstream_cx_total")
        self.cx_active = stats.gauge(p + "upstream_cx_active")
        self.cx_connect_fail = stats.counter(p + "upstream_cx_connect_fail")
        self.cx_connect_timeout = stats.counter(p + "upstream_cx_connect_timeout")
        self.rx_bytes = stats.counter(p + "upstream_cx_rx_bytes_total")
        self.tx_bytes = stats.counter(p + "upstream_cx_tx_bytes_total")
        self.cx_destroy = stats.counter(p + "upstream_cx_destroy")
        stats.gauge(p + "membership_total").value = len(config.endpoints)
        stats.gauge(p + "membership_healthy").value = len(config.endpoints)
        self.hosts: dict[str, dict[str, int]] = {}

    def pick(self) -> SocketAddress:
        eps = self.config.endpoints
        self._rr = (self._rr + 1) % len(eps)
        return eps[self._rr]

    def host_stats(self, ep: SocketAddress) -> dict[str, int]:
        key = str(ep)
        h = self.hosts.get(key)
        if h is None:
            # Envoy's per-host stats; a TCP proxy counts each connection as one request.
            h = self.hosts[key] = {"cx_active": 0, "cx_connect_fail": 0, "cx_total": 0,
                                   "rq_active": 0, "rq_error": 0, "rq_pending_active": 0,
                                   "rq_success": 0, "rq_timeout": 0, "rq_total": 0}
        return h


class ListenerState:
    """What connections need from a listener; swapped fields apply to new connections."""

    def __init__(self, config: Listener, stats: Stats, runtime: ProxyRuntime) -> None:
        self.runtime = runtime
        self.server: asyncio.AbstractServer | None = None
        self.ssl_context: ssl.SSLContext | None = None
        self.stats = stats
        self.apply(config)
        a = f"listener.{config.address.stat_name}."
        self.cx_total = stats.counter(a + "downstream_cx_total")
        self.cx_destroy = stats.counter(a + "downstream_cx_destroy")
        self.cx_active = stats.gauge(a + "downstream_cx_active")
        self.hs_timeout_count = stats.counter(a + "downstream_cx_transport_socket_connect_timeout")
        self.ssl_handshake = stats.counter(a + "ssl.handshake")
        self.ssl_error = stats.counter(a + "ssl.connection_error")
        self.ssl_no_cert = stats.counter(a + "ssl.fail_verify_no_cert")
        self.ssl_fail_san = stats.counter(a + "ssl.fail_verify_san")
        self.ssl_fail_verify = stats.counter(a + "ssl.fail_verify_error")
        self.ssl_no_cert_optional = stats.counter(a + "ssl.no_certificate")
        self.ssl_ctx_updates = stats.counter(a + "server_ssl_socket_factory.ssl_context_update_by_sds")

    def apply(self, config: Listener) -> None:
        self.config = config
        t = f"tcp.{config.tcp_proxy.stat_prefix}."
        self.tcp_cx_total = self.stats.counter(t + "downstream_cx_total")
        self.tcp_no_route = self.stats.counter(t + "downstream_cx_no_route")
        self.tcp_rx = self.stats.counter(t + "downstream_cx_rx_bytes_total")
        self.tcp_tx = self.stats.counter(t + "downstream_cx_tx_bytes_total")
        self.san_matchers: tuple = ()


class ProxyRuntime:
    """The part of the runtime connections see (kept tiny to avoid import cycles)."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.clusters: dict[str, ClusterState] = {}
        self.connections: set[Downstream] = set()
        self.idle = asyncio.Event()
        self.total_cx = stats.counter("server.total_connections_accepted")
        self.parent_cx = stats.gauge("server.total_connections")


class Upstream(asyncio.Protocol):
    __slots__ = ("d", "t")

    def __init__(self, d: Downstream) -> None:
        self.d = d
        self.t: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.d.from_upstream(data)

    def eof_received(self) -> bool:
        self.d.upstream_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.d.upstream_lost()

    def pause_writing(self) -> None:
        self.d.pause_reading()

    def resume_writing(self) -> None:
        self.d.resume_reading()


class Downstream(asyncio.Protocol):
    """One client connection: TLS handshake, SAN check, then bytes both ways."""

    __slots__ = (
        "ls", "t", "sslobj", "inc", "out", "hs_done", "hs_timer", "up", "pending",
        "down_eof", "up_eof", "closed", "cluster", "host", "up_lost", "matchers",
    )

    def __init__(self, ls: ListenerState) -> None:
        self.ls = ls
        self.t: asyncio.Transport | None = None
        self.sslobj: ssl.SSLObject | None = None
        self.inc = self.out = None
        self.hs_done = False
        self.hs_timer: asyncio.TimerHandle | None = None
        self.up: Upstream | None = None
        self.pending: list[bytes] | None = []
        self.down_eof = self.up_eof = self.closed = self.up_lost = False
        self.cluster: ClusterState | None = None
        self.host: dict[str, int] | None = None
        self.matchers = ls.san_matchers

    # -- downstream events -------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        ls = self.ls
        self.t = transport  # type: ignore[assignment]
        ls.cx_total.value += 1
        ls.cx_active.value += 1
        ls.tcp_cx_total.value += 1
        rt = ls.runtime
        rt.total_cx.value += 1
        rt.parent_cx.value += 1
        rt.connections.add(self)
        rt.idle.clear()
        transport.set_write_buffer_limits(HIGH_WATER)  # type: ignore[attr-defined]
        ctx = ls.ssl_context
        if ctx is None:
            self.hs_done = True
            self.connect_upstream()
            return
        self.inc = ssl.MemoryBIO()
        self.out = ssl.MemoryBIO()
        self.sslobj = ctx.wrap_bio(self.inc, self.out, server_side=True)
        self.hs_timer = asyncio.get_running_loop().call_later(
            ls.config.handshake_timeout, self.handshake_timeout)

    def data_received(self, data: bytes) -> None:
        if self.sslobj is None:
            self.to_upstream(data)
            return
        self.inc.write(data)  # type: ignore[union-attr]
        if not self.hs_done and not self.handshake():
            return
        self.read_tls()

    def eof_received(self) -> bool:
        if not self.hs_done:
            self.fail_handshake(None)
            return False
        self.downstream_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed:
            return
        self.closed = True
        ls = self.ls
        ls.cx_active.value -= 1
        ls.cx_destroy.value += 1
        rt = ls.runtime
        rt.parent_cx.value -= 1
        rt.connections.discard(self)
        if not rt.connections:
            rt.idle.set()
        if self.hs_timer:
            self.hs_timer.cancel()
        up = self.up
        if up is not None and up.t is not None and not self.up_lost:
            up.t.close()
        self.pending = None

    def pause_writing(self) -> None:
        up = self.up
        if up is not None and up.t is not None:
            up.t.pause_reading()

    def resume_writing(self) -> None:
        up = self.up
        if up is not None and up.t is not None:
            up.t.resume_reading()

    def pause_reading(self) -> None:
        if not self.closed:
            self.t.pause_reading()  # type: ignore[union-attr]

    def resume_reading(self) -> None:
        if not self.closed:
            self.t.resume_reading()  # type: ignore[union-attr]

    # -- TLS ---------------------------------------------------------------
    def flush_tls(self) -> None:
        data = self.out.read()  # type: ignore[union-attr]
        if data and not self.closed:
            self.t.write(data)  # type: ignore[union-attr]

    def handshake(self) -> bool:
        try:
            self.sslobj.do_handshake()  # type: ignore[union-attr]
        except ssl.SSLWantReadError:
            self.flush_tls()
            return False
        except ssl.SSLError as exc:
            self.fail_handshake(exc)
            return False
        self.flush_tls()
        if self.matchers:
            sans = peer_sans(self.sslobj.getpeercert())  # type: ignore[union-attr]
            if not san_allowed(self.matchers, sans):
                self.ls.ssl_fail_san.value += 1
                self.ls.ssl_error.value += 1
                log.info("client certificate SANs %s not allowed", sans)
                self.abort()
                return False
        elif (self.sslobj.context.verify_mode == ssl.CERT_OPTIONAL  # type: ignore[union-attr]
              and not self.sslobj.getpeercert()):  # type: ignore[union-attr]
            self.ls.ssl_no_cert_optional.value += 1
        self.hs_done = True
        if self.hs_timer:
            self.hs_timer.cancel()
            self.hs_timer = None
        self.ls.ssl_handshake.value += 1
        self.connect_upstream()
        return True

    def fail_handshake(self, exc: ssl.SSLError | None) -> None:
        ls = self.ls
        ls.ssl_error.value += 1
        reason = getattr(exc, "reason", None) or ""
        if reason in ("PEER_DID_NOT_RETURN_A_CERTIFICATE", "TLSV13_ALERT_CERTIFICATE_REQUIRED"):
            ls.ssl_no_cert.value += 1
        elif reason == "CERTIFICATE_VERIFY_FAILED":
            ls.ssl_fail_verify.value += 1
        log.debug("TLS handshake failed: %s", exc or "client closed")
        try:
            self.flush_tls()  # send the alert OpenSSL queued
        except Exception:  # noqa: BLE001
            pass
        self.close()

    def handshake_timeout(self) -> None:
        self.hs_timer = None
        if not self.hs_done:
            self.ls.hs_timeout_count.value += 1
            self.abort()

    def read_tls(self) -> None:
        sslobj = self.sslobj
        inc = self.inc
        chunks = []
        while True:
            try:
                chunk = sslobj.read(READ_CHUNK)  # type: ignore[union-attr]
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                chunk = b""
            except ssl.SSLError as exc:
                log.debug("TLS read error: %s", exc)
                self.abort()
                return
            if not chunk:
                if chunks:
                    self.to_upstream(b"".join(chunks))
                    chunks = []
                self.downstream_eof()
                break
            chunks.append(chunk)
            if not inc.pending and not sslobj.pending():  # type: ignore[union-attr]
                break  # nothing left to decrypt: skip the SSLWantReadError round trip
        if chunks:
            self.to_upstream(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        if self.out.pending:  # type: ignore[union-attr]
            self.flush_tls()

    # -- plumbing ----------------------------------------------------------
    def connect_upstream(self) -> None:
        rt = self.ls.runtime
        cfg = self.ls.config.tcp_proxy
        cluster = rt.clusters.get(cfg.cluster)
        if cluster is None:
            self.ls.tcp_no_route.value += 1
            log.info("no cluster %r for listener %s", cfg.cluster, self.ls.config.name)
            self.close()
            return
        self.cluster = cluster
        asyncio.ensure_future(self._connect(cluster))

    async def _connect(self, cluster: ClusterState) -> None:
        ep = cluster.pick()
        host = self.host = cluster.host_stats(ep)
        cluster.cx_total.value += 1
        host["cx_total"] += 1
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(cluster.config.connect_timeout):
                _, up = await loop.create_connection(lambda: Upstream(self), ep.address, ep.port)
        except (OSError, TimeoutError) as exc:
            cluster.cx_connect_fail.value += 1
            host["cx_connect_fail"] += 1
            if isinstance(exc, TimeoutError):
                cluster.cx_connect_timeout.value += 1
            log.info("upstream %s connect failed: %r", ep, exc)
            self.host = None
            self.close()
            return
        cluster.cx_active.value += 1
        host["cx_active"] += 1
        host["rq_total"] += 1
        if self.closed:
            up.t.close()  # type: ignore[union-attr]
            return
        self.up = up  # type: ignore[assignment]
        up.t.set_write_buffer_limits(HIGH_WATER)  # type: ignore[union-attr]
        pending = self.pending
        self.pending = None
        if pending:
            data = b"".join(pending)
            up.t.write(data)  # type: ignore[union-attr]
            cluster.tx_bytes.value += len(data)
        if self.down_eof:
            self._write_eof_upstream()

    def to_upstream(self, data: bytes) -> None:
        self.ls.tcp_rx.value += len(data)
        up = self.up
        if up is None:
            if self.pending is not None:
                self.pending.append(data)
            return
        up.t.write(data)  # type: ignore[union-attr]
        self.cluster.tx_bytes.value += len(data)  # type: ignore[union-attr]

    def from_upstream(self, data: bytes) -> None:
        if self.closed:
            return
        self.cluster.rx_bytes.value += len(data)  # type: ignore[union-attr]
        self.ls.tcp_tx.value += len(data)
        sslobj = self.sslobj
        if sslobj is None:
            self.t.write(data)  # type: ignore[union-attr]
            return
        try:
            sslobj.write(data)
        except ssl.SSLError as exc:
            log.debug("TLS write error: %s", exc)
            self.abort()
            return
        self.t.write(self.out.read())  # type: ignore[union-attr]

    def _write_eof_upstream(self) -> None:
        up = self.up
        if up is not None and up.t is not None and up.t.can_write_eof() and not self.up_lost:
            try:
                up.t.write_eof()
            except OSError:
                pass

    def downstream_eof(self) -> None:
        if self.down_eof:
            return
        self.down_eof = True
        self._write_eof_upstream()
        if self.up_eof:
            self.close()

    def upstream_eof(self) -> None:
        if self.up_eof:
            return
        self.up_eof = True
        if self.sslobj is not None:
            try:
                self.sslobj.unwrap()
            except (ssl.SSLError, ValueError):
                pass
            self.flush_tls()
        if not self.closed:
            try:
                self.t.write_eof()  # type: ignore[union-attr]
            except OSError:
                pass
        if self.down_eof:
            self.close()

    def upstream_lost(self) -> None:
        self.up_lost = True
        cluster, host = self.cluster, self.host
        if cluster is not None and host is not None:
            cluster.cx_active.value -= 1
            cluster.cx_destroy.value += 1
            host["cx_active"] -= 1
            self.host = None
        if not self.closed:
            if not self.up_eof:
                self.upstream_eof()
            self.close()

    def close(self) -> None:
        """Close after flushing what is queued to the client."""
        if self.t is not None and not self.closed:
            self.t.close()

    def abort(self) -> None:
        if self.t is not None and not self.closed:
            self.t.abort()
