"""The one table of scenario step kinds and wait conditions (sans-IO).

Each step kind is declared once, next to its handler: its parameters (type, default,
meaning), any rule across parameters, how it shows on the timeline, a short example and
its reference text. The validator (``schema``), the runner and ``docs/scenarios.md``
(``reference``) all read this table, so they cannot drift apart.

Adding a kind (in ``steps.py``, or a module ``steps.py`` imports)::

    @step_kind("crash_instance", group=FAULTS,
               params=(Param("app", APP, required=True, doc="the app"),
                       Param("index", INDEX, default=0, doc="which instance")),
               window=Instant("crash {app}/{index}"),
               example="crash_instance: {app: web, index: 0}")
    def crash_instance(run, step):
        '''Kill one instance's app process; the cell reports the crash.'''
        ...
        return "a note for the progress line"

A wait condition is declared the same way with ``@condition`` (``conditions.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.config import ConfigError, parse_duration

APPS, FAULTS, FLOW, CLOUD_CONTROLLER, PROBES = (
    "apps", "faults", "flow", "cloud controller", "probes")
GROUPS = (APPS, FAULTS, FLOW, CLOUD_CONTROLLER, PROBES)
JOBS = ("nats", "router", "bbs")


class Invalid(ValueError):
    """A value or a step is wrong. `field` names the parameter when it is not the one
    being checked (a rule across parameters); the message says what is allowed."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Context:
    """What a step's values are checked against: the scenario's apps and cells."""
    apps: tuple[str, ...]
    cells: int

    @property
    def cell_names(self) -> tuple[str, ...]:
        return tuple(f"cell-{n}" for n in range(1, self.cells + 1))


@dataclass(frozen=True)
class Type:
    """A parameter type: what the reference calls it and how a value is checked
    (``check`` returns the value as the handler gets it, or raises Invalid)."""
    name: str
    check: Callable[[Any, Context], Any]
    doc: str = ""


_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")
_CHECK = re.compile(r"^[a-z0-9_-]{1,60}$")


def _app(value: Any, ctx: Context) -> str:
    if value not in ctx.apps:
        raise Invalid(f"no app {value!r} (apps: {', '.join(ctx.apps)})")
    return value


def _cell(value: Any, ctx: Context) -> str:
    if value not in ctx.cell_names:
        raise Invalid(f"no cell {value!r} (cells: {', '.join(ctx.cell_names)})")
    return value


def _job(value: Any, ctx: Context) -> str:
    jobs = [*JOBS, *ctx.cell_names]
    if isinstance(value, str) and value.startswith("cell-of:") and value[8:] in ctx.apps:
        return value
    if value not in jobs:
        raise Invalid(f"no job {value!r} (jobs: {', '.join(jobs)}, or cell-of:APP with APP"
                      f" one of {', '.join(ctx.apps)})")
    return value


def whole(low: int) -> Callable[[Any, Context], int]:
    def check(value: Any, _ctx: Context) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise Invalid(f"expected a whole number >= {low}, got {value!r}")
        return value
    return check


def _duration(value: Any, _ctx: Context) -> float:
    try:
        return parse_duration(value, "")
    except ConfigError as exc:
        raise Invalid(str(exc).lstrip(": ")) from None


def _name(value: Any, _ctx: Context) -> str:
    if not (isinstance(value, str) and _NAME.match(value)):
        raise Invalid(f"lower-case letters, digits and '-', got {value!r}")
    return value


def _check_name(value: Any, _ctx: Context) -> str:
    if not (isinstance(value, str) and _CHECK.match(value)):
        raise Invalid(f"a check name (a-z, 0-9, '_', '-'), got {value!r}")
    return value


def choice(*values: str) -> Type:
    def check(value: Any, _ctx: Context) -> str:
        if value not in values:
            raise Invalid(f"one of {', '.join(values)}, got {value!r}")
        return value
    return Type(" | ".join(values), check)


def _condition(value: Any, _ctx: Context) -> str:
    if not isinstance(value, str) or value not in CONDITIONS:  # a list is unhashable
        raise Invalid(f"unknown condition {value!r} (known: {', '.join(CONDITIONS)})")
    return value


APP = Type("app", _app, "an app of the scenario's `apps`")
CF_APP = Type("cf app", _app, "an app pushed with an earlier `cf_push` step (the Cloud"
              " Controller must know it)")
CELL = Type("cell", _cell, "`cell-1` … `cell-N`")
JOB = Type("job", _job, "`nats`, `router`, `bbs`, `cell-N`, or `cell-of:APP` (the cell"
           " running APP's instance 0 when the step runs)")
INDEX = Type("index", whole(0), "an instance index, 0 or more")
COUNT = Type("count", whole(0), "a whole number, 0 or more")
POSITIVE = Type("count ≥ 1", whole(1), "a whole number, 1 or more")
DURATION = Type("duration", _duration, "`250ms`, `5s`, `2m`, `1h`, or seconds")
NAME = Type("name", _name, "lower-case letters, digits and `-`")
CHECK_NAME = Type("check name", _check_name, "a-z, 0-9, `_` and `-`")
CONDITION = Type("condition", _condition, "a wait condition (below)")


