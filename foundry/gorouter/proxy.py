"""The HTTP/1.1 reverse proxy: lookup, endpoint selection, attempts, relay, access log.

Two paths share every decision (lookup, balancing, classification, headers,
stickiness, log format), which the sans-IO modules make. The callback path
(`serve_fast`, frontend.py, fastpath.py) answers a bodiless request on a pooled
backend connection with a small response. The stream path (asyncio streams,
`serve_stream`, `_proxy`) does everything else: dialling and TLS, retries,
bodies, streaming, upgrades; it takes over from the callback path where that
one stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from email.utils import formatdate

from foundry.gorouter import classifier as cls
from foundry.gorouter.accesslog import AccessLogRecord, AccessLogWriter
from foundry.gorouter.classifier import Failure, FailureKind, Phase, classify, is_idempotent
from foundry.gorouter.config import Config
from foundry.gorouter.fastpath import FastAttempt
from foundry.gorouter.framing import SMALL_BODY
from foundry.gorouter.frontend import CLIENT_IDLE_TIMEOUT, ClientProtocol
from foundry.gorouter.headers import (
    RequestContext,
    backend_request_head,
    client_response_head,
    request_context,
)
from foundry.gorouter.http11 import (
    HTTPError,
    RequestHead,
    ResponseHead,
    error_response,
    parse_chunk_size,
    parse_request_head,
    parse_response_head,
    response_has_body,
)
from foundry.gorouter.metrics import Metrics
from foundry.gorouter.pool import Endpoint, EndpointIterator, EndpointPool
from foundry.gorouter.registry import Registry
from foundry.gorouter.route_table import request_key
from foundry.gorouter.sticky import requested_instance, vcap_id_cookie
from foundry.gorouter.transport import (
    AttemptFailed,
    Connection,
    Resume,
    Transport,
    body_failure,
    head_failure,
)
from foundry.loggregator import Reporter

log = logging.getLogger("gorouter.proxy")

COPY_CHUNK = 64 * 1024
# gorouter's validateInstanceHeader: `APP_GUID:INSTANCE_INDEX`, lower-case hex only.
APP_INSTANCE = re.compile(r"[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}:[0-9]+", re.ASCII)
DISCARD_BODY = 256 * 1024  # Go's http server: maxPostHandlerReadBytes


def options_star(req: RequestHead, close: bool = False) -> bytes:
    """`OPTIONS *` never reaches gorouter's handlers: Go's globalOptionsHandler says 200."""
    close = close or not req.keep_alive
    return (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nDate: "
            + formatdate(usegmt=True).encode()
            + (b"\r\nConnection: close\r\n\r\n" if close else b"\r\n\r\n"))


class ClientGone(Exception):
    """The client closed its connection while the router was answering it."""


class _IdleWatchdog:
    """Cancels a connection's task once it has waited `period` for the next request.

    The timer re-arms itself for the rest of the period while requests keep coming,
    so a busy keep-alive connection costs one timer per period, not one per request.
    """

    __slots__ = ("task", "period", "waiting", "fired", "since", "handle", "loop")

    def __init__(self, task: asyncio.Task | None, period: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = task
        self.period = period
        self.waiting = False
        self.fired = False
        self.since = self.loop.time()
        self.handle: asyncio.TimerHandle | None = self.loop.call_later(period, self._check)

    def begin(self) -> None:
        self.waiting = True
        self.since = self.loop.time()

    def _check(self) -> None:
        left = self.since + self.period - self.loop.time()
        if not self.waiting or left > 0:
            self.handle = self.loop.call_later(max(left, 0.0) if self.waiting else self.period,
                                               self._check)
            return
        self.handle = None
        self.fired = True
        if self.task is not None:
            self.task.cancel()

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


class _Deadline:
    """endpoint_timeout for one response head: aborts the backend connection when due."""

    __slots__ = ("conn", "fired")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.fired = False

    def fire(self) -> None:
        self.fired = True
        with contextlib.suppress(Exception):
            self.conn.writer.transport.abort()


class Proxy:
    def __init__(self, cfg: Config, registry: Registry, metrics: Metrics,
                 access_log: AccessLogWriter | None = None,
                 transport: Transport | None = None, app_logs: Reporter | None = None,
                 fast_path: bool = True) -> None:
        """`fast_path=False` serves every request on the stream path: what the paths'
        byte-for-byte comparison test and the bench's switch measure against."""
        self.cfg = cfg
        self.fast_path = fast_path
        self.registry = registry
        self.metrics = metrics
        self.access_log = access_log
        self.app_logs = app_logs  # RTR lines for the apps' logs
        self.transport = transport or Transport(cfg)
        self.sticky_names = frozenset(cfg.sticky_session_cookie_names)
        self.server: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self, host: str = "0.0.0.0", port: int | None = None,
                    reuse_port: bool = False) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: ClientProtocol(self, loop), host, self.cfg.port if port is None else port,
            reuse_address=True, reuse_port=reuse_port or None, backlog=1024)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 1)
        self.transport.close_all()

    # -- client side: stream mode ----------------------------------------------
    async def serve_stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                           first: tuple[RequestHead, float] | None = None) -> None:
        """The stream-based loop: a connection's requests from `first` on, until it closes."""
        peer = writer.get_extra_info("peername") or ("", 0)
        client_ip, client_addr = str(peer[0]), f"{peer[0]}:{peer[1]}"
        # One idle watchdog per connection instead of an asyncio.timeout per request.
        idle = _IdleWatchdog(asyncio.current_task(), CLIENT_IDLE_TIMEOUT)
        try:
            if first is not None:
                req, received_at = first
                if not await self.handle(req, reader, writer, client_ip, client_addr,
                                         received_at):
                    return
            while True:
                try:
                    idle.begin()
                    raw = await reader.readuntil(b"\r\n\r\n")
                    idle.waiting = False
                except asyncio.CancelledError:
                    if not idle.fired:
                        raise
                    break  # idle for CLIENT_IDLE_TIMEOUT between requests
                except asyncio.LimitOverrunError:
                    writer.write(self.head_too_large())
                    break
                except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
                    break
                received_at = time.time()
                try:
                    req = parse_request_head(raw, self.cfg.max_header_bytes)
                except HTTPError as e:
                    writer.write(self.bad_request(e, client_addr))
                    break
                keep = await self.handle(req, reader, writer, client_ip, client_addr,
                                         received_at)
                if not keep:
                    break
        except ClientGone:
            pass
        except Exception:  # noqa: BLE001 - one connection must never take the router down
            log.exception("unexpected error serving %s", client_addr)
        finally:
            idle.cancel()
            with contextlib.suppress(Exception):
                writer.close()

    def bad_request(self, e: HTTPError, client_addr: str) -> bytes:
        self.metrics.inc("rejected_requests")
        log.info("bad-request from %s: %s", client_addr, e.reason)
        return error_response(e.status, f"{e.status} {e.reason}", close=True)

    def head_too_large(self) -> bytes:
        self.metrics.inc("rejected_requests")
        return error_response(431, "", router_error="max-request-size-exceeded", close=True)

    def begin(self, req: RequestHead, received_at: float, client_addr: str) -> AccessLogRecord:
        self.metrics.inc("total_requests")
        return AccessLogRecord(host=req.host, received_at=received_at, method=req.method,
                               request_uri=req.target, proto=req.version,
                               referer=req.get("referer") or "",
                               user_agent=req.get("user-agent") or "", remote_addr=client_addr)

    def finish(self, rec: AccessLogRecord) -> None:
        rec.finished_at = time.time()
        self.metrics.observe_latency(rec.finished_at - rec.received_at)
        if rec.status is not None:
            self.metrics.response(rec.status)
        if self.access_log is not None:
            line = rec.format()
            self.access_log.write(line)
            if self.app_logs is not None and rec.app_id:
                self.app_logs.log(rec.app_id, 0, "RTR", line)

    def route(self, req: RequestHead, writer: asyncio.StreamWriter, client_ip: str,
              rec: AccessLogRecord, has_body: bool) -> EndpointPool | bool:
        """The request's pool, or (having answered the rejection) whether to keep the
        client connection."""
        keep = req.keep_alive
        host, path = request_key(req.host, req.path)
        if not host or host == client_ip:
            return self._reject(writer, rec, 400, cls.EMPTY_HOST_BODY, "empty_host",
                                cls.CACHE_2S, has_body, keep)
        instance = req.index.get("x-cf-app-instance")
        if instance is not None and instance[0]:  # Go's Header.Get: the first value
            return self._route_instance(req, instance[0], host, path, writer, rec, has_body)
        pool = self.registry.lookup(host, path)
        # Error bodies quote the Host header as sent (Go's r.Host: case and port kept).
        if pool is None or (pool.is_empty() and not self.cfg.empty_pool_response_code_503):
            return self._reject(writer, rec, 404, cls.unknown_route_body(req.host),
                                "unknown_route", cls.NO_CACHE, has_body, keep)
        if pool.is_empty():
            return self._reject(writer, rec, 503, cls.no_endpoints_body(req.host),
                                "no_endpoints", cls.CACHE_2S, has_body, keep)
        if pool.all_overloaded():
            self.metrics.inc("backend_exhausted_conns")
            return self._reject(writer, rec, 503, cls.connection_limit_body(req.host),
                                "Connection Limit Reached", None, has_body, keep)
        return pool

    def _route_instance(self, req: RequestHead, value: str, host: str, path: str,
                        writer: asyncio.StreamWriter, rec: AccessLogRecord,
                        has_body: bool) -> EndpointPool | bool:
        """`X-CF-App-Instance: <app guid>:<index>` picks one instance (handlers/lookup.go)."""
        keep = req.keep_alive
        if APP_INSTANCE.fullmatch(value) is None:
            log.info("invalid-app-instance-header %r", value[:128])
            return self._reject(writer, rec, 400, cls.INVALID_APP_INSTANCE_BODY,
                                "invalid_cf_app_instance_header", cls.NO_CACHE, has_body, keep)
        app_guid, index = value.split(":")
        pool = self.registry.lookup_with_instance(host, path, app_guid, index)
        if pool is None:
            return self._reject(writer, rec, 400,
                                cls.unknown_instance_body(req.host, app_guid, index),
                                "unknown_route", cls.NO_CACHE, has_body, keep)
        if pool.all_overloaded():
            self.metrics.inc("backend_exhausted_conns")
            return self._reject(writer, rec, 503, cls.connection_limit_body(req.host),
                                "Connection Limit Reached", None, has_body, keep)
        return pool

    def context(self, req: RequestHead, client_ip: str, pool: EndpointPool,
                rec: AccessLogRecord) -> tuple[RequestContext, str, EndpointIterator]:
        """Once per request: header values, the sticky instance, the endpoint iterator."""
        ctx = request_context(req, client_ip, "http", rec.received_at)
        rec.vcap_request_id = ctx.request_id
        rec.x_forwarded_for = ctx.x_forwarded_for
        rec.x_forwarded_proto = req.get("x-forwarded-proto") or ctx.x_forwarded_proto
        requested = requested_instance(req.get_all("cookie"), self.sticky_names)
        return ctx, requested, pool.iterator(self.registry.clock(), requested)

    async def handle(self, req: RequestHead, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter, client_ip: str, client_addr: str,
                     received_at: float) -> bool:
        """Serve one request; returns whether the client connection may be reused."""
        has_body = req.content_length > 0 or req.chunked
        if req.target == "*" and req.method == "OPTIONS":
            return await self._options_star(req, reader, writer)
        rec = self.begin(req, received_at, client_addr)
        # Like Go's server, a rejected request's small unread body is read and dropped so
        # the connection can stay open.
        # (Not when the client waits for "100 Continue" before sending it: Go closes then.)
        discard = (has_body and not req.chunked and req.content_length <= DISCARD_BODY
                   and (req.get("expect") or "").lower() != "100-continue")
        try:
            pool = self.route(req, writer, client_ip, rec, has_body and not discard)
            if not isinstance(pool, EndpointPool):
                if pool and discard:
                    try:
                        await reader.readexactly(req.content_length)
                    except (asyncio.IncompleteReadError, ConnectionError):
                        return False
                return pool
            return await self._proxy(req, reader, writer, client_ip, pool, rec, has_body)
        finally:
            self.finish(rec)

    @staticmethod
    async def _options_star(req: RequestHead, reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter) -> bool:
        """Go's server answers `OPTIONS *` itself, reading at most 4 KiB of a body."""
        if req.chunked or req.content_length > 4096:
            writer.write(options_star(req, close=True))
            return False
        if req.content_length > 0:
            try:
                await reader.readexactly(req.content_length)
            except (asyncio.IncompleteReadError, ConnectionError):
                return False
        writer.write(options_star(req))
        return req.keep_alive

    # -- client side: fast mode ------------------------------------------------
    def serve_fast(self, cp: ClientProtocol, req: RequestHead,
                   received_at: float) -> bool | None:
        """Serve a request from the client protocol's callback. Returns whether to keep
        the connection when answered at once, None when the answer comes later."""
        if req.content_length > 0 or req.chunked or req.upgrade or not self.fast_path:
            cp.to_stream(req, received_at)
            return None
        if req.target == "*" and req.method == "OPTIONS":
            cp.writer.write(options_star(req))
            return req.keep_alive
        rec = self.begin(req, received_at, cp.client_addr)
        keep: bool | None = False
        try:
            pool = self.route(req, cp.writer, cp.client_ip, rec, False)
            if not isinstance(pool, EndpointPool):
                keep = pool
                return keep
            ctx, requested, it = self.context(req, cp.client_ip, pool, rec)
            ep = it.next()
            if ep is None:
                keep = self._fail(cp.writer, rec, Failure(FailureKind.OTHER,
                                                          "no endpoints available"),
                                  False, req.keep_alive)
                return keep
            conn = self.transport.get_idle(ep)
            keep = None
            cp.busy = True
            if conn is None:  # dialling (and TLS) is the stream path's job
                cp.run(self.resume(cp, req, pool, rec, ctx, it, requested,
                                   (ep, None, time.time())))
            else:
                FastAttempt(self, cp, req, pool, rec, ctx, it, requested, ep, conn)
            return None
        finally:
            if keep is not None:
                self.finish(rec)

    async def resume(self, cp: ClientProtocol, req: RequestHead, pool: EndpointPool,
                     rec: AccessLogRecord, ctx: RequestContext, it: EndpointIterator,
                     requested: str, first: tuple[Endpoint, Resume, float]) -> None:
        """A bodiless request the callback path handed on: its attempts from `first`."""
        keep = False
        try:
            keep = await self._proxy(req, cp.reader, cp.writer, cp.client_ip, pool, rec, False,
                                     ctx=ctx, it=it, requested=requested, first=first)
        except ClientGone:
            pass
        except Exception:  # noqa: BLE001 - one connection must never take the router down
            log.exception("unexpected error serving %s", cp.client_addr)
        finally:
            self.finish(rec)
            cp.request_done(keep)

    def _reject(self, writer: asyncio.StreamWriter, rec: AccessLogRecord, status: int, body: str,
                router_error: str, extra: list[tuple[str, str]] | None, has_body: bool,
                keep: bool) -> bool:
        close = has_body or not keep  # an unread body cannot be skipped safely
        payload = error_response(status, body, router_error=router_error, extra=extra,
                                 close=close)
        writer.write(payload)
        rec.status, rec.router_error, rec.bytes_sent = status, router_error, len(body) + 1
        return not close

    # -- attempts -------------------------------------------------------------
    async def _proxy(self, req: RequestHead, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter, client_ip: str, pool: EndpointPool,
                     rec: AccessLogRecord, has_body: bool, *, ctx: RequestContext | None = None,
                     it: EndpointIterator | None = None, requested: str = "",
                     first: tuple[Endpoint, Resume, float] | None = None) -> bool:
        if ctx is None or it is None:
            ctx, requested, it = self.context(req, client_ip, pool, rec)
        idempotent = is_idempotent(req, has_body)
        tried: set[str] = set()
        failure: Failure | None = None
        for _attempt in range(self.cfg.max_attempts):
            resume: Resume = None
            if first is not None:  # the callback path chose this endpoint (and maybe tried it)
                ep, resume, started = first
                first = None
            else:
                if self._client_gone(reader, writer):
                    failure = cls.client_gone()
                    break
                next_ep = it.next()
                if next_ep is None:
                    if failure is None:
                        failure = Failure(FailureKind.OTHER, "no endpoints available")
                    break
                ep, started = next_ep, time.time()
            if ep.key in tried:  # never more attempts than distinct endpoints
                break
            tried.add(ep.key)
            rec.endpoint(ep)
            ep.in_flight += 1
            try:
                return await self._attempt(req, reader, writer, ep, pool, ctx, rec,
                                           requested, idempotent, resume)
            except AttemptFailed as e:
                failure = e.failure
                spec = failure.spec
                log.info("backend-endpoint-failed %s %s: %s", pool.host, ep.key, failure.message)
                self.registry.endpoint_failed(pool, ep, failable=spec.failable,
                                              prunable=spec.prunable)
                if e.response_started:
                    rec.router_error = failure.router_error
                    return False
                if self._client_gone(reader, writer):
                    failure = cls.client_gone()  # no retry once the client has gone
                    break
                if not spec.retriable or e.body_consumed:
                    break
            finally:
                ep.in_flight -= 1
                rec.backend_time += time.time() - started
        assert failure is not None
        return self._fail(writer, rec, failure, has_body, req.keep_alive)

    def _fail(self, writer: asyncio.StreamWriter, rec: AccessLogRecord, failure: Failure,
              has_body: bool, keep: bool) -> bool:
        spec = failure.spec
        if spec.metric:
            self.metrics.inc(spec.metric)
        rec.status, rec.router_error = spec.status, failure.router_error
        if failure.kind is FailureKind.CONTEXT_CANCELLED:
            return False
        close = has_body or not keep
        payload = error_response(spec.status, spec.body, router_error=failure.router_error,
                                 close=close)
        writer.write(payload)
        rec.bytes_sent = len(spec.body) + 1
        return not close

    @staticmethod
    def _client_gone(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        return writer.is_closing() or (reader.at_eof())

    async def _attempt(self, req: RequestHead, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter, ep: Endpoint, pool: EndpointPool,
                       ctx: RequestContext, rec: AccessLogRecord, requested: str,
                       idempotent: bool, resume: Resume = None) -> bool:
        """One endpoint: an exchange on a pooled or new connection, redialled once when a
        reused connection turns out closed. `resume` carries on from the callback path:
        its failure, or a response head whose body must be streamed."""
        if isinstance(resume, AttemptFailed):
            failed = resume
        else:
            conn = await self.transport.get(ep) if resume is None else resume[0]
            try:
                if resume is None:
                    return await self._exchange(conn, backend_request_head(req, ctx, ep), req,
                                                reader, writer, ep, pool, ctx, rec, requested,
                                                idempotent)
                return await self._respond(conn, resume[1], req, reader, writer, ep, pool,
                                           ctx, rec, requested)
            except AttemptFailed as e:
                conn.close()
                failed = e
            except BaseException:
                conn.close()
                raise
        if not (failed.reused and not failed.body_consumed and not failed.response_started
                and idempotent):
            raise failed
        # A keep-alive connection the backend had already closed: redial once.
        conn = await self.transport.dial(ep)
        try:
            return await self._exchange(conn, backend_request_head(req, ctx, ep), req, reader,
                                        writer, ep, pool, ctx, rec, requested, idempotent)
        except BaseException:
            conn.close()
            raise

    async def _exchange(self, conn: Connection, head: bytes, req: RequestHead,
                        reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        ep: Endpoint, pool: EndpointPool, ctx, rec: AccessLogRecord,
                        requested: str, idempotent: bool) -> bool:
        address, san = ep.key, ep.server_cert_domain_san
        reused = conn.reused
        body_consumed = False
        bw, br = conn.writer, conn.reader
        # 1. request head and body
        try:
            bw.write(head)
            if req.content_length > 0 or req.chunked:
                body_consumed = True
                if (req.get("expect") or "").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                rec.bytes_received = await self._relay_body(reader, bw, req.content_length,
                                                            req.chunked, client_side=True)
            await bw.drain()
        except ClientGone:
            raise AttemptFailed(cls.client_gone(), body_consumed=True) from None
        except AttemptFailed:
            raise
        except Exception as e:  # noqa: BLE001
            raise AttemptFailed(classify(e, Phase.WRITE, address=address, server_name=san,
                                         idempotent=idempotent),
                                body_consumed=body_consumed, reused=reused) from e
        # 2. response head (skipping interim 1xx but 101). The deadline aborts the
        # backend connection (a timer, cheaper than asyncio.timeout per request).
        deadline = _Deadline(conn)
        timer = asyncio.get_running_loop().call_later(self.cfg.endpoint_timeout, deadline.fire)
        try:
            while True:
                raw = await br.readuntil(b"\r\n\r\n")
                resp = parse_response_head(raw)
                if resp.status == 101 or resp.status >= 200:
                    break
        except Exception as e:  # noqa: BLE001
            raise head_failure(e, deadline.fired, address, san, idempotent, body_consumed,
                               reused) from e
        finally:
            timer.cancel()
        if deadline.fired:  # the head arrived as the deadline passed: the connection is gone
            raise head_failure(TimeoutError(), True, address, san, idempotent, body_consumed,
                               reused)
        return await self._respond(conn, resp, req, reader, writer, ep, pool, ctx, rec,
                                   requested)

    async def _respond(self, conn: Connection, resp: ResponseHead, req: RequestHead,
                       reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       ep: Endpoint, pool: EndpointPool, ctx: RequestContext,
                       rec: AccessLogRecord, requested: str) -> bool:
        """3. The response to the client, once its head has arrived."""
        address, san = ep.key, ep.server_cert_domain_san
        br = conn.reader
        has_body = response_has_body(req.method, resp.status)
        until_close = has_body and resp.content_length < 0 and not resp.chunked
        close_client = until_close or not req.keep_alive
        head_out = self.response_head(resp, req, ep, pool, ctx, requested, close_client)
        if has_body and not resp.chunked and 0 <= resp.content_length <= SMALL_BODY:
            # Small bodies (the common case) go out with the head in one write.
            try:
                data = await br.readexactly(resp.content_length)
            except Exception as e:  # noqa: BLE001 - nothing sent to the client yet
                raise body_failure(e, address, san) from e
            rec.status = resp.status
            writer.write(head_out + data)
            rec.bytes_sent = len(data)
            await self._drain(writer, dst_is_client=True)
            if resp.keep_alive:
                self.transport.release(conn)
            else:
                conn.close()
            return not close_client
        rec.status = resp.status
        writer.write(head_out)
        if resp.status == 101:
            await self._tunnel(reader, writer, conn)
            return False
        sent = 0
        try:
            if has_body:
                if until_close:
                    sent = await self._copy_until_eof(br, writer)
                else:
                    sent = await self._relay_body(br, writer, resp.content_length, resp.chunked,
                                                  client_side=False)
            await self._drain(writer, dst_is_client=True)
        except ClientGone:
            rec.bytes_sent = sent
            conn.close()
            raise
        except Exception as e:  # noqa: BLE001 - backend died mid-body: nothing left to send
            conn.close()
            raise AttemptFailed(classify(e, Phase.READ, address=address, server_name=san),
                                body_consumed=True, response_started=True) from e
        rec.bytes_sent = sent
        if resp.keep_alive and not until_close:
            self.transport.release(conn)
        else:
            conn.close()
        return not close_client

    def response_head(self, resp: ResponseHead, req: RequestHead, ep: Endpoint,
                      pool: EndpointPool, ctx: RequestContext, requested: str,
                      close_client: bool) -> bytes:
        """The head relayed to the client, with the sticky-session cookie when due."""
        cookie = None
        if ep.private_instance_id:
            cookie = vcap_id_cookie(resp.get_all("set-cookie"), ep.private_instance_id,
                                    requested, pool.context_path, self.cfg.secure_cookies,
                                    self.sticky_names)
        return client_response_head(resp, ctx.request_id, close=close_client,
                                    extra_cookie=cookie)

    # -- body relays ----------------------------------------------------------
    @staticmethod
    async def _drain(dst: asyncio.StreamWriter, *, dst_is_client: bool) -> None:
        try:
            await dst.drain()
        except (ConnectionError, OSError) as e:
            if dst_is_client:
                raise ClientGone() from e
            raise

    async def _relay_body(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                          length: int, chunked: bool, *, client_side: bool) -> int:
        """Copy one framed body. `client_side`: src is the client, dst the backend.

        A failure on the client's side raises ClientGone; on the backend's side the
        exception is left for the caller to classify.
        """
        total = 0
        drain_client = not client_side
        try:
            if not chunked:
                remaining = length
                while remaining > 0:
                    data = await src.read(min(COPY_CHUNK, remaining))
                    if not data:
                        raise EOFError("unexpected EOF in body")
                    dst.write(data)
                    remaining -= len(data)
                    total += len(data)
                    if dst.transport.get_write_buffer_size() > COPY_CHUNK:
                        await self._drain(dst, dst_is_client=drain_client)
                return total
            while True:
                line = await src.readuntil(b"\r\n")
                size = parse_chunk_size(line)
                dst.write(line)
                if size == 0:
                    while True:  # trailers up to the blank line
                        trailer = await src.readuntil(b"\r\n")
                        dst.write(trailer)
                        if trailer == b"\r\n":
                            return total
                data = await src.readexactly(size + 2)
                if data[-2:] != b"\r\n":
                    raise HTTPError(400, "Bad Request: malformed chunk")
                dst.write(data)
                total += size
                if dst.transport.get_write_buffer_size() > COPY_CHUNK:
                    await self._drain(dst, dst_is_client=drain_client)
        except ClientGone:
            raise
        except (asyncio.IncompleteReadError, EOFError, ConnectionError, HTTPError,
                asyncio.LimitOverrunError) as e:
            if client_side:
                raise ClientGone() from e
            raise EOFError(str(e)) from e

    async def _copy_until_eof(self, src: asyncio.StreamReader,
                              dst: asyncio.StreamWriter) -> int:
        total = 0
        while data := await src.read(COPY_CHUNK):
            dst.write(data)
            total += len(data)
            await self._drain(dst, dst_is_client=True)
        return total

    async def _tunnel(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      conn: Connection) -> None:
        """WebSocket (or any 101 upgrade): bytes both ways until either side closes."""

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(COPY_CHUNK):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        try:
            await writer.drain()
            await asyncio.gather(pipe(reader, conn.writer), pipe(conn.reader, writer))
        finally:
            conn.close()
