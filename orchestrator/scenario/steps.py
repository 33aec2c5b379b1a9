"""Every scenario step kind: its parameters, rules, timeline window and handler, once.

A handler gets the running mode (``runner.ModeRun``: the foundation's jobs, BBS, `cf`,
the load) and the step; it returns a short note for the progress line and raises
``StepFailed`` when the step cannot be carried out. Fault windows are opened and closed
by the runner from each kind's ``window``, not by the handlers.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from orchestrator.scenario import conditions, faults, probes
from orchestrator.scenario import platform as plat
from orchestrator.scenario.table import (
    APP,
    APPS,
    CELL,
    CF_APP,
    CHECK_NAME,
    CLOUD_CONTROLLER,
    CONDITION,
    COUNT,
    DURATION,
    FAULTS,
    FLOW,
    INDEX,
    JOB,
    NAME,
    POSITIVE,
    PROBES,
    Closes,
    Context,
    Instant,
    Invalid,
    Opens,
    Param,
    choice,
    step_kind,
)

if TYPE_CHECKING:
    from orchestrator.scenario.runner import ModeRun
    from orchestrator.scenario.schema import Step


class StepFailed(RuntimeError):
    """A step could not be carried out (a wait timed out, docker refused...)."""


# -- apps ------------------------------------------------------------------------------

@step_kind("push", group=APPS, example="push: app-b",
           params=(Param("app", APP, required=True, doc="an app declared with `start: false`"),))
def push(run: ModeRun, step: Step) -> str:
    """Desire the app's LRP in the BBS, as the Cloud Controller would after `cf push`;
    the BBS places its instances at once. Does not wait for them (use `wait`)."""
    run.push(step.params["app"])
    return ""


@step_kind("scale", group=APPS, example="scale: {app: web, instances: 3}",
           params=(Param("app", APP, required=True),
                   Param("instances", COUNT, required=True, doc="the new instance count")))
def scale(run: ModeRun, step: Step) -> str:
    """Change the desired instance count in the BBS (0 stops every instance but keeps
    the desired LRP)."""
    p = step.params
    run.instances[p["app"]] = p["instances"]
    run.bbs.update_desired(run.pg(p["app"]), {"instances": p["instances"]})
    return ""


@step_kind("stop_app", group=APPS, example="stop_app: app-a", window=Instant("stop {app}"),
           params=(Param("app", APP, required=True),))
def stop_app(run: ModeRun, step: Step) -> str:
    """Delete the app's desired LRP (`cf stop`): the cells stop its instances and the
    route emitter unregisters its routes (if it is running)."""
    app = step.params["app"]
    run.bbs.remove_desired(run.pg(app))
    run.started.discard(app)
    run.instances[app] = 0
    return ""


# -- faults ----------------------------------------------------------------------------

@step_kind("crash_instance", group=FAULTS, example="crash_instance: {app: web, index: 0}",
           window=Instant("crash {app}/{index}"),
           params=(Param("app", APP, required=True),
                   Param("index", INDEX, default=0, doc="which instance")))
def crash_instance(run: ModeRun, step: Step) -> str:
    """Kill the instance's app process (`pkill -9`, else `docker kill`). The cell reports
    the crash and the BBS restarts it with a new instance guid; `wait: {until:
    instance_replaced}` waits for that."""
    p = step.params
    lrp = run.instance(p["app"], p["index"])
    run.replaced[(p["app"], p["index"])] = lrp["instance_guid"]
    how = faults.crash_instance(lrp["instance_guid"])
    return f"{lrp['instance_guid']} ({how})"


def _two_jobs(p: dict[str, Any], _ctx: Context) -> None:
    if p["from"] == p["to"]:
        raise Invalid("from and to are the same job")


@step_kind("partition", group=FAULTS, example="partition: {from: cell-1, to: nats}",
           window=Opens("partition {from}|{to}"), rule=_two_jobs,
           params=(Param("from", JOB, required=True),
                   Param("to", JOB, required=True)))
def partition(run: ModeRun, step: Step) -> str:
    """Drop every packet between two jobs, both ways, with iptables rules in `from`'s
    network namespace (set by a helper container; the job keeps its own rules)."""
    p = step.params
    a, b = run.container(p["from"]), run.container(p["to"])
    peers = faults.partition(run.cfg.project, a, b)
    return f"dropping {', '.join(peers)} in {a}"


def _both_or_neither(p: dict[str, Any], _ctx: Context) -> None:
    if ("from" in p) != ("to" in p):
        raise Invalid("give both from and to, or neither (heal every partition)")


@step_kind("heal", group=FAULTS, example="heal: {from: cell-1, to: nats}",
           window=Closes(("partition",), ("from", "to")), rule=_both_or_neither,
           params=(Param("from", JOB), Param("to", JOB)))
def heal(run: ModeRun, step: Step) -> str:
    """Remove a partition's rules; without `from` and `to`, every open partition."""
    p = step.params
    pairs = [(p["from"], p["to"])] if "from" in p else \
        [(w["from"], w["to"]) for w in run.windows.open("partition")]
    for a, b in pairs:
        faults.heal(run.cfg.project, run.container(a), run.container(b))
    return f"healed {', '.join(f'{a}|{b}' for a, b in pairs) or 'nothing'}"


