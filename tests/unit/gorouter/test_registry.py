"""Registry messages and their effect on the route table (DESIGN §3 NATS messages)."""

from __future__ import annotations

import json
import re

import pytest

from foundry.gorouter.registry import InvalidRegistryMessage, Registry, parse_registry_message


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def msg(**kw) -> bytes:
    base = {"host": "10.0.0.1", "port": 61001, "uris": ["app.example.com"],
            "private_instance_id": "guid-a", "private_instance_index": "0", "app": "app-1"}
    base.update(kw)
    return json.dumps(base).encode()


def test_parse_prefers_tls_port_and_ignores_unknown_fields() -> None:
    m = parse_registry_message(msg(tls_port=61443, surprise={"x": 1}, options={
        "loadbalancing": "least-connection"}))
    assert m.address == "10.0.0.1:61443" and m.tls
    assert m.load_balancing == "least-connection"


def test_field_names_match_case_insensitively_like_go() -> None:
    assert parse_registry_message(b'{"Host":"h","PORT":5,"uris":["a"]}').address == "h:5"


def test_null_leaves_zero_value() -> None:
    m = parse_registry_message(b'{"host":null,"port":null,"uris":null,"tags":null}')
    assert (m.host, m.port, m.uris, m.tags) == ("", 0, [], {})


@pytest.mark.parametrize("payload,reason", [
    (b"not json", "invalid JSON"),
    (b"[1]", "array"),
    (msg(private_instance_index=0), "private_instance_index of type string"),
    (msg(port="80"), "port of type uint16"),
    (msg(port=70000), "uint16"),
    (msg(port=-1), "uint16"),
    (msg(port=80.5), "uint16"),
    (msg(port=True), "uint16"),
    (msg(tags={"a": 1}), "tags"),
    (msg(uris="app.example.com"), "[]string"),
    (msg(stale_threshold_in_seconds="5"), "stale_threshold_in_seconds"),
    (msg(route_service_url="http://rs.example.com"), "https"),
    (msg(options="rr"), "options"),
    (b"x" * (1024 * 1024 + 1), "over"),
])
def test_malformed_messages_are_rejected_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(InvalidRegistryMessage, match=re.escape(reason)):
        parse_registry_message(payload)


def test_https_route_service_url_accepted() -> None:
    assert parse_registry_message(msg(route_service_url="https://rs")).route_service_url


def test_register_refreshes_ttl_and_replaces_other_instance() -> None:
    clock = Clock()
    reg = Registry(clock=clock)
    reg.handle("router.register", msg())
    pool = reg.lookup("app.example.com", "/")
    assert pool is not None and len(pool) == 1
    first = pool.endpoints[0]
    clock.t += 10
    reg.handle("router.register", msg())
    assert pool.endpoints[0] is first and first.updated_at == 1010.0
    reg.handle("router.register", msg(private_instance_id="guid-b"))
    assert len(pool) == 1 and pool.endpoints[0].private_instance_id == "guid-b"


def test_unregister_by_address_whatever_the_instance() -> None:
    reg = Registry(clock=Clock())
    reg.handle("router.register", msg(uris=["a.example.com", "b.example.com"]))
    reg.handle("router.register", msg(port=61002, uris=["a.example.com"]))
    reg.handle("router.unregister", msg(private_instance_id="someone-else",
                                        uris=["a.example.com", "b.example.com"]))
    assert [e.key for e in reg.lookup("a.example.com", "/").endpoints] == ["10.0.0.1:61002"]
    assert reg.lookup("b.example.com", "/") is None  # empty pool removed


def test_unregister_uses_tls_port() -> None:
    reg = Registry(clock=Clock())
    reg.handle("router.register", msg(tls_port=61443))
    reg.handle("router.unregister", msg())  # port 61001: not the key
    assert len(reg.lookup("app.example.com", "/")) == 1
    reg.handle("router.unregister", msg(tls_port=61443))
    assert reg.lookup("app.example.com", "/") is None


def test_stale_threshold_can_only_shorten() -> None:
    reg = Registry(clock=Clock(), droplet_stale_threshold=120)
    reg.handle("router.register", msg(stale_threshold_in_seconds=30))
    reg.handle("router.register", msg(port=2, stale_threshold_in_seconds=500))
    reg.handle("router.register", msg(port=3, stale_threshold_in_seconds=0))
    ttls = [e.stale_threshold for e in reg.lookup("app.example.com", "/").endpoints]
    assert ttls == [30, 120, 120]


def test_per_route_load_balancing_override_and_invalid_kept() -> None:
    reg = Registry(clock=Clock())
    reg.handle("router.register", msg(options={"loadbalancing": "least-connection"}))
    pool = reg.lookup("app.example.com", "/")
    assert pool.lb_algorithm == "least-connection"
    reg.handle("router.register", msg(port=2, options={"loadbalancing": "bogus"}))
    assert pool.lb_algorithm == "least-connection"


def test_isolation_segment_sharding() -> None:
    reg = Registry(clock=Clock(), sharding_mode="segments", isolation_segments=("iso",))
    reg.handle("router.register", msg(uris=["shared.example.com"]))
    reg.handle("router.register", msg(uris=["iso.example.com"], isolation_segment="iso"))
    assert reg.lookup("shared.example.com", "/") is None
    assert reg.lookup("iso.example.com", "/") is not None


def test_registry_message_metric_by_component() -> None:
    reg = Registry(clock=Clock())
    reg.handle("router.register", msg(tags={"component": "route-emitter"}))
    reg.handle("router.unregister", msg(tags={"component": "route-emitter"}))
    assert reg.metrics.registry_messages == {("register", "route-emitter"): 1,
                                             ("unregister", "route-emitter"): 1}


