"""The I/O edge: TLS-terminating TCP proxy connections on raw non-blocking sockets.

Each connection is a pair of sockets whose readiness comes from the proxy's own epoll
(``Poller``, one reader of the event loop); TLS is a non-blocking ``ssl.SSLSocket``, so
OpenSSL reads and writes the socket itself. The ``SSLObject``s over ``MemoryBIO``s on
asyncio transports this replaced cost a copy through a memory BIO and several Python
frames per read and write: `bench/bench_envoy.py` measured them at 0.83x HAProxy's
full mTLS handshakes per CPU-second, this path at 0.98x (Debian's python, same run day).
Each accepted connection snapshots the listener's SSLContext, so a certificate swap
only affects handshakes that start after it.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import os
import select
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from .san import peer_sans, san_allowed
from .stats import Stats

if TYPE_CHECKING:
    from .model import Cluster, Listener, SocketAddress

log = logging.getLogger("envoy.conn")

READ_CHUNK = 16384  # the largest TLS record plaintext
UP_CHUNK = 65536
ACCEPT_BATCH = 32
ACCEPT_PAUSE = 1.0


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


class Poller:
    """Readiness of every proxied socket from one epoll of the proxy's own, which the event
    loop watches as one reader: a wakeup dispatches straight to the connections' callbacks,
    without asyncio's per-event selector lookups, handles and context switches (~10% of a
    keep-alive request's CPU under Debian's python, where the loop is pure Python)."""

    def __init__(self) -> None:
        self.ep = select.epoll()
        self.callbacks: dict[int, tuple[Callable[[], None] | None, Callable[[], None] | None]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    def watch(self, fd: int, reader: Callable[[], None] | None,
              writer: Callable[[], None] | None) -> None:
        """Set what to call when ``fd`` is readable / writable (None for neither)."""
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
            self.loop.add_reader(self.ep.fileno(), self.dispatch)
        mask = (select.EPOLLIN if reader else 0) | (select.EPOLLOUT if writer else 0)
        old = self.callbacks.get(fd)
        if not mask:
            if old is not None:
                del self.callbacks[fd]
                try:
                    self.ep.unregister(fd)
                except OSError:
                    pass
            return
        self.callbacks[fd] = (reader, writer)
        if old is None:
            self.ep.register(fd, mask)
        elif (old[0] is None) != (reader is None) or (old[1] is None) != (writer is None):
            self.ep.modify(fd, mask)

    def dispatch(self) -> None:
        callbacks = self.callbacks
        for fd, events in self.ep.poll(0, 512):
            entry = callbacks.get(fd)
            if entry is None:
                continue  # unwatched by an earlier callback of this round
            try:
                if entry[0] is not None and events & READABLE:
                    entry[0]()
                    if entry[1] is None:
                        continue
                    entry = callbacks.get(fd)
                    if entry is None:
                        continue
                if entry[1] is not None and events & WRITABLE:
                    entry[1]()
            except Exception:  # noqa: BLE001 - one connection's bug must not stop the others
                log.exception("proxy callback for fd %d failed", fd)

    def close(self) -> None:
        if self.loop is not None:
            self.loop.remove_reader(self.ep.fileno())
        self.ep.close()


READABLE = select.EPOLLIN | select.EPOLLERR | select.EPOLLHUP
WRITABLE = select.EPOLLOUT | select.EPOLLERR | select.EPOLLHUP


class ProxyRuntime:
    """The part of the runtime connections see (kept tiny to avoid import cycles)."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.poller = Poller()
        self.clusters: dict[str, ClusterState] = {}
        self.connections: set[Downstream] = set()
        self.idle = asyncio.Event()
        self.total_cx = stats.counter("server.total_connections_accepted")
        self.parent_cx = stats.gauge("server.total_connections")


class Acceptor:
    """Accepts on a bound, listening, non-blocking socket from a reader callback.

    ``close`` stops accepting (draining, a removed listener); open connections stay."""

    __slots__ = ("ls", "sock", "loop", "closed")

    def __init__(self, loop: asyncio.AbstractEventLoop, ls: ListenerState,
                 sock: socket.socket) -> None:
        self.ls, self.sock, self.loop, self.closed = ls, sock, loop, False
        sock.setblocking(False)
        loop.add_reader(sock.fileno(), self.accept)

    def accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("accept on %s failed: %s", self.ls.config.address, exc)
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # out of descriptors or memory: a level-triggered listener would spin,
                    # so pause accepting for a second, as asyncio's own servers do
                    self.loop.remove_reader(self.sock.fileno())
                    self.loop.call_later(ACCEPT_PAUSE, self.resume)
                return
            Downstream(self.ls, conn, self.loop)

    def resume(self) -> None:
        if not self.closed:
            self.loop.add_reader(self.sock.fileno(), self.accept)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()


