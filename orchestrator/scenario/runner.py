"""Run a scenario: per mode a fresh foundation, apps, load, steps, evidence, teardown."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import yaml

from foundry import httpclient
from foundry.bbs.client import BBSClient
from orchestrator import config, waiting
from orchestrator.docker_cli import run
from orchestrator.foundation import Foundation
from orchestrator.scenario import evidence, platform, probes, report
from orchestrator.scenario.classify import ERROR, INTENDED, MISROUTED, Sample
from orchestrator.scenario.load import LoadGenerator, page, probe
from orchestrator.scenario.results import ERRORED, SKIPPED, ModeResult
from orchestrator.scenario.schema import Scenario, Step
from orchestrator.scenario.settings import PORT_OFFSET, RUNNER_DEFAULTS  # noqa: F401
from orchestrator.scenario.settings import foundation_config as _foundation_config
from orchestrator.scenario.steps import StepFailed
from orchestrator.scenario.table import Windows

SETUP_TIMEOUT = 120.0


def _logs(container: str, tail: int | None = 300) -> str:
    cmd = ["docker", "logs", *(["--tail", str(tail)] if tail else []), container]
    proc = run(cmd, check=False, timeout=30)
    return (proc.stdout + proc.stderr).decode(errors="replace")


def _dashboard_state(port: int) -> str:
    with httpclient.session() as http:
        resp = http.get(f"http://127.0.0.1:{port}/api/state?requests=200", timeout=10)
    resp.raise_for_status()
    return json.dumps(resp.json(), indent=1) + "\n"


def foundation_config(scenario: Scenario, mode: str, project: str | None = None,
                      placement: dict[str, Any] | None = None) -> config.FoundationConfig:
    """The scenario's foundation in `mode` (see settings.foundation_config)."""
    return _foundation_config(scenario.foundation, mode, project, placement)


