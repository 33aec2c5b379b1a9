"""Scenario files: parse and validate the YAML into typed objects (no I/O but reading text).

Every problem names the field (``steps[3].wait.until``), says what is allowed and, for a
file, its line (``incident.yml:14: ...``): a scenario author fixing a file needs the
line, not a traceback. All problems of a file are reported at once. Step kinds and wait
conditions come from the one table (``table``, filled by ``steps`` and ``conditions``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.config import MODES, ConfigError, parse_duration
from orchestrator.scenario import settings
from orchestrator.scenario import steps as _steps  # noqa: F401 - fills the table
from orchestrator.scenario.table import CF_APP, CONDITIONS, KINDS, Context, Invalid, StepKind

NAME = _NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,200}[a-z0-9])?$")

# Read-only views of the table, for code that only needs names.
STEP_KINDS = {k.name: (k.required, k.optional) for k in KINDS.values()}
WAIT_CONDITIONS = tuple(CONDITIONS)
OPS = ("==", "!=", ">=", "<=", ">", "<")
SAMPLE_METRICS = ("requests", "intended", "misrouted", "errors", "availability")
METRICS_HELP = ("requests, intended, misrouted, errors, availability, recovery_seconds,"
                " status.NNN, reason.NAME, timer.NAME, check.NAME; optionally @MARK")
_EXPECT_KEY = re.compile(
    r"^(?P<metric>requests|intended|misrouted|errors|availability|recovery_seconds"
    r"|status\.(?:\d{3}|0)|reason\.[a-z_]+|timer\.[a-z0-9_-]+|check\.[a-z0-9_-]+)"
    r"(?:@(?P<phase>[a-z0-9_-]+))?$")
_EXPECT_VALUE = re.compile(r"^\s*(?P<op>==|!=|>=|<=|>|<)\s*(?P<value>\S+)\s*$")
TOP_LEVEL = ("name", "description", "foundation", "apps", "load", "steps", "expect",
             "not_applicable")
APP_FIELDS = ("name", "host", "instances", "start", "cell", "memory", "env")
LOAD_FIELDS = ("rps", "keepalive", "routes", "timeout")

FieldPath = tuple[Any, ...]   # a field's place: ("steps", 3, "wait", "until")


def render_path(path: FieldPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class Problem:
    path: FieldPath
    message: str
    line: int | None = None

    def render(self, source: str = "") -> str:
        where = f"{source}:{self.line}" if source and self.line else source
        text = f"{render_path(self.path)}: {self.message}" if self.path else self.message
        return f"{where}: {text}" if where else text


class ScenarioError(ValueError):
    """A scenario file is wrong: one line per problem, `FILE[:LINE]: FIELD: what is allowed`."""

    def __init__(self, problems: list[Problem] | str, source: str = "") -> None:
        self.problems = [Problem((), problems)] if isinstance(problems, str) else problems
        self.source = source
        super().__init__("\n".join(p.render(source) for p in self.problems))


def _fail(path: FieldPath | str, message: str) -> ScenarioError:
    return ScenarioError([Problem(path if isinstance(path, tuple) else (path,), message)])


class _Collect:
    """Gathers the problems of independent parts, so one run reports them all."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def run(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except ScenarioError as exc:
            self.problems.extend(exc.problems)
            return None


def _suggest(word: Any, known: Any) -> str:
    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


@dataclass(frozen=True)
class App:
    name: str
    host: str
    instances: int = 1
    start: bool = True          # created at setup; False: created by a `push` step
    cell: str | None = None     # placement hint: checked and reported, not enforced
    memory: int = 0             # memory_mb of its LRP (0: no limit, as in Diego)
    env: tuple[tuple[str, str], ...] = ()   # extra environment for its instances


@dataclass(frozen=True)
class Load:
    rps: float = 10.0
    keepalive: bool = False
    routes: tuple[str, ...] = ()   # app names; empty = every app
    timeout: float = 2.0


