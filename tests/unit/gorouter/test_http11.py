"""The sans-IO HTTP/1.1 parser rejects what smugglers and broken clients send."""

from __future__ import annotations

import pytest

from foundry.gorouter.http11 import (
    HTTPError,
    error_response,
    parse_chunk_size,
    parse_request_head,
    parse_response_head,
    response_has_body,
    status_line,
)


def req(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def test_parses_a_normal_request() -> None:
    r = parse_request_head(req("POST /a?b=1 HTTP/1.1", "Host: x.example.com",
                               "Content-Length: 5", "Connection: keep-alive, X-Foo"))
    assert (r.method, r.target, r.host, r.content_length) == ("POST", "/a?b=1",
                                                              "x.example.com", 5)
    assert r.keep_alive and r.connection_tokens == {"keep-alive", "x-foo"}


def test_absolute_form_target() -> None:
    r = parse_request_head(req("GET http://h.example.com/p HTTP/1.1", "Host: h.example.com"))
    assert r.path == "/p"


def test_http10_keepalive_rules() -> None:
    assert not parse_request_head(req("GET / HTTP/1.0")).keep_alive
    assert parse_request_head(req("GET / HTTP/1.0", "Connection: keep-alive")).keep_alive
    assert not parse_request_head(req("GET / HTTP/1.1", "Host: h", "Connection: close")).keep_alive


def test_websocket_upgrade_detected() -> None:
    r = parse_request_head(req("GET / HTTP/1.1", "Host: h", "Upgrade: websocket",
                               "Connection: Upgrade"))
    assert r.upgrade


@pytest.mark.parametrize("data,status", [
    (req("GARBAGE"), 400),
    (req("GET /  HTTP/1.1", "Host: h"), 400),
    (req("GET / HTTP/2.0", "Host: h"), 400),
    (req("GET / FOO/1.1", "Host: h"), 400),
    (req("G(T / HTTP/1.1", "Host: h"), 400),
    (req("GET / HTTP/1.1"), 400),  # no Host
    (req("GET / HTTP/1.1", "Host: a", "Host: b"), 400),
    (req("GET / HTTP/1.1", "Host: h", "X: a\rb"), 400),  # bare CR
    (b"GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", 400),  # bare LF
    (req("GET / HTTP/1.1", "Host: h", "X : y"), 400),  # space before colon
    (req("GET / HTTP/1.1", "Host: h", " folded"), 400),  # obs-fold
    (req("GET / HTTP/1.1", "Host: h", "X: a\x00b"), 400),
    (req("GET / HTTP/1.1", "Host: h", "Content-Length: 1", "Content-Length: 2"), 400),
    (req("GET / HTTP/1.1", "Host: h", "Content-Length: -1"), 400),
    (req("GET / HTTP/1.1", "Host: h", "Content-Length: 1",
         "Transfer-Encoding: chunked"), 400),
    (req("GET / HTTP/1.1", "Host: h", "Transfer-Encoding: gzip, chunked"), 501),
    (req("GET / HTTP/1.1", "Host: h", "X: " + "a" * 2000), 431),
    (b"GET / HTTP/1.1\r\nHost: h\r\n", 400),
])
def test_bad_input(data: bytes, status: int) -> None:
    with pytest.raises(HTTPError) as e:
        parse_request_head(data, max_header_bytes=1024)
    assert e.value.status == status


def test_duplicate_identical_content_length_is_fine() -> None:
    r = parse_request_head(req("GET / HTTP/1.1", "Host: h", "Content-Length: 3",
                               "Content-Length: 3"))
    assert r.content_length == 3


def test_response_head() -> None:
    r = parse_response_head(req("HTTP/1.1 200 OK", "Transfer-Encoding: chunked",
                                "Set-Cookie: a=1", "Set-Cookie: b=2"))
    assert r.status == 200 and r.chunked and r.get_all("set-cookie") == ["a=1", "b=2"]
    with pytest.raises(HTTPError):
        parse_response_head(req("HTTP/1.1 2000 OK"))
    assert not response_has_body("HEAD", 200) and not response_has_body("GET", 304)


def test_chunk_size() -> None:
    assert parse_chunk_size(b"1a;ext=1\r\n") == 26
    for bad in (b"zz\r\n", b"1a", b"\r\n", b"1" * 20 + b"\r\n"):
        with pytest.raises(HTTPError):
            parse_chunk_size(bad)


def test_error_response_shape() -> None:
    out = error_response(404, "404 Not Found: x", router_error="unknown_route")
    assert out.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert b"X-Cf-Routererror: unknown_route\r\n" in out
    assert b"X-Content-Type-Options: nosniff\r\n" in out
    assert out.endswith(b"\r\n\r\n404 Not Found: x\n")


def test_status_line_is_gos_whatever_the_backend_said() -> None:
    # Go's server writes its own reason phrase (issue 13 B7): an app's
    # "501 Unsupported method ('HEAD')" reaches the client as "501 Not Implemented".
    assert status_line(501) == "HTTP/1.1 501 Not Implemented"
    assert status_line(200) == "HTTP/1.1 200 OK"
    assert status_line(413) == "HTTP/1.1 413 Request Entity Too Large"
    # codes Go has no text for, gorouter's own among them
    assert status_line(526) == "HTTP/1.1 526 status code 526"
    assert status_line(499) == "HTTP/1.1 499 status code 499"
    assert status_line(299) == "HTTP/1.1 299 status code 299"
    assert error_response(525, "525 SSL Handshake Failed").startswith(
        b"HTTP/1.1 525 status code 525\r\n")
