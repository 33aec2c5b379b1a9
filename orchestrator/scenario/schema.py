"""Scenario files: parse and validate the YAML into typed objects (no I/O but reading text).

Every error names the field and, for steps, the step index (``steps[3].wait.until: ...``),
because a scenario author fixing a file needs the line, not a traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.config import MODES, ConfigError, parse_duration

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")
_CHECK = re.compile(r"^[a-z0-9_-]{1,60}$")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,200}[a-z0-9])?$")


class ScenarioError(ValueError):
    """A scenario file is wrong; the message starts with the file and the field."""


# Step kind -> (required params, optional params). A scalar value fills the first
# required param (``observe: 5s``, ``mark: outage``).
STEP_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "push": (("app",), ()),
    "scale": (("app", "instances"), ()),
    "stop_app": (("app",), ()),
    "crash_instance": (("app",), ("index",)),
    "partition": (("from", "to"), ()),
    "heal": ((), ("from", "to")),
    "kill_job": (("job",), ()),
    "stop_job": (("job",), ()),
    "start_job": (("job",), ()),
    "restart_job": (("job",), ()),
    "pause_job": (("job",), ()),
    "unpause_job": (("job",), ()),
    "stop_route_emitter": (("cell",), ()),
    "start_route_emitter": (("cell",), ()),
    "nats_outage": ((), ("how",)),
    "nats_restore": ((), ()),
    "wait": (("until",), ("app", "timeout", "name", "cell", "consecutive", "on_timeout", "index")),
    "observe": (("duration",), ()),
    "mark": (("name",), ()),
    "probe_direct": (("app", "name"), ("client_cert", "index")),
    # Through the Cloud Controller with the `cf` CLI (apps the CC knows; see CC_STEPS).
    "cf_push": (("app",), ("instances",)),
    "bind_service": (("app", "service", "instance_name"), ("plan", "name")),
    "unbind_service": (("app", "instance_name"), ()),
    "probe_credhub": (("from_app", "ref_app", "name"), ()),
}
# Steps that act on an app through the Cloud Controller: it must be pushed with cf_push.
CC_STEPS = {"bind_service": ("app",), "unbind_service": ("app",),
            "probe_credhub": ("from_app", "ref_app")}
# Faults that open a shaded window on the timeline, and the step that closes it.
FAULT_CLOSERS = {
    "partition": "heal", "kill_job": "start_job", "stop_job": "start_job",
    "pause_job": "unpause_job", "stop_route_emitter": "start_route_emitter",
    "nats_outage": "nats_restore",
}
# Faults drawn as an instant (a vertical line) rather than a window.
INSTANT_FAULTS = ("crash_instance", "stop_app", "restart_job")
WAIT_CONDITIONS = (
    "app_running",      # every desired instance of `app` RUNNING in the BBS
    "app_gone",         # no actual LRP and no container left for `app`
    "instance_replaced",  # instance `index` (0) of `app` has a new guid and is RUNNING
    "route_ok",         # `consecutive` GETs of `app`'s route answered by `app`
    "routes_ok",        # the same for every started app
    "route_error",      # `app`'s route answers with an error
    "route_misrouted",  # `app`'s route is answered by another app
    "route_absent",     # the router's /routes no longer lists `app`'s host
    "cert_rotated",     # `app` answers with a certificate serial other than its first
    "cell_gone",        # the BBS no longer lists `cell`
    "off_cell",         # every instance of `app` RUNNING and none on `cell`
    "app_has_credentials",  # `app`'s page lists bound service credentials, secrets masked
)
NEEDS_APP = set(WAIT_CONDITIONS) - {"routes_ok", "cell_gone"}
JOBS = ("nats", "router", "bbs")
CLIENT_CERTS = ("none", "router")
OPS = ("==", "!=", ">=", "<=", ">", "<")
SAMPLE_METRICS = ("requests", "intended", "misrouted", "errors", "availability")
_EXPECT_KEY = re.compile(
    r"^(?P<metric>requests|intended|misrouted|errors|availability|recovery_seconds"
    r"|status\.\d{3}|reason\.[a-z_]+|timer\.[a-z0-9_-]+|check\.[a-z0-9_-]+)"
    r"(?:@(?P<phase>[a-z0-9_-]+))?$")
_EXPECT_VALUE = re.compile(r"^\s*(?P<op>==|!=|>=|<=|>|<)\s*(?P<value>\S+)\s*$")


@dataclass(frozen=True)
class App:
    name: str
    host: str
    instances: int = 1
    start: bool = True          # created at setup; False: created by a `push` step
    cell: str | None = None     # placement hint: checked and reported, not enforced


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
    params: dict[str, Any]
    modes: tuple[str, ...] = ()     # empty = every mode

    def runs_in(self, mode: str) -> bool:
        return not self.modes or mode in self.modes

    def describe(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params.items())
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


def _fail(where: str, message: str) -> ScenarioError:
    return ScenarioError(f"{where}: {message}")


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, f"expected a mapping, got {value!r}")
    return value


def _known(data: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in allowed:
            raise _fail(f"{where}.{key}" if where else key,
                        f"unknown field (known: {', '.join(allowed)})")


def _positive_int(value: Any, where: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _fail(where, f"expected a whole number >= {low}, got {value!r}")
    return value


def _duration(value: Any, where: str) -> float:
    try:
        return parse_duration(value, where)
    except ConfigError as exc:
        raise ScenarioError(str(exc)) from None


def _modes(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise _fail(where, f"expected a list of modes ({', '.join(MODES)}), got {value!r}")
    for m in value:
        if m not in MODES:
            raise _fail(where, f"unknown mode {m!r} (known: {', '.join(MODES)})")
    return tuple(value)


def _apps(value: Any, cells: int) -> tuple[App, ...]:
    if not isinstance(value, list) or not value:
        raise _fail("apps", "expected a non-empty list of apps")
    apps: list[App] = []
    for i, raw in enumerate(value):
        where = f"apps[{i}]"
        raw = _mapping(raw, where)
        _known(raw, ("name", "host", "instances", "start", "cell"), where)
        name = raw.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise _fail(f"{where}.name", f"lower-case letters, digits and '-', got {name!r}")
        if any(a.name == name for a in apps):
            raise _fail(f"{where}.name", f"duplicate app name {name!r}")
        host = raw.get("host", f"{name}.apps.internal")
        if not isinstance(host, str) or not _HOST.match(host):
            raise _fail(f"{where}.host", f"not a host name: {host!r}")
        if any(a.host == host for a in apps):
            raise _fail(f"{where}.host", f"host {host!r} already belongs to another app")
        cell = raw.get("cell")
        if cell is not None and cell not in [f"cell-{n}" for n in range(1, cells + 1)]:
            raise _fail(f"{where}.cell", f"no such cell {cell!r} (foundation has {cells})")
        start = raw.get("start", True)
        if not isinstance(start, bool):
            raise _fail(f"{where}.start", f"expected true or false, got {start!r}")
        instances = _positive_int(raw.get("instances", 1), f"{where}.instances")
        apps.append(App(name=name, host=host, instances=instances, start=start, cell=cell))
    return tuple(apps)


def _load(value: Any, apps: tuple[App, ...]) -> Load:
    raw = _mapping(value or {}, "load")
    _known(raw, ("rps", "keepalive", "routes", "timeout"), "load")
    rps = raw.get("rps", 10)
    if isinstance(rps, bool) or not isinstance(rps, (int, float)) or not 0 < rps <= 200:
        raise _fail("load.rps", f"requests per second per route, 0 < rps <= 200, got {rps!r}")
    keepalive = raw.get("keepalive", False)
    if not isinstance(keepalive, bool):
        raise _fail("load.keepalive", f"expected true or false, got {keepalive!r}")
    routes = raw.get("routes", [])
    if not isinstance(routes, list):
        raise _fail("load.routes", f"expected a list of app names, got {routes!r}")
    names = [a.name for a in apps]
    for r in routes:
        if r not in names:
            raise _fail("load.routes", f"no app {r!r} (apps: {', '.join(names)})")
    timeout = _duration(raw.get("timeout", "2s"), "load.timeout")
    return Load(rps=float(rps), keepalive=keepalive, routes=tuple(routes), timeout=timeout)


def _job_ref(value: Any, where: str, cells: int, apps: list[str]) -> str:
    """A compose service, or ``cell-of:APP`` (the cell running APP's instance 0)."""
    jobs = [*JOBS, *(f"cell-{n}" for n in range(1, cells + 1))]
    if isinstance(value, str) and value.startswith("cell-of:") and value[8:] in apps:
        return value
    if value not in jobs:
        raise _fail(where, f"no job {value!r} (jobs: {', '.join(jobs)}, or cell-of:APP)")
    return value


def _step(i: int, raw: Any, cells: int, apps: list[str]) -> Step:
    where = f"steps[{i}]"
    raw = dict(_mapping(raw, where))
    modes = _modes(raw.pop("modes"), f"{where}.modes") if "modes" in raw else ()
    if len(raw) != 1:
        raise _fail(where, f"a step has exactly one kind (one of {', '.join(STEP_KINDS)}),"
                           f" got {', '.join(raw) or 'none'}")
    kind, value = next(iter(raw.items()))
    if kind not in STEP_KINDS:
        raise _fail(where, f"unknown step {kind!r} (known: {', '.join(STEP_KINDS)})")
    where = f"{where}.{kind}"
    required, optional = STEP_KINDS[kind]
    if value is None:
        params: dict[str, Any] = {}
    elif isinstance(value, dict):
        params = dict(value)
    elif required:
        params = {required[0]: value}
    else:
        raise _fail(where, f"expected a mapping of {', '.join(optional)}, got {value!r}")
    _known(params, required + optional, where)
    for key in required:
        if key not in params:
            raise _fail(f"{where}.{key}", "missing")
    _check_params(kind, params, where, cells, apps)
    return Step(index=i, kind=kind, params=params, modes=modes)


def _check_params(kind: str, p: dict[str, Any], where: str, cells: int,
                  apps: list[str]) -> None:
    cell_names = [f"cell-{n}" for n in range(1, cells + 1)]
    for key in ("app", "from_app", "ref_app"):
        if key in p and p[key] not in apps:
            raise _fail(f"{where}.{key}", f"no app {p[key]!r} (apps: {', '.join(apps)})")
    if "cell" in p and p["cell"] not in cell_names:
        raise _fail(f"{where}.cell", f"no cell {p['cell']!r} (cells: {', '.join(cell_names)})")
    if "job" in p:
        p["job"] = _job_ref(p["job"], f"{where}.job", cells, apps)
    for key in ("from", "to"):
        if key in p:
            p[key] = _job_ref(p[key], f"{where}.{key}", cells, apps)
    if kind == "heal" and ("from" in p) != ("to" in p):
        raise _fail(where, "give both from and to, or neither (heal every partition)")
    if kind == "partition" and p["from"] == p["to"]:
        raise _fail(where, "from and to are the same job")
    if kind == "scale":
        _positive_int(p["instances"], f"{where}.instances", low=0)
    if kind == "cf_push" and "instances" in p:
        _positive_int(p["instances"], f"{where}.instances")
    for key in ("instance_name", "service", "plan"):
        if key in p and not (isinstance(p[key], str) and _NAME.match(p[key])):
            raise _fail(f"{where}.{key}", f"lower-case letters, digits and '-', got {p[key]!r}")
    if kind in ("probe_credhub", "bind_service") and "name" in p \
            and not (isinstance(p["name"], str) and _CHECK.match(p["name"])):
        raise _fail(f"{where}.name", f"a check name (a-z, 0-9, '_', '-'), got {p['name']!r}")
    if "index" in p:
        _positive_int(p["index"], f"{where}.index", low=0)
    if kind == "nats_outage" and p.get("how", "pause") not in ("pause", "stop"):
        raise _fail(f"{where}.how", f"pause or stop, got {p['how']!r}")
    if kind == "observe":
        p["duration"] = _duration(p["duration"], f"{where}.duration")
    if kind == "mark" and not (isinstance(p["name"], str) and _NAME.match(p["name"])):
        raise _fail(f"{where}.name", f"lower-case letters, digits and '-', got {p['name']!r}")
    if kind == "probe_direct":
        if p.get("client_cert", "none") not in CLIENT_CERTS:
            raise _fail(f"{where}.client_cert",
                        f"one of {', '.join(CLIENT_CERTS)}, got {p['client_cert']!r}")
    if kind == "wait":
        until = p["until"]
        if until not in WAIT_CONDITIONS:
            raise _fail(f"{where}.until",
                        f"unknown condition {until!r} (known: {', '.join(WAIT_CONDITIONS)})")
        if until in NEEDS_APP and "app" not in p:
            raise _fail(f"{where}.app", f"condition {until} needs an app")
        if until in ("cell_gone", "off_cell") and "cell" not in p:
            raise _fail(f"{where}.cell", f"condition {until} needs a cell")
        p["timeout"] = _duration(p.get("timeout", "60s"), f"{where}.timeout")
        if p.get("on_timeout", "fail") not in ("fail", "continue"):
            raise _fail(f"{where}.on_timeout", f"fail or continue, got {p['on_timeout']!r}")
        if "consecutive" in p:
            _positive_int(p["consecutive"], f"{where}.consecutive")


def parse_expectation(key: str, value: Any, where: str) -> Expectation:
    m = _EXPECT_KEY.match(str(key))
    if not m:
        raise _fail(f"{where}.{key}", "unknown metric (requests, intended, misrouted, errors,"
                    " availability, recovery_seconds, status.NNN, reason.NAME, timer.NAME,"
                    " check.NAME; optionally @PHASE)")
    metric, phase = m.group("metric"), m.group("phase")
    if isinstance(value, bool):
        value = "ok" if value else "fail"
    text = f"== {value}" if isinstance(value, (int, float)) or value in ("ok", "fail") \
        else str(value)
    v = _EXPECT_VALUE.match(text)
    if not v:
        raise _fail(f"{where}.{key}", f"expected 'OP VALUE' with OP in {' '.join(OPS)},"
                                      f" got {value!r}")
    raw_value = v.group("value")
    if metric.startswith("check."):
        if raw_value not in ("ok", "fail") or v.group("op") not in ("==", "!="):
            raise _fail(f"{where}.{key}", f"a check is '== ok' or '== fail', got {value!r}")
        return Expectation(metric, v.group("op"), raw_value, phase)
    try:
        number = float(raw_value)
    except ValueError:
        raise _fail(f"{where}.{key}", f"not a number: {raw_value!r}") from None
    if metric == "availability" and not 0 <= number <= 1:
        raise _fail(f"{where}.{key}", f"availability is a fraction 0..1, got {number}")
    return Expectation(metric, v.group("op"), number, phase)


def _expect(value: Any, modes: tuple[str, ...], marks: set[str]) -> dict[str, tuple[Expectation, ...]]:
    raw = _mapping(value or {}, "expect")
    out: dict[str, list[Expectation]] = {m: [] for m in modes}
    for key, checks in raw.items():
        targets = modes if key == "all" else (key,)
        if key != "all" and key not in MODES:
            raise _fail(f"expect.{key}", f"a mode ({', '.join(MODES)}) or 'all'")
        if key != "all" and key not in modes:
            raise _fail(f"expect.{key}", f"mode not in foundation.modes ({', '.join(modes)})")
        for metric, check in _mapping(checks, f"expect.{key}").items():
            exp = parse_expectation(metric, check, f"expect.{key}")
            if exp.phase and exp.phase not in marks:
                raise _fail(f"expect.{key}.{metric}", f"no `mark: {exp.phase}` step")
            for m in targets:
                out[m].append(exp)
    return {m: tuple(v) for m, v in out.items()}


def parse(data: Any, source: str = "<scenario>", path: Path | None = None) -> Scenario:
    """Validate a loaded YAML document; errors are prefixed with `source`."""
    try:
        return _parse(data, path)
    except ScenarioError as exc:
        raise ScenarioError(f"{source}: {exc}") from None


def _parse(data: Any, path: Path | None) -> Scenario:
    data = _mapping(data, "scenario")
    _known(data, ("name", "description", "foundation", "apps", "load", "steps", "expect",
                  "not_applicable"), "")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail("name", f"lower-case letters, digits and '-', got {name!r}")
    foundation = dict(_mapping(data.get("foundation") or {}, "foundation"))
    modes = _modes(foundation.pop("modes", list(MODES)), "foundation.modes")
    cells = foundation.get("cells", 1)
    _positive_int(cells, "foundation.cells")
    foundation["cells"] = cells
    _known(foundation, ("cells", "timings", "ports", "subnets", "port_allocator",
                        "proxy_config_layout", "key_sizes", "project"), "foundation")
    for key, val in _mapping(foundation.get("timings") or {}, "foundation.timings").items():
        _duration(val, f"foundation.timings.{key}")
    apps = _apps(data.get("apps"), cells)
    load = _load(data.get("load"), apps)
    raw_steps = data.get("steps") or []
    if not isinstance(raw_steps, list):
        raise _fail("steps", "expected a list of steps")
    names = [a.name for a in apps]
    steps = tuple(_step(i, s, cells, names) for i, s in enumerate(raw_steps))
    _check_pushes(apps, steps)
    marks = {s.params["name"] for s in steps if s.kind == "mark"}
    na = _mapping(data.get("not_applicable") or {}, "not_applicable")
    for mode in na:
        if mode not in MODES:
            raise _fail(f"not_applicable.{mode}", f"not a mode ({', '.join(MODES)})")
    return Scenario(name=name, description=str(data.get("description", "")).strip(),
                    modes=modes, foundation=foundation, apps=apps, load=load, steps=steps,
                    expect=_expect(data.get("expect"), modes, marks),
                    not_applicable={k: str(v) for k, v in na.items()}, path=path)


def _check_pushes(apps: tuple[App, ...], steps: tuple[Step, ...]) -> None:
    started = {a.name for a in apps if a.start}
    via_cc: set[str] = set()
    for s in steps:
        if s.kind in ("push", "cf_push"):
            if s.params["app"] in started and not s.modes:
                raise _fail(f"steps[{s.index}].{s.kind}.app",
                            f"{s.params['app']!r} is already started (set start: false)")
            started.add(s.params["app"])
            if s.kind == "cf_push":
                app = next(a for a in apps if a.name == s.params["app"])
                if app.host.split(".", 1)[0] != app.name:
                    raise _fail(f"steps[{s.index}].cf_push.app",
                                f"cf push routes {app.name}.<apps_domain>; {app.name!r} has"
                                f" host {app.host!r}")
                via_cc.add(app.name)
        for key in CC_STEPS.get(s.kind, ()):
            if s.params[key] not in via_cc:
                raise _fail(f"steps[{s.index}].{s.kind}.{key}",
                            f"{s.params[key]!r} is not pushed with an earlier cf_push step"
                            " (the Cloud Controller does not know it)")


def load_file(path: Path) -> Scenario:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    except (ValueError, ArithmeticError, LookupError, TypeError, RecursionError) as exc:
        # PyYAML's constructors raise these on values they refuse (`2001-13-01`: month 13)
        raise ScenarioError(f"{path}: not valid YAML: {type(exc).__name__}: {exc}") from None
    return parse(data, str(path), Path(path))


SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"


def discover(directory: Path = SCENARIO_DIR) -> dict[str, Path]:
    """Scenario name (file stem) -> file."""
    return {p.stem: p for p in sorted(directory.glob("*.yml"))}
