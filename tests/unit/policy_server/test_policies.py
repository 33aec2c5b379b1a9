"""The policy server's shapes and checks, and its routes on the Cloud Controller's API."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from foundry.policy_server.policies import Policy, PolicyError, parse_policies, select
from foundry.policy_server.store import PolicyStore


def body(*policies: tuple[str, str, str, int, int]) -> dict:
    return {"policies": [{"source": {"id": s}, "destination": {
        "id": d, "protocol": proto, "ports": {"start": a, "end": b}}}
        for s, d, proto, a, b in policies]}


def test_a_body_round_trips_in_cf_networkings_shape():
    raw = body(("web", "api", "tcp", 8080, 8080), ("web", "db", "udp", 5000, 5010))
    policies = parse_policies(raw)
    assert sorted(json.dumps(p.to_json(), sort_keys=True) for p in policies) == sorted(
        json.dumps(p, sort_keys=True) for p in raw["policies"])
    assert [p.ports for p in policies] == ["8080", "5000-5010"]


@pytest.mark.parametrize(("raw", "message"), [
    ({}, "missing policies"),
    ({"policies": []}, "missing policies"),
    ({"policies": ["x"]}, "each policy must be an object"),
    (body(("", "api", "tcp", 8080, 8080)), "missing source id"),
    ({"policies": [{"source": {"id": "a"}}]}, "missing destination id"),
    (body(("a", "b", "icmp", 1, 1)), "specify either udp or tcp"),
    (body(("a", "b", "tcp", 0, 1)), "invalid start port 0"),
    (body(("a", "b", "tcp", 1, 70000)), "invalid end port 70000"),
    (body(("a", "b", "tcp", 9000, 8000)), "start port 9000 is greater than end port 8000"),
    ({"policies": [{"source": {"id": "a"}, "destination": {
        "id": "b", "protocol": "tcp", "ports": {"start": True, "end": 1}}}]}, "invalid start"),
])
def test_bad_bodies_are_refused_with_the_reason(raw, message):
    with pytest.raises(PolicyError, match=message):
        parse_policies(raw)


def test_select_filters_as_the_list_endpoint_does():
    ps = parse_policies(body(("a", "b", "tcp", 1, 1), ("b", "c", "tcp", 1, 1),
                             ("c", "a", "tcp", 1, 1)))
    assert {(p.source_id, p.destination_id) for p in select(ps, ids={"a"})} == {
        ("a", "b"), ("c", "a")}
    assert [p.destination_id for p in select(ps, source_ids={"b"})] == ["c"]
    assert [p.source_id for p in select(ps, dest_ids={"b"})] == ["a"]
    assert select(ps, ids=set()) == []


def test_the_store_is_idempotent_both_ways():
    store = PolicyStore(sqlite3.connect(":memory:", check_same_thread=False), threading.RLock())
    p = Policy("a", "b", "tcp", 8080, 8080)
    store.add([p, p])
    store.add([p])
    assert store.all() == [p]
    store.delete([Policy("a", "b", "tcp", 8080, 8081)])  # not there: nothing happens
    assert store.all() == [p]
    store.delete([p])
    assert store.all() == []