@dataclass(frozen=True)
class Param:
    name: str
    type: Type
    required: bool = False
    default: Any = None       # filled in when the step leaves the parameter out
    doc: str = ""


@dataclass(frozen=True)
class Opens:
    """The step opens a fault window, shaded on the timeline until a closer ends it
    (or the run ends). `label` is formatted with the step's parameters."""
    label: str


@dataclass(frozen=True)
class Instant:
    """The step is a fault that lasts only as long as its own action (a crash, a
    restart): a dashed line on the timeline, or a thin window when the action took a
    while (`docker restart` takes seconds)."""
    label: str


@dataclass(frozen=True)
class Closes:
    """The step ends the open windows of `kinds` whose `match` parameters equal its own;
    a `match` parameter the step leaves out matches every window."""
    kinds: tuple[str, ...]
    match: tuple[str, ...] = ()


Window = Opens | Instant | Closes


@dataclass(frozen=True)
class StepKind:
    name: str
    group: str
    params: tuple[Param, ...]
    handler: Callable[..., str]
    doc: str
    example: str
    window: Window | None = None
    rule: Callable[[dict[str, Any], Context], None] | None = None

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.required)

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if not p.required)

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)


@dataclass(frozen=True)
class Condition:
    """A `wait: {until: NAME}` condition. `needs` are wait parameters it requires,
    `uses` those it may take; `predicate(run, params)` returns the poll."""
    name: str
    needs: tuple[str, ...]
    uses: tuple[str, ...]
    predicate: Callable[..., Callable[[], bool]]
    doc: str
    example: str


KINDS: dict[str, StepKind] = {}
CONDITIONS: dict[str, Condition] = {}


def _doc(fn: Callable[..., Any]) -> str:
    return " ".join((fn.__doc__ or "").split())


def step_kind(name: str, *, group: str, params: tuple[Param, ...] = (), example: str,
              window: Window | None = None,
              rule: Callable[[dict[str, Any], Context], None] | None = None
              ) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Declare a step kind; the decorated function is its handler `(run, step) -> note`
    and its docstring the reference text."""
    if group not in GROUPS:
        raise ValueError(f"step kind {name}: group {group!r} not in {GROUPS}")

    def register(fn: Callable[..., str]) -> Callable[..., str]:
        if name in KINDS:
            raise ValueError(f"step kind {name!r} declared twice")
        KINDS[name] = StepKind(name, group, params, fn, _doc(fn), example, window, rule)
        return fn
    return register


def condition(name: str, *, needs: tuple[str, ...] = (), uses: tuple[str, ...] = (),
              example: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a wait condition; the decorated function `(run, params)` returns the
    predicate polled until it holds, its docstring is the reference text."""
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in CONDITIONS:
            raise ValueError(f"wait condition {name!r} declared twice")
        CONDITIONS[name] = Condition(name, needs, uses, fn, _doc(fn), example)
        return fn
    return register


def closers_of(kind: str) -> list[str]:
    """The kinds whose windows end the ones `kind` opens (for the reference)."""
    return [k.name for k in KINDS.values()
            if isinstance(k.window, Closes) and kind in k.window.kinds]


@dataclass
class Windows:
    """The fault windows of one run (sans-IO): what is open, what the timeline shows."""
    faults: list[dict[str, Any]] = field(default_factory=list)   # {name, kind, start, end}
    _open: dict[int, dict[str, Any]] = field(default_factory=dict)  # fault index -> params

    def before(self, kind: StepKind, params: dict[str, Any], now: float) -> None:
        """Open or mark the fault a step is about to cause."""
        w = kind.window
        if isinstance(w, (Opens, Instant)):
            label = w.label.format_map(params)
            self.faults.append({"name": label, "kind": kind.name, "start": round(now, 3),
                                "end": round(now, 3) if isinstance(w, Instant) else None})
            if isinstance(w, Opens):
                self._open[len(self.faults) - 1] = dict(params)

    def open(self, kind: str) -> list[dict[str, Any]]:
        """Parameters of the windows `kind` steps opened that are still open."""
        return [p for i, p in self._open.items() if self.faults[i]["kind"] == kind]

    def after(self, kind: StepKind, params: dict[str, Any], now: float) -> None:
        """End an instant fault's window with its step; close the windows a closer ended."""
        w = kind.window
        if isinstance(w, Instant):
            self.faults[-1]["end"] = round(now, 3)
        if not isinstance(w, Closes):
            return
        for i, opened in list(self._open.items()):
            if self.faults[i]["kind"] in w.kinds and all(
                    params[m] == opened.get(m) for m in w.match if m in params):
                self.close(i, now)

    def close(self, index: int, now: float) -> None:
        self._open.pop(index, None)
        self.faults[index]["end"] = round(now, 3)

    def close_all(self, now: float) -> None:
        for i in list(self._open):
            self.close(i, now)