class ModeRun:
    """One mode of one scenario against a fresh foundation."""

    def __init__(self, scenario: Scenario, cfg: config.FoundationConfig, out: Path,
                 log: Callable[[str], None]) -> None:
        self.sc, self.cfg, self.out, self._log = scenario, cfg, out, log
        self.result = ModeResult(mode=cfg.mode)
        self.foundation = Foundation(cfg)
        self._bbs: BBSClient | None = None
        self.jobs: dict[str, str] = {}            # service -> container name
        self.instances = {a.name: a.instances for a in scenario.apps}
        self.started: set[str] = set()
        self.replaced: dict[tuple[str, int], str] = {}
        self.phase = ""
        self.windows = Windows(self.result.faults)
        self.last_wait_error = ""
        self.load: LoadGenerator | None = None
        self.started_at = time.monotonic()
        self._cf: platform.CF | None = None
        self.cf_apps: dict[str, str] = {}         # app pushed with cf -> its process guid
        self.refs: dict[str, dict[str, Any]] = {}  # app -> last VCAP_SERVICES with a ref

    # -- helpers -------------------------------------------------------------

    def log(self, message: str) -> None:
        t = self.load.now() if self.load else time.monotonic() - self.started_at
        self._log(f"[{self.sc.name}/{self.cfg.mode} {t:6.1f}s] {message}")

    def now(self) -> float:
        return self.load.now() if self.load else 0.0

    def pg(self, app: str) -> str:
        if app in self.cf_apps:
            return self.cf_apps[app]
        return platform.process_guid(self.cfg.project, self.sc.app(app))

    @property
    def bbs(self) -> BBSClient:
        """The BBS through its published port, with the host's client certificate: made
        after `up` wrote it (a fresh foundation has a fresh one)."""
        if self._bbs is None:
            self._bbs = platform.bbs_client(self.cfg)
        return self._bbs

    @property
    def cf(self) -> platform.CF:
        if self._cf is None:
            self.foundation.write_cf_config()
            self._cf = platform.CF(self.foundation.cf_home)
        return self._cf

    def refresh_pg(self, app: str) -> None:
        """After a cf start/restart the LRP has a new process guid (a new version)."""
        self.cf_apps[app] = self.cf.process_guid(app)

    def running(self, app: str) -> list[dict[str, Any]]:
        return [lrp for lrp in self.bbs.actual_lrps(process_guid=self.pg(app)) if lrp.get("state") == "RUNNING"]

    def instance(self, app: str, index: int = 0) -> dict[str, Any]:
        for lrp in self.running(app):
            if lrp.get("index") == index:
                return lrp
        raise StepFailed(f"{app} has no RUNNING instance {index}")

    def container(self, ref: str) -> str:
        """A job's container; `cell-of:APP` is the cell running APP's instance 0."""
        if ref.startswith("cell-of:"):
            ref = self.instance(ref[8:])["cell_id"]
        if ref not in self.jobs:
            raise StepFailed(f"no running job {ref!r} (jobs: {', '.join(sorted(self.jobs))})")
        return self.jobs[ref]

    def probe(self, app: str) -> Sample:
        return probe(self.cfg.ports["http"], app, self.sc.app(app).host)

    def tally(self) -> str:
        if not self.load:
            return ""
        samples = self.load.snapshot()
        mis = sum(s.outcome == MISROUTED for s in samples)
        err = sum(s.outcome == ERROR for s in samples)
        return f"{len(samples)} requests, {mis} misrouted, {err} errors"

    def wait(self, what: str, predicate: Callable[[], Any], timeout: float,
             interval: float = 0.3) -> float | None:
        """Seconds until `predicate()` is truthy, None after `timeout`."""
        took, last = waiting.seconds_until(predicate, timeout, interval, what)
        if took is None and isinstance(last, Exception):
            self.last_wait_error = f"{type(last).__name__}: {last}"
        return took

    # -- setup -----------------------------------------------------------------

    def setup(self) -> None:
        self.foundation.down()
        self._bbs = None
        self.foundation.up(wait=240)
        self.jobs = {s: v["container"] for s, v in self.foundation.job_states().items()}
        for app in self.sc.apps:
            if app.start:
                self.push(app.name)
        for app in self.sc.apps:
            if app.start:
                self.require(f"{app.name} running", lambda a=app.name: self.app_running(a))
                self.require(f"{app.name} answering", lambda a=app.name: self.route_ok(a, 2))
                if app.cell:
                    cells = {lrp["cell_id"] for lrp in self.running(app.name)}
                    if app.cell not in cells:
                        self.result.note += (f"placement hint {app.name}→{app.cell} not met"
                                             f" (on {', '.join(sorted(cells))}). ")

    def require(self, what: str, predicate: Callable[[], Any],
                timeout: float = SETUP_TIMEOUT) -> float:
        took = self.wait(what, predicate, timeout)
        if took is None:
            raise StepFailed(f"setup: timed out after {timeout:.0f}s waiting for {what}")
        self.log(f"setup: {what} ({took:.1f}s)")
        return took

    def push(self, app: str) -> None:
        lrp = platform.desired_lrp(self.cfg.project, self.sc.app(app))
        lrp["instances"] = self.instances[app]
        self.bbs.desire(lrp)
        self.started.add(app)

    # -- conditions ------------------------------------------------------------

    def app_running(self, app: str) -> bool:
        return len(self.running(app)) >= self.instances[app]

    def route_ok(self, app: str, consecutive: int = 3) -> bool:
        for _ in range(consecutive):
            if self.probe(app).outcome != INTENDED:
                return False
        return True

    def credentials_shown(self, app: str) -> probes.ProbeResult:
        status, _, body = page(self.cfg.ports["http"], self.sc.app(app).host)
        if status != 200:
            return probes.ProbeResult(False, f"http {status} from {app}'s route")
        data = json.loads(body)
        if data.get("app_name") != app:
            return probes.ProbeResult(False, f"answered by {data.get('app_name')!r}")
        return probes.credentials_masked(data)

    def remember(self, app: str, cf_env_output: str) -> dict[str, Any]:
        """VCAP_SERVICES as `cf env APP` shows it; remembered while it holds a ref."""
        vcap = probes.vcap_services_from_env(cf_env_output)
        if probes.credhub_refs(vcap):
            self.refs[app] = vcap
        return vcap

    def instance_container(self, app: str) -> str:
        """The container of the instance the router sends `app`'s route to."""
        sample = self.probe(app)
        if sample.outcome != INTENDED or not sample.instance_guid:
            raise StepFailed(f"{app}'s route did not answer with an instance guid"
                             f" ({sample.outcome} {sample.error_key})")
        return sample.instance_guid

    # -- steps -----------------------------------------------------------------

    def step(self, step: Step) -> str:
        """Carry out one step with its kind's handler, opening or closing the fault
        window the kind declares; returns a short note for the progress line."""
        self.windows.before(step.spec, step.params, self.now())
        try:
            note = step.spec.handler(self, step)
        finally:
            self.windows.after(step.spec, step.params, self.now())
        return note

    # -- evidence --------------------------------------------------------------

    def evidence(self) -> None:
        """Router /routes, cfdot actual-lrps, proxies' /certs, job log tails."""
        d = self.out / "evidence"
        d.mkdir(parents=True, exist_ok=True)
        files: dict[str, Callable[[], str]] = {}
        if "router" in self.jobs:
            files["router-routes.json"] = lambda: platform.exec_text(
                self.jobs["router"], "curl", "-s", "-u", platform.ROUTER_STATUS,
                "127.0.0.1:8082/routes")
        cells = [c for c in self.cfg.cell_names if c in self.jobs]
        if cells:
            files["cfdot-actual-lrps.txt"] = lambda: "".join(
                platform.cfdot(self.jobs[c], "actual-lrps") for c in cells[:1])

        def certs() -> str:
            return "".join(f"== {c}\n{platform.proxy_certs(c)}\n"
                           for c in platform.app_containers(self.cfg.project))
        files["proxy-certs.txt"] = certs
        for job, container in self.jobs.items():
            if job in ("router", "nats", "bbs") or job.startswith("cell-") or \
                    (self.cf_apps and job in ("cloud-controller", "credhub", "service-broker")):
                files[f"log-{job}.txt"] = lambda c=container: _logs(c)
        for app in self.cf_apps:   # the Cloud Controller's view: only credhub-refs
            files[f"cf-env-{app}.txt"] = lambda a=app: self.cf("env", a, check=False)
        if "dashboard" in self.jobs:   # what the live view counted, from the router's log
            files["dashboard-state.json"] = lambda: _dashboard_state(self.cfg.ports["dashboard"])
        if "router" in self.jobs and self.result.faults:
            files["access-log-around-faults.txt"] = lambda: evidence.around_faults(
                _logs(self.jobs["router"], tail=None), self.result.faults,
                self.result.load_started_at)
        for name, get in files.items():
            try:
                (d / name).write_text(get())
                self.result.evidence.append(f"{self.cfg.mode}/evidence/{name}")
            except Exception as exc:  # noqa: BLE001 - evidence is best effort
                (d / name).write_text(f"could not collect: {exc}\n")
        # The settings this mode ran with, for an incident pack (secrets are not in here).
        (self.out / "foundation.yml").write_text(yaml.safe_dump(self.cfg.raw, sort_keys=False))

    # -- the whole mode --------------------------------------------------------

    def run(self) -> ModeResult:
        self.started_at = time.monotonic()
        self.log(f"foundation {self.cfg.project}: {self.cfg.cells} cell(s), http"
                 f" 127.0.0.1:{self.cfg.ports['http']}")
        routes = {a: self.sc.app(a).host for a in self.sc.routes}
        try:
            self.setup()
            self.load = LoadGenerator(self.cfg.ports["http"], routes, self.sc.load.rps,
                                      self.sc.load.keepalive, self.sc.load.timeout,
                                      phase=lambda: self.phase)
            self.load.start()
            self.result.load_started_at = round(time.time() - self.load.now(), 3)
            self.log(f"load: {self.sc.load.rps:g} rps on {', '.join(routes)}"
                     f"{' (keep-alive)' if self.sc.load.keepalive else ''}")
            for step in self.sc.steps:
                if not step.runs_in(self.cfg.mode):
                    continue
                t0 = self.now()
                self.log(f"step {step.index}: {step.describe()} …")
                note = self.step(step)
                took = self.now() - t0
                self.result.steps.append({"index": step.index, "step": step.describe(),
                                          "t": round(t0, 3), "seconds": round(took, 3),
                                          "note": note})
                self.log(f"step {step.index}: done {note}  [{self.tally()}]")
            self.result.status = "ran"
        except Exception as exc:  # noqa: BLE001 - recorded, reported, teardown still runs
            self.result.error = f"{type(exc).__name__}: {exc}"
            self.log(f"ERROR {self.result.error}")
        except KeyboardInterrupt:
            self.result.error = "interrupted"
            raise
        finally:
            if self.load:
                self.result.samples = self.load.stop()
            self.windows.close_all(self.now())
            try:
                self.evidence()
            except Exception as exc:  # noqa: BLE001
                self.log(f"evidence: {exc}")
            self.foundation.down()
            self.result.duration = time.monotonic() - self.started_at
            self.log(f"torn down ({self.result.duration:.0f}s in all)")
        if self.result.status != "ran":
            self.result.status = ERRORED
        return self.result


