"""Shared pieces of the fuzz targets: the saved corpus, the no-hang clock, strategies."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

CORPUS = Path(__file__).parent / "corpus"
# One parse of a fuzz-sized input taking this long is a hang (they take microseconds;
# generous because the machine is shared).
HANG_SECONDS = 2.0


def share(fraction: float) -> settings:
    """A slower target's settings: `fraction` of the profile's examples (at least 20)."""
    return settings(max_examples=max(20, int(settings.default.max_examples * fraction)))


def corpus(target: str) -> list[Any]:
    """pytest params for every saved input of `target` (corpus/<target>/<case>)."""
    import pytest

    folder = CORPUS / target
    return [pytest.param(p.read_bytes(), id=p.name) for p in sorted(folder.iterdir())
            if p.is_file()]


def timed(fn: Callable[..., Any], *args: Any, limit: float = HANG_SECONDS, **kw: Any) -> Any:
    """fn(*args); fails when the call takes longer than `limit` (the no-hang property).
    Exceptions pass through for the caller to classify."""
    start = time.perf_counter()
    try:
        return fn(*args, **kw)
    finally:
        took = time.perf_counter() - start
        assert took < limit, f"{getattr(fn, '__name__', fn)} took {took:.2f}s"


# -- HTTP/1.1 heads ---------------------------------------------------------------
TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
tokens = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=12)
# The bytes that matter to a head parser, and ordinary ones.
nasty = st.sampled_from([b"\r", b"\n", b"\r\n", b" ", b"\t", b"\x00", b"\x01", b"\x7f", b"\xff",
                         b":", b",", b";", b"chunked", b"-1", b"0x10", b"+5", b"\r\n ",
                         b"\r\n\r\n", b"1" * 20, b" " * 64])
field_values = st.lists(st.one_of(st.binary(max_size=8), nasty,
                                  st.text(TOKEN_CHARS + " ", max_size=10).map(str.encode)),
                        max_size=5).map(b"".join)
interesting_names = st.sampled_from([
    "Host", "host", "Content-Length", "content-length", "Transfer-Encoding", "Connection",
    "Upgrade", "Expect", "Cookie", "X-Forwarded-For", "X-Cf-App-Instance", "Te"])
header_names = st.one_of(interesting_names, tokens).map(str.encode)


@st.composite
def header_lines(draw: st.DrawFn) -> bytes:
    name = draw(header_names)
    sep = draw(st.sampled_from([b": ", b":", b" : ", b":\t", b": "]))
    return name + sep + draw(field_values)


@st.composite
def request_heads(draw: st.DrawFn) -> bytes:
    """Mostly well-formed request heads with a mutation or two; the parser's edge cases
    sit close to the grammar, where purely random bytes rarely go."""
    method = draw(st.one_of(st.sampled_from([b"GET", b"POST", b"HEAD", b"PUT", b"CONNECT"]),
                            tokens.map(str.encode), st.binary(max_size=6)))
    target = draw(st.one_of(st.sampled_from([b"/", b"/a?b=c", b"*", b"http://h.example/x",
                                             b"h.example:443", b"/%00"]),
                            st.binary(max_size=12)))
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.10",
                                    b"http/1.1", b"HTTP/1.1 ", b""]))
    start = draw(st.sampled_from([b" ", b"  ", b"\t"])).join([method, target, version])
    lines = [b"Host: app.example.com"] if draw(st.booleans()) else []
    lines += draw(st.lists(header_lines(), max_size=6))
    eol = draw(st.sampled_from([b"\r\n"] * 6 + [b"\n", b"\r", b"\r\r\n"]))
    head = eol.join([start, *lines]) + b"\r\n\r\n"
    if draw(st.booleans()):  # a random splice anywhere
        at = draw(st.integers(0, len(head)))
        head = head[:at] + draw(st.one_of(nasty, st.binary(max_size=4))) + head[at:]
    return head


@st.composite
def response_heads(draw: st.DrawFn) -> bytes:
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2", b"HTTP/1.1x"]))
    code = draw(st.one_of(st.sampled_from([b"200", b"100", b"101", b"103", b"204", b"304",
                                           b"502"]), st.binary(max_size=4)))
    reason = draw(st.sampled_from([b"OK", b"", b"Weird Reason", b"\x00"]))
    lines = draw(st.lists(header_lines(), max_size=5))
    return b"\r\n".join([version + b" " + code + b" " + reason, *lines]) + b"\r\n\r\n"
