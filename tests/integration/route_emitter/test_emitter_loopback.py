"""The emitter against a real nats-server, the BBS process and a fake router."""

from bbs_harness import wait_for

DESIRED = {
    "process_guid": "pg-app", "instances": 1, "ports": [8080], "log_guid": "app-guid",
    "routes": {"cf-router": [{"hostnames": ["app.example.com"], "port": 8080,
                              "route_service_url": None, "protocol": "http1"}]},
    "metric_tags": {"source_id": {"static": "app-guid"}, "instance_id": {"dynamic": "INDEX"}},
}


def run_instance(bbs, ig):
    key = {"process_guid": "pg-app", "index": 0, "instance_guid": ig, "cell_id": "cell-1"}
    assert bbs.request("POST", "/v1/actual_lrps/claim", key)[0] == 200
    status, lrp = bbs.request("POST", "/v1/actual_lrps/start", {
        **key, "address": "10.244.0.5", "instance_address": "10.255.1.2",
        "ports": [{"container_port": 8080, "host_port": 61000, "container_tls_proxy_port": 61001,
                   "host_tls_proxy_port": 61001}],
        "preferred_address": "HOST", "availability_zone": "z1"})
    assert status == 200
    return lrp


def test_registers_every_interval_and_unregisters_a_crash(bbs, router, emitter_factory):
    bbs.heartbeat("cell-1")
    bbs.request("POST", "/v1/desired_lrps", DESIRED)
    lrp = run_instance(bbs, "ig-1")
    emitter = emitter_factory()
    wait_for(lambda: router.greets >= 1, what="a greet")
    regs = wait_for(lambda: len(router.of("router.register")) >= 3 and router.of(
        "router.register"), timeout=20, what="three registrations (interval 1 s)")
    first = regs[0][1]
    assert first == {
        "host": "10.244.0.5", "port": 61000, "tls_port": 61001, "uris": ["app.example.com"],
        "app": "app-guid", "private_instance_id": "ig-1", "private_instance_index": "0",
        "server_cert_domain_san": "ig-1", "endpoint_updated_at_ns": lrp["since"],
        "tags": {"source_id": "app-guid", "instance_id": "0", "component": "route-emitter"},
        "availability_zone": "z1", "protocol": "http1"}
    # only a new instance's first registration carries when its endpoint changed
    assert lrp["since"] > 0 and "endpoint_updated_at_ns" not in regs[1][1]
    gaps = [b[0] - a[0] for a, b in zip(regs[1:], regs[2:], strict=False)]
    assert all(0.5 < g < 2.5 for g in gaps), gaps

    status, _ = bbs.request("POST", "/v1/actual_lrps/crash", {
        "process_guid": "pg-app", "index": 0, "instance_guid": "ig-1",
        "crash_reason": "Instance became unhealthy"})
    assert status == 200
    unregs = wait_for(lambda: len(router.of("router.unregister")) >= 3 and router.of(
        "router.unregister"), timeout=20, what="the unregister and its repeats")
    assert all(m["private_instance_id"] == "ig-1" and m["port"] == 61000 for _, m in unregs)
    crashed_at = unregs[0][0]
    assert not [m for t, m in router.of("router.register") if t > crashed_at + 0.5]
    assert emitter.proc.poll() is None


def test_sigterm_stops_emitting(bbs, router, emitter_factory):
    bbs.heartbeat("cell-1")
    bbs.request("POST", "/v1/desired_lrps", DESIRED)
    run_instance(bbs, "ig-1")
    emitter = emitter_factory()
    wait_for(lambda: len(router.of("router.register")) >= 1, timeout=20, what="a registration")
    assert emitter.stop() == 0  # exited: nothing is left to emit
    assert "route emitter stopped" in emitter.output()


def test_gives_up_when_no_router_answers(tmp_path, bbs, nats_server, emitter_factory):
    emitter = emitter_factory(greet_max_attempts=3, greet_interval=0.1)
    emitter.proc.wait(20)
    assert emitter.proc.returncode == 1
    assert "giving up" in emitter.output()


def _raw_connect(port: int, connect: dict) -> bytes:
    """CONNECT (then PING) on a raw socket; what nats-server answers before it closes."""
    import json as _json
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.recv(4096)  # INFO
        s.sendall(b"CONNECT " + _json.dumps(connect).encode() + b"\r\nPING\r\n")
        data = b""
        try:
            while chunk := s.recv(4096):
                data += chunk
                if b"PONG" in data:
                    break
        except ConnectionResetError:
            pass
        return data


def test_nats_refuses_a_client_without_the_password(nats_server):
    assert b"-ERR 'Authorization Violation'" in _raw_connect(nats_server.port,
                                                              {"verbose": False})
    assert b"-ERR 'Authorization Violation'" in _raw_connect(
        nats_server.port, {"verbose": False, "user": "nats", "pass": "wrong"})
    assert b"PONG" in _raw_connect(nats_server.port, {"verbose": False, "user": "nats",
                                                       "pass": nats_server.password})


def test_an_emitter_with_a_wrong_nats_password_registers_nothing(bbs, nats_server, router,
                                                                  emitter_factory):
    bbs.heartbeat("cell-1")
    bbs.request("POST", "/v1/desired_lrps", DESIRED)
    run_instance(bbs, "ig-1")
    emitter = emitter_factory(nats_password="not-the-password")
    wait_for(lambda: "Authorization Violation" in emitter.output(), timeout=20,
             what="nats-server refusing the emitter")
    assert router.greets == 0 and router.of("router.register") == []
    assert "not-the-password" not in emitter.output()  # a credential is never logged
