"""Every `wait: {until: ...}` condition, declared once with the predicate it polls.

A predicate reads the running foundation through ``runner.ModeRun`` (the BBS, the
router's /routes, one classified request through the router); an exception counts as
"not yet" and is shown when the wait times out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestrator.scenario import platform as plat
from orchestrator.scenario import probes
from orchestrator.scenario.classify import ERROR, INTENDED, MISROUTED
from orchestrator.scenario.table import CONDITIONS, condition

if TYPE_CHECKING:
    from collections.abc import Callable

    from orchestrator.scenario.runner import ModeRun

__all__ = ["CONDITIONS", "after_wait"]


@condition("app_running", needs=("app",), example="wait: {until: app_running, app: web}")
def app_running(run: ModeRun, p: dict[str, Any]) -> Callable[[], bool]:
    """Every desired instance of APP is RUNNING in the BBS (routable or not)."""
    return lambda: run.app_running(p["app"])


@condition("app_gone", needs=("app",), example="wait: {until: app_gone, app: app-a}")
def app_gone(run: ModeRun, p: dict[str, Any]) -> Callable[[], bool]:
    """No actual LRP and no container is left for APP."""
    pg = run.pg(p["app"])
    return lambda: not run.bbs.actual_lrps(process_guid=pg) and not plat.containers_of(run.cfg.project, pg)


@condition("instance_replaced", needs=("app",), uses=("index",),
           example="wait: {until: instance_replaced, app: web, index: 0}")
def instance_replaced(run: ModeRun, p: dict[str, Any]) -> Callable[[], bool]:
    """Instance INDEX (default 0) of APP is RUNNING with another instance guid than
    the one an earlier `crash_instance` step crashed."""
    app, index = p["app"], p.get("index", 0)
    old = run.replaced.get((app, index), "")
    return lambda: any(lrp["index"] == index and lrp["instance_guid"] != old
                       for lrp in run.running(app))


@condition("crash_looping", needs=("app",), uses=("index",),
           example="wait: {until: crash_looping, app: web, index: 1}")
def crash_looping(run: ModeRun, p: dict[str, Any]) -> Callable[[], bool]:
    """Instance INDEX (default 0) of APP has crashed 3 times or more: past the BBS's
    immediate restarts, in Diego's backoff."""
    app, index = p["app"], p.get("index", 0)
    return lambda: any(lrp["index"] == index and int(lrp.get("crash_count") or 0) >= 3
                       for lrp in run.bbs.actual_lrps(process_guid=run.pg(app)))


@condition("route_ok", needs=("app",), uses=("consecutive",),
           example="wait: {until: route_ok, app: web, consecutive: 5}")
def route_ok(run: ModeRun, p: dict[str, Any]) -> Callable[[], bool]:
    """CONSECUTIVE (default 3) requests in a row to APP's route are answered by APP."""
    return lambda: run.route_ok(p["app"], p.get("consecutive", 3))


@condition("routes_ok", uses=("consecutive",), example="wait: {until: routes_ok}")
def routes_ok(run: ModeRun, p: dict[str, Any]) -> Callable[[], bool]:
    """`route_ok` for every started app that has instances."""
    n = p.get("consecutive", 3)
    return lambda: all(run.route_ok(a, n) for a in sorted(run.started)
                       if run.instances[a] > 0)


@condition("route_error", needs=("app",), example="wait: {until: route_error, app: app-a}")
def route_error(run: ModeRun, p: dict[str, Any]) -> Callable[[], bool]:
    """A request to APP's route gets an error (any status but 200, or none)."""
    return lambda: run.probe(p["app"]).outcome == ERROR


@condition("route_misrouted", needs=("app",),
           example="wait: {until: route_misrouted, app: app-a}")
def route_misrouted(run: ModeRun, p: dict[str, Any]) -> Callable[[], bool]:
    """A request to APP's route is answered by another app."""
    return lambda: run.probe(p["app"]).outcome == MISROUTED


@condition("route_absent", needs=("app",), example="wait: {until: route_absent, app: app-a}")
def route_absent(run: ModeRun, p: dict[str, Any]) -> Callable[[], bool]:
    """The router's `/routes` no longer lists APP's host."""
    host = run.sc.app(p["app"]).host
    return lambda: host not in plat.router_routes(run.jobs["router"])


@condition("cert_rotated", needs=("app",), example="wait: {until: cert_rotated, app: web}")
def cert_rotated(run: ModeRun, p: dict[str, Any]) -> Callable[[], bool]:
    """An instance of APP answers through the router with another certificate serial than
    the one that same instance (by instance guid) first answered with: its certificate
    was rotated. Another instance's serial is not a rotation."""
    app = p["app"]
    first: dict[str, str] = {}

    def rotated() -> bool:
        s = run.probe(app)
        if s.outcome != INTENDED or not s.cert_serial or not s.instance_guid:
            return False
        return first.setdefault(s.instance_guid, s.cert_serial) != s.cert_serial
    return rotated


@condition("cell_gone", needs=("cell",), example="wait: {until: cell_gone, cell: cell-1}")
def cell_gone(run: ModeRun, p: dict[str, Any]) -> Callable[[], bool]:
    """The BBS no longer lists CELL (its presence expired after `cell_presence_ttl`)."""
    return lambda: p["cell"] not in {c.get("cell_id") for c in run.bbs.cells()}


@condition("off_cell", needs=("app", "cell"),
           example="wait: {until: off_cell, app: web, cell: cell-1}")
def off_cell(run: ModeRun, p: dict[str, Any]) -> Callable[[], bool]:
    """Every instance of APP is RUNNING and none is on CELL."""
    app, cell = p["app"], p["cell"]
    return lambda: run.app_running(app) and all(
        lrp["cell_id"] != cell for lrp in run.running(app))


@condition("app_has_credentials", needs=("app",),
           example="wait: {until: app_has_credentials, app: vault, name: vault-has-credentials}")
def app_has_credentials(run: ModeRun, p: dict[str, Any]) -> Callable[[], bool]:
    """APP's page lists its bound service credentials, interpolated and masked. With a
    `name`, check NAME records whether they were shown."""
    return lambda: run.credentials_shown(p["app"]).ok


def after_wait(run: ModeRun, p: dict[str, Any], name: str, took: float | None) -> None:
    """What a condition records besides its timer: app_has_credentials's check."""
    if p["until"] == "app_has_credentials" and "name" in p:
        try:
            shown = run.credentials_shown(p["app"])
        except Exception as exc:  # noqa: BLE001 - recorded as the check's detail
            shown = probes.ProbeResult(False, f"{type(exc).__name__}: {exc}")
        run.result.checks[name] = took is not None and shown.ok
        run.result.check_details[name] = f"{p['app']}'s page: {shown.detail}"
