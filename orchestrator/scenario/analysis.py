"""Aggregate samples into per-mode numbers and check expectations (sans-IO)."""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.scenario.classify import ERROR, INTENDED, MISROUTED, Sample
from orchestrator.scenario.schema import Expectation

_OPS = {"==": operator.eq, "!=": operator.ne, ">=": operator.ge, "<=": operator.le,
        ">": operator.gt, "<": operator.lt}


@dataclass
class Counts:
    requests: int = 0
    intended: int = 0
    misrouted: int = 0
    errors: int = 0
    by_status: Counter = field(default_factory=Counter)
    by_reason: Counter = field(default_factory=Counter)
    by_error: Counter = field(default_factory=Counter)       # "503 no_endpoints" -> n
    answered_by: Counter = field(default_factory=Counter)    # "route->answerer" -> n

    @property
    def availability(self) -> float | None:
        """Share of requests the intended app answered; None without requests."""
        return self.intended / self.requests if self.requests else None

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "intended": self.intended,
                "misrouted": self.misrouted, "errors": self.errors,
                "availability": None if self.availability is None
                else round(self.availability, 4),
                "errors_by_status": dict(sorted(self.by_status.items())),
                "errors_by_reason": dict(sorted(self.by_reason.items())),
                "errors_by_kind": dict(self.by_error.most_common()),
                "answered_by": dict(sorted(self.answered_by.items()))}


def count(samples: Iterable[Sample]) -> Counts:
    c = Counts()
    for s in samples:
        c.requests += 1
        if s.outcome == INTENDED:
            c.intended += 1
        elif s.outcome == MISROUTED:
            c.misrouted += 1
            c.answered_by[f"{s.route}->{s.answered_by}"] += 1
        else:
            c.errors += 1
            c.by_status[str(s.status)] += 1
            c.by_reason[s.reason or "none"] += 1
            c.by_error[s.error_key] += 1
    return c


def by_route(samples: Sequence[Sample]) -> dict[str, Counts]:
    routes = sorted({s.route for s in samples})
    return {r: count(s for s in samples if s.route == r) for r in routes}


def by_phase(samples: Sequence[Sample]) -> dict[str, Counts]:
    phases = list(dict.fromkeys(s.phase for s in samples if s.phase))
    return {p: count(s for s in samples if s.phase == p) for p in phases}


def recovery_seconds(samples: Sequence[Sample], since: float | None) -> float | None:
    """Seconds from `since` (the last fault) to the last non-intended answer after it.

    0 when nothing went wrong after the fault; None when there was no fault or
    the run ended still broken (the last sample is not intended).
    """
    if since is None:
        return None
    after = sorted((s for s in samples if s.t >= since), key=lambda s: s.t)
    if not after:
        return None
    bad = [s for s in after if s.outcome != INTENDED]
    if not bad:
        return 0.0
    routes = {s.route for s in after}
    for r in routes:
        last = [s for s in after if s.route == r][-1]
        if last.outcome != INTENDED:
            return None
    return round(bad[-1].t - since, 3)


@dataclass(frozen=True)
class Window:
    """The requests an expectation counted: sent from `start` to `end` (marks, or the
    run's ends), and how many."""
    start: str
    start_t: float
    end: str
    end_t: float | None
    requests: int

    def text(self) -> str:
        end = f"{self.end} ({self.end_t:.1f} s)" if self.end_t is not None else self.end
        return (f"{self.requests} requests sent from {self.start} ({self.start_t:.1f} s)"
                f" to {end}")

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "start_t": self.start_t, "end": self.end,
                "end_t": self.end_t, "requests": self.requests}


END_OF_RUN = "the end of the run"


