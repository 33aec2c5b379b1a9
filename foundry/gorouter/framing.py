"""Sans-IO message framing for the proxy's callback path.

The common exchange (a bodiless request; a response whose body is small and
length-delimited) is framed here from the bytes the protocols receive, with no
StreamReader, task or future per request. Anything else (chunked, streamed or
until-close bodies, upgrades) is reported as `STREAM` so the caller hands the
rest of the exchange to the stream-based path.
"""

from __future__ import annotations

from foundry.gorouter.http11 import (
    ResponseHead,
    is_interim,
    parse_response_head,
    response_has_body,
)
from foundry.gorouter.memo import Memo

SMALL_BODY = 256 * 1024  # bodies up to this size are relayed with the head in one write
BACKEND_HEAD_LIMIT = 64 * 1024  # what asyncio's open_connection reader allows for a head


# parse_response_head, reusing the parse of a head seen byte for byte before. An app
# answers most requests with the same head (its Date changes once a second), so parsing
# is paid once per distinct head. Heads are never changed after parsing (what is worked
# out from one later, like headers.client_response_head's relayed part, is kept on it
# and depends on the head alone), so sharing one is safe.
parse_response_memo: Memo[bytes, ResponseHead] = Memo(parse_response_head, 256)


class HeadTooLarge(Exception):
    """No complete head within the limit."""


def split_head(buf: bytes, limit: int) -> int:
    """The length of the head (through CRLFCRLF) at the start of `buf`, or 0 if it is
    still incomplete; raises HeadTooLarge once the head cannot fit in `limit` bytes."""
    i = buf.find(b"\r\n\r\n")
    if i < 0:
        if len(buf) > limit:
            raise HeadTooLarge()
        return 0
    if i + 4 > limit:
        raise HeadTooLarge()
    return i + 4


def small_body(method: str, resp: ResponseHead) -> int:
    """How many body bytes to relay with the head in one write, or -1 when the response
    must be streamed (an upgrade, a chunked, until-close or large body). Both request
    paths ask this."""
    if resp.status == 101 or resp.chunked:
        return -1
    if not response_has_body(method, resp.status):
        return 0
    n = resp.content_length
    return n if 0 <= n <= SMALL_BODY else -1


DONE, STREAM = 1, 2


class ResponseFramer:
    """One backend response, fed in pieces: skips interim 1xx heads, then returns
    (DONE, head, body, rest) for a small response or (STREAM, head, b"", rest) for
    any other; None while more bytes are needed. Raises HTTPError or HeadTooLarge."""

    __slots__ = ("method", "limit", "buf", "resp", "need")

    def __init__(self, method: str, limit: int = BACKEND_HEAD_LIMIT) -> None:
        self.method = method
        self.limit = limit
        self.buf = b""
        self.resp: ResponseHead | None = None
        self.need = 0

    @property
    def head_done(self) -> bool:
        return self.resp is not None

    def feed(self, data: bytes) -> tuple[int, ResponseHead, bytes, bytes] | None:
        buf = self.buf + data if self.buf else data
        resp = self.resp
        while resp is None:
            n = split_head(buf, self.limit)
            if not n:
                self.buf = buf
                return None
            head = parse_response_memo(buf[:n])
            buf = buf[n:]
            if is_interim(head.status):
                continue
            need = small_body(self.method, head)
            if need < 0:
                self.buf = b""
                return STREAM, head, b"", buf
            resp = self.resp = head
            self.need = need
        need = self.need
        if len(buf) < need:
            self.buf = buf
            return None
        self.buf = b""
        return DONE, resp, buf[:need], buf[need:]
