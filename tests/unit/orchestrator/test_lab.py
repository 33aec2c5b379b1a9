"""The lab's sans-IO parts: query checking, past runs, the event log a page catches up on."""

from __future__ import annotations

import json

import pytest

from orchestrator import lab as labmod
from orchestrator.lab import Lab, QueryError, parse_query, past_runs, sample_json
from orchestrator.scenario.classify import MISROUTED, Sample

ALLOWED = {"scenario": "str", "mode": "modes", "one": "mode", "after": "int"}


def test_parse_query_takes_what_is_allowed():
    q = parse_query({"scenario": ["x"], "mode": ["strict,before-envoy", "strict"],
                     "one": ["after-envoy"], "after": ["12"]}, ALLOWED)
    assert q == {"scenario": "x", "mode": ["strict", "before-envoy"], "one": "after-envoy",
                 "after": 12}
    assert parse_query({}, ALLOWED) == {}


@pytest.mark.parametrize(("query", "message"), [
    ({"nope": ["1"]}, "unknown query parameter 'nope'"),
    ({"scenario": ["a", "b"]}, "scenario given 2 times"),
    ({"scenario": [""]}, "1-200 characters"),
    ({"scenario": ["x" * 201]}, "1-200 characters"),
    ({"mode": ["strict,sideways"]}, "mode must be one of"),
    ({"mode": [","]}, "mode must be one of"),
    ({"one": ["STRICT"]}, "one must be one of"),
    ({"after": ["1.5"]}, "whole number"),
    ({"after": ["-3"]}, "must not be negative"),
])
def test_parse_query_refuses(query, message):
    with pytest.raises(QueryError, match=message):
        parse_query(query, ALLOWED)


def test_sample_json_keeps_what_a_lane_draws():
    s = Sample(1.25, "app-a", MISROUTED, 200, answered_by="app-b", instance_guid="g",
               latency=0.01, phase="stale")
    assert sample_json(s) == {"t": 1.25, "route": "app-a", "outcome": "misrouted",
                              "status": 200, "answered_by": "app-b"}


def test_past_runs(tmp_path):
    (tmp_path / "b-run").mkdir()
    (tmp_path / "b-run" / "result.json").write_text(json.dumps({"passed": False, "modes": {
        "before-envoy": {"status": "failed", "counts": {"requests": 10, "misrouted": 4,
                                                        "errors": 0},
                         "faults": [{"name": "f", "start": 1, "end": 2}]}}}))
    (tmp_path / "b-run" / "timeline.png").write_bytes(b"\x89PNG")
    (tmp_path / "a-run").mkdir()
    (tmp_path / "a-run" / "result.json").write_text('{"modes": []}')
    (tmp_path / "no-result").mkdir()
    rows = past_runs(tmp_path)
    assert [r["scenario"] for r in rows] == ["a-run", "b-run"]
    assert rows[0]["error"] == "unreadable result.json: modes is not a mapping"
    b = rows[1]
    assert b["cells"] == {"before-envoy": "✗ 4/10 misrouted, 0 errors", "after-envoy": "–",
                          "strict": "–"}
    assert b["modes"]["before-envoy"]["faults"] == [{"name": "f", "start": 1, "end": 2}]
    assert b["timeline"] is True and b["passed"] is False
    assert past_runs(tmp_path / "missing") == []


def test_a_page_that_fell_behind_starts_again_from_a_snapshot(tmp_path, monkeypatch):
    monkeypatch.setattr(labmod, "MAX_EVENTS", 3)
    lab = Lab(tmp_path, tmp_path, lambda *a, **k: None, lambda m: None, dict)
    assert lab.wait_events(0, 0) == []
    for i in range(5):
        lab.publish("log", {"i": i})
    assert [seq for seq, _, _ in lab.wait_events(2, 0)] == [3, 4, 5]
    assert lab.wait_events(1, 0) is None       # event 2 is gone: take a snapshot
    assert lab.wait_events(5, 0) == []         # nothing new within the timeout
    assert lab.snapshot() == {"seq": 5, "run": None,
                              "switch": {"state": "idle", "mode": "", "error": ""}}
