"""The callback path's framing: heads, interim responses, small bodies, hand-on to streaming."""

from __future__ import annotations

import pytest

from foundry.gorouter import framing
from foundry.gorouter.framing import (
    DONE,
    SMALL_BODY,
    STREAM,
    HeadTooLarge,
    ResponseFramer,
    split_head,
)
from foundry.gorouter.http11 import HTTPError

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


def test_split_head_waits_for_the_blank_line_and_bounds_it() -> None:
    assert split_head(b"GET / HTTP/1.1\r\nHost: a\r\n", 100) == 0
    assert split_head(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest", 100) == 27
    with pytest.raises(HeadTooLarge):
        split_head(b"x" * 101, 100)  # no end in sight
    with pytest.raises(HeadTooLarge):
        split_head(b"GET / HTTP/1.1\r\nX: " + b"a" * 100 + b"\r\n\r\n", 100)


def test_small_response_in_one_piece_and_byte_by_byte() -> None:
    kind, resp, body, rest = ResponseFramer("GET").feed(OK + b"extra")
    assert (kind, resp.status, body, rest) == (DONE, 200, b"hello", b"extra")
    f = ResponseFramer("GET")
    results = [f.feed(OK[i:i + 1]) for i in range(len(OK))]
    assert all(r is None for r in results[:-1])
    assert results[-1][0] == DONE and results[-1][2] == b"hello"
    assert f.head_done


def test_interim_responses_are_skipped_but_101_is_not() -> None:
    f = ResponseFramer("GET")
    assert f.feed(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n") \
        is None
    assert not f.head_done
    kind, resp, _, _ = f.feed(OK)
    assert (kind, resp.status) == (DONE, 200)
    kind, resp, _, rest = ResponseFramer("GET").feed(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nframe")
    assert (kind, resp.status, rest) == (STREAM, 101, b"frame")


@pytest.mark.parametrize("head", [
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\r\n",  # body until close
    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (SMALL_BODY + 1),
])
def test_other_bodies_are_handed_to_the_stream_path(head: bytes) -> None:
    kind, resp, body, rest = ResponseFramer("GET").feed(head + b"5\r\nhello")
    assert (kind, body, rest) == (STREAM, b"", b"5\r\nhello")


def test_bodiless_responses_take_no_body() -> None:
    kind, _, body, rest = ResponseFramer("HEAD").feed(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    assert (kind, body, rest) == (DONE, b"", b"")
    kind, _, body, rest = ResponseFramer("GET").feed(
        b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1")
    assert (kind, body, rest) == (DONE, b"", b"HTTP/1.1")
    kind, _, body, _ = ResponseFramer("GET").feed(b"HTTP/1.1 304 Not Modified\r\n\r\n")
    assert (kind, body) == (DONE, b"")


def test_bad_heads_raise() -> None:
    with pytest.raises(HTTPError):
        ResponseFramer("GET").feed(b"HTTP/1.1 2OO OK\r\n\r\n")
    with pytest.raises(HTTPError):
        ResponseFramer("GET").feed(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
                                   b"Content-Length: 2\r\n\r\n")
    with pytest.raises(HeadTooLarge):
        ResponseFramer("GET", limit=64).feed(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 80)


def test_response_heads_are_parsed_once_per_distinct_head() -> None:
    a = ResponseFramer("GET").feed(OK)[1]
    b = ResponseFramer("GET").feed(OK)[1]
    c = ResponseFramer("GET").feed(OK.replace(b"5\r\n\r\nhello", b"2\r\n\r\nhi"))[1]
    assert a is b and c is not a and (c.content_length, a.content_length) == (2, 5)
    for i in range(600):  # bounded: many distinct heads do not grow it without end
        ResponseFramer("GET").feed(b"HTTP/1.1 200 OK\r\nX-N: %d\r\nContent-Length: 0\r\n\r\n" % i)
    assert len(framing.parse_response_memo.table) <= framing.parse_response_memo.max
