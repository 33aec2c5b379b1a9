"""Container-to-container steps: a direct connection from one app's instance to
another's container address, and cf-networking policies that allow it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from orchestrator.scenario import platform as plat
from orchestrator.scenario import probes
from orchestrator.scenario.steps import StepFailed
from orchestrator.scenario.table import (
    APP,
    CHECK_NAME,
    CLOUD_CONTROLLER,
    INDEX,
    PROBES,
    Context,
    Invalid,
    Param,
    Type,
    choice,
    step_kind,
    whole,
)

if TYPE_CHECKING:
    from orchestrator.scenario.runner import ModeRun
    from orchestrator.scenario.schema import Step


def _port(value: object, ctx: Context) -> int:
    port = whole(1)(value, ctx)
    if port > 65535:
        raise Invalid(f"port {port} is above 65535")
    return port


PORT = Type("port", _port, "a TCP or UDP port, 1-65535")
ENFORCE_TIMEOUT = 10.0  # cells promise 2 s; the timer shows what it really took


def _probe(run: ModeRun, from_app: str, to_app: str, port: int,
           index: int = 0) -> probes.ProbeResult:
    src = run.instance(from_app, 0)["instance_guid"]  # app containers are named by it
    dest = run.instance(to_app, index).get("instance_address", "")
    if not dest:
        raise StepFailed(f"{to_app}'s instance {index} has no container address in the BBS")
    return probes.neighbor(src, dest, port)


@step_kind("probe_neighbor", group=PROBES,
           example="probe_neighbor: {from_app: app-b, to_app: app-a, port: 8080,"
                   " name: b-reached-a-directly}",
           params=(Param("from_app", APP, required=True, doc="whose instance 0 connects"),
                   Param("to_app", APP, required=True),
                   Param("port", PORT, default=8080, doc="the port on TO_APP's container"),
                   Param("index", INDEX, default=0, doc="which instance of TO_APP"),
                   Param("name", CHECK_NAME, required=True,
                         doc="check NAME is ok when the connection was made")))
def probe_neighbor(run: ModeRun, step: Step) -> str:
    """From FROM_APP's instance, as its user `vcap`, open a TCP connection straight to
    TO_APP's container address and PORT: past the router, the cell's DNAT and the proxy.
    On a cell that isolates containers it is refused unless a network policy allows it."""
    p = step.params
    result = _probe(run, p["from_app"], p["to_app"], p["port"], p["index"])
    run.result.checks[p["name"]] = result.ok
    run.result.check_details[p["name"]] = result.detail
    return f"{'ok' if result.ok else 'fail'} — {result.detail}"


def _policy_step(run: ModeRun, step: Step, action: str) -> str:
    p = step.params
    body = {"policies": [{"source": {"id": plat.app_guid(run.sc.app(p["source"]))},
                          "destination": {"id": plat.app_guid(run.sc.app(p["destination"])),
                                          "protocol": p["protocol"],
                                          "ports": {"start": p["port"], "end": p["port"]}}}]}
    path = "/networking/v1/external/policies" + ("/delete" if action == "remove" else "")
    run.cf("curl", "-X", "POST", path, "-d", json.dumps(body), "--fail")
    what = f"{p['source']} → {p['destination']}:{p['port']}/{p['protocol']}"
    done = {"add": "added", "remove": "removed"}[action]
    if not p.get("name") or p["protocol"] != "tcp":
        return f"policy {what} {done}"
    # How long until the cells enforce it: poll the direct connection until it does.
    took = run.wait(f"policy {what} enforced",
                    lambda: _probe(run, p["source"], p["destination"], p["port"]).ok
                    == (action == "add"), ENFORCE_TIMEOUT, 0.2)
    run.result.timers[p["name"]] = None if took is None else round(took, 3)
    if took is None:
        return f"policy {what} {done}; NOT enforced within {ENFORCE_TIMEOUT:.0f}s"
    return f"policy {what} {done}; enforced after {took:.1f}s"


_POLICY_PARAMS = (
    Param("source", APP, required=True, doc="the app whose instances connect"),
    Param("destination", APP, required=True),
    Param("port", PORT, default=8080),
    Param("protocol", choice("tcp", "udp"), default="tcp"),
    Param("name", CHECK_NAME, doc="timer NAME: seconds until a direct TCP connection from"
                                  " SOURCE to DESTINATION's instance 0 reflects the change"))


@step_kind("add_network_policy", group=CLOUD_CONTROLLER, params=_POLICY_PARAMS,
           example="add_network_policy: {source: app-b, destination: app-a, port: 8080,"
                   " name: policy-enforced}")
def add_network_policy(run: ModeRun, step: Step) -> str:
    """`cf add-network-policy SOURCE DESTINATION --port PORT --protocol PROTOCOL`, made
    through the policy server's API (the scenario's apps are desired straight in the
    BBS, so they are named by their app guids)."""
    return _policy_step(run, step, "add")


@step_kind("remove_network_policy", group=CLOUD_CONTROLLER, params=_POLICY_PARAMS,
           example="remove_network_policy: {source: app-b, destination: app-a, port: 8080,"
                   " name: policy-removed}")
def remove_network_policy(run: ModeRun, step: Step) -> str:
    """`cf remove-network-policy`, the same way; timer NAME runs until the direct
    connection is refused again."""
    return _policy_step(run, step, "remove")
