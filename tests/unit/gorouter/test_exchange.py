"""The decisions both request paths share, without sockets: the 1xx skip, the small-body
test, and the exchange's bookkeeping of attempts."""

from __future__ import annotations

from foundry.gorouter.accesslog import AccessLogRecord
from foundry.gorouter.exchange import Exchange
from foundry.gorouter.framing import SMALL_BODY, small_body
from foundry.gorouter.http11 import (
    is_interim,
    parse_request_head,
    parse_response_head,
)
from foundry.gorouter.pool import Endpoint


def head(status: str, *headers: str) -> bytes:
    return ("\r\n".join([f"HTTP/1.1 {status}", *headers]) + "\r\n\r\n").encode()


def test_interim_heads_are_1xx_but_101() -> None:
    assert is_interim(100) and is_interim(103) and is_interim(199)
    assert not is_interim(101)  # Switching Protocols is the final answer
    assert not is_interim(200) and not is_interim(99) and not is_interim(204)


def test_small_body_says_what_goes_out_with_the_head() -> None:
    def small(method: str, raw: bytes) -> int:
        return small_body(method, parse_response_head(raw))

    assert small("GET", head("200 OK", "Content-Length: 5")) == 5
    assert small("GET", head("200 OK", f"Content-Length: {SMALL_BODY}")) == SMALL_BODY
    assert small("GET", head("200 OK", f"Content-Length: {SMALL_BODY + 1}")) == -1
    assert small("GET", head("200 OK", "Transfer-Encoding: chunked")) == -1
    assert small("GET", head("200 OK")) == -1  # until close
    assert small("GET", head("101 Switching Protocols", "Upgrade: websocket")) == -1
    # no body whatever the head says
    assert small("HEAD", head("200 OK", "Content-Length: 99")) == 0
    assert small("GET", head("204 No Content")) == 0
    assert small("GET", head("304 Not Modified", "Content-Length: 7")) == 0
    assert small("HEAD", head("200 OK", "Transfer-Encoding: chunked")) == -1


def test_the_exchange_counts_an_attempt_on_its_endpoint() -> None:
    req = parse_request_head(b"GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
    x = Exchange(req, AccessLogRecord(received_at=0.0), "10.0.0.1", has_body=False)
    ep = Endpoint("10.0.0.9", 61001, app_id="app", private_instance_id="inst-0")
    x.attempt(ep, started=0.0)
    assert ep.in_flight == 1 and x.ep is ep
    assert x.rec.backend_addr == "10.0.0.9:61001" and x.rec.app_id == "app"
    x.attempt_over()
    x.add_backend_time()
    assert ep.in_flight == 0 and x.rec.backend_time > 0


def test_only_bodiless_idempotent_requests_may_be_sent_again() -> None:
    def x(raw: bytes, has_body: bool) -> Exchange:
        return Exchange(parse_request_head(raw), AccessLogRecord(), "", has_body)

    assert x(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", False).idempotent
    assert not x(b"POST / HTTP/1.1\r\nHost: a\r\n\r\n", False).idempotent
    assert x(b"POST / HTTP/1.1\r\nHost: a\r\nIdempotency-Key: k\r\n\r\n", False).idempotent
    assert not x(b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n", True).idempotent