class Downstream:
    """One client connection and its upstream: TLS handshake, SAN check, bytes both ways.

    Reads stop on a side whose peer cannot take more (``out_up``/``out_down`` hold what
    the peer's socket did not), as asyncio's flow control would."""

    __slots__ = (
        "ls", "loop", "sock", "fd", "tls", "hs_done", "hs_timer", "up", "up_fd", "pending",
        "out_up", "out_down", "down_eof", "up_eof", "closed", "closing", "cluster", "host",
        "matchers", "reading_down", "reading_up", "down_writer", "up_writer", "poller",
        "connect_timer", "eof_down_due", "eof_up_due", "down_reader", "down_recv",
        "down_send", "up_recv", "up_send", "up_sink", "rx", "tx", "up_rx", "up_tx",
    )

    def __init__(self, ls: ListenerState, conn: socket.socket,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.ls, self.loop = ls, loop
        self.up: socket.socket | None = None
        self.up_fd = -1
        self.pending: list[bytes] = []
        self.out_up = bytearray()
        self.out_down = bytearray()
        self.down_eof = self.up_eof = self.closed = self.closing = False
        self.eof_down_due = self.eof_up_due = False
        self.reading_down = self.reading_up = False
        self.down_writer: Callable[[], None] | None = None
        self.up_writer: Callable[[], None] | None = None
        self.poller = ls.runtime.poller
        self.cluster: ClusterState | None = None
        self.host: dict[str, int] | None = None
        self.hs_timer: asyncio.TimerHandle | None = None
        self.connect_timer: asyncio.TimerHandle | None = None
        self.matchers = ls.san_matchers
        # what a readable client socket calls: the handshake's step until it is done, then
        # read_down itself (one call less a request)
        self.down_reader: Callable[[], None] = self.on_down_readable
        # what the client's bytes go to: the queue until the app's socket is up
        self.up_sink: Callable[[bytes], object] = self.pending.append
        # a listener's counters as they were when the connection came (an update's stat
        # prefix applies to new connections); the cluster's come with the upstream
        self.rx, self.tx = ls.tcp_rx, ls.tcp_tx
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ls.cx_total.value += 1
        ls.cx_active.value += 1
        ls.tcp_cx_total.value += 1
        rt = ls.runtime
        rt.total_cx.value += 1
        rt.parent_cx.value += 1
        rt.connections.add(self)
        rt.idle.clear()
        ctx = ls.ssl_context
        if ctx is None:
            self.tls = False
            self.sock = conn
            self.fd = conn.fileno()
            self.hs_done = True
            self.down_recv, self.down_send = conn.recv, conn.send
            self.down_reader = self.read_down
            self.watch_down(True)
            self.connect_upstream()
            return
        self.tls = True
        self.hs_done = False
        try:
            self.sock = ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        except OSError as exc:  # the client reset before we got to it
            log.debug("wrap failed: %s", exc)
            self.sock = conn
            self.fd = conn.fileno()
            self.finish()
            return
        self.fd = self.sock.fileno()
        self.hs_timer = loop.call_later(ls.config.handshake_timeout, self.handshake_timeout)
        self.watch_down(True)

    # -- readiness ---------------------------------------------------------
    def watch_down(self, on: bool) -> None:
        if on != self.reading_down and not self.closed:
            self.reading_down = on
            self.poller.watch(self.fd, self.down_reader if on else None, self.down_writer)

    def watch_up(self, on: bool) -> None:
        if on != self.reading_up and self.up_fd >= 0:
            self.reading_up = on
            self.poller.watch(self.up_fd, self.on_up_readable if on else None, self.up_writer)

    def write_watch_down(self, callback: Callable[[], None] | None) -> None:
        if callback != self.down_writer:
            self.down_writer = callback
            self.poller.watch(self.fd, self.down_reader if self.reading_down else None,
                              callback)

    def write_watch_up(self, callback: Callable[[], None] | None) -> None:
        if callback != self.up_writer and self.up_fd >= 0:
            self.up_writer = callback
            self.poller.watch(self.up_fd, self.on_up_readable if self.reading_up else None,
                              callback)

    # -- downstream --------------------------------------------------------
    def on_down_readable(self) -> None:
        if not self.hs_done:
            if not self.handshake():
                return
        self.read_down()

    def read_down(self) -> None:
        try:
            # One TLS record at most (OpenSSL reads no further ahead), and READ_CHUNK holds
            # a whole record's plaintext: nothing is left pending in OpenSSL after this,
            # and the next record, still in the socket, wakes this reader again.
            data = self.down_recv(READ_CHUNK)
        except (ssl.SSLWantReadError, BlockingIOError, InterruptedError):
            return
        except ssl.SSLWantWriteError:
            return  # TLS wants to write first (key update); the next readiness resumes it
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            data = b""  # close_notify, or a FIN without it (a ragged EOF: still a half-close)
        except (ssl.SSLError, OSError) as exc:
            log.debug("downstream read error: %s", exc)
            self.finish()
            return
        if not data:
            self.downstream_eof()
            return
        self.rx.value += len(data)
        self.up_sink(data)

    def on_down_writable(self) -> None:
        if not self.hs_done:
            self.write_watch_down(None)
            if self.handshake():
                self.read_down()
            return
        self.flush_down()

    def send_down(self, data: bytes) -> None:
        if self.out_down:
            self.out_down += data
            return
        try:  # try_send inlined: this and send_up run once a request each
            n = self.down_send(data)
        except BLOCKED:
            n = 0
        except OSError as exc:  # ssl.SSLError included
            log.debug("downstream write error: %s", exc)
            self.finish()
            return
        if n < len(data):
            self.out_down += memoryview(data)[n:]
            self.write_watch_down(self.on_down_writable)
            self.watch_up(False)  # the client cannot take more: stop reading the app

    def flush_down(self) -> None:
        out = self.out_down
        n = try_send(self.down_send, out, "downstream")
        if n < 0:
            self.finish()
            return
        del out[:n]
        if out:
            return
        self.write_watch_down(None)
        if self.closing:
            self.finish()
        elif self.eof_down_due:
            self.eof_down_due = False
            self.shutdown_down()
        elif not self.up_eof:
            self.watch_up(True)

    # -- handshake ---------------------------------------------------------
    def handshake(self) -> bool:
        sock = self.sock
        try:
            sock.do_handshake()  # type: ignore[union-attr]
        except ssl.SSLWantReadError:
            return False
        except ssl.SSLWantWriteError:
            self.write_watch_down(self.on_down_writable)
            return False
        except ssl.SSLError as exc:
            self.fail_handshake(exc)
            return False
        except OSError as exc:  # reset mid-handshake
            self.fail_handshake(None if isinstance(exc, ConnectionError) else exc)
            return False
        if self.matchers:
            sans = peer_sans(sock.getpeercert())  # type: ignore[union-attr]
            if not san_allowed(self.matchers, sans):
                self.ls.ssl_fail_san.value += 1
                self.ls.ssl_error.value += 1
                log.info("client certificate SANs %s not allowed", sans)
                self.finish()
                return False
        elif (sock.context.verify_mode == ssl.CERT_OPTIONAL  # type: ignore[union-attr]
              and not sock.getpeercert()):  # type: ignore[union-attr]
            self.ls.ssl_no_cert_optional.value += 1
        self.hs_done = True
        self.down_recv, self.down_send = tls_io(sock)  # type: ignore[arg-type]
        self.down_reader = self.read_down
        if self.reading_down and not self.closed:
            self.poller.watch(self.fd, self.read_down, self.down_writer)
        if self.hs_timer:
            self.hs_timer.cancel()
            self.hs_timer = None
        self.ls.ssl_handshake.value += 1
        self.connect_upstream()
        return not self.closed

    def fail_handshake(self, exc: BaseException | None) -> None:
        ls = self.ls
        ls.ssl_error.value += 1
        reason = getattr(exc, "reason", None) or ""
        if reason in ("PEER_DID_NOT_RETURN_A_CERTIFICATE", "TLSV13_ALERT_CERTIFICATE_REQUIRED"):
            ls.ssl_no_cert.value += 1
        elif reason == "CERTIFICATE_VERIFY_FAILED":
            ls.ssl_fail_verify.value += 1
        log.debug("TLS handshake failed: %s", exc or "client closed")
        # OpenSSL wrote its alert to the socket itself. Unread bytes (a plain-text request,
        # say) would turn the close into a reset that can beat the alert to the client.
        try:
            for _ in range(4):
                if not os.read(self.fd, 65536):
                    break
        except OSError:
            pass
        self.finish()

    def handshake_timeout(self) -> None:
        self.hs_timer = None
        if not self.hs_done:
            self.ls.hs_timeout_count.value += 1
            self.finish()

    # -- upstream ----------------------------------------------------------
    def connect_upstream(self) -> None:
        cfg = self.ls.config.tcp_proxy
        cluster = self.ls.runtime.clusters.get(cfg.cluster)
        if cluster is None:
            self.ls.tcp_no_route.value += 1
            log.info("no cluster %r for listener %s", cfg.cluster, self.ls.config.name)
            self.close()
            return
        self.cluster = cluster
        ep = cluster.pick()
        self.host = cluster.host_stats(ep)
        cluster.cx_total.value += 1
        self.host["cx_total"] += 1
        try:
            family, addr = upstream_address(ep)
            up = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            self.connect_failed(ep, exc)
            return
        self.up, self.up_fd = up, up.fileno()
        self.up_recv, self.up_send = up.recv, up.send
        self.up_rx, self.up_tx = cluster.rx_bytes, cluster.tx_bytes
        up.setblocking(False)
        try:
            up.connect(addr)
        except (BlockingIOError, InterruptedError):
            if self.on_up_connected():  # on loopback it is often up already: no loop round
                return
        except OSError as exc:
            self.connect_failed(ep, exc)
            return
        self.write_watch_up(self.on_up_connected)
        self.connect_timer = self.loop.call_later(cluster.config.connect_timeout,
                                                  self.connect_timeout)

    def connect_timeout(self) -> None:
        self.connect_timer = None
        if self.up is not None and self.cluster is not None and self.pending is not None:
            self.write_watch_up(None)
            self.cluster.cx_connect_timeout.value += 1
            self.connect_failed(None, TimeoutError())

    def connect_failed(self, ep: SocketAddress | None, exc: BaseException) -> None:
        cluster, host = self.cluster, self.host
        if cluster is not None and host is not None:
            cluster.cx_connect_fail.value += 1
            host["cx_connect_fail"] += 1
        log.info("upstream %s connect failed: %r", ep or "", exc)
        self.host = None
        self.drop_upstream()
        self.close()

    def on_up_connected(self) -> bool:
        """Settle the upstream connect if it is done; False while it is still under way
        (asked too early, or a stale event for an earlier socket with this fd number)."""
        up = self.up
        err = up.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)  # type: ignore[union-attr]
        if not err:
            try:
                up.getpeername()  # type: ignore[union-attr]
            except OSError:
                return False
        self.write_watch_up(None)
        if self.connect_timer is not None:
            self.connect_timer.cancel()
            self.connect_timer = None
        if err:
            self.connect_failed(None, OSError(err, os.strerror(err)))
            return True
        up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # type: ignore[union-attr]
        cluster, host = self.cluster, self.host
        cluster.cx_active.value += 1  # type: ignore[union-attr]
        host["cx_active"] += 1  # type: ignore[index]
        host["rq_total"] += 1  # type: ignore[index]
        pending, self.pending = self.pending, None  # type: ignore[assignment]
        if self.closed:
            return True
        self.watch_up(True)
        self.up_sink = self.send_up
        if pending:
            self.send_up(b"".join(pending))
        if self.down_eof and not self.out_up:
            self.shutdown_up()
        return True

    def send_up(self, data: bytes) -> None:
        self.up_tx.value += len(data)
        if self.out_up:
            self.out_up += data
            return
        try:
            n = self.up_send(data)
        except BLOCKED:
            n = 0
        except OSError as exc:
            log.debug("upstream write error: %s", exc)
            self.upstream_lost()
            return
        if n < len(data):
            self.out_up += memoryview(data)[n:]
            self.write_watch_up(self.flush_up)
            self.watch_down(False)  # the app cannot take more: stop reading the client

    def flush_up(self) -> None:
        out = self.out_up
        n = try_send(self.up_send, out, "upstream")
        if n < 0:
            self.upstream_lost()
            return
        del out[:n]
        if out:
            return
        self.write_watch_up(None)
        if self.eof_up_due:
            self.eof_up_due = False
            self.shutdown_up()
        elif not self.down_eof:
            self.watch_down(True)  # read_down leaves nothing pending in OpenSSL

    def on_up_readable(self) -> None:
        try:
            data = self.up_recv(UP_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.debug("upstream read error: %s", exc)
            self.upstream_lost()
            return
        if not data:
            self.upstream_eof()
            return
        n = len(data)
        self.up_rx.value += n
        self.tx.value += n
        self.send_down(data)

    # -- half-close and close ---------------------------------------------
    def shutdown_up(self) -> None:
        """The client is done sending: pass its FIN to the app."""
        if self.up is None or self.pending is not None:
            return
        if self.out_up:
            self.eof_up_due = True
            return
        try:
            self.up.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def shutdown_down(self) -> None:
        """The app is done sending: close_notify, then FIN, to the client."""
        if self.out_down:
            self.eof_down_due = True
            return
        if self.tls:
            try:
                self.sock.unwrap()  # type: ignore[union-attr]
            except (ssl.SSLError, OSError, ValueError):
                pass  # close_notify went out; the client's need not come back
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        if self.down_eof:
            self.finish()

    def downstream_eof(self) -> None:
        if self.down_eof:
            return
        self.down_eof = True
        self.watch_down(False)
        self.shutdown_up()
        if self.up_eof:
            self.close()

    def upstream_eof(self) -> None:
        if self.up_eof:
            return
        self.up_eof = True
        self.watch_up(False)
        if not self.closed:
            self.shutdown_down()

    def upstream_lost(self) -> None:
        self.drop_upstream()
        if not self.closed:
            if not self.up_eof:
                self.up_eof = True
                self.shutdown_down()
            self.close()

    def drop_upstream(self) -> None:
        """Close the upstream socket and settle its counters (once)."""
        up = self.up
        if up is None:
            return
        if self.connect_timer is not None:
            self.connect_timer.cancel()
            self.connect_timer = None
        self.watch_up(False)
        self.write_watch_up(None)
        self.up, self.up_fd = None, -1
        up.close()
        cluster, host = self.cluster, self.host
        if cluster is not None and host is not None and self.pending is None:
            cluster.cx_active.value -= 1
            cluster.cx_destroy.value += 1
            host["cx_active"] -= 1
        self.host = None

    def close(self) -> None:
        """Close after flushing what is queued to the client."""
        if self.closed:
            return
        if self.out_down:
            self.closing = True
            self.watch_down(False)
            self.watch_up(False)
            return
        self.finish()

    def abort(self) -> None:
        self.finish()

    def finish(self) -> None:
        """Close both sockets now and settle the counters (once)."""
        if self.closed:
            return
        self.watch_down(False)
        self.write_watch_down(None)
        self.closed = True
        self.drop_upstream()
        self.pending = None  # type: ignore[assignment]
        self.sock.close()
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
            self.hs_timer = None


BLOCKED = (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError, InterruptedError)


def try_send(send: Callable[[bytes | bytearray], int], data: bytes | bytearray,
             side: str) -> int:
    """How many bytes a socket's send took: 0 when it would block, -1 after a write error."""
    try:
        return send(data)
    except BLOCKED:
        return 0
    except OSError as exc:  # ssl.SSLError included
        log.debug("%s write error: %s", side, exc)
        return -1


def tls_io(sock: ssl.SSLSocket) -> tuple[Callable[[int], bytes], Callable[[bytes], int]]:
    """The read and write of the OpenSSL connection under a handshaken ``SSLSocket``.

    ``SSLSocket.recv`` and ``send`` are Python wrappers around these (recv -> read ->
    _checkClosed twice, send -> _checkClosed): six Python calls a keep-alive request
    spends for nothing, since the proxy never reads a closed or unwrapped socket. The C
    object's read raises ``SSLEOFError`` on a ragged EOF where recv returns b"" (the
    caller treats both as EOF). Without the attribute (another interpreter) the public
    methods serve."""
    obj = getattr(sock, "_sslobj", None)
    if obj is None or not hasattr(obj, "read") or not hasattr(obj, "write"):
        return sock.recv, sock.send
    return obj.read, obj.write


def upstream_address(ep: SocketAddress) -> tuple[socket.AddressFamily, tuple]:
    """A static cluster's endpoint as a connectable address (Envoy's STATIC clusters hold
    IPs; a name is resolved here, blocking, as a rare fallback)."""
    try:
        ip = ipaddress.ip_address(ep.address)
    except ValueError:
        family, _, _, _, addr = socket.getaddrinfo(ep.address, ep.port,
                                                   type=socket.SOCK_STREAM)[0]
        return family, addr
    if ip.version == 6:
        return socket.AF_INET6, (ep.address, ep.port)
    return socket.AF_INET, (ep.address, ep.port)
