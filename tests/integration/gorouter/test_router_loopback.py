"""The router end to end on loopback: real nats-server, real TLS backends."""

from __future__ import annotations

import json
import socket

from gorouter_harness import Harness, Pki, wait_until


def body(raw: bytes) -> dict:
    return json.loads(raw)


def test_plain_routing_headers_and_access_log(harness: Harness) -> None:
    harness.start_router()
    b = harness.backend("plain-1")
    harness.register("app.example.com", b, guid="inst-1", app="app-1",
                     private_instance_index="3")
    harness.wait_registered("app.example.com", b)

    status, headers, raw = harness.get("App.Example.com:80", "/x?y=1",
                                       headers={"X-Forwarded-For": "203.0.113.7"})
    assert status == 200
    got = body(raw)
    assert got["instance"] == "plain-1"
    h = got["headers"]
    assert h["x-cf-applicationid"] == "app-1"
    assert h["x-cf-instanceindex"] == "3"
    assert h["x-cf-instanceid"] == "inst-1"
    assert h["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
    assert h["x-forwarded-proto"] == "http"
    assert h["x-request-start"].isdigit()
    assert len(h["x-b3-traceid"]) == 32 and "b3" in h
    assert headers["x-vcap-request-id"] == h["x-vcap-request-id"]

    log_path = harness.router.cfg.access_log_file
    line = wait_until(lambda: open(log_path).read().strip(), what="access log line")
    assert line.startswith('App.Example.com:80 - [')
    assert '"GET /x?y=1 HTTP/1.1" 200 ' in line
    assert 'app_id:"app-1" app_index:"3" instance_id:"inst-1" x_cf_routererror:"-"' in line


def test_unknown_route_and_empty_host(harness: Harness) -> None:
    harness.start_router()
    status, headers, raw = harness.get("nope.example.com")
    assert status == 404
    assert headers["x-cf-routererror"] == "unknown_route"
    assert raw == b"404 Not Found: Requested route ('nope.example.com') does not exist.\n"
    status, headers, _ = harness.get("")
    assert status == 400 and headers["x-cf-routererror"] == "empty_host"


def test_tls_routing_with_san_match(harness: Harness, pki: Pki, guid) -> None:
    g = guid()
    harness.start_router(ca_certs=[pki.identity_ca.cert_pem.decode(),
                                   pki.root.cert_pem.decode()])
    b = harness.backend("tls-1", cred=pki.instance(g))
    harness.register("tls.example.com", b, tls=True, guid=g)
    harness.wait_registered("tls.example.com", b)
    status, _, raw = harness.get("tls.example.com")
    assert status == 200 and body(raw)["instance"] == "tls-1"
    route = harness.routes()["tls.example.com"][0]
    assert route["tls"] is True and route["server_cert_domain_san"] == g
    assert route["private_instance_id"] == g and route["ttl"] == 120


def test_san_mismatch_prunes_and_retries_then_503(harness: Harness, pki: Pki, guid) -> None:
    harness.start_router(ca_certs=[pki.root.cert_pem.decode()])
    right, wrong = guid(), guid()
    good = harness.backend("right", cred=pki.instance(right))
    # A port reused by another instance: its cert says `wrong`, the route expects `right2`.
    stale = harness.backend("reused", cred=pki.instance(wrong))
    harness.register("mis.example.com", stale, tls=True, guid="right2")
    harness.register("mis.example.com", good, tls=True, guid=right)
    harness.wait_registered("mis.example.com", good)
    harness.wait_registered("mis.example.com", stale)
    for _ in range(4):
        status, _, raw = harness.get("mis.example.com")
        assert status == 200 and body(raw)["instance"] == "right"
    assert harness.addresses("mis.example.com") == {f"127.0.0.1:{good.port}"}
    assert stale.requests == 0

    harness.register("only-wrong.example.com", stale, tls=True, guid="expected")
    harness.wait_registered("only-wrong.example.com", stale)
    status, headers, raw = harness.get("only-wrong.example.com")
    assert status == 503
    assert headers["x-cf-routererror"].startswith("endpoint_failure (")
    assert raw == b"503 Service Unavailable\n"
    assert harness.router.metrics.counters["backend_invalid_id"] >= 1
    # The endpoint left the pool at once: the next request finds the route empty, which
    # gorouter answers as an unknown route (empty_pool_response_code_503 is off).
    status, headers, _ = harness.get("only-wrong.example.com")
    assert status == 404 and headers["x-cf-routererror"] == "unknown_route"


def test_untrusted_ca_is_526(harness: Harness, pki: Pki, guid) -> None:
    g = guid()
    harness.start_router(ca_certs=[pki.root.cert_pem.decode()])
    b = harness.backend("rogue", cred=pki.instance(g, ca=pki.untrusted_ca))
    harness.register("rogue.example.com", b, tls=True, guid=g)
    harness.wait_registered("rogue.example.com", b)
    status, headers, raw = harness.get("rogue.example.com")
    assert status == 526, raw
    assert "unknown authority" in headers["x-cf-routererror"]
    assert harness.router.metrics.counters["backend_invalid_tls_cert"] == 1


def test_tls_to_plain_backend_is_525(harness: Harness, pki: Pki) -> None:
    harness.start_router(ca_certs=[pki.root.cert_pem.decode()])
    b = harness.backend("plain-behind-tls-port")
    harness.register("p525.example.com", b, tls=True, guid="g")
    harness.wait_registered("p525.example.com", b)
    status, headers, _ = harness.get("p525.example.com")
    assert status == 525, headers


def test_strict_backend_needs_router_client_cert(harness: Harness, pki: Pki, guid) -> None:
    g = guid()
    harness.start_router(ca_certs=[pki.root.cert_pem.decode()])
    b = harness.backend("strict", cred=pki.instance(g), client_ca=pki.router_ca,
                        threaded=True)
    harness.register("strict.example.com", b, tls=True, guid=g)
    harness.wait_registered("strict.example.com", b)
    status, headers, _ = harness.get("strict.example.com")
    assert status == 496, headers
    assert "certificate" in headers["x-cf-routererror"]


def test_strict_backend_with_router_client_cert(harness: Harness, pki: Pki, guid) -> None:
    g = guid()
    harness.start_router(ca_certs=[pki.root.cert_pem.decode()],
                         backends={"cert_chain": pki.router_client.chain_pem.decode(),
                                   "private_key": pki.router_client.key_pem.decode()})
    b = harness.backend("strict", cred=pki.instance(g), client_ca=pki.router_ca,
                        threaded=True)
    harness.register("strict.example.com", b, tls=True, guid=g)
    harness.wait_registered("strict.example.com", b)
    status, _, raw = harness.get("strict.example.com")
    assert status == 200 and body(raw)["instance"] == "strict"


def test_dial_failure_retries_elsewhere_then_502(harness: Harness) -> None:
    harness.start_router()
    good = harness.backend("good")
    dead_port = good.port + 0
    dead = harness.backend("dead")
    harness.lt.run(dead.stop())
    harness.lt.run(dead.server.wait_closed())
    harness.register("retry.example.com", dead)
    harness.register("retry.example.com", good)
    harness.wait_registered("retry.example.com", good)
    harness.wait_registered("retry.example.com", dead)
    for _ in range(3):
        status, _, raw = harness.get("retry.example.com")
        assert status == 200 and body(raw)["instance"] == "good"
    assert dead_port == good.port
    harness.register("dead.example.com", dead)
    harness.wait_registered("dead.example.com", dead)
    status, headers, raw = harness.get("dead.example.com")
    assert status == 502
    assert "connection refused" in headers["x-cf-routererror"]
    # Plain endpoints are only marked failed, never removed on failure.
    assert harness.addresses("dead.example.com") == {f"127.0.0.1:{dead.port}"}


def test_stale_plain_pruned_tls_kept(harness: Harness, pki: Pki, guid) -> None:
    g = guid()
    harness.start_router(ca_certs=[pki.root.cert_pem.decode()],
                         droplet_stale_threshold="1s", prune_stale_droplets_interval="200ms")
    plain = harness.backend("plain")
    tls = harness.backend("tls", cred=pki.instance(g))
    harness.register("prune.example.com", plain)
    harness.register("prune.example.com", tls, tls=True, guid=g)
    harness.wait_registered("prune.example.com", plain)
    harness.wait_registered("prune.example.com", tls)
    wait_until(lambda: harness.addresses("prune.example.com") == {f"127.0.0.1:{tls.port}"},
               what="plain endpoint pruned")
    assert harness.router.metrics.counters["routes_pruned"] >= 1
    status, _, raw = harness.get("prune.example.com")
    assert status == 200 and body(raw)["instance"] == "tls"


def test_router_start_after_nats_restart(harness: Harness) -> None:
    router = harness.start_router()
    wait_until(lambda: router.nats.starts_published >= 1, what="router.start at startup")
    b = harness.backend("kept")
    harness.register("kept.example.com", b)
    harness.wait_registered("kept.example.com", b)

    harness.nats.stop()
    wait_until(lambda: not router.nats.connected, what="router sees NATS gone")
    status, _, raw = harness.get("kept.example.com")  # the last table keeps serving
    assert status == 200 and body(raw)["instance"] == "kept"

    harness.nats.start()
    wait_until(lambda: router.nats.starts_published >= 2, what="router.start after reconnect")
    b2 = harness.backend("after")
    harness.register("after.example.com", b2)
    harness.wait_registered("after.example.com", b2)


def test_greet_is_answered_with_the_start_message(harness: Harness) -> None:
    harness.start_router(start_response_delay_interval="0s", droplet_stale_threshold="120s")
    with socket.create_connection(("127.0.0.1", harness.nats.port), timeout=10) as s:
        f = s.makefile("rb")
        f.readline()
        s.sendall(b'CONNECT {"verbose":false}\r\nSUB _INBOX.t 1\r\nPUB router.greet _INBOX.t 0\r\n'
                  b"\r\n")
        line = f.readline()
        assert line.startswith(b"MSG _INBOX.t 1"), line
        n = int(line.split()[-1])
        msg = json.loads(f.read(n))
    assert set(msg) == {"id", "hosts", "minimumRegisterIntervalInSeconds",
                        "pruneThresholdInSeconds"}
    assert msg["id"].startswith("0-") and msg["pruneThresholdInSeconds"] == 120


def test_malformed_nats_payloads_dropped(harness: Harness) -> None:
    router = harness.start_router()
    b = harness.backend("survivor")
    harness.register("ok.example.com", b)
    harness.wait_registered("ok.example.com", b)
    bad = [b"not json", b"[1,2]", b'{"host":"127.0.0.1","port":"80","uris":["x.example.com"]}',
           b'{"host":"127.0.0.1","port":80,"uris":["x.example.com"],"private_instance_index":0}',
           b'{"uris":["x.example.com"],"route_service_url":"http://rs"}', b"\xff\xfe\x00",
           b'{"uris":' * 5000, b'{"host":"h","port":70000,"uris":["x.example.com"]}',
           b'{"host":"h","port":80,"uris":["x.example.com"],"tags":{"a":1}}']
    for payload in bad:
        harness.nats.publish("router.register", payload)
    harness.nats.publish("router.register", b"x" * 900_000)
    harness.register("later.example.com", b)
    harness.wait_registered("later.example.com", b)
    assert "x.example.com" not in harness.routes()
    assert router.nats.dropped == len(bad) + 1
    status, _, _ = harness.get("ok.example.com")
    assert status == 200


def test_malformed_http_rejected_router_stays_up(harness: Harness) -> None:
    harness.start_router(max_header_bytes=8192)
    b = harness.backend("up")
    harness.register("up.example.com", b)
    harness.wait_registered("up.example.com", b)
    for req in [b"GARBAGE\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: up.example.com\r\nX: a\rb\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: up.example.com\r\nContent-Length: 1\r\n"
                b"Content-Length: 2\r\n\r\nab",
                b"POST / HTTP/1.1\r\nHost: up.example.com\r\nContent-Length: 3\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: up.example.com\r\n folded\r\n\r\n"]:
        assert harness.raw(req).startswith(b"HTTP/1.1 400 "), req
    big = b"GET / HTTP/1.1\r\nHost: up.example.com\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
    assert harness.raw(big).startswith(b"HTTP/1.1 431 ")
    status, _, raw = harness.get("up.example.com")
    assert status == 200 and body(raw)["instance"] == "up"


def test_keepalive_post_and_chunked_bodies(harness: Harness) -> None:
    harness.start_router()
    b = harness.backend("echo")
    harness.register("echo.example.com", b)
    harness.wait_registered("echo.example.com", b)
    req = (b"POST /a HTTP/1.1\r\nHost: echo.example.com\r\nContent-Length: 5\r\n\r\nhello"
           b"GET /b HTTP/1.1\r\nHost: echo.example.com\r\nConnection: close\r\n\r\n")
    out = harness.raw(req)
    assert out.count(b"HTTP/1.1 200 OK") == 2
    assert b'"body": "hello"' in out and b'"path": "/b"' in out
    assert b.requests == 2


def test_sticky_sessions(harness: Harness) -> None:
    harness.start_router()
    b1, b2 = harness.backend("s1"), harness.backend("s2")
    harness.register("sticky.example.com", b1, guid="guid-1")
    harness.register("sticky.example.com", b2, guid="guid-2")
    harness.wait_registered("sticky.example.com", b1)
    harness.wait_registered("sticky.example.com", b2)
    status, headers, raw = harness.get("sticky.example.com", "/sticky")
    assert status == 200
    first = body(raw)["instance"]
    want = "guid-1" if first == "s1" else "guid-2"
    assert f"__VCAP_ID__={want}; Path=/; HttpOnly" in headers["set-cookie"]
    cookie = {"Cookie": f"JSESSIONID=abc; __VCAP_ID__={want}"}
    for _ in range(4):
        _, _, raw = harness.get("sticky.example.com", "/", headers=cookie)
        assert body(raw)["instance"] == first
    seen = {body(harness.get("sticky.example.com", "/",
                             headers={"Cookie": f"__VCAP_ID__={want}"})[2])["instance"]
            for _ in range(4)}
    assert seen == {"s1", "s2"}  # __VCAP_ID__ alone is ignored


def test_websocket_upgrade_passthrough(harness: Harness) -> None:
    harness.start_router()
    b = harness.backend("ws")
    harness.register("ws.example.com", b)
    harness.wait_registered("ws.example.com", b)
    with socket.create_connection(("127.0.0.1", harness.router.proxy.port), timeout=10) as s:
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: ws.example.com\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        assert head.startswith(b"HTTP/1.1 101 ")
        s.sendall(b"ping")
        assert s.recv(4096) == b"PING"


def test_hung_backend_times_out_with_502(harness: Harness) -> None:
    harness.start_router(endpoint_timeout="500ms")
    b = harness.backend("hang")
    harness.register("hang.example.com", b)
    harness.wait_registered("hang.example.com", b)
    status, headers, _ = harness.get("hang.example.com", "/hang")
    assert status == 502
    assert headers["x-cf-routererror"] == "endpoint_failure (context deadline exceeded)"


def test_status_endpoints(harness: Harness) -> None:
    import http.client

    router = harness.start_router()
    c = http.client.HTTPConnection("127.0.0.1", router.status.status_port, timeout=10)
    c.request("GET", "/health")
    r = c.getresponse()
    assert (r.status, r.read()) == (200, b"ok\n")
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    assert "total_routes 0" in text and "backend_invalid_id 0" in text
    c = http.client.HTTPConnection("127.0.0.1", router.status.routes_port, timeout=10)
    c.request("GET", "/routes")
    r = c.getresponse()
    r.read()
    assert r.status == 401 and r.getheader("WWW-Authenticate") == "Basic"


def test_client_gone_is_logged_499(harness: Harness) -> None:
    harness.start_router(endpoint_timeout="1s")
    b = harness.backend("slow")
    harness.register("gone.example.com", b)
    harness.wait_registered("gone.example.com", b)
    with socket.create_connection(("127.0.0.1", harness.router.proxy.port), timeout=10) as s:
        s.sendall(b"GET /hang HTTP/1.1\r\nHost: gone.example.com\r\n\r\n")
        wait_until(lambda: b.requests == 1, what="request reached the backend")
    log_path = harness.router.cfg.access_log_file
    line = wait_until(lambda: open(log_path).read().strip(), what="access log line")
    assert '"GET /hang HTTP/1.1" 499 ' in line
    assert 'x_cf_routererror:"endpoint_failure (context canceled)"' in line


def test_health_503_while_waiting_start_response_delay(harness: Harness) -> None:
    import asyncio
    import http.client

    from foundry.gorouter.config import from_dict
    from foundry.gorouter.router import Router

    cfg = from_dict({"port": 0, "status": {"port": 0, "routes": {"port": 0}},
                     "nats": {"hosts": [{"hostname": "127.0.0.1", "port": harness.nats.port}]},
                     "start_response_delay_interval": "3s",
                     "access_log": {"enable_streaming": False}})
    router = harness.lt.call(lambda: Router(cfg))
    started = asyncio.run_coroutine_threadsafe(router.start(), harness.lt.loop)
    harness.router = router

    def health() -> int:
        if not router.status.status_port:
            return 0
        c = http.client.HTTPConnection("127.0.0.1", router.status.status_port, timeout=5)
        c.request("GET", "/health")
        return c.getresponse().status

    assert wait_until(health, what="status listener") == 503
    assert not started.done()
    started.result(30)
    assert health() == 200
