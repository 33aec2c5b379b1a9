"""Sans-IO HTTP/1.1 message heads: strict parsing of requests and backend responses.

The proxy reads a head up to the blank line (bounded by max_header_bytes) and
hands the bytes here. Anything a request smuggler could exploit is rejected:
bare CR/LF, obs-fold, whitespace before the colon, control characters in
values, conflicting Content-Length, Content-Length together with
Transfer-Encoding, and transfer codings other than chunked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_HEADER_BYTES = 1024 * 1024  # gorouter's router.max_header_kb default (1 MiB)

_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_TARGET = re.compile(rb"^[\x21-\x7e\x80-\xff]+$")
_VERSION = re.compile(rb"^HTTP/(\d)\.(\d)$")
_HEX = re.compile(rb"^[0-9A-Fa-f]{1,16}$")


class HTTPError(Exception):
    """A malformed message; `status` is what the router answers (400, 431, 501, 505)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


@dataclass(slots=True)
class Head:
    """Fields common to request and response heads. Header names keep their case."""

    version: str = "HTTP/1.1"
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_length: int = -1
    chunked: bool = False
    keep_alive: bool = True
    connection_tokens: frozenset[str] = frozenset()
    # lower-cased name → values, filled by the parser (headers are never edited after)
    index: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        values = self.index.get(name.lower())
        return values[0] if values else None

    def get_all(self, name: str) -> list[str]:
        return self.index.get(name.lower(), [])


@dataclass(slots=True)
class RequestHead(Head):
    method: str = "GET"
    target: str = "/"
    host: str = ""

    @property
    def upgrade(self) -> bool:
        return "upgrade" in self.connection_tokens and self.get("upgrade") is not None

    @property
    def path(self) -> str:
        """The path of an origin-form or absolute-form target, query included."""
        t = self.target
        if t.startswith("/"):
            return t
        scheme = t.find("://")
        if scheme > 0:
            slash = t.find("/", scheme + 3)
            return t[slash:] if slash >= 0 else "/"
        return t


@dataclass(slots=True)
class ResponseHead(Head):
    status: int = 200
    reason: str = ""
    # what headers.client_response_head relays of it, worked out on first use
    relayed: tuple[str, bool] | None = field(default=None, compare=False, repr=False)


def _split(data: bytes) -> tuple[bytes, bytes]:
    """(start line, header lines) of a head ending in CRLFCRLF."""
    if not data.endswith(b"\r\n\r\n"):
        raise HTTPError(400, "Bad Request: unterminated header block")
    body = data[:-4]
    # every CR and LF is part of a CRLF line break: no bare CR or LF anywhere
    breaks = body.count(b"\r\n")
    if body.count(b"\r") != breaks or body.count(b"\n") != breaks:
        raise HTTPError(400, "Bad Request: bare CR or LF in header block")
    start, _, block = body.partition(b"\r\n")
    return start, block


# name ":" rest; the value's surrounding blanks are stripped in Python: a lazy `(.*?)[ \t]*`
# backtracks quadratically on a long run of blanks inside a value (a 16 kB line took 3 s).
_FIELD = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):(.*)")
_CTL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


_FIELDS_TEXT = re.compile(r"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n]*\r\n)*")
_CTL_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _parse_fields(block: bytes, head: Head) -> dict[str, list[str]]:
    """Header lines into head.headers and head.index. A well-formed block is taken in
    two regex passes and a split; anything else goes line by line to name the error."""
    if block:
        text = block.decode("latin-1") + "\r\n"
        if _CTL_TEXT.search(text) is None and _FIELDS_TEXT.fullmatch(text):
            pairs = _pairs(text)
        else:
            pairs = _fields_by_line(block.split(b"\r\n"))
        return _index_fields(pairs, head)
    return _connection_tokens(head, head.index)


def _pairs(text: str) -> list[tuple[str, str]]:
    """(name, value) from field lines that _FIELDS_TEXT matched, each ending CRLF."""
    pairs: list[tuple[str, str]] = []
    for line in text[:-2].split("\r\n"):  # each line is token ":" value
        name, _, value = line.partition(":")
        pairs.append((name, value.strip(" \t")))
    return pairs


def _index_fields(pairs: list[tuple[str, str]], head: Head) -> dict[str, list[str]]:
    head.headers = pairs
    seen = head.index
    for n, v in pairs:
        ln = n.lower()
        values = seen.get(ln)
        if values is None:
            seen[ln] = [v]
        else:
            values.append(v)
    return _connection_tokens(head, seen)


def _connection_tokens(head: Head, seen: dict[str, list[str]]) -> dict[str, list[str]]:
    conn = seen.get("connection")
    if conn and len(conn) == 1 and "," not in conn[0]:
        token = conn[0].strip().lower()
        head.connection_tokens = frozenset((token,)) if token else frozenset()
    elif conn:
        head.connection_tokens = frozenset(
            t.strip().lower() for v in conn for t in v.split(",") if t.strip())
    return seen