def _job_verb(verb: str, doc: str, window: Opens | Instant | Closes) -> None:
    def handler(run: ModeRun, step: Step) -> str:
        faults.job(verb, run.container(step.params["job"]))
        if verb in ("start", "restart"):  # on a swarm: a new task, a new container
            run.jobs = {s: v["container"] for s, v in run.foundation.job_states().items()}
        return ""
    handler.__doc__ = doc
    step_kind(f"{verb}_job", group=FAULTS, example=f"{verb}_job: router", window=window,
              params=(Param("job", JOB, required=True),))(handler)


_job_verb("kill", "`docker kill` the job's container (SIGKILL: no draining, no"
          " unregister). A cell's kill also stops its app containers' traffic.",
          Opens("kill {job}"))
_job_verb("stop", "`docker stop -t 2` the job's container: SIGTERM, then SIGKILL after 2 s.",
          Opens("stop {job}"))
_job_verb("pause", "`docker pause` the job (its processes freeze; connections stay open"
          " but nothing answers).", Opens("pause {job}"))
_job_verb("restart", "`docker restart` the job: stop, then start again at once (for the"
          " router: it starts with an empty route table and waits"
          " `start_response_delay_interval` for registrations before serving).",
          Instant("restart {job}"))
_job_verb("start", "`docker start` a killed or stopped job.",
          Closes(("kill_job", "stop_job"), ("job",)))
_job_verb("unpause", "`docker unpause` a paused job.", Closes(("pause_job",), ("job",)))


@step_kind("stop_route_emitter", group=FAULTS, example="stop_route_emitter: cell-1",
           window=Opens("route-emitter {cell} stopped"),
           params=(Param("cell", CELL, required=True),))
def stop_route_emitter(run: ModeRun, step: Step) -> str:
    """Kill the route emitter on a cell: from now on that cell's route changes
    (registrations and unregistrations) are lost."""
    faults.stop_route_emitter(run.container(step.params["cell"]))
    return ""


@step_kind("start_route_emitter", group=FAULTS, example="start_route_emitter: cell-1",
           window=Closes(("stop_route_emitter",), ("cell",)),
           params=(Param("cell", CELL, required=True),))
def start_route_emitter(run: ModeRun, step: Step) -> str:
    """Start the cell's route emitter again; it syncs with the BBS and registers every
    running instance."""
    faults.start_route_emitter(run.container(step.params["cell"]))
    return ""


@step_kind("nats_outage", group=FAULTS, example="nats_outage: {how: pause}",
           window=Opens("nats {how}"),
           params=(Param("how", choice("pause", "stop"), default="pause",
                         doc="pause: connections hang; stop: they are refused"),))
def nats_outage(run: ModeRun, step: Step) -> str:
    """Take NATS away: no registration reaches the router until `nats_restore`."""
    faults.job(step.params["how"], run.jobs["nats"])
    return ""


@step_kind("nats_restore", group=FAULTS, example="nats_restore: {}",
           window=Closes(("nats_outage",)))
def nats_restore(run: ModeRun, step: Step) -> str:
    """End every open `nats_outage` (unpause or start NATS)."""
    for w in run.windows.open("nats_outage"):
        faults.job("unpause" if w["how"] == "pause" else "start", run.jobs["nats"])
    return ""


# -- flow ------------------------------------------------------------------------------

def _wait_rule(p: dict[str, Any], _ctx: Context) -> None:
    cond = conditions.CONDITIONS[p["until"]]
    for key in cond.needs:
        if key not in p:
            article = "an" if key[0] in "aeiou" else "a"
            raise Invalid(f"condition {cond.name} needs {article} {key}", field=key)
    for key in ("app", "cell", "index", "consecutive"):
        if key in p and key not in cond.needs + cond.uses:
            takes = ", ".join(cond.needs + cond.uses) or "no parameter"
            raise Invalid(f"not used by condition {cond.name} (it takes: {takes})", field=key)


