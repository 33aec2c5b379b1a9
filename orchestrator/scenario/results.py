"""What one mode of a scenario produced, and its JSON form (sans-IO)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.scenario import analysis
from orchestrator.scenario.classify import Sample

PASSED, FAILED, ERRORED, SKIPPED = "passed", "failed", "error", "skipped"
MAX_TIMELINE = 6000   # samples kept in result.json; every request is still counted


@dataclass
class ModeResult:
    mode: str
    status: str = ERRORED
    samples: list[Sample] = field(default_factory=list)
    timers: dict[str, float | None] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    check_details: dict[str, str] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)   # {name, start, end}
    marks: list[dict[str, Any]] = field(default_factory=list)    # {name, t}
    steps: list[dict[str, Any]] = field(default_factory=list)    # {index, step, t, seconds}
    outcomes: list[analysis.Outcome] = field(default_factory=list)
    error: str = ""
    note: str = ""
    duration: float = 0.0
    evidence: list[str] = field(default_factory=list)     # paths under the run's folder
    load_started_at: float = 0.0    # wall clock (epoch s) of t = 0, to find log lines

    @property
    def counts(self) -> analysis.Counts:
        return analysis.count(self.samples)

    @property
    def recovery(self) -> float | None:
        return analysis.recovery_seconds(self.samples, analysis.first_fault_after(self.faults))

    def evaluate(self, expectations) -> None:
        """Check expectations and set status (an earlier error stays an error)."""
        self.outcomes = analysis.check(expectations, self.samples, self.timers, self.checks,
                                       self.recovery, self.marks)
        if self.status == SKIPPED or self.error:
            self.status = SKIPPED if self.status == SKIPPED else ERRORED
            return
        self.status = PASSED if all(o.passed for o in self.outcomes) else FAILED

    def to_json(self) -> dict[str, Any]:
        samples = self.samples
        step = max(1, -(-len(samples) // MAX_TIMELINE))
        return {
            "mode": self.mode, "status": self.status, "error": self.error, "note": self.note,
            "duration_seconds": round(self.duration, 1),
            "load_started_at": self.load_started_at,
            "counts": self.counts.to_json(),
            "by_route": {r: c.to_json() for r, c in analysis.by_route(samples).items()},
            "by_phase": {p: c.to_json() for p, c in analysis.by_phase(samples).items()},
            "recovery_seconds": self.recovery,
            "timers": self.timers, "checks": self.checks, "check_details": self.check_details,
            "expectations": [o.to_json() for o in self.outcomes],
            "faults": self.faults, "marks": self.marks, "steps": self.steps,
            "evidence": self.evidence,
            "timeline_every": step,
            "timeline": [s.to_json() for s in samples[::step]],
        }


def from_json(data: dict[str, Any]) -> ModeResult:
    """Rebuild enough of a ModeResult from result.json to redraw the report."""
    r = ModeResult(mode=data["mode"], status=data["status"], error=data.get("error", ""),
                   note=data.get("note", ""), timers=data.get("timers", {}),
                   checks=data.get("checks", {}), faults=data.get("faults", []),
                   marks=data.get("marks", []))
    r.samples = [Sample(**s) for s in data.get("timeline", [])]
    r.outcomes = [analysis.Outcome.from_json(o) for o in data.get("expectations", [])]
    return r