def _fields_by_line(lines: list[bytes]) -> list[tuple[str, str]]:
    pairs = []
    for line in lines:
        m = _FIELD.fullmatch(line)
        if m is None:
            if not line:
                raise HTTPError(400, "Bad Request: empty header line")
            if line[0] in b" \t":
                raise HTTPError(400, "Bad Request: obsolete line folding")
            raise HTTPError(400, f"Bad Request: malformed MIME header line {line[:64]!r}")
        name, value = m.group(1), m.group(2).strip(b" \t")
        if _CTL.search(value):
            raise HTTPError(400, f"Bad Request: invalid header value for {name.decode()}")
        pairs.append((name.decode("ascii"), value.decode("latin-1")))
    return pairs


def _framing(head: Head, seen: dict[str, list[str]]) -> None:
    te = seen.get("transfer-encoding")
    cl = seen.get("content-length")
    if te is not None:
        codings = [t.strip().lower() for v in te for t in v.split(",") if t.strip()]
        if codings != ["chunked"]:
            raise HTTPError(501, f"Not Implemented: unsupported transfer encoding {','.join(te)!r}")
        if cl is not None:
            raise HTTPError(400, "Bad Request: both Transfer-Encoding and Content-Length")
        head.chunked = True
    if cl is not None:
        values = {cl[0].strip()} if len(cl) == 1 else {v.strip() for v in cl}
        if len(values) != 1:
            raise HTTPError(400, "Bad Request: conflicting Content-Length headers")
        value = values.pop()
        if not value.isdigit() or not value.isascii() or len(value) > 18:
            raise HTTPError(400, f"Bad Request: bad Content-Length {value[:32]!r}")
        head.content_length = int(value)


# The common request line, whole: a token method, a target without blanks or controls,
# HTTP/1.x. Anything else (and every error message) is the line-by-line parser's.
_REQUEST_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e\x80-\xff]+) HTTP/1\.(\d)")
_VERSIONS = {b"0": "HTTP/1.0", b"1": "HTTP/1.1"}


def parse_request_head(data: bytes, max_header_bytes: int = MAX_HEADER_BYTES) -> RequestHead:
    """Parse a request head ending in CRLFCRLF; raises HTTPError.

    A well-formed head is taken by three regexes (request line, controls, field lines),
    which between them also refuse every bare CR or LF; a head they do not match is
    parsed again step by step, which names the error (the fuzz tests hold both to the
    same result)."""
    if len(data) > max_header_bytes:
        raise HTTPError(431, "Request Header Fields Too Large")
    eol = data.find(b"\r\n")
    m = _REQUEST_LINE.fullmatch(data, 0, eol) if eol > 0 else None
    if m is not None and data.endswith(b"\r\n\r\n") and eol + 4 <= len(data):
        text = data[eol + 2:-2].decode("latin-1")  # the field lines, each ending CRLF
        if _CTL_TEXT.search(text) is None and _FIELDS_TEXT.fullmatch(text):
            method, target, minor = m.groups()
            version = _VERSIONS.get(minor) or f"HTTP/1.{minor.decode()}"
            head = RequestHead(method=method.decode("ascii"), target=target.decode("latin-1"),
                               version=version)
            if text:
                _index_fields(_pairs(text), head)
            else:
                _connection_tokens(head, head.index)
            return _request_semantics(head, head.index, minor != b"0")
    return _parse_request_stepwise(data)


def _parse_request_stepwise(data: bytes) -> RequestHead:
    start, block = _split(data)
    parts = start.split(b" ")
    if len(parts) != 3:
        raise HTTPError(400, "Bad Request: malformed request line")
    method, target, version = parts
    if not _TOKEN.match(method):
        raise HTTPError(400, "Bad Request: invalid method")
    if not _TARGET.match(target):
        raise HTTPError(400, "Bad Request: invalid request target")
    m = _VERSION.match(version)
    if m is None:
        raise HTTPError(400, "Bad Request: malformed HTTP version")
    if m.group(1) != b"1":
        raise HTTPError(400, "Bad Request: unsupported protocol version")
    head = RequestHead(method=method.decode("ascii"), target=target.decode("latin-1"),
                       version=version.decode("ascii"))
    return _request_semantics(head, _parse_fields(block, head), m.group(2) != b"0")