@step_kind("wait", group=FLOW, rule=_wait_rule,
           example="wait: {until: route_ok, app: web, timeout: 30s, name: recovery}",
           params=(Param("until", CONDITION, required=True, doc="the condition"),
                   Param("app", APP, doc="for conditions on an app"),
                   Param("cell", CELL, doc="for cell_gone and off_cell"),
                   Param("index", INDEX, doc="instance_replaced: which instance (0)"),
                   Param("consecutive", POSITIVE,
                         doc="route_ok, routes_ok: answers in a row (3)"),
                   Param("timeout", DURATION, default="60s"),
                   Param("name", CHECK_NAME, doc="records the seconds waited as timer NAME"),
                   Param("on_timeout", choice("fail", "continue"), default="fail",
                         doc="fail: the mode ends as an error; continue: the timer is"
                             " recorded as timed out and the steps go on")))
def wait(run: ModeRun, step: Step) -> str:
    """Poll a condition (every 0.3 s) until it holds. The seconds it took are the timer
    `NAME` (default `UNTIL-INDEX`), which `timer.NAME` expectations compare."""
    p = step.params
    name = p.get("name") or f"{p['until']}-{step.index}"
    run.last_wait_error = ""
    took = run.wait(name, conditions.CONDITIONS[p["until"]].predicate(run, p), p["timeout"])
    run.result.timers[name] = None if took is None else round(took, 3)
    conditions.after_wait(run, p, name, took)
    if took is None:
        why = f"; last error {run.last_wait_error}" if run.last_wait_error else ""
        if p["on_timeout"] == "fail":
            raise StepFailed(f"step {step.index} wait until {p['until']}"
                             f" {p.get('app', '')}: timed out after {p['timeout']:.0f}s{why}")
        return f"timed out after {p['timeout']:.0f}s (continuing)"
    return f"{took:.1f}s"


@step_kind("observe", group=FLOW, example="observe: 5s",
           params=(Param("duration", DURATION, required=True),))
def observe(run: ModeRun, step: Step) -> str:
    """Do nothing for a while; the load keeps running and is counted."""
    end = time.monotonic() + step.params["duration"]
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(5.0, left))
        if end - time.monotonic() > 0.5:
            run.log(f"  observing… {run.tally()}")
    return ""


@step_kind("mark", group=FLOW, example="mark: outage",
           params=(Param("name", NAME, required=True),))
def mark(run: ModeRun, step: Step) -> str:
    """Start a phase: every request sent from now until the next mark belongs to phase
    NAME, which `METRIC@NAME` expectations count."""
    run.phase = step.params["name"]
    run.result.marks.append({"name": run.phase, "t": round(run.now(), 3)})
    return ""


# -- probes ----------------------------------------------------------------------------

@step_kind("probe_direct", group=PROBES,
           example="probe_direct: {app: web, name: reached-without-client-cert}",
           params=(Param("app", APP, required=True),
                   Param("name", CHECK_NAME, required=True,
                         doc="check NAME is ok when the app answered"),
                   Param("client_cert", choice("none", "router"), default="none",
                         doc="none: from the cell, no certificate; router: the router's"
                             " backend certificate"),
                   Param("index", INDEX, default=0)))
def probe_direct(run: ModeRun, step: Step) -> str:
    """Reach an instance's TLS port (cell address : host_tls_proxy_port) past the router.
    The check is ok when the app itself answered 200; there is no TLS port before
    Envoy, so the check fails there."""
    p = step.params
    app = run.sc.app(p["app"])
    lrp = run.instance(app.name, p["index"])
    port = next((x.get("host_tls_proxy_port", 0) for x in lrp.get("ports", [])
                 if x.get("container_port") == 8080), 0)
    if not port:
        result = probes.ProbeResult(False, "no host_tls_proxy_port: no proxy in this mode")
    elif p["client_cert"] == "router":
        result = probes.with_router_cert(run.cfg.project, lrp["address"], port, app.name,
                                         lrp["instance_guid"])
    else:
        result = probes.from_cell(run.container(lrp["cell_id"]), lrp["address"], port,
                                  app.name)
    run.result.checks[p["name"]] = result.ok
    run.result.check_details[p["name"]] = result.detail
    return f"{'ok' if result.ok else 'fail'} — {result.detail}"


@step_kind("probe_credhub", group=PROBES,
           example="probe_credhub: {from_app: other, ref_app: vault, name: other-app-denied,"
                   " expect: denied}",
           params=(Param("from_app", CF_APP, required=True, doc="whose instance asks"),
                   Param("ref_app", CF_APP, required=True,
                         doc="whose VCAP_SERVICES credhub-refs it asks for"),
                   Param("name", CHECK_NAME, required=True),
                   Param("expect", choice("read", "denied"), default="read",
                         doc="read: check NAME is ok on a 200 with the credentials;"
                             " denied: ok when CredHub refuses (403, or 404: CredHub does not"
                             " tell a missing credential from a forbidden one)")))