@dataclass(frozen=True)
class Step:
    index: int
    kind: str
    params: dict[str, Any]          # checked, defaults filled in
    modes: tuple[str, ...] = ()     # empty = every mode
    given: tuple[str, ...] | None = None   # the parameters the file set (None: all)

    def runs_in(self, mode: str) -> bool:
        return not self.modes or mode in self.modes

    @property
    def spec(self) -> StepKind:
        return KINDS[self.kind]

    def describe(self) -> str:
        keys = self.params if self.given is None else self.given
        args = ", ".join(f"{k}={self.params[k]}" for k in keys)
        return f"{self.kind}({args})" if args else self.kind


@dataclass(frozen=True)
class Expectation:
    metric: str
    op: str
    value: float | str
    phase: str | None = None

    @property
    def text(self) -> str:
        suffix = f"@{self.phase}" if self.phase else ""
        return f"{self.metric}{suffix} {self.op} {self.value}"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    modes: tuple[str, ...]
    foundation: dict[str, Any]          # config overrides: cells, timings, ports...
    apps: tuple[App, ...]
    load: Load
    steps: tuple[Step, ...]
    expect: dict[str, tuple[Expectation, ...]]
    not_applicable: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    def app(self, name: str) -> App:
        return next(a for a in self.apps if a.name == name)

    @property
    def routes(self) -> tuple[str, ...]:
        return self.load.routes or tuple(a.name for a in self.apps)


def _mapping(value: Any, path: FieldPath) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, f"expected a mapping, got {value!r}")
    return value


def _known(data: dict[str, Any], allowed: tuple[str, ...], path: FieldPath) -> None:
    for key in data:
        if key not in allowed:
            raise _fail((*path, key), f"unknown field (known: {', '.join(allowed)})"
                        + _suggest(key, allowed))