class Watcher(Protocol):
    """Who follows a run live (`cflab lab`): told each mode's run as it starts, so it can
    read the load's samples and the fault windows while they happen, and its result."""

    def started(self, run: ModeRun) -> None: ...

    def finished(self, result: ModeResult) -> None: ...


def run_scenario(scenario: Scenario, modes: Sequence[str] | None = None,
                 out: Path = Path("scenario-results"), project: str | None = None,
                 log: Callable[[str], None] = lambda m: print(m, flush=True),
                 placement: dict[str, Any] | None = None,
                 watch: Watcher | None = None) -> list[ModeResult]:
    """Every requested mode in turn; writes result.json, report.md, timeline.png."""
    modes = list(modes or scenario.modes)
    dest = out / scenario.name
    dest.mkdir(parents=True, exist_ok=True)
    if scenario.path:   # the file as it ran, for an incident pack
        (dest / "scenario.yml").write_text(Path(scenario.path).read_text())
    results: list[ModeResult] = []
    paths: dict[str, Path] = {}
    for mode in modes:
        if mode not in scenario.modes:
            note = scenario.not_applicable.get(mode, "mode not in the scenario's modes")
            r = ModeResult(mode=mode, status=SKIPPED, note=note)
            log(f"[{scenario.name}/{mode}] skipped: {note}")
        else:
            cfg = foundation_config(scenario, mode, project, placement)
            mode_run = ModeRun(scenario, cfg, dest / mode, log)
            if watch:
                watch.started(mode_run)
            r = mode_run.run()
        r.evaluate(scenario.expect.get(mode, ()))
        for o in r.outcomes:
            log(f"[{scenario.name}/{mode}] {'✓' if o.passed else '✗'} {o.expectation}"
                f" (actual {o.actual}{', ' + o.note if o.note else ''})"
                + (f" — {o.window.text()}" if o.window else ""))
        log(f"[{scenario.name}/{mode}] {r.status.upper()}: {r.counts.requests} requests,"
            f" {r.counts.misrouted} misrouted, {r.counts.errors} errors")
        results.append(r)
        paths = report.write_all(dest, scenario, results)   # partial reports survive a crash
        if watch:
            watch.finished(r)
    log(f"[{scenario.name}] reports: {', '.join(str(p) for p in paths.values())}")
    sys.stdout.flush()
    return results
