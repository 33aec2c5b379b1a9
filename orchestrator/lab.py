"""`cflab lab`: incidents from a page. What the page shows and starts (sans-IO apart
from reading scenario files and result.json); `lab_server` does the HTTP and SSE.

The in-foundation dashboard job has no Docker access and must not get one, so starting a
scenario (a fresh foundation per mode) and switching a foundation's mode happen here, on
the host, with the same calls as `cflab scenario run` and `cflab mode`.

One run at a time: each mode of a run is a fresh foundation on the shared engine.
A run's progress is a list of numbered events (log lines, new samples, fault windows,
each mode's result); a page that connects gets the run so far, then every event.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.config import MODES
from orchestrator.scenario import matrix, schema
from orchestrator.scenario.classify import Sample

MAX_EVENTS = 4000        # kept for pages that reconnect; one further back gets a snapshot
MAX_LOG = 400            # log lines kept in a run's snapshot
POLL = 0.25              # how often a running mode's new samples are read (s)
SAMPLE_KEYS = ("t", "route", "outcome", "status", "reason", "answered_by")


class QueryError(ValueError):
    """A malformed query: the server answers 400 with this message."""


class Conflict(RuntimeError):
    """A request the lab cannot take now (another run is going): 409."""


def parse_query(query: dict[str, list[str]], allowed: dict[str, str]) -> dict[str, Any]:
    """Check a parsed query string against `allowed` (name -> "str" | "mode" | "modes" |
    "int"): unknown names, repeats of single values and bad values are QueryErrors."""
    out: dict[str, Any] = {}
    for name, values in query.items():
        kind = allowed.get(name)
        if kind is None:
            raise QueryError(f"unknown query parameter {name!r}"
                             f" (allowed: {', '.join(sorted(allowed)) or 'none'})")
        if kind != "modes" and len(values) != 1:
            raise QueryError(f"{name} given {len(values)} times")
        if kind == "modes":
            modes = [m for v in values for m in v.split(",") if m]
            bad = [m for m in modes if m not in MODES]
            if bad or not modes:
                raise QueryError(f"mode must be one of {', '.join(MODES)} (got {values!r})")
            out[name] = list(dict.fromkeys(modes))
        elif kind == "mode":
            if values[0] not in MODES:
                raise QueryError(f"{name} must be one of {', '.join(MODES)}"
                                 f" (got {values[0]!r})")
            out[name] = values[0]
        elif kind == "int":
            try:
                out[name] = int(values[0])
            except ValueError:
                raise QueryError(f"{name} must be a whole number (got {values[0]!r})") from None
            if out[name] < 0:
                raise QueryError(f"{name} must not be negative")
        else:
            if not values[0] or len(values[0]) > 200:
                raise QueryError(f"{name} must be 1-200 characters")
            out[name] = values[0]
    return out


def sample_json(s: Sample) -> dict[str, Any]:
    """What a lane draws of one request (the rest stays in result.json)."""
    d = s.to_json()
    return {k: d[k] for k in SAMPLE_KEYS if k in d}


def scenario_list(directory: Path) -> list[dict[str, Any]]:
    """Every scenario file with its modes, or why it cannot run (an invalid file)."""
    rows = []
    for name, path in schema.discover(directory).items():
        try:
            sc = schema.load_file(path)
        except schema.ScenarioError as exc:
            rows.append({"name": name, "error": str(exc), "modes": [], "description": ""})
            continue
        rows.append({"name": name, "modes": list(sc.modes), "not_applicable": sc.not_applicable,
                     "description": sc.description.strip(),
                     "routes": list(sc.routes)})
    return rows


def past_runs(out: Path) -> list[dict[str, Any]]:
    """The runs under `out` (`out/<scenario>/result.json`): a row per scenario with the
    side-by-side cell of each mode, as `cflab scenario table` prints; an unreadable
    result.json is a row with its error, not a failed page."""
    rows = []
    for path in sorted(out.glob("*/result.json")):
        name = path.parent.name
        try:
            doc = json.loads(path.read_text())
            modes = doc.get("modes", {}) if isinstance(doc, dict) else None
            if not isinstance(modes, dict):
                raise ValueError("modes is not a mapping")
        except (OSError, ValueError) as exc:
            rows.append({"scenario": name, "error": f"unreadable result.json: {exc}"})
            continue
        rows.append({
            "scenario": name, "passed": bool(doc.get("passed")),
            "finished": round(path.stat().st_mtime, 1),
            "cells": {m: matrix.cell(modes.get(m)) for m in MODES},
            "modes": {m: {"status": d.get("status"), "counts": d.get("counts", {}),
                          "faults": d.get("faults", []), "error": d.get("error", "")}
                      for m, d in modes.items() if isinstance(d, dict)},
            "timeline": (path.parent / "timeline.png").exists(),
        })
    return rows


@dataclass
class Lane:
    """One mode of the run on the page: its samples so far, its fault windows, its end."""
    mode: str
    state: str = "waiting"          # waiting | running | passed | failed | error | skipped
    samples: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    now: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    error: str = ""
    note: str = ""
    expectations: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "state": self.state, "samples": self.samples,
                "faults": self.faults, "now": self.now, "counts": self.counts,
                "error": self.error, "note": self.note, "expectations": self.expectations,
                "misrouted": sum(s["outcome"] == "misrouted" for s in self.samples)}


@dataclass
class Run:
    id: int
    scenario: str
    modes: list[str]
    state: str = "running"          # running | done | error
    error: str = ""
    started: float = field(default_factory=time.time)
    lanes: dict[str, Lane] = field(default_factory=dict)
    log: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_LOG))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "scenario": self.scenario, "modes": self.modes,
                "state": self.state, "error": self.error, "started": self.started,
                "lanes": {m: lane.to_json() for m, lane in self.lanes.items()},
                "log": list(self.log)}


# run_fn(scenario, modes, out, log, watch): orchestrator.scenario.runner.run_scenario
RunFn = Callable[..., Any]


class Lab:
    """The lab's state, shared by the HTTP threads and the run's thread."""

    def __init__(self, scenarios: Path, out: Path, run_fn: RunFn,
                 switch_fn: Callable[[str], None],
                 foundation_fn: Callable[[], dict[str, Any]]) -> None:
        self.scenarios, self.out = scenarios, out
        self.run_fn, self.switch_fn, self.foundation_fn = run_fn, switch_fn, foundation_fn
        self.cond = threading.Condition()
        self.events: deque[tuple[int, str, dict[str, Any]]] = deque(maxlen=MAX_EVENTS)
        self.seq = 0
        self.run: Run | None = None
        self.runs = 0
        self.switch: dict[str, Any] = {"state": "idle", "mode": "", "error": ""}
        self._watch: _Watch | None = None

    # -- events ---------------------------------------------------------------

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        with self.cond:
            self.seq += 1
            self.events.append((self.seq, kind, data))
            self.cond.notify_all()

    def snapshot(self) -> dict[str, Any]:
        with self.cond:
            return {"seq": self.seq, "run": self.run.to_json() if self.run else None,
                    "switch": dict(self.switch)}

    def wait_events(self, after: int, timeout: float) -> list[tuple[int, str, dict[str, Any]]] | None:
        """Events numbered after `after` (waiting up to `timeout` for one); None when the
        caller fell behind what is kept and must start again from a snapshot."""
        with self.cond:
            if self.seq <= after:
                self.cond.wait(timeout)
            if self.events and self.events[0][0] > after + 1:
                return None
            return [e for e in self.events if e[0] > after]

    # -- a run ----------------------------------------------------------------

    def start(self, name: str, modes: list[str] | None) -> Run:
        """Check and start a run in a background thread. ScenarioError: the scenario does
        not exist or its file is invalid (the page shows the message); Conflict: a run is
        going."""
        path = schema.discover(self.scenarios).get(name)
        if path is None:
            raise schema.ScenarioError(f"no scenario {name!r} in {self.scenarios}")
        sc = schema.load_file(path)
        modes = list(modes or sc.modes)
        with self.cond:
            if self.run and self.run.state == "running":
                raise Conflict(f"run {self.run.id} ({self.run.scenario}) is still going;"
                               " one run at a time")
            self.runs += 1
            run = Run(self.runs, name, modes, lanes={m: Lane(m) for m in modes})
            self.run = run
        self.publish("run", run.to_json())
        threading.Thread(target=self._run, args=(run, sc), daemon=True,
                         name=f"lab-run-{run.id}").start()
        return run

    def _log(self, run: Run, line: str) -> None:
        with self.cond:
            run.log.append(line)
        self.publish("log", {"run": run.id, "line": line})

    def running_mode(self) -> Any:
        """The ModeRun going now (its foundation is up), or None: what a stopped lab
        must tear down, since the run's thread dies with it."""
        watch = self._watch
        return watch.mode_run if watch is not None else None

    def _run(self, run: Run, sc: schema.Scenario) -> None:
        watch = self._watch = _Watch(self, run)
        try:
            self.run_fn(sc, run.modes, out=self.out, log=lambda m: self._log(run, m),
                        watch=watch)
            state, error = "done", ""
        except Exception as exc:  # noqa: BLE001 - shown on the page, the lab keeps serving
            state, error = "error", f"{type(exc).__name__}: {exc}"
        finally:
            watch.stop()
        with self.cond:
            run.state, run.error = state, error
            for lane in run.lanes.values():
                if lane.state in ("waiting", "running"):
                    lane.state = "error" if error else lane.state
        self.publish("run", {"id": run.id, "state": state, "error": error})
        self.publish("runs", {})

    # -- the running foundation's mode ---------------------------------------

    def switch_mode(self, mode: str) -> None:
        with self.cond:
            if self.switch["state"] == "switching":
                raise Conflict(f"already switching to {self.switch['mode']}")
            self.switch = {"state": "switching", "mode": mode, "error": ""}
        self.publish("switch", dict(self.switch))
        threading.Thread(target=self._switch, args=(mode,), daemon=True,
                         name="lab-switch").start()

    def _switch(self, mode: str) -> None:
        try:
            self.switch_fn(mode)
            state, error = "done", ""
        except Exception as exc:  # noqa: BLE001 - shown on the page
            state, error = "error", f"{type(exc).__name__}: {exc}"
        with self.cond:
            self.switch = {"state": state, "mode": mode, "error": error}
        self.publish("switch", dict(self.switch))

    def foundation(self) -> dict[str, Any]:
        """The foundation `cflab mode` acts on: its mode and each job's state, or why it
        cannot be read (the page shows it and keeps working)."""
        try:
            return self.foundation_fn()
        except Exception as exc:  # noqa: BLE001
            return {"error": f"{type(exc).__name__}: {exc}", "jobs": {}}


