"""Access-log lines as the router writes them, classified by who holds the backend port."""

import pytest

from foundry.dashboard.accesslog import (
    AccessLogError,
    PortHistory,
    PortOwner,
    Traffic,
    classify,
    parse_line,
)
from foundry.gorouter.accesslog import AccessLogRecord

A, B = "app-a-guid", "app-b-guid"
OWNERS = {"10.244.0.5:61000": PortOwner(B, "other", 0, "inst-b"),
          "10.244.0.5:61002": PortOwner(A, "hello", 1, "inst-a")}


def line(**kw) -> str:
    rec = AccessLogRecord(host="hello.apps.internal", received_at=1_700_000_000.25,
                          method="GET", request_uri="/", status=200,
                          user_agent='curl "quoted"', remote_addr="172.17.0.1:5000",
                          backend_addr="10.244.0.5:61002", app_id=A, app_index="1",
                          instance_id="inst-a", finished_at=1_700_000_000.5)
    for k, v in kw.items():
        setattr(rec, k, v)
    return rec.format()


def test_parse_reads_the_routers_own_format():
    req = parse_line(line())
    assert (req.host, req.status, req.backend, req.app_id, req.instance_id) == (
        "hello.apps.internal", 200, "10.244.0.5:61002", A, "inst-a")
    assert req.at == pytest.approx(1_700_000_000.25)
    assert req.response_time == pytest.approx(0.25)
    assert req.router_error == ""


def test_parse_keeps_the_router_error_and_a_missing_status():
    req = parse_line(line(status=None, router_error="endpoint_failure (tls: bad certificate)"))
    assert req.status is None
    assert req.router_error == "endpoint_failure (tls: bad certificate)"


@pytest.mark.parametrize("bad", ["", "hello", 'h - [x] "GET / HTTP/1.1" 200 0 0'])
def test_parse_rejects_other_lines(bad):
    with pytest.raises(AccessLogError):
        parse_line(bad)


def test_an_answer_from_the_routes_app_is_intended():
    row = classify(parse_line(line()), OWNERS, {A: "hello"})
    assert row["outcome"] == "intended"
    assert (row["answered_by"], row["answered_index"]) == ("hello", "1")


def test_an_answer_from_another_apps_instance_is_a_misroute():
    row = classify(parse_line(line(backend_addr="10.244.0.5:61000")), OWNERS, {A: "hello"})
    assert row["outcome"] == "misrouted"
    assert row["answered_by"] == "other" and row["route_app"] == "hello"


@pytest.mark.parametrize("kw", [
    {"status": 503, "router_error": "endpoint_failure (hostname mismatch)"},
    {"status": 502},
    {"status": 404, "router_error": "unknown_route", "backend_addr": "", "app_id": ""},
])
def test_router_errors_and_5xx_are_errors(kw):
    row = classify(parse_line(line(**kw)), OWNERS)
    assert row["outcome"] == "error"


def test_an_unknown_port_owner_trusts_the_log():
    row = classify(parse_line(line(backend_addr="10.244.0.9:61000")), OWNERS, {A: "hello"})
    assert row["outcome"] == "intended" and row["answered_by"] == "hello"


def test_traffic_counts_per_route():
    t = Traffic()
    for outcome in ("intended", "intended", "misrouted", "error"):
        t.add({"host": "hello.apps.internal", "outcome": outcome})
    assert t.rows() == {"hello.apps.internal": {"intended": 2, "misrouted": 1, "error": 1}}


def test_a_request_is_judged_by_who_held_the_port_when_it_was_received():
    """Port 61000 was A's until B got it at t=100: a line for A's route received at
    t=99.5 and read later is intended; one received at t=100.2 is a misroute."""
    ports = PortHistory()
    ports.observe("10.244.0.5:61000", 50.0, PortOwner(A, "hello", 0, "inst-a"))
    ports.observe("10.244.0.5:61000", 100.0, PortOwner(B, "other", 0, "inst-b"))
    ports.observe("10.244.0.5:61000", 100.0, PortOwner(B, "other", 0, "inst-b"))  # seen again
    assert len(ports.owners["10.244.0.5:61000"]) == 2
    before = parse_line(line(backend_addr="10.244.0.5:61000", received_at=99.5,
                             finished_at=99.6))
    after = parse_line(line(backend_addr="10.244.0.5:61000", received_at=100.2,
                            finished_at=100.3))
    assert classify(before, ports, {A: "hello"})["outcome"] == "intended"
    row = classify(after, ports, {A: "hello"})
    assert row["outcome"] == "misrouted" and row["answered_instance"] == "inst-b"
    assert ports.at("10.244.0.5:61000", 10.0) is None
    assert ports.now()["10.244.0.5:61000"].app_name == "other"


def test_port_history_keeps_the_last_owners_only():
    ports = PortHistory()
    for i in range(20):
        ports.observe("a:1", float(i), PortOwner(A, "hello", i, f"inst-{i}"))
    assert len(ports.owners["a:1"]) == PortHistory.KEPT
    assert ports.at("a:1", 100.0).index == 19


def test_an_instance_of_unknown_app_is_no_misroute():
    """A stopping instance whose desired LRP is gone: its app is unknown, not another."""
    owners = {"10.244.0.5:61000": PortOwner("", "", 0, "inst-x")}
    row = classify(parse_line(line(backend_addr="10.244.0.5:61000", instance_id="inst-y")),
                   owners, {A: "hello"})
    assert row["outcome"] == "intended"


def test_the_registered_instance_itself_is_no_misroute():
    owners = {"10.244.0.5:61000": PortOwner(B, "other", 0, "inst-a")}
    row = classify(parse_line(line(backend_addr="10.244.0.5:61000")), owners)
    assert row["outcome"] == "intended"


def test_port_history_learns_an_owners_app_later():
    ports = PortHistory()
    ports.observe("a:1", 5.0, PortOwner("", "", 0, "inst-a"))
    ports.observe("a:1", 5.0, PortOwner(A, "hello", 0, "inst-a"))
    assert len(ports.owners["a:1"]) == 1 and ports.at("a:1", 6.0).app_name == "hello"