def probe_credhub(run: ModeRun, step: Step) -> str:
    """From `from_app`'s instance, with its instance identity certificate, ask CredHub to
    interpolate `ref_app`'s credhub-refs (the launcher's request). After an unbind the
    last reference `ref_app` had is used."""
    p = step.params
    run.remember(p["ref_app"], run.cf("env", p["ref_app"]))
    vcap = run.refs.get(p["ref_app"])
    if not vcap:
        status, detail = 0, f"no credhub-ref in {p['ref_app']}'s VCAP_SERVICES"
    else:
        container = run.instance_container(p["from_app"])
        out = plat.exec_with_input(
            container, f"cat > {probes.VCAP_FILE} && {probes.interpolate_script()}",
            json.dumps(vcap).encode())
        status, detail = probes.judge_interpolate(out)
        detail = f"{p['from_app']} ({container}) → {', '.join(probes.credhub_refs(vcap))}:" \
                 f" {detail}"
    ok = status == 200 if p["expect"] == "read" else status in (403, 404)
    run.result.checks[p["name"]] = ok
    run.result.check_details[p["name"]] = detail
    return f"{'ok' if ok else 'fail'} (expected {p['expect']}) — {detail}"


# -- through the Cloud Controller ------------------------------------------------------

@step_kind("cf_push", group=CLOUD_CONTROLLER, example="cf_push: {app: vault, instances: 2}",
           params=(Param("app", APP, required=True,
                         doc="an app with `start: false` whose host is APP.<apps_domain>"),
                   Param("instances", POSITIVE, doc="default: the app's `instances`")))
def cf_push(run: ModeRun, step: Step) -> str:
    """`cf push` the identity app through the Cloud Controller, which desires its LRP
    and maps its route. Only such apps can be bound to services."""
    p = step.params
    app = run.sc.app(p["app"])
    label, _, domain = app.host.partition(".")
    if domain != run.cfg.apps_domain:
        raise StepFailed(f"cf push maps {label}.{run.cfg.apps_domain}, but {app.name}'s"
                         f" host is {app.host}")
    instances = p.get("instances", run.instances[app.name])
    run.instances[app.name] = instances
    run.cf.push(app.name, label, instances)
    run.refresh_pg(app.name)
    run.started.add(app.name)
    return f"{app.name} ×{instances} via the Cloud Controller ({run.cf_apps[app.name]})"


@step_kind("bind_service", group=CLOUD_CONTROLLER,
           example="bind_service: {app: vault, service: cflab-db, instance_name: vault-db,"
                   " name: cc-holds-only-ref}",
           params=(Param("app", CF_APP, required=True),
                   Param("service", NAME, required=True, doc="a marketplace service"),
                   Param("instance_name", NAME, required=True,
                         doc="created when it does not exist"),
                   Param("plan", NAME, default="small"),
                   Param("name", CHECK_NAME,
                         doc="check NAME: `cf env APP` holds only credhub-refs")))
def bind_service(run: ModeRun, step: Step) -> str:
    """Create the service instance (if new), bind it, and restart the app: a binding
    reaches the instances at their next start."""
    p = step.params
    app, si = p["app"], p["instance_name"]
    created = not run.cf.service_instance_exists(si)
    if created:
        run.cf("create-service", p["service"], p["plan"], si)
    run.cf("bind-service", app, si)
    run.cf("restart", app)
    run.refresh_pg(app)
    note = f"{'created ' if created else ''}{si}, bound to {app}, restarted"
    if "name" in p:
        text = run.cf("env", app)
        d = run.out / "evidence"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"cf-env-{app}-bound.txt").write_text(text)   # before any unbind
        run.result.evidence.append(f"{run.cfg.mode}/evidence/cf-env-{app}-bound.txt")
        view = probes.only_references(run.remember(app, text))
        run.result.checks[p["name"]] = view.ok
        run.result.check_details[p["name"]] = f"cf env {app}: {view.detail}"
        note += f"; CC view {'ok' if view.ok else 'FAIL'} — {view.detail}"
    return note


@step_kind("unbind_service", group=CLOUD_CONTROLLER,
           example="unbind_service: {app: vault, instance_name: vault-db}",
           params=(Param("app", CF_APP, required=True),
                   Param("instance_name", NAME, required=True)))
def unbind_service(run: ModeRun, step: Step) -> str:
    """`cf unbind-service` without a restart: running instances keep their environment,
    but the broker revokes the app's `read` on the credential at CredHub."""
    p = step.params
    run.cf("unbind-service", p["app"], p["instance_name"])
    return f"{p['instance_name']} unbound from {p['app']} (no restart)"

from orchestrator.scenario import network_steps  # noqa: E402,F401 - registers its step kinds
