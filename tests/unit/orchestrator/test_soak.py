"""The soak's scenario, its growth rule, verdict, table and plot (no Docker)."""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator import soak
from orchestrator.scenario import schema
from orchestrator.scenario.analysis import count
from orchestrator.scenario.classify import Sample


def test_scenario_is_valid_strict_and_restarts_each_job_once() -> None:
    for minutes in (3, 30):
        sc = schema.parse(soak.scenario_doc(minutes), "soak")
        assert sc.modes == ("strict",)
        kinds = [s.kind for s in sc.steps]
        restarted = [s.params["job"] for s in sc.steps if s.kind == "restart_job"]
        assert restarted == ["router", "nats", "cell-1"]
        assert kinds.count("crash_instance") == kinds.count("scale") // 2 >= 1
    assert (schema.parse(soak.scenario_doc(30), "soak").steps.__len__()
            > schema.parse(soak.scenario_doc(3), "soak").steps.__len__())


def test_growth_compares_the_first_sample_after_warm_up_with_the_last() -> None:
    samples = [{"t": 5, "job": "router", "rss_kb": 10_000, "fds": 20},    # before warm-up
               {"t": 60, "job": "router", "rss_kb": 50_000, "fds": 40},
               {"t": 900, "job": "router", "rss_kb": 54_000, "fds": 44},
               {"t": 60, "job": "bbs", "rss_kb": 100_000, "fds": 100},
               {"t": 900, "job": "bbs", "rss_kb": 120_000, "fds": 100}]
    g = {x.job: x for x in soak.growth(samples, since=30)}
    assert (g["router"].rss_start, g["router"].rss_end) == (50_000, 54_000)
    assert not g["router"].grew                      # +8% RSS, +4 fds: within limits
    assert g["bbs"].grew                             # +20% RSS


def test_small_absolute_changes_are_noise() -> None:
    assert not soak.Growth("nats", 8_000, 11_000, 10, 17).grew   # +3 MB, +7 fds
    assert soak.Growth("nats", 8_000, 8_000, 10, 19).grew        # +9 fds, +90%


@dataclass
class FakeResult:
    samples: list
    faults: list = field(default_factory=list)
    error: str = ""
    duration: float = 1900.0

    @property
    def counts(self):
        return count(self.samples)


def test_verdict_and_table() -> None:
    ok = [Sample(t=float(i), route="web", outcome="intended", status=200, phase="steady",
                 cert_serial=str(i // 60)) for i in range(300)]
    fault = [Sample(t=100.0, route="web", outcome="error", status=502,
                    reason="endpoint_failure", phase="restart-router")]
    grown = [soak.Growth("router", 50_000, 51_000, 40, 41)]
    result = FakeResult(ok + fault, faults=[{"name": "restart router", "start": 99, "end": 101}])
    assert soak.verdict(result, grown) == []
    text = soak.table(30, result, grown, [])
    assert "| 301 | 1 | 0 | 0 |" in text
    assert "| restart-router | 502 endpoint_failure | 1 |" in text
    assert "web 5" in text and "Verdict: PASSED" in text
    quiet = FakeResult(ok + [Sample(t=1.0, route="web", outcome="error", status=503,
                                    reason="no_endpoints", phase="steady")])
    problems = soak.verdict(quiet, grown + [soak.Growth("bbs", 100_000, 150_000, 9, 9)])
    assert problems[0] == "1 requests failed outside fault windows: 503 no_endpoints ×1"
    assert problems[1].startswith("bbs grew: RSS +50.0%")
    # a short run (CI's) reports growth without judging it: it would measure the warm-up
    assert soak.verdict(quiet, grown + [soak.Growth("bbs", 100_000, 150_000, 9, 9)],
                        judge_growth=False) == problems[:1]
    assert "Growth is not judged" in soak.table(3, result, grown, [])
    assert "Growth is not judged" not in text


def test_plot_writes_a_png(tmp_path) -> None:
    result = FakeResult([Sample(t=float(i), route="web", outcome="intended", status=200)
                         for i in range(50)], faults=[{"name": "x", "start": 10, "end": 20}])
    samples = [{"t": t, "job": "router", "rss_kb": 1000 + t, "fds": 10} for t in (0, 20, 40)]
    soak.plot(tmp_path / "soak.png", result, samples, since=20)
    assert (tmp_path / "soak.png").read_bytes()[:4] == b"\x89PNG"
