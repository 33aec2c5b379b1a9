"""Run a scenario: per mode a fresh foundation, apps, load, steps, evidence, teardown."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from orchestrator import config
from orchestrator.docker_cli import run
from orchestrator.foundation import Foundation
from orchestrator.scenario import faults, platform, probes, report
from orchestrator.scenario.classify import ERROR, INTENDED, MISROUTED, Sample
from orchestrator.scenario.load import LoadGenerator, page, probe
from orchestrator.scenario.results import ERRORED, SKIPPED, ModeResult
from orchestrator.scenario.schema import INSTANT_FAULTS, Scenario, Step

# Scenario foundations live beside a demo (cflab) and the e2e one (cflab-e2e).
RUNNER_DEFAULTS: dict[str, Any] = {
    "project": "cflab-scn",
    "sample_apps": False,
    "subnets": {"foundation": "10.241.0.0/24", "cell_containers": "10.240.0.0/16"},
}
PORT_OFFSET = 20000   # every published port: its default + 20000 (8080 -> 28080)
SETUP_TIMEOUT = 120.0


def _logs(container: str) -> str:
    proc = run(["docker", "logs", "--tail", "300", container], check=False, timeout=20)
    return (proc.stdout + proc.stderr).decode(errors="replace")


class StepFailed(RuntimeError):
    """A step could not be carried out (a wait timed out, docker refused...)."""


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def foundation_config(scenario: Scenario, mode: str, project: str | None = None,
                      placement: dict[str, Any] | None = None) -> config.FoundationConfig:
    """The scenario's foundation in `mode`; `placement` (subnets, ports) lets a second
    runner, such as the e2e tests, stay clear of `make scenarios` and its leftovers."""
    ports = {k: v + PORT_OFFSET for k, v in config.defaults()["ports"].items()}
    overrides = _merge(_merge({**RUNNER_DEFAULTS, "ports": ports}, scenario.foundation),
                       placement or {})
    overrides["mode"] = mode
    if project:
        overrides["project"] = project
    return config.load(None, overrides)


class ModeRun:
    """One mode of one scenario against a fresh foundation."""

    def __init__(self, scenario: Scenario, cfg: config.FoundationConfig, out: Path,
                 log: Callable[[str], None]) -> None:
        self.sc, self.cfg, self.out, self._log = scenario, cfg, out, log
        self.result = ModeResult(mode=cfg.mode)
        self.foundation = Foundation(cfg)
        self.bbs = platform.BBS(cfg)
        self.jobs: dict[str, str] = {}            # service -> container name
        self.instances = {a.name: a.instances for a in scenario.apps}
        self.started: set[str] = set()
        self.first_serial: dict[str, str] = {}
        self.replaced: dict[tuple[str, int], str] = {}
        self.phase = ""
        self.open_faults: dict[str, int] = {}
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
    def cf(self) -> platform.CF:
        if self._cf is None:
            self.foundation.write_cf_config()
            self._cf = platform.CF(self.foundation.cf_home)
        return self._cf

    def refresh_pg(self, app: str) -> None:
        """After a cf start/restart the LRP has a new process guid (a new version)."""
        self.cf_apps[app] = self.cf.process_guid(app)

    def running(self, app: str) -> list[dict[str, Any]]:
        return [lrp for lrp in self.bbs.actual(self.pg(app)) if lrp.get("state") == "RUNNING"]

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
        start = time.monotonic()
        deadline = start + timeout
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return time.monotonic() - start
            except Exception as exc:  # noqa: BLE001 - a flaky read is retried until the deadline
                self.last_wait_error = f"{type(exc).__name__}: {exc}"
            time.sleep(interval)
        return None

    # -- faults windows ----------------------------------------------------------

    def open_fault(self, key: str) -> None:
        self.open_faults[key] = len(self.result.faults)
        self.result.faults.append({"name": key, "start": round(self.now(), 3), "end": None})

    def close_fault(self, match: Callable[[str], bool]) -> None:
        for key in [k for k in self.open_faults if match(k)]:
            self.result.faults[self.open_faults.pop(key)]["end"] = round(self.now(), 3)

    def instant_fault(self, key: str) -> None:
        t = round(self.now(), 3)
        self.result.faults.append({"name": key, "start": t, "end": t})

    # -- setup -----------------------------------------------------------------

    def setup(self) -> None:
        self.foundation.down()
        self.foundation.up(wait=240)
        self.jobs = {s: v["container"] for s, v in self.foundation.job_states().items()}
        for app in self.sc.apps:
            if app.start:
                self.push(app.name)
        for app in self.sc.apps:
            if app.start:
                self.require(f"{app.name} running", lambda a=app.name: self.app_running(a))
                self.require(f"{app.name} answering", lambda a=app.name: self.route_ok(a, 2))
                first = self.probe(app.name)
                self.first_serial[app.name] = first.cert_serial
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

    def condition(self, step: Step) -> Callable[[], bool]:
        p = step.params
        app, until = p.get("app", ""), p["until"]
        n = p.get("consecutive", 3)
        if until == "app_running":
            return lambda: self.app_running(app)
        if until == "app_gone":
            return lambda: not self.bbs.actual(self.pg(app)) and not platform.containers_of(
                self.cfg.project, self.pg(app))
        if until == "instance_replaced":
            index = p.get("index", 0)
            old = self.replaced.get((app, index), "")
            return lambda: any(lrp["index"] == index and lrp["instance_guid"] != old
                               for lrp in self.running(app))
        if until == "crash_looping":  # past the BBS's immediate restarts
            index = p.get("index", 0)
            return lambda: any(lrp["index"] == index and int(lrp.get("crash_count") or 0) >= 3
                               for lrp in self.bbs.actual(self.pg(app)))
        if until == "route_ok":
            return lambda: self.route_ok(app, n)
        if until == "routes_ok":
            return lambda: all(self.route_ok(a, n) for a in sorted(self.started)
                               if self.instances[a] > 0)
        if until == "route_error":
            return lambda: self.probe(app).outcome == ERROR
        if until == "route_misrouted":
            return lambda: self.probe(app).outcome == MISROUTED
        if until == "route_absent":
            host = self.sc.app(app).host
            return lambda: host not in platform.router_routes(self.jobs["router"])
        if until == "cert_rotated":
            def rotated() -> bool:
                s = self.probe(app)
                return s.outcome == INTENDED and bool(s.cert_serial) and \
                    s.cert_serial != self.first_serial.get(app)
            return rotated
        if until == "cell_gone":
            return lambda: p["cell"] not in self.bbs.cells()
        if until == "off_cell":
            return lambda: self.app_running(app) and all(
                lrp["cell_id"] != p["cell"] for lrp in self.running(app))
        if until == "app_has_credentials":
            return lambda: self.credentials_shown(app).ok
        raise StepFailed(f"unknown condition {until}")

    def credentials_shown(self, app: str) -> probes.ProbeResult:
        status, _, body = page(self.cfg.ports["http"], self.sc.app(app).host)
        if status != 200:
            return probes.ProbeResult(False, f"http {status} from {app}'s route")
        data = json.loads(body)
        if data.get("app_name") != app:
            return probes.ProbeResult(False, f"answered by {data.get('app_name')!r}")
        return probes.credentials_masked(data)

    # -- steps -----------------------------------------------------------------

    def step(self, step: Step) -> str:
        """Carry out one step; returns a short note for the progress line."""
        k, p = step.kind, step.params
        if k == "push":
            self.push(p["app"])
        elif k == "scale":
            self.instances[p["app"]] = p["instances"]
            self.bbs.scale(self.pg(p["app"]), p["instances"])
        elif k == "stop_app":
            self.instant_fault(f"stop {p['app']}")
            self.bbs.remove(self.pg(p["app"]))
            self.started.discard(p["app"])
            self.instances[p["app"]] = 0
        elif k == "crash_instance":
            index = p.get("index", 0)
            lrp = self.instance(p["app"], index)
            self.replaced[(p["app"], index)] = lrp["instance_guid"]
            self.instant_fault(f"crash {p['app']}/{index}")
            how = faults.crash_instance(lrp["instance_guid"])
            return f"{lrp['instance_guid']} ({how})"
        elif k == "partition":
            a, b = self.container(p["from"]), self.container(p["to"])
            self.open_fault(f"partition {p['from']}|{p['to']}")
            peers = faults.partition(self.cfg.project, a, b)
            return f"dropping {', '.join(peers)} in {a}"
        elif k == "heal":
            if "from" in p:
                faults.heal(self.cfg.project, self.container(p["from"]), self.container(p["to"]))
                key = f"partition {p['from']}|{p['to']}"
                self.close_fault(lambda x: x == key)
            else:
                for key in [x for x in self.open_faults if x.startswith("partition ")]:
                    a, b = key[len("partition "):].split("|")
                    faults.heal(self.cfg.project, self.container(a), self.container(b))
                    self.close_fault(lambda x, key=key: x == key)
        elif k in ("kill_job", "stop_job", "pause_job", "restart_job"):
            verb = k[: -len("_job")]
            target = self.container(p["job"])
            if k in INSTANT_FAULTS:
                self.instant_fault(f"{verb} {p['job']}")
            else:
                self.open_fault(f"{verb} {p['job']}")
            faults.job(verb, target)
        elif k in ("start_job", "unpause_job"):
            verb = k[: -len("_job")]
            faults.job(verb, self.container(p["job"]))
            self.close_fault(lambda x: x.split(" ", 1)[1] == p["job"]
                             and x.split(" ")[0] in ("kill", "stop", "pause"))
        elif k == "stop_route_emitter":
            self.open_fault(f"route-emitter {p['cell']} stopped")
            faults.stop_route_emitter(self.container(p["cell"]))
        elif k == "start_route_emitter":
            faults.start_route_emitter(self.container(p["cell"]))
            self.close_fault(lambda x: x == f"route-emitter {p['cell']} stopped")
        elif k == "nats_outage":
            how = p.get("how", "pause")
            self.open_fault(f"nats {how}")
            faults.job(how, self.jobs["nats"])
        elif k == "nats_restore":
            for key in [x for x in self.open_faults if x.startswith("nats ")]:
                faults.job("unpause" if key == "nats pause" else "start", self.jobs["nats"])
                self.close_fault(lambda x, key=key: x == key)
        elif k == "wait":
            return self.wait_step(step)
        elif k == "observe":
            self.observe(p["duration"])
        elif k == "mark":
            self.phase = p["name"]
            self.result.marks.append({"name": p["name"], "t": round(self.now(), 3)})
        elif k == "probe_direct":
            return self.probe_direct(p)
        elif k == "cf_push":
            return self.cf_push(p)
        elif k == "bind_service":
            return self.bind_service(p)
        elif k == "unbind_service":
            self.cf("unbind-service", p["app"], p["instance_name"])
            return f"{p['instance_name']} unbound from {p['app']} (no restart)"
        elif k == "probe_credhub":
            return self.probe_credhub(p)
        return ""

    def cf_push(self, p: dict[str, Any]) -> str:
        app = self.sc.app(p["app"])
        label, _, domain = app.host.partition(".")
        if domain != self.cfg.apps_domain:
            raise StepFailed(f"cf push maps {label}.{self.cfg.apps_domain}, but {app.name}'s"
                             f" host is {app.host}")
        instances = p.get("instances", self.instances[app.name])
        self.instances[app.name] = instances
        self.cf.push(app.name, label, instances)
        self.refresh_pg(app.name)
        self.started.add(app.name)
        return f"{app.name} ×{instances} via the Cloud Controller ({self.cf_apps[app.name]})"

    def bind_service(self, p: dict[str, Any]) -> str:
        app, si = p["app"], p["instance_name"]
        created = not self.cf.service_instance_exists(si)
        if created:
            self.cf("create-service", p["service"], p.get("plan", "small"), si)
        self.cf("bind-service", app, si)
        self.cf("restart", app)      # a binding reaches the instances at their next start
        self.refresh_pg(app)
        note = f"{'created ' if created else ''}{si}, bound to {app}, restarted"
        if "name" in p:
            text = self.cf("env", app)
            d = self.out / "evidence"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"cf-env-{app}-bound.txt").write_text(text)   # before any unbind
            self.result.evidence.append(str(d / f"cf-env-{app}-bound.txt"))
            view = probes.only_references(self.remember(app, text))
            self.result.checks[p["name"]] = view.ok
            self.result.check_details[p["name"]] = f"cf env {app}: {view.detail}"
            note += f"; CC view {'ok' if view.ok else 'FAIL'} — {view.detail}"
        return note

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

    def probe_credhub(self, p: dict[str, Any]) -> str:
        """From `from_app`'s instance, interpolate `ref_app`'s VCAP_SERVICES at CredHub."""
        self.remember(p["ref_app"], self.cf("env", p["ref_app"]))
        vcap = self.refs.get(p["ref_app"])   # after an unbind: the last one that had a ref
        if not vcap:
            status, detail = 0, f"no credhub-ref in {p['ref_app']}'s VCAP_SERVICES"
        else:
            container = self.instance_container(p["from_app"])
            out = platform.exec_with_input(
                container, f"cat > {probes.VCAP_FILE} && {probes.interpolate_script()}",
                json.dumps(vcap).encode())
            status, detail = probes.judge_interpolate(out)
            detail = f"{p['from_app']} ({container}) → {', '.join(probes.credhub_refs(vcap))}:" \
                     f" {detail}"
        self.result.checks[p["name"]] = status == 200
        self.result.check_details[p["name"]] = detail
        return f"{'ok' if status == 200 else 'fail'} — {detail}"

    def wait_step(self, step: Step) -> str:
        p = step.params
        name = p.get("name") or f"{p['until']}-{step.index}"
        self.last_wait_error = ""
        took = self.wait(name, self.condition(step), p["timeout"])
        self.result.timers[name] = None if took is None else round(took, 3)
        if p["until"] == "app_has_credentials" and "name" in p:
            try:
                shown = self.credentials_shown(p["app"])
            except Exception as exc:  # noqa: BLE001 - recorded as the check's detail
                shown = probes.ProbeResult(False, f"{type(exc).__name__}: {exc}")
            self.result.checks[name] = took is not None and shown.ok
            self.result.check_details[name] = f"{p['app']}'s page: {shown.detail}"
        if took is None:
            why = f"; last error {self.last_wait_error}" if self.last_wait_error else ""
            if p.get("on_timeout", "fail") == "fail":
                raise StepFailed(f"step {step.index} wait until {p['until']}"
                                 f" {p.get('app', '')}: timed out after {p['timeout']:.0f}s{why}")
            return f"timed out after {p['timeout']:.0f}s (continuing)"
        return f"{took:.1f}s"

    def observe(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(5.0, left))
            if end - time.monotonic() > 0.5:
                self.log(f"  observing… {self.tally()}")

    def probe_direct(self, p: dict[str, Any]) -> str:
        app = self.sc.app(p["app"])
        lrp = self.instance(app.name, p.get("index", 0))
        port = next((x.get("host_tls_proxy_port", 0) for x in lrp.get("ports", [])
                     if x.get("container_port") == 8080), 0)
        if not port:
            result = probes.ProbeResult(False, "no host_tls_proxy_port: no proxy in this mode")
        elif p.get("client_cert", "none") == "router":
            result = probes.with_router_cert(self.cfg.project, lrp["address"], port, app.name,
                                             lrp["instance_guid"])
        else:
            result = probes.from_cell(self.container(lrp["cell_id"]), lrp["address"], port,
                                      app.name)
        self.result.checks[p["name"]] = result.ok
        self.result.check_details[p["name"]] = result.detail
        return f"{'ok' if result.ok else 'fail'} — {result.detail}"

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
        for name, get in files.items():
            try:
                (d / name).write_text(get())
                self.result.evidence.append(str(d / name))
            except Exception as exc:  # noqa: BLE001 - evidence is best effort
                (d / name).write_text(f"could not collect: {exc}\n")

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
            self.close_fault(lambda _k: True)
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


def run_scenario(scenario: Scenario, modes: Sequence[str] | None = None,
                 out: Path = Path("scenario-results"), project: str | None = None,
                 log: Callable[[str], None] = lambda m: print(m, flush=True),
                 placement: dict[str, Any] | None = None) -> list[ModeResult]:
    """Every requested mode in turn; writes result.json, report.md, timeline.png."""
    modes = list(modes or scenario.modes)
    dest = out / scenario.name
    results: list[ModeResult] = []
    paths: dict[str, Path] = {}
    for mode in modes:
        if mode not in scenario.modes:
            note = scenario.not_applicable.get(mode, "mode not in the scenario's modes")
            r = ModeResult(mode=mode, status=SKIPPED, note=note)
            log(f"[{scenario.name}/{mode}] skipped: {note}")
        else:
            cfg = foundation_config(scenario, mode, project, placement)
            r = ModeRun(scenario, cfg, dest / mode, log).run()
        r.evaluate(scenario.expect.get(mode, ()))
        for o in r.outcomes:
            log(f"[{scenario.name}/{mode}] {'✓' if o.passed else '✗'} {o.expectation}"
                f" (actual {o.actual}{', ' + o.note if o.note else ''})")
        log(f"[{scenario.name}/{mode}] {r.status.upper()}: {r.counts.requests} requests,"
            f" {r.counts.misrouted} misrouted, {r.counts.errors} errors")
        results.append(r)
        paths = report.write_all(dest, scenario, results)   # partial reports survive a crash
    log(f"[{scenario.name}] reports: {', '.join(str(p) for p in paths.values())}")
    sys.stdout.flush()
    return results
