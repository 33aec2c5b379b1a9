"""Request and response header rewriting (gorouter `proxy.go`, `handlers/*.go`, `modifyresponse.go`)."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from foundry.gorouter.http11 import RequestHead, ResponseHead, status_line
from foundry.gorouter.pool import Endpoint

# Hop-by-hop headers a Go ReverseProxy drops; Transfer-Encoding is kept because
# the body is relayed in its original framing.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer",
                        "upgrade", "proxy-authenticate", "proxy-authorization"})
# gorouter's hop_by_hop_headers_to_filter default: these survive even if listed in Connection.
PROTECTED = frozenset({"x-forwarded-for", "x-forwarded-proto", "b3", "x-b3", "x-b3-spanid",
                       "x-b3-traceid", "x-request-start", "x-forwarded-client-cert"})
REPLACED = frozenset({"x-vcap-request-id", "x-cf-applicationid", "x-cf-instanceindex",
                      "x-cf-instanceid", "x-cf-app-instance", "x-forwarded-for"})
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_rand = random.Random().getrandbits  # seeded once from os.urandom


@dataclass(slots=True)
class RequestContext:
    """What the router decides once per request, before any attempt."""

    request_id: str
    x_forwarded_for: str
    x_forwarded_proto: str
    # the header lines every attempt adds (XFF, X-Request-Start, X-Forwarded-Proto,
    # X-Vcap-Request-Id, B3), CRLF-joined: built once, not once per attempt
    added: str


def _new_trace() -> tuple[str, str]:
    """A 128-bit trace id and a 64-bit span id, in hex. They need uniqueness, not
    secrecy: no getrandom() syscall per request."""
    ids = f"{_rand(192):048x}"
    return ids[:32], ids[32:]


def _uuid_from_hex(h: str) -> str:
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


# the request headers request_context reads; most requests carry none of them
_CONTEXT_HEADERS = frozenset({"x-forwarded-for", "x-forwarded-proto", "x-request-start",
                              "x-b3-traceid", "x-b3-spanid", "b3"})


def request_context(req: RequestHead, client_ip: str, proto: str, now: float) -> RequestContext:
    """Header values shared by all attempts of one request (request id, XFF, B3...)."""
    idx = req.index
    if idx.keys().isdisjoint(_CONTEXT_HEADERS):  # the common case, in one set test
        trace, span = _new_trace()
        request_id = _uuid_from_hex(trace)
        return RequestContext(request_id, client_ip, proto,
                              f"X-Forwarded-For: {client_ip}\r\n"
                              f"X-Request-Start: {int(now * 1000)}\r\n"
                              f"X-Forwarded-Proto: {proto}\r\n"
                              f"X-Vcap-Request-Id: {request_id}\r\n"
                              f"X-B3-TraceId: {trace}\r\nX-B3-SpanId: {span}\r\n"
                              f"b3: {trace}-{span}")
    xff = ", ".join(idx.get("x-forwarded-for", ()))
    xfp = (idx.get("x-forwarded-proto") or ("",))[0]
    xrs = (idx.get("x-request-start") or ("",))[0]
    trace = (idx.get("x-b3-traceid") or ("",))[-1].lower()
    span = (idx.get("x-b3-spanid") or ("",))[-1].lower()
    b3 = (idx.get("b3") or ("",))[-1]
    b3_headers: list[tuple[str, str]] = []
    if trace and span:
        if not b3:
            b3_headers.append(("b3", f"{trace}-{span}"))
        # With tracing on, gorouter builds the request id from a 128-bit trace id.
        request_id = _uuid_from_hex(trace if _HEX32.match(trace) else f"{_rand(128):032x}")
    elif b3 and len(parts := b3.lower().split("-")) >= 2:
        trace, span = parts[0], parts[1]
        b3_headers += [("X-B3-TraceId", trace), ("X-B3-SpanId", span)]
        request_id = _uuid_from_hex(trace if _HEX32.match(trace) else f"{_rand(128):032x}")
    else:  # no tracing headers came in (XFF or the like did)
        trace, span = _new_trace()
        b3_headers += [("X-B3-TraceId", trace), ("X-B3-SpanId", span), ("b3", f"{trace}-{span}")]
        request_id = _uuid_from_hex(trace)
    x_forwarded_for = f"{xff}, {client_ip}" if xff else client_ip
    added = [f"X-Forwarded-For: {x_forwarded_for}"]
    if not xrs:
        added.append(f"X-Request-Start: {int(now * 1000)}")
    if "x-forwarded-proto" not in idx:
        added.append(f"X-Forwarded-Proto: {proto}")
    added.append(f"X-Vcap-Request-Id: {request_id}")
    added += [f"{k}: {v}" for k, v in b3_headers]
    return RequestContext(request_id, x_forwarded_for, xfp or proto, "\r\n".join(added))


def _endpoint_headers(endpoint: Endpoint) -> str:
    """The X-CF-* lines naming the instance; kept on the endpoint (its fields never
    change: an update registers a new Endpoint)."""
    lines = endpoint.backend_headers
    if not lines:
        lines = endpoint.backend_headers = (
            f"X-CF-ApplicationID: {endpoint.app_id}\r\n"
            f"X-CF-InstanceIndex: {endpoint.private_instance_index}\r\n"
            f"X-CF-InstanceID: {endpoint.instance_id_header}")
    return lines


def backend_request_head(req: RequestHead, ctx: RequestContext, endpoint: Endpoint) -> bytes:
    """The head sent to the endpoint for one attempt."""
    tokens = req.connection_tokens
    if tokens:
        drop = HOP_BY_HOP | (tokens - PROTECTED)
        upgrade = req.upgrade
    else:
        drop, upgrade = HOP_BY_HOP, False
    out = [f"{req.method} {req.path} {req.version}"]
    for k, v in req.headers:
        lk = k.lower()
        if lk in REPLACED or (lk in drop and not (upgrade and lk == "upgrade")):
            continue
        out.append(f"{k}: {v}")
    out.append(ctx.added)
    out.append(_endpoint_headers(endpoint))
    if upgrade:
        out.append("Connection: Upgrade")
    out.append("\r\n")
    return "\r\n".join(out).encode("latin-1")


def _relayed(resp: ResponseHead, upgrade: bool) -> tuple[str, bool]:
    """The status line and the backend's headers the client gets, CRLF-joined, and
    whether they carry an X-Vcap-Request-Id."""
    tokens = resp.connection_tokens
    drop = HOP_BY_HOP if tokens <= HOP_BY_HOP else HOP_BY_HOP | tokens
    out = [status_line(resp.status)]  # Go writes its own reason phrase
    has_request_id = False
    for k, v in resp.headers:
        lk = k.lower()
        if lk in drop and not (upgrade and lk == "upgrade"):
            continue
        if lk == "x-vcap-request-id":
            has_request_id = True
        out.append(f"{k}: {v}")
    return "\r\n".join(out), has_request_id


def client_response_head(resp: ResponseHead, request_id: str, *, close: bool,
                         extra_cookie: str | None) -> bytes:
    """The head relayed to the client: hop-by-hop dropped, request id and sticky cookie added.

    The relayed part depends on the response head alone, and framing.parse_response_memo
    hands out one head per distinct backend head: it is worked out once and kept on it."""
    upgrade = resp.status == 101
    if upgrade:
        kept, has_request_id = _relayed(resp, True)
    elif (relayed := resp.relayed) is not None:
        kept, has_request_id = relayed
    else:
        kept, has_request_id = resp.relayed = _relayed(resp, False)
    out = [kept]
    if not has_request_id:
        out.append(f"X-Vcap-Request-Id: {request_id}")
    if extra_cookie:
        out.append(f"Set-Cookie: {extra_cookie}")
    if upgrade:
        out.append("Connection: Upgrade")
    elif close:
        out.append("Connection: close")
    out.append("\r\n")
    return "\r\n".join(out).encode("latin-1")