def _request_semantics(head: RequestHead, seen: dict[str, list[str]],
                       http11: bool) -> RequestHead:
    """Host, framing and keep-alive from the parsed fields."""
    hosts = seen.get("host")
    if hosts is None:
        if http11:
            raise HTTPError(400, "Bad Request: missing required Host header")
    elif len(hosts) > 1:
        raise HTTPError(400, "Bad Request: too many Host headers")
    else:
        head.host = hosts[0]
    if not head.host and "://" in head.target:
        rest = head.target.split("://", 1)[1]
        head.host = rest.split("/", 1)[0]
    if "transfer-encoding" in seen or "content-length" in seen:
        _framing(head, seen)
    if head.chunked and not http11:
        head.chunked = False
    tokens = head.connection_tokens
    head.keep_alive = ("close" not in tokens) if http11 else ("keep-alive" in tokens)
    return head


def parse_response_head(data: bytes) -> ResponseHead:
    """Parse a backend's response head; raises HTTPError (the proxy turns that into a 502)."""
    start, block = _split(data)
    version, _, rest = start.partition(b" ")
    m = _VERSION.match(version)
    if m is None or m.group(1) != b"1":
        raise HTTPError(502, "malformed HTTP response")
    code, _, reason = rest.partition(b" ")
    if len(code) != 3 or not code.isdigit():
        raise HTTPError(502, f"malformed HTTP status code {code[:16]!r}")
    head = ResponseHead(status=int(code), reason=reason.decode("latin-1"),
                        version=version.decode("ascii"))
    seen = _parse_fields(block, head)
    _framing(head, seen)
    tokens = head.connection_tokens
    head.keep_alive = ("close" not in tokens) if m.group(2) != b"0" else ("keep-alive" in tokens)
    return head


def response_has_body(method: str, status: int) -> bool:
    return not (method == "HEAD" or 100 <= status < 200 or status in (204, 304))


def is_interim(status: int) -> bool:
    """A 1xx head the proxy skips to wait for the final one (100 Continue, 103 Early
    Hints); 101 Switching Protocols is final (Go's transport: the same rule)."""
    return 100 <= status < 200 and status != 101


def parse_chunk_size(line: bytes) -> int:
    """The size from a chunk-size line (extensions ignored); raises HTTPError."""
    if not line.endswith(b"\r\n"):
        raise HTTPError(400, "Bad Request: malformed chunk size line")
    size = line[:-2].split(b";", 1)[0].strip(b" \t")
    if not _HEX.match(size):
        raise HTTPError(400, "Bad Request: malformed chunk size")
    return int(size, 16)


def serialize_head(start_line: str, headers: list[tuple[str, str]]) -> bytes:
    parts = [start_line]
    parts.extend(f"{k}: {v}" for k, v in headers)
    parts.append("\r\n")
    return "\r\n".join(parts).encode("latin-1")


def status_line(status: int) -> str:
    """The status line Go's server writes: its own reason phrase, whatever the backend sent
    (`net/http` writeStatusLine; a code Go has no text for reads "status code N")."""
    line = STATUS_LINES.get(status)
    return line if line is not None else f"HTTP/1.1 {status:03d} status code {status}"


def error_response(status: int, body: str, *, router_error: str = "",
                   extra: list[tuple[str, str]] | None = None, close: bool = False) -> bytes:
    """A gorouter error reply: `<body>\\n` as text/plain with nosniff (Go's http.Error)."""
    payload = (body + "\n").encode() if body else b""
    headers = [("Content-Type", "text/plain; charset=utf-8"),
               ("X-Content-Type-Options", "nosniff")]
    if router_error:
        headers.append(("X-Cf-Routererror", router_error))
    if extra:
        headers.extend(extra)
    headers.append(("Content-Length", str(len(payload))))
    if close:
        headers.append(("Connection", "close"))
    return serialize_head(status_line(status), headers) + payload


# Go's http.StatusText (net/http/status.go): the only reason phrases its server writes.
# gorouter's own 496, 499, 525 and 526 are not in it.
STATUS_TEXT = {
    100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
    200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
    204: "No Content", 205: "Reset Content", 206: "Partial Content", 207: "Multi-Status",
    208: "Already Reported", 226: "IM Used",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
    304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict",
    410: "Gone", 411: "Length Required", 412: "Precondition Failed",
    413: "Request Entity Too Large", 414: "Request URI Too Long",
    415: "Unsupported Media Type", 416: "Requested Range Not Satisfiable",
    417: "Expectation Failed", 418: "I'm a teapot", 421: "Misdirected Request",
    422: "Unprocessable Entity", 423: "Locked", 424: "Failed Dependency", 425: "Too Early",
    426: "Upgrade Required", 428: "Precondition Required", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates", 507: "Insufficient Storage", 508: "Loop Detected",
    510: "Not Extended", 511: "Network Authentication Required",
}
STATUS_LINES = {code: f"HTTP/1.1 {code} {text}" for code, text in STATUS_TEXT.items()}
