"""The HTTP/1.1 reverse proxy: lookup, endpoint selection, attempts, relay, access log.

Two paths share every decision (lookup, balancing, classification, headers,
stickiness, log format, the 1xx skip, the small-body test, the deadlines), which
the sans-IO modules make, and each request's state, its `exchange.Exchange`.
The callback path (`serve_fast`, frontend.py, fastpath.py) answers a bodiless
request on a pooled backend connection with a small response. The stream path (asyncio streams,
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
from foundry.gorouter.classifier import Failure, FailureKind, Phase, classify
from foundry.gorouter.config import Config
from foundry.gorouter.cork import Cork
from foundry.gorouter.deadline import CLIENT_IDLE_TIMEOUT, Deadline
from foundry.gorouter.exchange import Exchange
from foundry.gorouter.fastpath import FastAttempt
from foundry.gorouter.framing import small_body
from foundry.gorouter.frontend import ClientProtocol
from foundry.gorouter.headers import backend_request_head, client_response_head, request_context
from foundry.gorouter.http11 import (
    HTTPError,
    RequestHead,
    ResponseHead,
    error_response,
    is_interim,
    parse_chunk_size,
    parse_request_head,
    parse_response_head,
    response_has_body,
)
from foundry.gorouter.metrics import Metrics
from foundry.gorouter.pool import EndpointPool
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
        self.cork: Cork | None = None

    def cork_for(self, loop: asyncio.AbstractEventLoop) -> Cork:
        """The callback path's write batch on `loop` (one per loop: tests make several)."""
        if self.cork is None or self.cork.loop is not loop:
            self.cork = Cork(loop)
        return self.cork

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
        # One idle deadline per connection (one timer) instead of an asyncio.timeout per
        # request; when due it cancels this task's wait for the next request.
        task = asyncio.current_task()
        assert task is not None
        idle = Deadline(asyncio.get_running_loop(), CLIENT_IDLE_TIMEOUT, task.cancel)
        try:
            if first is not None:
                req, received_at = first
                if not await self.handle(req, reader, writer, client_ip, client_addr,
                                         received_at):
                    return
            while True:
                try:
                    idle.arm()
                    raw = await reader.readuntil(b"\r\n\r\n")
                    idle.disarm()
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

    def begin(self, req: RequestHead, received_at: float, client_ip: str, client_addr: str,
              has_body: bool) -> Exchange:
        self.metrics.inc("total_requests")
        idx = req.index
        referer, agent = idx.get("referer"), idx.get("user-agent")  # Go's Header.Get: the first
        rec = AccessLogRecord(host=req.host, received_at=received_at, method=req.method,
                              request_uri=req.target, proto=req.version,
                              referer=referer[0] if referer else "",
                              user_agent=agent[0] if agent else "", remote_addr=client_addr)
        return Exchange(req, rec, client_ip, has_body)

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

    def route(self, x: Exchange, writer: asyncio.StreamWriter, unread_body: bool) -> bool | None:
        """Find the request's pool and set what the attempts need (`x.pool`, `x.ctx`,
        `x.it`, `x.requested`): None. Or answer the rejection and say whether to keep the
        client connection (not with a body left unread)."""
        req = x.req
        host, path = request_key(req.host, req.path)
        if not host or host == x.client_ip:
            return self._reject(writer, x, unread_body, 400, cls.EMPTY_HOST_BODY, "empty_host",
                                cls.CACHE_2S)
        instance = req.index.get("x-cf-app-instance")
        if instance is not None and instance[0]:  # Go's Header.Get: the first value
            return self._route_instance(x, instance[0], host, path, writer, unread_body)
        pool = self.registry.lookup(host, path)
        # Error bodies quote the Host header as sent (Go's r.Host: case and port kept).
        if pool is not None and pool.endpoints:
            return self._routed(x, pool, writer, unread_body)
        if pool is None or not self.cfg.empty_pool_response_code_503:
            return self._reject(writer, x, unread_body, 404, cls.unknown_route_body(req.host),
                                "unknown_route", cls.NO_CACHE)
        return self._reject(writer, x, unread_body, 503, cls.no_endpoints_body(req.host),
                            "no_endpoints", cls.CACHE_2S)

    def _route_instance(self, x: Exchange, value: str, host: str, path: str,
                        writer: asyncio.StreamWriter, unread_body: bool) -> bool | None:
        """`X-CF-App-Instance: <app guid>:<index>` picks one instance (handlers/lookup.go)."""
        if APP_INSTANCE.fullmatch(value) is None:
            log.info("invalid-app-instance-header %r", value[:128])
            return self._reject(writer, x, unread_body, 400, cls.INVALID_APP_INSTANCE_BODY,
                                "invalid_cf_app_instance_header", cls.NO_CACHE)
        app_guid, index = value.split(":")
        pool = self.registry.lookup_with_instance(host, path, app_guid, index)
        if pool is None:
            return self._reject(writer, x, unread_body, 400,
                                cls.unknown_instance_body(x.req.host, app_guid, index),
                                "unknown_route", cls.NO_CACHE)
        return self._routed(x, pool, writer, unread_body)

    def _routed(self, x: Exchange, pool: EndpointPool, writer: asyncio.StreamWriter,
                unread_body: bool) -> bool | None:
        """A pool found: rejected when all its endpoints are at their limit, else the
        request's context, once: header values, the sticky instance, the iterator."""
        req, rec = x.req, x.rec
        if pool.all_overloaded():
            self.metrics.inc("backend_exhausted_conns")
            return self._reject(writer, x, unread_body, 503,
                                cls.connection_limit_body(req.host),
                                "Connection Limit Reached", None)
        ctx = x.ctx = request_context(req, x.client_ip, "http", rec.received_at)
        rec.vcap_request_id = ctx.request_id
        rec.x_forwarded_for = ctx.x_forwarded_for
        rec.x_forwarded_proto = ctx.x_forwarded_proto  # the request's first value, or ours
        cookies = req.index.get("cookie")
        requested = x.requested = (requested_instance(cookies, self.sticky_names)
                                   if cookies else "")
        x.pool = pool
        x.it = pool.iterator(self.registry.clock(), requested)
        return None

    async def handle(self, req: RequestHead, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter, client_ip: str, client_addr: str,
                     received_at: float) -> bool:
        """Serve one request; returns whether the client connection may be reused."""
        has_body = req.content_length > 0 or req.chunked
        if req.target == "*" and req.method == "OPTIONS":
            return await self._options_star(req, reader, writer)
        x = self.begin(req, received_at, client_ip, client_addr, has_body)
        # Like Go's server, a rejected request's small unread body is read and dropped so
        # the connection can stay open.
        # (Not when the client waits for "100 Continue" before sending it: Go closes then.)
        discard = (has_body and not req.chunked and req.content_length <= DISCARD_BODY
                   and (req.get("expect") or "").lower() != "100-continue")
        try:
            keep = self.route(x, writer, has_body and not discard)
            if keep is not None:
                if keep and discard:
                    try:
                        await reader.readexactly(req.content_length)
                    except (asyncio.IncompleteReadError, ConnectionError):
                        return False
                return keep
            return await self._proxy(x, reader, writer)
        finally:
            self.finish(x.rec)

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
        x = self.begin(req, received_at, cp.client_ip, cp.client_addr, False)
        keep: bool | None = False
        try:
            rejected = self.route(x, cp.writer, False)
            if rejected is not None:
                keep = rejected
                return keep
            ep = x.it.next()
            if ep is None:
                keep = self._fail(cp.writer, x, Failure(FailureKind.OTHER,
                                                        "no endpoints available"))
                return keep
            conn = self.transport.get_idle(ep)
            keep = None
            cp.request_begun()
            if conn is None:  # dialling (and TLS) is the stream path's job
                x.ep, x.started = ep, time.time()
                cp.run(self.resume(cp, x, None))
            else:
                FastAttempt(self, cp, x, ep, conn)
            return None
        finally:
            if keep is not None:
                self.finish(x.rec)

    async def resume(self, cp: ClientProtocol, x: Exchange, resume: Resume) -> None:
        """A bodiless request the callback path handed on, at its endpoint `x.ep`: from
        the start (`resume` None), after a failure, or with a head whose body to stream."""
        keep = False
        try:
            keep = await self._proxy(x, cp.reader, cp.writer, resume, handed=True)
        except ClientGone:
            pass
        except Exception:  # noqa: BLE001 - one connection must never take the router down
            log.exception("unexpected error serving %s", cp.client_addr)
        finally:
            self.finish(x.rec)
            cp.request_done(keep)

    def _reject(self, writer: asyncio.StreamWriter, x: Exchange, unread_body: bool, status: int,
                body: str, router_error: str, extra: list[tuple[str, str]] | None) -> bool:
        close = unread_body or not x.req.keep_alive  # an unread body cannot be skipped safely
        payload = error_response(status, body, router_error=router_error, extra=extra,
                                 close=close)
        writer.write(payload)
        rec = x.rec
        rec.status, rec.router_error, rec.bytes_sent = status, router_error, len(body) + 1
        return not close

    # -- attempts -------------------------------------------------------------
    async def _proxy(self, x: Exchange, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter, resume: Resume = None,
                     handed: bool = False) -> bool:
        """A routed request's attempts, up to max_attempts on distinct endpoints. `handed`:
        the callback path chose `x.ep` (and maybe tried it: `resume`)."""
        tried: set[str] = set()
        failure: Failure | None = None
        for _attempt in range(self.cfg.max_attempts):
            if handed:
                handed = False
                ep, started = x.ep, x.started
                assert ep is not None
            else:
                resume = None
                if self._client_gone(reader, writer):
                    failure = cls.client_gone()
                    break
                next_ep = x.it.next()
                if next_ep is None:
                    if failure is None:
                        failure = Failure(FailureKind.OTHER, "no endpoints available")
                    break
                ep, started = next_ep, time.time()
            if ep.key in tried:  # never more attempts than distinct endpoints
                break
            tried.add(ep.key)
            x.attempt(ep, started)
            try:
                return await self._attempt(x, reader, writer, resume)
            except AttemptFailed as e:
                failure = e.failure
                spec = failure.spec
                log.info("backend-endpoint-failed %s %s: %s", x.pool.host, ep.key,
                         failure.message)
                self.registry.endpoint_failed(x.pool, ep, failable=spec.failable,
                                              prunable=spec.prunable)
                if e.response_started:
                    x.rec.router_error = failure.router_error
                    return False
                if self._client_gone(reader, writer):
                    failure = cls.client_gone()  # no retry once the client has gone
                    break
                if not spec.retriable or e.body_consumed:
                    break
            finally:
                x.attempt_over()
                x.add_backend_time()
        assert failure is not None
        return self._fail(writer, x, failure)

    def _fail(self, writer: asyncio.StreamWriter, x: Exchange, failure: Failure) -> bool:
        spec = failure.spec
        if spec.metric:
            self.metrics.inc(spec.metric)
        rec = x.rec
        rec.status, rec.router_error = spec.status, failure.router_error
        if failure.kind is FailureKind.CONTEXT_CANCELLED:
            return False
        close = x.has_body or not x.req.keep_alive
        payload = error_response(spec.status, spec.body, router_error=failure.router_error,
                                 close=close)
        writer.write(payload)
        rec.bytes_sent = len(spec.body) + 1
        return not close

    @staticmethod
    def _client_gone(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        return writer.is_closing() or (reader.at_eof())

    async def _attempt(self, x: Exchange, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter, resume: Resume = None) -> bool:
        """One endpoint (`x.ep`): an exchange on a pooled or new connection, redialled once
        when a reused connection turns out closed. `resume` carries on from the callback
        path: its failure, or a response head whose body must be streamed."""
        ep = x.ep
        assert ep is not None
        if isinstance(resume, AttemptFailed):
            failed = resume
        else:
            conn = await self.transport.get(ep) if resume is None else resume[0]
            try:
                if resume is None:
                    return await self._exchange(x, conn, reader, writer)
                return await self._respond(x, conn, resume[1], reader, writer)
            except AttemptFailed as e:
                conn.close()
                failed = e
            except BaseException:
                conn.close()
                raise
        if not (failed.reused and not failed.body_consumed and not failed.response_started
                and x.idempotent):
            raise failed
        # A keep-alive connection the backend had already closed: redial once.
        conn = await self.transport.dial(ep)
        try:
            return await self._exchange(x, conn, reader, writer)
        except BaseException:
            conn.close()
            raise

    async def _exchange(self, x: Exchange, conn: Connection, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> bool:
        req, ep = x.req, x.ep
        assert ep is not None
        address, san = ep.key, ep.server_cert_domain_san
        reused = conn.reused
        body_consumed = False
        bw, br = conn.writer, conn.reader
        # 1. request head and body
        try:
            bw.write(backend_request_head(req, x.ctx, ep))
            if req.content_length > 0 or req.chunked:
                body_consumed = True
                if (req.get("expect") or "").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                x.rec.bytes_received = await self._relay_body(
                    reader, bw, req.content_length, req.chunked, client_side=True)
            await bw.drain()
        except ClientGone:
            raise AttemptFailed(cls.client_gone(), body_consumed=True) from None
        except AttemptFailed:
            raise
        except Exception as e:  # noqa: BLE001
            raise AttemptFailed(classify(e, Phase.WRITE, address=address, server_name=san,
                                         idempotent=x.idempotent),
                                body_consumed=body_consumed, reused=reused) from e
        # 2. response head (skipping interim 1xx). The connection's head deadline, the
        # callback path's too, aborts the connection when due.
        deadline = conn.protocol.head_deadline
        deadline.arm()
        try:
            while True:
                resp = parse_response_head(await br.readuntil(b"\r\n\r\n"))
                if not is_interim(resp.status):
                    break
        except Exception as e:  # noqa: BLE001
            raise head_failure(e, deadline.fired, address, san, x.idempotent, body_consumed,
                               reused) from e
        finally:
            deadline.disarm()
        if deadline.fired:  # the head arrived as the deadline passed: the connection is gone
            raise head_failure(TimeoutError(), True, address, san, x.idempotent, body_consumed,
                               reused)
        return await self._respond(x, conn, resp, reader, writer)

    async def _respond(self, x: Exchange, conn: Connection, resp: ResponseHead,
                       reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """3. The response to the client, once its head has arrived."""
        req, rec, ep = x.req, x.rec, x.ep
        assert ep is not None
        br = conn.reader
        has_body = response_has_body(req.method, resp.status)
        until_close = has_body and resp.content_length < 0 and not resp.chunked
        close_client = until_close or not req.keep_alive
        head_out = self.response_head(x, resp, close_client)
        small = small_body(req.method, resp)
        if small >= 0:
            # Small bodies (the common case) go out with the head in one write.
            try:
                data = await br.readexactly(small) if small else b""
            except Exception as e:  # noqa: BLE001 - nothing sent to the client yet
                raise body_failure(e, ep.key, ep.server_cert_domain_san) from e
            rec.status = resp.status
            writer.write(head_out + data)
            rec.bytes_sent = small
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
            if not has_body:  # a chunked head on a HEAD request, a 204 or a 304
                pass
            elif until_close:
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
            raise AttemptFailed(classify(e, Phase.READ, address=ep.key,
                                         server_name=ep.server_cert_domain_san),
                                body_consumed=True, response_started=True) from e
        rec.bytes_sent = sent
        if resp.keep_alive and not until_close:
            self.transport.release(conn)
        else:
            conn.close()
        return not close_client

    def response_head(self, x: Exchange, resp: ResponseHead, close_client: bool) -> bytes:
        """The head relayed to the client, with the sticky-session cookie when due."""
        ep = x.ep
        assert ep is not None
        cookie = None
        # no Set-Cookie to follow and no other instance asked for: vcap_id_cookie says None
        if ep.private_instance_id and (x.requested or "set-cookie" in resp.index):
            cookie = vcap_id_cookie(resp.get_all("set-cookie"), ep.private_instance_id,
                                    x.requested, x.pool.context_path, self.cfg.secure_cookies,
                                    self.sticky_names)
        return client_response_head(resp, x.ctx.request_id, close=close_client,
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
