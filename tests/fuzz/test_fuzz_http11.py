"""The router's HTTP/1.1 head parser and backend-response framing under fuzzed input.

Properties: the parser returns a head or raises HTTPError with a status the router
answers (never another exception); no input takes long; an accepted head, written out
again, parses to the same head; the fast and the line-by-line header paths agree;
a response framed from arbitrary splits equals the one framed whole.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from foundry.gorouter import http11
from foundry.gorouter.framing import DONE, HeadTooLarge, ResponseFramer
from foundry.gorouter.http11 import HTTPError, parse_chunk_size, parse_request_head
from tests.fuzz.fuzzlib import corpus, header_lines, request_heads, response_heads, timed

REQUEST_STATUSES = {400, 431, 501, 505}


def parse_or_error(data: bytes, limit: int = http11.MAX_HEADER_BYTES):
    try:
        return timed(parse_request_head, data, limit)
    except HTTPError as e:
        assert e.status in REQUEST_STATUSES, e
        return e


def canonical(head: http11.RequestHead) -> bytes:
    return http11.serialize_head(f"{head.method} {head.target} {head.version}", head.headers)


@given(st.one_of(request_heads(), st.binary(max_size=300)))
@example(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 01\r\n\r\n")
@example(b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n")
def test_request_head_is_parsed_or_refused_with_a_status(data: bytes) -> None:
    parse_or_error(data)


@given(request_heads())
def test_accepted_request_head_reserialises_identically(data: bytes) -> None:
    head = parse_or_error(data)
    if isinstance(head, HTTPError):
        return
    again = parse_request_head(canonical(head))
    assert canonical(again) == canonical(head)
    for attr in ("method", "target", "version", "host", "headers", "content_length",
                 "chunked", "keep_alive", "connection_tokens"):
        assert getattr(again, attr) == getattr(head, attr), attr


def outcome(parse, data: bytes):
    """What a parser makes of `data`: the head's fields, or the error's status."""
    try:
        head = parse(data)
    except HTTPError as e:
        return e.status
    return (head.method, head.target, head.version, head.host, head.headers, head.index,
            head.content_length, head.chunked, head.keep_alive, head.connection_tokens)


@given(st.one_of(request_heads(), st.binary(max_size=300)))
@example(b"GET / HTTP/1.0\r\n\r\n")
@example(b"GET / HTTP/1.1\r\n\r\n")
@example(b"GET / HTTP/1.1\r\nHost: a\r\n\n\r\n")
@example(b"GET / HTTP/1.1\rHost: a\r\n\r\n")
@example(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n")
@example(b"GET / HTTP/1.1\r\n\r\n\r\n")
def test_whole_head_and_stepwise_parsers_agree(data: bytes) -> None:
    """The one-regex request line and field check (parse_request_head) take only what
    the step-by-step parser takes, with the same result; it names every error."""
    assert outcome(parse_request_head, data) == outcome(http11._parse_request_stepwise, data)


@given(st.lists(st.one_of(header_lines(), st.binary(max_size=20)), min_size=1, max_size=6))
def test_fast_and_line_by_line_header_paths_agree(lines: list[bytes]) -> None:
    block = b"\r\n".join(lines)
    if b"\r" in block.replace(b"\r\n", b"") or b"\n" in block.replace(b"\r\n", b""):
        return  # bare CR/LF never reach the field parser (_split refuses them)
    if not block:
        return  # no header lines: the fast path is not entered
    head = http11.RequestHead()
    try:
        http11._parse_fields(block, head)
        fast = head.headers
    except HTTPError:
        fast = None
    try:
        slow = http11._fields_by_line(block.split(b"\r\n"))
    except HTTPError:
        slow = None
    assert fast == slow


@given(st.one_of(response_heads(), st.binary(max_size=200)))
def test_response_head_is_parsed_or_refused(data: bytes) -> None:
    try:
        head = timed(http11.parse_response_head, data)
    except HTTPError:
        return
    assert 0 <= head.status <= 999 and head.content_length >= -1


@given(st.one_of(st.binary(max_size=40),
                 st.from_regex(rb"\A[0-9a-fA-F]{1,20}( ?;[a-z=]*)?\r\n\Z")))
def test_chunk_size_line(line: bytes) -> None:
    try:
        size = timed(parse_chunk_size, line)
    except HTTPError as e:
        assert e.status == 400
        return
    assert 0 <= size < 16 ** 16


@st.composite
def response_streams(draw: st.DrawFn) -> bytes:
    head = draw(response_heads())
    body = draw(st.binary(max_size=64))
    return (draw(st.sampled_from([b"", b"HTTP/1.1 100 Continue\r\n\r\n"])) + head + body)


@given(response_streams(), st.lists(st.integers(0, 400), max_size=6),
       st.sampled_from(["GET", "HEAD", "POST"]))
def test_framing_does_not_depend_on_how_bytes_arrive(stream: bytes, cuts: list[int],
                                                      method: str) -> None:
    def frame(pieces: list[bytes]):
        f = ResponseFramer(method, limit=1024)
        try:
            for piece in pieces:
                out = timed(f.feed, piece)
                if out is not None:
                    kind, head, body, rest = out
                    # everything not yet consumed is `rest` plus what was never fed
                    return kind, head.status, head.headers, body
            return None
        except (HTTPError, HeadTooLarge) as e:
            return type(e).__name__

    whole = frame([stream])
    points = sorted({c for c in cuts if c <= len(stream)})
    pieces = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    split = frame([p for p in pieces if p])
    if whole is not None and not isinstance(whole, str) and whole[0] == DONE:
        assert split == whole
    elif isinstance(whole, str):
        # an error is found whichever way the bytes arrive (or the head is still incomplete)
        assert split == whole or split is None


def test_long_blank_run_in_a_bad_block_is_linear() -> None:
    """Regression (found by fuzzing): with the fast path refused, the per-line regex
    `(.*?)[ \\t]*` backtracked quadratically; a 1 MB head blocked the router for hours."""
    data = (b"GET / HTTP/1.1\r\nHost: a\r\nX: a" + b" " * 1_000_000 + b"b\r\n"
            b"Y: \x01\r\n\r\n")
    err = parse_or_error(data, 2 * 1024 * 1024)
    assert isinstance(err, HTTPError) and err.status == 400


@pytest.mark.parametrize("data", corpus("http_request"))
def test_request_corpus(data: bytes) -> None:
    parse_or_error(data)
