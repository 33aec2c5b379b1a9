"""Windows a reader can follow: each expectation names the requests it counted, the
timeline's labels never overlap, and a request shows where it was sent."""

from __future__ import annotations

import json

from orchestrator.scenario import analysis, report, schema
from orchestrator.scenario.classify import ERROR, INTENDED, Sample
from orchestrator.scenario.results import ModeResult, from_json

MARKS = [{"name": "before", "t": 0.0}, {"name": "restart", "t": 3.0},
         {"name": "recovered", "t": 6.5}]


def sample(t: float, phase: str, outcome: str = INTENDED, latency: float = 0.01) -> Sample:
    return Sample(t, "web", outcome, 200 if outcome == INTENDED else 0,
                  "" if outcome == INTENDED else "timeout", answered_by="web",
                  latency=latency, phase=phase)


SAMPLES = [sample(1.0, "before"), sample(2.9, "before", ERROR, latency=2.0),  # in flight
           sample(3.5, "restart", ERROR), sample(5.0, "restart"), sample(7.0, "recovered"),
           sample(9.0, "recovered")]


def exps(*texts: str) -> list[schema.Expectation]:
    return [schema.parse_expectation(k, v, "expect.all")
            for k, v in (t.split(": ") for t in texts)]


def test_each_expectation_says_which_requests_it_counted():
    out = analysis.check(exps("errors@restart: > 0", "availability@recovered: >= 0.99",
                              "misrouted: == 0", "timer.recovery: <= 5"),
                         SAMPLES, timers={"recovery": 3.5}, marks=MARKS)
    assert [o.window.text() if o.window else None for o in out] == [
        "2 requests sent from mark restart (3.0 s) to mark recovered (6.5 s)",
        "2 requests sent from mark recovered (6.5 s) to the end of the run (9.0 s)",
        "6 requests sent from the load's start (0.0 s) to the end of the run (9.0 s)",
        None]


def test_a_request_in_flight_at_a_mark_counts_where_it_was_sent():
    w = analysis.window("before", MARKS, SAMPLES)
    assert (w.start, w.end, w.requests) == ("mark before", "mark restart", 2)


def test_the_report_and_result_json_carry_the_window():
    r = ModeResult(mode="strict", status="ran", samples=SAMPLES, marks=MARKS)
    r.evaluate(exps("errors@restart: > 0"))
    sc = schema.parse({"name": "x", "apps": [{"name": "web"}],
                       "steps": [{"mark": "before"}, {"mark": "restart"},
                                 {"mark": "recovered"}]})
    assert ("- ✓ `errors@restart > 0.0` — actual 1 — 2 requests sent from mark restart"
            " (3.0 s) to mark recovered (6.5 s)") in report.markdown(sc, [r])
    doc = json.loads(json.dumps(r.to_json()))
    assert doc["expectations"][0]["window"] == {
        "start": "mark restart", "start_t": 3.0, "end": "mark recovered", "end_t": 6.5,
        "requests": 2}
    assert from_json(doc).outcomes[0].window == r.outcomes[0].window


def test_requests_are_plotted_when_they_were_sent():
    r = ModeResult(mode="strict", samples=SAMPLES)
    pts = report.points(r, ["web"])
    assert pts[ERROR][0] == [2.9, 3.5]       # not 4.9, when the in-flight one timed out
    assert pts[INTENDED][0] == [1.0, 5.0, 7.0, 9.0]


def test_labels_starting_together_go_to_separate_rows():
    assert report.stagger([(100, 180), (100, 150), (101, 160)]) == [0, 1, 2]
    assert report.stagger([(0, 50), (60, 90), (20, 40), (95, 120)]) == [0, 0, 1, 0]
    assert report.stagger([]) == []


def test_timeline_with_faults_starting_together(tmp_path):
    r = ModeResult(mode="strict", status="passed", samples=SAMPLES, marks=MARKS,
                   faults=[{"name": "partition cell-1|nats", "start": 3.0, "end": 6.0},
                           {"name": "kill router", "start": 3.0, "end": 5.0}])
    sc = schema.parse({"name": "x", "apps": [{"name": "web"}]})
    report.timeline_png(tmp_path / "t.png", sc, [r])
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


def test_status_counts_every_answer_with_it():
    from orchestrator.scenario.classify import MISROUTED
    samples = [*SAMPLES, Sample(4.0, "web", MISROUTED, 200, answered_by="other", phase="restart")]
    out = analysis.check(exps("status.200@restart: == 2", "status.0@restart: == 1",
                              "intended@restart: == 1"), samples, marks=MARKS)
    assert [(o.actual, o.passed) for o in out] == [(2, True), (1, True), (1, True)]