class _Watch:
    """The runner's Watcher for one run: while a mode runs, a thread reads its load's new
    samples and its fault windows every POLL seconds and publishes them."""

    def __init__(self, lab: Lab, run: Run) -> None:
        self.lab, self.run = lab, run
        self.mode_run: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def started(self, mode_run: Any) -> None:
        self._halt()
        mode = mode_run.cfg.mode
        with self.lab.cond:
            self.run.lanes[mode].state = "running"
        self.lab.publish("lane", {"mode": mode, "state": "running"})
        self.mode_run = mode_run
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, args=(mode_run, self._stop),
                                        daemon=True, name=f"lab-watch-{mode}")
        self._thread.start()

    def finished(self, result: Any) -> None:
        if self.mode_run is not None and self.mode_run.cfg.mode == result.mode:
            self._halt()
            self.mode_run = None
        doc = result.to_json()
        lane_doc = {"mode": result.mode, "state": result.status, "error": result.error,
                    "note": result.note, "counts": doc["counts"], "faults": result.faults,
                    "expectations": doc["expectations"],
                    "samples": [sample_json(s) for s in result.samples]}
        with self.lab.cond:
            lane = self.run.lanes.setdefault(result.mode, Lane(result.mode))
            lane.state, lane.error, lane.note = result.status, result.error, result.note
            lane.counts, lane.faults = doc["counts"], list(result.faults)
            lane.expectations, lane.samples = doc["expectations"], lane_doc["samples"]
            if lane.samples:
                lane.now = max(lane.now, lane.samples[-1]["t"])
        self.lab.publish("result", lane_doc)

    def stop(self) -> None:
        self._halt()

    def _halt(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _poll(self, mode_run: Any, stop: threading.Event) -> None:
        mode, sent, faults = mode_run.cfg.mode, 0, "[]"
        while True:
            stopping = stop.wait(POLL)
            load = mode_run.load
            new = [sample_json(s) for s in load.since(sent)] if load else []
            sent += len(new)
            now = round(load.now(), 2) if load else 0.0
            windows = json.dumps(mode_run.result.faults, default=str)
            changed = windows != faults
            faults = windows
            if new or changed or load:
                with self.lab.cond:
                    lane = self.run.lanes[mode]
                    lane.samples.extend(new)
                    lane.now = now
                    lane.faults = json.loads(windows)
                self.lab.publish("samples", {"mode": mode, "samples": new, "now": now,
                                             **({"faults": json.loads(windows)} if changed
                                                else {})})
            if stopping:
                return