def test_to_json_shape() -> None:
    reg = Registry(clock=Clock())
    reg.handle("router.register", msg(tls_port=61443, server_cert_domain_san="guid-a",
                                      uris=["app.example.com/api"], tags={"c": "r"}))
    out = reg.table.to_json()
    assert out == {"app.example.com/api": [{
        "address": "10.0.0.1:61443", "protocol": "http1", "tls": True, "ttl": 120,
        "tags": {"c": "r"}, "private_instance_id": "guid-a", "server_cert_domain_san": "guid-a"}]}


def test_fast_and_general_decoding_agree() -> None:
    exact = {"host": "10.0.0.1", "port": 80, "tls_port": 61001, "uris": ["a.example.com/p"],
             "app": "app", "private_instance_id": "i", "private_instance_index": "2",
             "server_cert_domain_san": "i", "tags": {"component": "c"},
             "stale_threshold_in_seconds": 30, "route_service_url": "https://rs",
             "isolation_segment": "seg", "endpoint_updated_at_ns": 7, "protocol": "http2",
             "availability_zone": "z1"}
    fast = parse_registry_message(json.dumps(exact).encode())
    # Upper-cased names and an unknown key force the general path: same message.
    slow = parse_registry_message(json.dumps({**{k.upper(): v for k, v in exact.items()},
                                              "other": [1]}).encode())
    assert fast == slow
    with pytest.raises(InvalidRegistryMessage):  # a bad type after good ones
        parse_registry_message(json.dumps({**exact, "uris": ["a", 1]}).encode())
    assert parse_registry_message(b'{"uris":["a",null]}').uris == ["a", ""]


def test_route_and_endpoint_counts_follow_changes() -> None:
    clock = [1000.0]
    reg = Registry(clock=lambda: clock[0], droplet_stale_threshold=120)

    def route(uri: str, port: int) -> bytes:
        return json.dumps({"host": "10.0.0.1", "port": port, "uris": [uri]}).encode()

    for i in range(10):
        reg.handle("router.register", route(f"r{i}.example.com", 8000 + i))
        reg.handle("router.register", route(f"r{i}.example.com/path", 8000 + i))
    reg.handle("router.register", route("r0.example.com", 9000))
    reg.handle("router.register", route("r0.example.com", 9000))  # a heartbeat
    assert len(reg.table) == 20 and reg.num_endpoints() == 21
    reg.handle("router.unregister", route("r0.example.com", 8000))
    reg.handle("router.unregister", route("r1.example.com", 8001))
    reg.handle("router.unregister", route("r1.example.com", 8001))  # already gone
    assert len(reg.table) == 19 and reg.num_endpoints() == 19
    clock[0] += 121
    reg.handle("router.register", route("r2.example.com", 8002))  # fresh; the rest goes stale
    assert reg.prune_stale_droplets() == 18
    assert len(reg.table) == 1 and reg.num_endpoints() == 1
    assert reg.num_endpoints() == reg.table.num_endpoints()


def test_lookup_with_instance_is_a_throwaway_one_endpoint_pool() -> None:
    reg = Registry(clock=Clock())
    for i, port in enumerate((61001, 61002)):
        reg.handle("router.register", msg(port=port, app="app-1", private_instance_index=str(i),
                                          private_instance_id=f"inst-{i}"))
    surgical = reg.lookup_with_instance("app.example.com", "/", "app-1", "1")
    assert surgical is not None and [e.port for e in surgical.endpoints] == [61002]
    assert surgical.retry_after_failure == 0
    assert reg.lookup_with_instance("app.example.com", "/", "app-1", "2") is None
    assert reg.lookup_with_instance("app.example.com", "/", "app-2", "0") is None
    assert reg.lookup_with_instance("none.example.com", "/", "app-1", "0") is None
    # a failure pruned from the surgical pool leaves the route's own pool alone
    ep = surgical.endpoints[0]
    ep.tls = True
    reg.endpoint_failed(surgical, ep, failable=True, prunable=True)
    assert surgical.is_empty()
    assert len(reg.lookup("app.example.com", "/").endpoints) == 2
    assert reg.num_endpoints() == 2


def test_endpoint_takes_each_field_from_its_own_message_field() -> None:
    """endpoint_for builds the Endpoint positionally (for speed): every field distinct
    here, so a field out of order shows as a wrong value."""
    m = parse_registry_message(json.dumps({
        "host": "10.0.0.9", "port": 8080, "tls_port": 61443, "uris": ["a.example.com"],
        "app": "app-x", "private_instance_id": "guid-x", "private_instance_index": "7",
        "server_cert_domain_san": "san-x", "tags": {"component": "c"},
        "stale_threshold_in_seconds": 30, "route_service_url": "https://rs",
        "isolation_segment": "seg", "endpoint_updated_at_ns": 42, "protocol": "http2",
        "availability_zone": "z1", "options": {"loadbalancing": "least-connection"}}).encode())
    e = Registry(clock=Clock(5.0)).endpoint_for(m)
    assert (e.host, e.port, e.tls, e.app_id, e.private_instance_id, e.private_instance_index,
            e.server_cert_domain_san, e.tags, e.protocol, e.stale_threshold,
            e.route_service_url, e.isolation_segment, e.availability_zone,
            e.endpoint_updated_at_ns, e.load_balancing_algorithm, e.updated_at, e.failed_at,
            e.in_flight, e.key) == (
        "10.0.0.9", 61443, True, "app-x", "guid-x", "7", "san-x", {"component": "c"},
        "http2", 30.0, "https://rs", "seg", "z1", 42, "least-connection", 5.0, None, 0,
        "10.0.0.9:61443")
