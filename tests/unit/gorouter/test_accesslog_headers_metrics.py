"""Access-log format, header rewriting and metrics rendering."""

from __future__ import annotations

from foundry.gorouter.accesslog import AccessLogRecord, AccessLogWriter, format_timestamp
from foundry.gorouter.headers import (
    backend_request_head,
    client_response_head,
    request_context,
)
from foundry.gorouter.http11 import parse_request_head, parse_response_head
from foundry.gorouter.metrics import Metrics
from foundry.gorouter.pool import Endpoint


def test_access_log_line_in_gorouter_format() -> None:
    rec = AccessLogRecord(
        host="dora.example.com", received_at=1736936463.125, method="GET",
        request_uri="/health?x=1", status=200, bytes_received=0, bytes_sent=13,
        user_agent="curl/8.5.0", remote_addr="10.0.0.5:53412", backend_addr="10.0.16.4:61012",
        x_forwarded_for="203.0.113.7, 10.0.0.5", x_forwarded_proto="https",
        vcap_request_id="6b1d2f0e", finished_at=1736936463.125 + 0.004512, backend_time=0.004191,
        app_id="4f1c", app_index="0", instance_id="a1b2")
    line = rec.format()
    assert line == (
        'dora.example.com - [2025-01-15T10:21:03.125000000Z] '
        '"GET /health?x=1 HTTP/1.1" 200 0 13 "-" "curl/8.5.0" "10.0.0.5:53412" '
        '"10.0.16.4:61012" x_forwarded_for:"203.0.113.7, 10.0.0.5" x_forwarded_proto:"https" '
        'vcap_request_id:"6b1d2f0e" response_time:0.004512 gorouter_time:0.000321 '
        'app_id:"4f1c" app_index:"0" instance_id:"a1b2" x_cf_routererror:"-"')


def test_access_log_missing_status_and_escaping() -> None:
    line = AccessLogRecord(host="h", user_agent='a"b', router_error="unknown_route").format()
    assert '"-" 0 0 "-" "a\\"b"' in line and line.endswith('x_cf_routererror:"unknown_route"')


def test_timestamp_format() -> None:
    assert format_timestamp(0.5) == "1970-01-01T00:00:00.500000000Z"


def test_access_log_writer(tmp_path) -> None:
    w = AccessLogWriter(str(tmp_path / "sub" / "access.log"), stdout=False)
    w.write("line one")
    w.close()
    assert (tmp_path / "sub" / "access.log").read_text() == "line one\n"


def test_access_log_writers_share_a_file_in_whole_lines(tmp_path) -> None:
    """The router's processes each batch lines and append them whole."""
    path = str(tmp_path / "access.log")
    a, b = AccessLogWriter(path, stdout=False), AccessLogWriter(path, stdout=False)
    a.write("a1")
    b.write("b1")
    a.write("a2")
    assert (tmp_path / "access.log").read_text() == ""  # no write per request
    b.flush()
    a.flush()
    assert (tmp_path / "access.log").read_text() == "b1\na1\na2\n"
    big = "x" * 1000
    for _ in range(AccessLogWriter.BATCH // 1000 + 1):  # a full batch goes out by itself
        a.write(big)
    lines = (tmp_path / "access.log").read_text().splitlines()
    assert len(lines) > 3 and set(lines[3:]) == {big}
    a.close()
    b.close()


def head(*lines: str):
    return parse_request_head(("\r\n".join(lines) + "\r\n\r\n").encode())


EP = Endpoint("10.0.0.1", 61001, app_id="app", private_instance_id="inst",
              private_instance_index="2")


def test_request_headers_to_the_app() -> None:
    req = head("GET /p HTTP/1.1", "Host: h", "X-Forwarded-For: 1.1.1.1",
               "X-Vcap-Request-Id: spoofed", "X-CF-InstanceID: spoofed",
               "X-CF-APP-INSTANCE: a:1", "Connection: keep-alive, X-Secret, X-Forwarded-For",
               "X-Secret: s", "Keep-Alive: 5")
    ctx = request_context(req, "10.0.0.9", "http", 1700000000.5)
    out = parse_request_head(backend_request_head(req, ctx, EP))
    h = {k.lower(): v for k, v in out.headers}
    assert h["x-forwarded-for"] == "1.1.1.1, 10.0.0.9"
    assert h["x-forwarded-proto"] == "http"
    assert h["x-request-start"] == "1700000000500"
    assert h["x-vcap-request-id"] == ctx.request_id != "spoofed"
    assert (h["x-cf-applicationid"], h["x-cf-instanceindex"], h["x-cf-instanceid"]) == (
        "app", "2", "inst")
    assert "x-cf-app-instance" not in h and "x-secret" not in h and "keep-alive" not in h
    assert "connection" not in h
    assert len(h["x-b3-traceid"]) == 32 and h["b3"] == f"{h['x-b3-traceid']}-{h['x-b3-spanid']}"
    assert ctx.request_id.replace("-", "") == h["x-b3-traceid"]
    assert len(out.get_all("x-vcap-request-id")) == 1


def test_client_values_kept_and_b3_propagated() -> None:
    req = head("GET / HTTP/1.1", "Host: h", "X-Forwarded-Proto: https", "X-Request-Start: 1",
               "X-B3-TraceId: 463ac35c9f6413ad48485a3953bb6124", "X-B3-SpanId: a2fb4a1d1a96d312")
    ctx = request_context(req, "10.0.0.9", "http", 0)
    out = parse_request_head(backend_request_head(req, ctx, Endpoint("h", 1)))
    assert out.get("x-forwarded-proto") == "https" and out.get("x-request-start") == "1"
    assert out.get("b3") == "463ac35c9f6413ad48485a3953bb6124-a2fb4a1d1a96d312"
    assert out.get("x-cf-instanceid") == "h:1"  # host:port without an instance id
    assert ctx.request_id == "463ac35c-9f64-13ad-4848-5a3953bb6124"


def test_response_head_rewrite() -> None:
    resp = parse_response_head(b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n"
                               b"Keep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n")
    out = client_response_head(resp, "rid", close=True, extra_cookie="__VCAP_ID__=g; Path=/")
    assert out == (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Vcap-Request-Id: rid\r\n"
                   b"Set-Cookie: __VCAP_ID__=g; Path=/\r\nConnection: close\r\n\r\n")


def test_metrics_render() -> None:
    m = Metrics()
    m.inc("backend_invalid_id")
    m.registry_message("register", "route-emitter")
    m.observe_latency(0.003)
    m.gauge("total_routes", lambda: 7)
    text = m.render()
    assert "backend_invalid_id 1\n" in text
    assert 'registry_message{action="register",component="route-emitter"} 1' in text
    assert "total_routes 7\n" in text
    assert 'latency_bucket{le="0.002"} 0' in text and 'latency_bucket{le="0.004"} 1' in text
    assert "latency_count 1" in text and "# TYPE latency histogram" in text