def window(phase: str | None, marks: Sequence[dict[str, Any]],
           samples: Sequence[Sample]) -> Window:
    """The window METRIC@PHASE counts over (the whole run without a phase): from the
    `mark: PHASE` step to the next mark; a request belongs to the mark current when it
    was sent."""
    last = max((s.t for s in samples), default=None)
    if phase is None:
        return Window("the load's start", 0.0, END_OF_RUN, last, len(samples))
    n = sum(1 for s in samples if s.phase == phase)
    at = [i for i, m in enumerate(marks) if m["name"] == phase]
    if not at:
        return Window(f"mark {phase}", 0.0, "(the mark never ran)", None, n)
    after = at[-1] + 1
    end, end_t = (f"mark {marks[after]['name']}", marks[after]["t"]) if after < len(marks) \
        else (END_OF_RUN, last)
    return Window(f"mark {phase}", marks[at[0]]["t"], end, end_t, n)


@dataclass
class Outcome:
    """What an expectation found: its text, the actual value, pass/fail, and over which
    requests (`window`, for metrics counted over requests)."""
    expectation: str
    actual: Any
    passed: bool
    note: str = ""
    window: Window | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"expectation": self.expectation, "actual": self.actual, "passed": self.passed}
        if self.note:
            out["note"] = self.note
        if self.window:
            out["window"] = self.window.to_json()
        return out

    @staticmethod
    def from_json(o: dict[str, Any]) -> Outcome:
        w = o.get("window")
        return Outcome(o["expectation"], o["actual"], o["passed"], o.get("note", ""),
                       Window(**w) if isinstance(w, dict) else None)


def metric_value(exp: Expectation, samples: Sequence[Sample], timers: dict[str, float | None],
                 checks: dict[str, bool], recovery: float | None) -> Any:
    """The measured value an expectation is compared with (None: not measured)."""
    if exp.metric.startswith("timer."):
        return timers.get(exp.metric[6:])
    if exp.metric.startswith("check."):
        ok = checks.get(exp.metric[6:])
        return None if ok is None else ("ok" if ok else "fail")
    if exp.metric == "recovery_seconds":
        return recovery
    chosen = [s for s in samples if exp.phase is None or s.phase == exp.phase]
    if not chosen:
        return None   # `misrouted == 0` over no requests proves nothing
    c = count(chosen)
    if exp.metric.startswith("status."):   # every answer with it: status.200 counts misroutes too
        return sum(1 for s in chosen if str(s.status) == exp.metric[7:])
    if exp.metric.startswith("reason."):
        return c.by_reason.get(exp.metric[7:], 0)
    if exp.metric == "availability":
        return None if c.availability is None else round(c.availability, 4)
    return getattr(c, exp.metric)


def _over_requests(exp: Expectation) -> bool:
    return exp.metric in ("requests", "intended", "misrouted", "errors", "availability") \
        or exp.metric.startswith(("status.", "reason."))


def check(expectations: Sequence[Expectation], samples: Sequence[Sample],
          timers: dict[str, float | None] | None = None, checks: dict[str, bool] | None = None,
          recovery: float | None = None,
          marks: Sequence[dict[str, Any]] = ()) -> list[Outcome]:
    out = []
    for exp in expectations:
        actual = metric_value(exp, samples, timers or {}, checks or {}, recovery)
        w = window(exp.phase, marks, samples) if _over_requests(exp) else None
        if actual is None:
            note = "no requests in that phase" if exp.phase else "not measured"
            if _over_requests(exp):
                note = "no requests" + (" in that phase" if exp.phase else "")
            out.append(Outcome(exp.text, None, False, note, w))
            continue
        out.append(Outcome(exp.text, actual, bool(_OPS[exp.op](actual, exp.value)), "", w))
    return out


def first_fault_after(windows: Sequence[dict[str, Any]]) -> float | None:
    """Start of the last fault window: where recovery is measured from."""
    starts = [w["start"] for w in windows]
    return max(starts) if starts else None


def summarise_errors(c: Counts, top: int = 3) -> str:
    """`12× 404 unknown_route, 3× 503 no_endpoints` for a table cell."""
    if not c.errors:
        return "0"
    kinds = ", ".join(f"{n}× {k}" for k, n in c.by_error.most_common(top))
    more = len(c.by_error) - top
    return f"{c.errors} ({kinds}{', …' if more > 0 else ''})"


__all__ = ["Counts", "Outcome", "Window", "window", "count", "by_route", "by_phase", "recovery_seconds", "check",
           "first_fault_after", "summarise_errors", "ERROR"]