def _positive_int(value: Any, path: FieldPath, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _fail(path, f"expected a whole number >= {low}, got {value!r}")
    return value


def _duration(value: Any, path: FieldPath) -> float:
    try:
        return parse_duration(value, "")
    except ConfigError as exc:
        raise _fail(path, str(exc).lstrip(": ")) from None


def _modes(value: Any, path: FieldPath) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise _fail(path, f"expected a list of modes ({', '.join(MODES)}), got {value!r}")
    for m in value:
        if m not in MODES:
            raise _fail(path, f"unknown mode {m!r} (known: {', '.join(MODES)})")
    return tuple(value)


def _app(i: int, raw: Any, cells: int, apps: list[App]) -> App:
    path: FieldPath = ("apps", i)
    raw = _mapping(raw, path)
    _known(raw, APP_FIELDS, path)
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail((*path, "name"), f"lower-case letters, digits and '-', got {name!r}")
    if any(a.name == name for a in apps):
        raise _fail((*path, "name"), f"duplicate app name {name!r}")
    host = raw.get("host", f"{name}.apps.internal")
    if not isinstance(host, str) or not _HOST.match(host):
        raise _fail((*path, "host"), f"not a host name: {host!r}")
    if any(a.host == host for a in apps):
        raise _fail((*path, "host"), f"host {host!r} already belongs to another app")
    cell = raw.get("cell")
    if cell is not None and cell not in [f"cell-{n}" for n in range(1, cells + 1)]:
        raise _fail((*path, "cell"), f"no such cell {cell!r} (foundation has {cells})")
    start = raw.get("start", True)
    if not isinstance(start, bool):
        raise _fail((*path, "start"), f"expected true or false, got {start!r}")
    instances = _positive_int(raw.get("instances", 1), (*path, "instances"))
    memory = _positive_int(raw.get("memory", 0), (*path, "memory"), low=0)
    env = _mapping(raw.get("env") or {}, (*path, "env"))
    if not all(isinstance(k, str) and isinstance(v, (str, int, float)) and not isinstance(v, bool)
               for k, v in env.items()):
        raise _fail((*path, "env"), "expected NAME: value pairs")
    return App(name=name, host=host, instances=instances, start=start, cell=cell,
               memory=memory, env=tuple((k, str(v)) for k, v in env.items()))


def _load(value: Any, apps: list[str]) -> Load:
    raw = _mapping(value or {}, ("load",))
    _known(raw, LOAD_FIELDS, ("load",))
    rps = raw.get("rps", 10)
    if isinstance(rps, bool) or not isinstance(rps, (int, float)) or not 0 < rps <= 200:
        raise _fail("load.rps", f"requests per second per route, 0 < rps <= 200, got {rps!r}")
    keepalive = raw.get("keepalive", False)
    if not isinstance(keepalive, bool):
        raise _fail("load.keepalive", f"expected true or false, got {keepalive!r}")
    routes = raw.get("routes", [])
    if not isinstance(routes, list):
        raise _fail("load.routes", f"expected a list of app names, got {routes!r}")
    for r in routes:
        if r not in apps:
            raise _fail("load.routes", f"no app {r!r} (apps: {', '.join(apps)})")
    timeout = _duration(raw.get("timeout", "2s"), ("load", "timeout"))
    return Load(rps=float(rps), keepalive=keepalive, routes=tuple(routes), timeout=timeout)


def _step(i: int, raw: Any, ctx: Context) -> Step:
    path: FieldPath = ("steps", i)
    raw = dict(_mapping(raw, path))
    modes = _modes(raw.pop("modes"), (*path, "modes")) if "modes" in raw else ()
    if len(raw) != 1:
        raise _fail(path, f"a step has exactly one kind (one of {', '.join(KINDS)}),"
                          f" got {', '.join(map(str, raw)) or 'none'}")
    name, value = next(iter(raw.items()))
    kind = KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise _fail(path, f"unknown step {name!r} (known: {', '.join(KINDS)})"
                    + _suggest(name, KINDS))
    path = (*path, name)
    if value is None:
        params: dict[str, Any] = {}
    elif isinstance(value, dict):
        params = dict(value)
    elif kind.params:
        params = {kind.params[0].name: value}
    else:
        raise _fail(path, f"takes no parameters, got {value!r} (write `{name}: {{}}`)")
    _known(params, tuple(p.name for p in kind.params), path)
    given = tuple(params)
    for p in kind.params:
        if p.name in params:
            value = params[p.name]
        elif p.required:
            raise _fail((*path, p.name), "missing" + (f" ({p.doc})" if p.doc else ""))
        elif p.default is not None:
            value = p.default
        else:
            continue
        try:
            params[p.name] = p.type.check(value, ctx)
        except Invalid as exc:
            raise _fail((*path, p.name), str(exc)) from None
    if kind.rule:
        try:
            kind.rule(params, ctx)
        except Invalid as exc:
            raise _fail((*path, exc.field) if exc.field else path, str(exc)) from None
    return Step(index=i, kind=name, params=params, modes=modes, given=given)


def parse_expectation(key: str, value: Any, where: FieldPath | str) -> Expectation:
    base: FieldPath = where if isinstance(where, tuple) else (where,)
    path = (*base, key)
    m = _EXPECT_KEY.match(str(key))
    if not m:
        raise _fail(path, f"unknown metric ({METRICS_HELP})")
    metric, phase = m.group("metric"), m.group("phase")
    if isinstance(value, bool):
        value = "ok" if value else "fail"
    text = f"== {value}" if isinstance(value, (int, float)) or value in ("ok", "fail") \
        else str(value)
    v = _EXPECT_VALUE.match(text)
    if not v:
        raise _fail(path, f"expected 'OP VALUE' with OP in {' '.join(OPS)}, got {value!r}")
    raw_value = v.group("value")
    if metric.startswith("check."):
        if raw_value not in ("ok", "fail") or v.group("op") not in ("==", "!="):
            raise _fail(path, f"a check is '== ok' or '== fail', got {value!r}")
        return Expectation(metric, v.group("op"), raw_value, phase)
    try:
        number = float(raw_value)
    except ValueError:
        raise _fail(path, f"not a number: {raw_value!r}") from None
    if metric == "availability" and not 0 <= number <= 1:
        raise _fail(path, f"availability is a fraction 0..1, got {number}")
    return Expectation(metric, v.group("op"), number, phase)


def _expect(value: Any, modes: tuple[str, ...], marks: set[str],
            problems: _Collect) -> dict[str, tuple[Expectation, ...]]:
    out: dict[str, list[Expectation]] = {m: [] for m in modes}
    raw = problems.run(_mapping, value or {}, ("expect",)) or {}
    for key, checks in raw.items():
        targets = modes if key == "all" else (key,)
        if key != "all" and key not in MODES:
            problems.problems.append(Problem(("expect", key), f"a mode ({', '.join(MODES)})"
                                             f" or 'all'" + _suggest(key, (*MODES, "all"))))
            continue
        if key != "all" and key not in modes:
            problems.problems.append(Problem(
                ("expect", key), f"mode not in foundation.modes ({', '.join(modes)})"))
            continue
        for metric, check in (problems.run(_mapping, checks, ("expect", key)) or {}).items():
            exp = problems.run(parse_expectation, metric, check, ("expect", key))
            if exp is None:
                continue
            if exp.phase and exp.phase not in marks:
                problems.problems.append(Problem(
                    ("expect", key, metric), f"no `mark: {exp.phase}` step"
                    + (f" (marks: {', '.join(sorted(marks))})" if marks else "")))
                continue
            for m in targets:
                out[m].append(exp)
    return {m: tuple(v) for m, v in out.items()}


def _foundation(data: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    foundation = dict(_mapping(data.get("foundation") or {}, ("foundation",)))
    modes = _modes(foundation.pop("modes", list(MODES)), ("foundation", "modes"))
    cells = foundation.get("cells", 1)
    _positive_int(cells, ("foundation", "cells"))
    foundation["cells"] = cells
    _known(foundation, settings.foundation_settings(), ("foundation",))
    for key, val in _mapping(foundation.get("timings") or {},
                             ("foundation", "timings")).items():
        _duration(val, ("foundation", "timings", key))
    for mode in modes:   # the foundation's own checks: names, ranges, subnets, ports
        try:
            settings.foundation_config(foundation, mode)
        except ConfigError as exc:
            field_, _, message = str(exc).partition(": ")
            raise _fail(("foundation", *field_.split(".")), message or str(exc)) from None
    return foundation, modes


def parse(data: Any, source: str = "<scenario>", path: Path | None = None,
          lines: Any = None) -> Scenario:
    """Validate a loaded YAML document. Problems are prefixed with `source`, and with the
    line when `lines` (a composed YAML node, see `load_file`) is given."""
    problems = _Collect()
    sc = _parse(data, path, problems)
    if problems.problems or sc is None:
        found = [Problem(p.path, p.message, line_of(lines, p.path)) for p in problems.problems]
        raise ScenarioError(found, source)
    return sc


def _parse(data: Any, path: Path | None, problems: _Collect) -> Scenario | None:
    if problems.run(_mapping, data, ()) is None:
        problems.problems[-1] = Problem((), f"a scenario is a mapping ({', '.join(TOP_LEVEL)}),"
                                            f" got {type(data).__name__}")
        return None
    problems.run(_known, data, TOP_LEVEL, ())
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        problems.problems.append(Problem(("name",),
                                         f"lower-case letters, digits and '-', got {name!r}"))
    foundation, modes = problems.run(_foundation, data) or ({"cells": 1}, MODES)
    cells = foundation["cells"] if isinstance(foundation.get("cells"), int) else 1
    raw_apps = data.get("apps")
    apps: list[App] = []
    if not isinstance(raw_apps, list) or not raw_apps:
        problems.problems.append(Problem(("apps",), "expected a non-empty list of apps"))
        raw_apps = []
    for i, raw in enumerate(raw_apps):
        app = problems.run(_app, i, raw, cells, apps)
        if app is not None:
            apps.append(app)
    # Steps are checked against every app the file names, even one with a bad field.
    names = list(dict.fromkeys([a.name for a in apps] + [
        r["name"] for r in raw_apps if isinstance(r, dict) and isinstance(r.get("name"), str)]))
    load = problems.run(_load, data.get("load"), names)
    raw_steps = data.get("steps") or []
    if not isinstance(raw_steps, list):
        problems.problems.append(Problem(("steps",), "expected a list of steps"))
        raw_steps = []
    ctx = Context(apps=tuple(names), cells=cells)
    parsed = [problems.run(_step, i, s, ctx) for i, s in enumerate(raw_steps)]
    steps = tuple(s for s in parsed if s is not None)
    problems.run(_check_pushes, apps, steps)
    marks = {s.params["name"] for s in steps if s.kind == "mark"}
    expect = _expect(data.get("expect"), modes, marks, problems)
    na = problems.run(_mapping, data.get("not_applicable") or {}, ("not_applicable",)) or {}
    for mode in na:
        if mode not in MODES:
            problems.problems.append(Problem(("not_applicable", mode),
                                             f"not a mode ({', '.join(MODES)})"))
    if problems.problems or load is None:
        return None
    return Scenario(name=name, description=str(data.get("description", "")).strip(),
                    modes=modes, foundation=foundation, apps=tuple(apps), load=load,
                    steps=steps, expect=expect,
                    not_applicable={k: str(v) for k, v in na.items()}, path=path)


def _check_pushes(apps: list[App], steps: tuple[Step, ...]) -> None:
    """Order across steps: an app is started once; Cloud Controller steps need an app
    an earlier `cf_push` step pushed."""
    started = {a.name for a in apps if a.start}
    via_cc: set[str] = set()
    for s in steps:
        if s.kind in ("push", "cf_push") and s.params["app"] in {a.name for a in apps}:
            if s.params["app"] in started and not s.modes:
                raise _fail(("steps", s.index, s.kind, "app"),
                            f"{s.params['app']!r} is already started (set start: false)")
            started.add(s.params["app"])
            if s.kind == "cf_push":
                app = next(a for a in apps if a.name == s.params["app"])
                if app.host.split(".", 1)[0] != app.name:
                    raise _fail(("steps", s.index, "cf_push", "app"),
                                f"cf push routes {app.name}.<apps_domain>; {app.name!r} has"
                                f" host {app.host!r}")
                via_cc.add(app.name)
        for p in s.spec.params:
            if p.type is CF_APP and p.name in s.params and s.params[p.name] not in via_cc:
                raise _fail(("steps", s.index, s.kind, p.name),
                            f"{s.params[p.name]!r} is not pushed with an earlier cf_push step"
                            " (the Cloud Controller does not know it)")


def line_of(node: Any, path: FieldPath) -> int | None:
    """The 1-based line of the deepest part of `path` found in a composed YAML node."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            hit = next(((k, v) for k, v in node.value
                        if isinstance(k, yaml.ScalarNode) and k.value == str(part)), None)
            if hit is None:
                break
            line, node = hit[0].start_mark.line + 1, hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def load_text(text: str, source: str, path: Path | None = None) -> Scenario:
    """Parse and validate a scenario's YAML text; problems carry their line numbers."""
    try:
        data = yaml.safe_load(text)
        lines = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise ScenarioError(f"{where}: not valid YAML: {exc}") from None
    except (ValueError, ArithmeticError, LookupError, TypeError, RecursionError) as exc:
        # PyYAML's constructors raise these on values they refuse (`2001-13-01`: month 13)
        raise ScenarioError(f"{source}: not valid YAML: {type(exc).__name__}: {exc}") from None
    return parse(data, source, path, lines)


def load_file(path: Path) -> Scenario:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not a text file (UTF-8)") from None
    return load_text(text, str(path), Path(path))


SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"


def discover(directory: Path = SCENARIO_DIR) -> dict[str, Path]:
    """Scenario name (file stem) -> file."""
    return {p.stem: p for p in sorted(directory.glob("*.yml"))}
