"""Route lookup and endpoint selection (gorouter route/ and registry/)."""

from __future__ import annotations

import random

from foundry.gorouter.pool import Endpoint, EndpointPool
from foundry.gorouter.route_table import RouteTable, request_key, route_key


def pool_with(n: int, **kw) -> EndpointPool:
    p = EndpointPool("h", rng=random.Random(1), **kw)
    for i in range(n):
        p.put(Endpoint("10.0.0.1", 6000 + i, private_instance_id=f"g{i}"))
    return p


def test_keys_are_lower_cased_and_ports_stripped() -> None:
    assert route_key("App.Example.COM/Api/V1/") == ("app.example.com", "/api/v1")
    assert request_key("App.Example.com:8080", "/X?q=1") == ("app.example.com", "/x")
    assert request_key("[::1]:80", "/") == ("[::1]", "/")


def test_longest_path_prefix_and_wildcard() -> None:
    t = RouteTable()
    root, api, wild = pool_with(1), pool_with(1), pool_with(1)
    t.add("app.example.com", "", root)
    t.add("app.example.com", "/api", api)
    t.add("*.example.com", "", wild)
    assert t.lookup("app.example.com", "/api/v1/x") is api
    assert t.lookup("app.example.com", "/apix") is root  # segment boundary
    assert t.lookup("app.example.com", "/") is root
    assert t.lookup("other.example.com", "/") is wild
    assert t.lookup("a.b.example.com", "/") is wild
    assert t.lookup("example.org", "/") is None


def test_lookup_prefers_a_pool_with_endpoints() -> None:
    t = RouteTable()
    t.add("h", "", pool_with(1))
    empty = EndpointPool("h", "/api")
    t.add("h", "/api", empty)
    assert t.lookup("h", "/api").endpoints


def test_round_robin_shared_cursor_cycles_all() -> None:
    p = pool_with(3)
    picks = [p.iterator(0).next().port for _ in range(6)]
    assert sorted(picks[:3]) == [6000, 6001, 6002] and picks[:3] == picks[3:]


def test_round_robin_skips_failed_for_retry_after_failure() -> None:
    p = pool_with(2, retry_after_failure=30)
    bad = p.endpoints[0]
    p.endpoint_failed(bad, now=100, failable=True, prunable=True)  # plain: marked, not removed
    assert len(p) == 2
    assert {p.iterator(110).next().port for _ in range(4)} == {6001}
    assert {p.iterator(131).next().port for _ in range(4)} == {6000, 6001}


def test_round_robin_all_failed_clears_marks() -> None:
    p = pool_with(2)
    for e in p.endpoints:
        e.failed_at = 100
    assert p.iterator(101).next() is not None
    assert all(e.failed_at is None for e in p.endpoints)


def test_tls_endpoint_removed_on_prunable_failure_only() -> None:
    p = EndpointPool("h")
    tls = Endpoint("10.0.0.1", 61001, tls=True)
    p.put(tls)
    assert not p.endpoint_failed(tls, 1, failable=True, prunable=False)
    assert tls.failed_at == 1 and len(p) == 1
    assert p.endpoint_failed(tls, 2, failable=True, prunable=True)
    assert p.is_empty()


def test_least_connection_picks_fewest_in_flight_and_ignores_failures() -> None:
    p = pool_with(3, lb_algorithm="least-connection")
    p.endpoints[0].in_flight, p.endpoints[1].in_flight, p.endpoints[2].in_flight = 5, 1, 3
    p.endpoints[1].failed_at = 100
    assert p.iterator(101).next() is p.endpoints[1]


def test_per_request_lb_override() -> None:
    p = pool_with(2)
    p.endpoints[0].in_flight = 9
    assert p.iterator(0, lb_override="least-connection").next() is p.endpoints[1]


def test_max_conns_skips_overloaded_and_reports_exhaustion() -> None:
    p = pool_with(2, max_conns=500)
    p.endpoints[0].in_flight = 500
    assert {p.iterator(0).next().port for _ in range(3)} == {6001}
    p.endpoints[1].in_flight = 500
    assert p.all_overloaded() and p.iterator(0).next() is None


def test_sticky_instance_first_then_normal() -> None:
    p = pool_with(3)
    it = p.iterator(0, sticky_instance_id="g2")
    assert it.next().private_instance_id == "g2"
    assert it.next() is not None
    assert p.iterator(0, sticky_instance_id="gone").next() is not None


def test_iterator_never_yields_more_than_distinct_endpoints_when_all_fail() -> None:
    p = EndpointPool("h")
    for i in range(2):
        p.put(Endpoint("10.0.0.1", 7000 + i, tls=True))
    it = p.iterator(0)
    seen = []
    while (e := it.next()) is not None:
        seen.append(e.port)
        p.endpoint_failed(e, 0, failable=True, prunable=True)
    assert sorted(seen) == [7000, 7001] and p.is_empty()


def test_replacing_endpoint_keeps_position() -> None:
    p = pool_with(2)
    p.put(Endpoint("10.0.0.1", 6000, private_instance_id="new"))
    assert [e.private_instance_id for e in p.endpoints] == ["new", "g1"]
