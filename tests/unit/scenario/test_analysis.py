"""Counting, recovery time, expectations, and the side-by-side table."""

from __future__ import annotations

import json

from orchestrator.scenario import analysis, report, schema
from orchestrator.scenario.classify import ERROR, INTENDED, MISROUTED, Sample
from orchestrator.scenario.results import ModeResult, from_json

OK = dict(outcome=INTENDED, status=200)


def samples() -> list[Sample]:
    return [
        Sample(0.0, "a", answered_by="a", phase="before", **OK),
        Sample(1.0, "a", MISROUTED, 200, answered_by="b", phase="stale"),
        Sample(2.0, "a", MISROUTED, 200, answered_by="b", phase="stale"),
        Sample(3.0, "a", ERROR, 404, "unknown_route", phase="pruned"),
        Sample(3.5, "b", ERROR, 503, "no_endpoints", phase="pruned"),
        Sample(4.0, "a", answered_by="a", phase="pruned", **OK),
        Sample(4.0, "b", answered_by="b", phase="pruned", **OK),
    ]


def test_count_by_outcome_status_reason_and_answerer():
    c = analysis.count(samples())
    assert (c.requests, c.intended, c.misrouted, c.errors) == (7, 3, 2, 2)
    assert c.availability == 3 / 7
    assert c.by_status == {"404": 1, "503": 1}
    assert c.by_reason == {"unknown_route": 1, "no_endpoints": 1}
    assert c.answered_by == {"a->b": 2}
    assert analysis.summarise_errors(c) == "2 (1× 404 unknown_route, 1× 503 no_endpoints)"
    assert analysis.count([]).availability is None


def test_by_route_and_phase():
    assert set(analysis.by_route(samples())) == {"a", "b"}
    phases = analysis.by_phase(samples())
    assert list(phases) == ["before", "stale", "pruned"]
    assert phases["stale"].misrouted == 2


def test_recovery_is_time_from_fault_to_last_bad_answer():
    assert analysis.recovery_seconds(samples(), 0.5) == 3.0
    assert analysis.recovery_seconds(samples(), 3.9) == 0.0
    assert analysis.recovery_seconds(samples(), None) is None
    broken = [*samples(), Sample(5.0, "b", ERROR, 502, "x")]
    assert analysis.recovery_seconds(broken, 0.5) is None  # still broken at the end


def expectations(**checks):
    return [schema.parse_expectation(k.replace("__", "@").replace("_dot_", "."), v, "expect.x")
            for k, v in checks.items()]


def test_expectations_pass_and_fail_with_actual_values():
    exps = expectations(misrouted="> 0", misrouted__pruned="== 0", status_dot_404="== 1",
                        reason_dot_no_endpoints=">= 1", availability__pruned=">= 0.5",
                        errors="< 2")
    out = analysis.check(exps, samples())
    assert [(o.expectation, o.actual, o.passed) for o in out] == [
        ("misrouted > 0.0", 2, True),
        ("misrouted@pruned == 0.0", 0, True),
        ("status.404 == 1.0", 1, True),
        ("reason.no_endpoints >= 1.0", 1, True),
        ("availability@pruned >= 0.5", 0.5, True),
        ("errors < 2.0", 2, False),
    ]


def test_timers_checks_and_unmeasured():
    exps = expectations(timer_dot_recovery="<= 10", check_dot_direct="fail",
                        timer_dot_never="< 1", recovery_seconds="<= 5")
    out = analysis.check(exps, [], timers={"recovery": 4.2, "never": None},
                         checks={"direct": False}, recovery=6.0)
    assert [(o.actual, o.passed) for o in out] == [(4.2, True), ("fail", True), (None, False),
                                                   (6.0, False)]
    assert out[2].note == "not measured"


def test_mode_result_status_and_json_round_trip():
    r = ModeResult(mode="before-envoy", status="ran", samples=samples(),
                   faults=[{"name": "stop a", "start": 0.5, "end": 0.5}],
                   marks=[{"name": "stale", "t": 0.9}])
    r.evaluate(expectations(misrouted="> 0"))
    assert r.status == "passed"
    r.evaluate(expectations(misrouted="== 0"))
    assert r.status == "failed"
    data = json.loads(json.dumps(r.to_json()))
    assert data["counts"]["misrouted"] == 2 and data["recovery_seconds"] == 3.0
    assert data["by_phase"]["stale"]["answered_by"] == {"a->b": 2}
    again = from_json(data)
    assert again.counts.misrouted == 2 and again.outcomes[0].passed is False

    err = ModeResult(mode="strict", status="ran", error="boom")
    err.evaluate([])
    assert err.status == "error"


def scenario() -> schema.Scenario:
    return schema.parse({"name": "demo", "description": "Two apps.",
                         "apps": [{"name": "a"}, {"name": "b"}],
                         "steps": [{"mark": "stale"}, {"mark": "pruned"}, {"mark": "before"}],
                         "expect": {"all": {"misrouted": "== 0"}}})


def test_markdown_table_side_by_side():
    sc = scenario()
    be = ModeResult(mode="before-envoy", status="ran", samples=samples(),
                    faults=[{"name": "f", "start": 0.5, "end": 1.0}], timers={"pruned": 2.5})
    be.evaluate(sc.expect["before-envoy"])
    st = ModeResult(mode="strict", status="skipped", note="not applicable")
    st.evaluate([])
    md = report.markdown(sc, [be, st])
    assert "| mode | result | requests | misrouted | errors | availability | recovery |" in md
    assert ("| before-envoy | failed | 7 | 2 | 2 (1× 404 unknown_route, 1× 503 no_endpoints)"
            " | 42.9 % | 3.0 s |") in md
    assert "| strict | skipped | – | – | – | – | – |" in md
    assert "- ✗ `misrouted == 0.0` — actual 2" in md
    assert "- misroutes: a->b ×2" in md
    assert "- timer pruned: 2.5 s" in md


def test_write_all_makes_json_markdown_and_png(tmp_path):
    sc = scenario()
    r = ModeResult(mode="after-envoy", status="ran", samples=samples(),
                   faults=[{"name": "nats pause", "start": 0.5, "end": 2.0},
                           {"name": "crash", "start": 3.0, "end": 3.0}],
                   marks=[{"name": "stale", "t": 1.0}])
    r.evaluate(sc.expect["after-envoy"])
    paths = report.write_all(tmp_path, sc, [r])
    doc = json.loads(paths["json"].read_text())
    assert doc["passed"] is False and doc["modes"]["after-envoy"]["counts"]["requests"] == 7
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"
    assert "after-envoy" in paths["markdown"].read_text()


def test_sample_metrics_over_no_requests_fail_as_unmeasured():
    out = analysis.check(expectations(misrouted="== 0", misrouted__stale="== 0"), [])
    assert [(o.actual, o.passed, o.note) for o in out] == [
        (None, False, "no requests"), (None, False, "no requests in that phase")]
