"""docs/scenarios.md, generated from the step-kind table, the schema and defaults.yml.

`python -m orchestrator.scenario.reference -o docs/scenarios.md` rewrites it; a unit test
fails when the file and this output differ, and parses every example in it.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from orchestrator import config
from orchestrator.scenario import schema, settings
from orchestrator.scenario.table import (
    CONDITIONS,
    GROUPS,
    KINDS,
    Closes,
    Instant,
    Opens,
    StepKind,
    Type,
    closers_of,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"

# What each CF timing does; a test fails when defaults.yml has one not described here.
TIMINGS = {
    "droplet_stale_threshold": "gorouter prunes a route not refreshed for this long (only"
                               " plain-HTTP routes when route integrity is on)",
    "prune_stale_droplets_interval": "how often gorouter looks for stale routes",
    "start_response_delay_interval": "gorouter waits this long after start before serving,"
                                     " so registrations arrive first, and announces it to"
                                     " the route emitters as their register interval",
    "endpoint_timeout": "gorouter's timeout for a backend's response",
    "register_interval": "the route emitter re-sends every registration this often",
    "greet_retry_interval": "the route emitter's router.greet retry",
    "sync_interval": "the route emitter's full resync with the BBS",
    "unregister_resend_interval": "the route emitter repeats unregistrations for this long",
    "instance_identity_validity_period": "instance identity certificates' validity;"
                                         " rotated at validity − validity/8",
    "healthcheck_startup_interval": "how often a starting instance's port is probed",
    "healthcheck_startup_timeout": "a starting instance failing its check this long crashes",
    "healthcheck_liveness_interval": "how often a running instance's port is probed",
    "restart_backoff_base": "the BBS restarts a crashed instance at once twice, then waits"
                            " this long, doubling",
    "restart_backoff_max": "the longest wait between restarts",
    "configuration_reload_duration": "how long the proxy takes to load a new certificate",
    "convergence_interval": "the BBS's convergence: lost instances re-placed",
    "cell_presence_ttl": "a cell that has not refreshed its presence this long is gone",
    "container_metrics_report_interval": "how often the rep reports each instance's cpu,"
                                         " memory and disk use (cf app)",
}

# Field, default, meaning: the parts of a file the step table does not describe.
TOP_LEVEL = {
    "name": ("required", "lower-case letters, digits and `-`; the file is NAME.yml"),
    "description": ("''", "what happens and what it shows; `scenario list` prints its"
                          " first line"),
    "foundation": ("{}", "the foundation each mode starts (below)"),
    "apps": ("required", "the apps, pushed before the load starts unless `start: false`"),
    "load": ("10 rps", "the requests sent through the router the whole time"),
    "steps": ("[]", "what happens, in order"),
    "expect": ("{}", "what must hold, per mode or for `all`"),
    "not_applicable": ("{}", "MODE: why — shown for a mode not in `foundation.modes`"),
}
APP_FIELDS = {
    "name": ("required", "the app's name; the identity app answers with it"),
    "host": ("NAME.apps.internal", "its route"),
    "instances": ("1", "desired instances"),
    "start": ("true", "false: started later by a `push` or `cf_push` step"),
    "cell": ("–", "the cell you expect it on; a miss is noted in the report, not enforced"),
    "memory": ("0 (no limit)", "its memory quota in MB; the container gets it plus the proxy's"
                               " 32 MB, as Diego sets it"),
    "env": ("{}", "NAME: value pairs for its instances, e.g. the identity app's fault"
                  " `CFLAB_OOM_INDEX: \"1\"` (that index exceeds its memory CFLAB_OOM_AFTER"
                  " seconds after every start)"),
}
LOAD_FIELDS = {
    "rps": ("10", "requests per second per route (0 < rps ≤ 200)"),
    "keepalive": ("false", "true: one reused connection per route (reopened after an error)"),
    "routes": ("every app", "the apps whose routes get load"),
    "timeout": ("2s", "a request without an answer this long is an error `0 timeout`"),
}
METRICS = [
    ("requests", "requests sent", "requests@rotated: \"> 0\""),
    ("intended", "answered by the route's own app", "intended: \">= 100\""),
    ("misrouted", "answered by another app (HTTP 200 from the wrong app)",
     "misrouted: \"== 0\""),
    ("errors", "any other outcome: a status other than 200, an `X-Cf-Routererror`, no answer",
     "errors@outage: \"> 0\""),
    ("availability", "intended / requests, a fraction 0..1", "availability@recovered: \">= 0.99\""),
    ("status.NNN", "requests answered with HTTP status NNN (`status.200` counts intended and"
                   " misrouted answers alike; `status.0`: no answer)",
     "status.404@after-prune: \"> 0\""),
    ("reason.NAME", "errors by `X-Cf-Routererror` (`unknown_route`, `no_endpoints`…) or the"
                    " client's (`timeout`, `connection_refused`…)",
     "reason.unknown_route: \"> 0\""),
    ("recovery_seconds", "from the start of the last fault window to the last request that"
                         " was not intended (0: nothing went wrong after it; no value: still"
                         " broken at the end)", "recovery_seconds: \"<= 10\""),
    ("timer.NAME", "seconds a named `wait` took (no value when it timed out)",
     "timer.recovery: \"<= 30\""),
    ("check.NAME", "a probe's result: ok or fail", "check.other-app-denied: ok"),
]
EXAMPLE = """\
name: my-incident
description: |
  The router restarts under load in strict mode. What did the clients see?
foundation:
  modes: [strict]
  cells: 1
  timings:
    start_response_delay_interval: 1s
    register_interval: 2s
apps:
  - {name: web, instances: 2}
load:
  rps: 10
steps:
  - mark: before
  - observe: 3s
  - mark: restart
  - observe: 1s             # requests sent before the mark get their answers first
  - restart_job: router
  - wait: {until: routes_ok, timeout: 30s, name: recovery}
  - mark: recovered
  - observe: 3s
expect:
  strict:
    misrouted: "== 0"
    timer.recovery: "<= 30"
    availability@recovered: ">= 0.99"
"""
# The apps and earlier steps a step's example is checked against.
EXAMPLE_APPS = [{"name": "web", "instances": 2}, {"name": "api"}, {"name": "app-a"},
                {"name": "app-b", "start": False}, {"name": "vault", "start": False},
                {"name": "other", "start": False}]


def example_scenario(step_yaml: str) -> dict[str, Any]:
    """A whole scenario around one step example, as the test and the reader need it."""
    step = yaml.safe_load(step_yaml)
    pre = [] if "cf_push" in step else [{"cf_push": "vault"}, {"cf_push": "other"}]
    return {"name": "example", "foundation": {"cells": 2}, "apps": EXAMPLE_APPS,
            "steps": [*pre, step]}


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(r) + " |" for r in rows), ""]


def _fields(rows: dict[str, tuple[str, str]]) -> list[str]:
    return _table(("field", "default", "meaning"),
                  [(f"`{k}`", d if d in ("required", "–") or d.startswith("every")
                    else f"`{d}`", m) for k, (d, m) in rows.items()])


def _label(template: str) -> str:
    """`partition {from}|{to}` -> `partition FROM|TO`."""
    return re.sub(r"\{(\w+)\}", lambda m: m.group(1).upper(), template)


def _types() -> list[str]:
    seen: dict[str, Type] = {}
    for kind in KINDS.values():
        for p in kind.params:
            if p.type.doc:
                seen.setdefault(p.type.name, p.type)
    return _table(("type", "values"), [(t.name, t.doc) for t in seen.values()])


def _window(kind: StepKind) -> str:
    w = kind.window
    if isinstance(w, Opens):
        closers = " or ".join(f"`{c}`" for c in closers_of(kind.name))
        return (f"Timeline: opens the fault window “{_label(w.label)}”, ended by {closers}"
                " (or the run's end).")
    if isinstance(w, Instant):
        return (f"Timeline: a fault lasting as long as the step, “{_label(w.label)}” (a dashed"
                " line, or a thin window when the step takes a while).")
    if isinstance(w, Closes):
        match = f" with the same {', '.join(w.match)}" if w.match else ""
        return (f"Timeline: ends the open windows of {', '.join(f'`{k}`' for k in w.kinds)}"
                f"{match}.")
    return ""


def _kind(kind: StepKind) -> list[str]:
    out = [f"### `{kind.name}`", "", kind.doc, ""]
    if kind.params:
        shorthand = f" A scalar value sets `{kind.params[0].name}`."
        out += _table(("parameter", "type", "default", "meaning"), [
            (f"`{p.name}`", p.type.name.replace("|", "\\|"),
             "required" if p.required else "" if p.default is None else f"`{p.default}`",
             p.doc) for p in kind.params])
    else:
        shorthand = " It takes no parameters."
    window = _window(kind)
    out += [(window + shorthand).strip(), "", "```yaml", f"- {kind.example}", "```", ""]
    return out


def render() -> str:
    defaults = config.defaults()
    out = [
        "# Scenario reference",
        "",
        "<!-- Generated by `python -m orchestrator.scenario.reference -o docs/scenarios.md`"
        " from the step-kind table (orchestrator/scenario/steps.py, conditions.py), the"
        " schema and orchestrator/defaults.yml. Do not edit by hand: a test compares. -->",
        "",
        "A scenario is a YAML file: the foundation to start, the apps, a steady load through"
        " the router, the steps of the incident, and the expectations that prove the point."
        " `cflab scenario run FILE` replays it in each route-integrity mode on a fresh"
        " foundation; `cflab scenario check FILE` validates it without starting anything."
        " The guide [Reproduce your incident](reproduce-your-incident.md) writes one step by"
        " step.",
        "",
        "```yaml",
        EXAMPLE.rstrip(),
        "```",
        "",
        "## The file",
        "",
        *_fields(TOP_LEVEL),
        "## `foundation`",
        "",
        "`modes` lists the modes the scenario applies to (default: all three,"
        f" {', '.join(f'`{m}`' for m in config.MODES)}); `cflab scenario run --all-modes`"
        " reports the others as skipped with their `not_applicable` reason. `cells` (default"
        " 1) is the number of Diego cells. Every other key overrides the foundation config"
        " (orchestrator/defaults.yml), checked by its own rules for every mode. The runner"
        " owns the project name, subnets and ports (each default + 20000), so a scenario"
        " never clashes with `make up`.",
        "",
        "Timings, with Cloud Foundry's defaults; scenarios shorten them so an incident plays"
        " in seconds:",
        "",
        *_table(("timing", "CF default", "what it does"),
                [(f"`{k}`", f"`{v}`" if v is not None else "`register_interval`",
                  TIMINGS.get(k, "")) for k, v in defaults["timings"].items()]),
        "Other settings: " + ", ".join(f"`{k}`" for k in settings.foundation_settings()
                                       if k not in ("timings", "cells")) + ".",
        "",
        "```yaml",
        "foundation:",
        "  modes: [before-envoy, strict]",
        "  cells: 2",
        "  timings: {droplet_stale_threshold: 20s, prune_stale_droplets_interval: 2s}",
        "```",
        "",
        "## `apps`",
        "",
        "Each app runs the identity app, which answers with its name, instance guid, cell"
        " and certificate serial: that is how a misroute is seen.",
        "",
        *_fields(APP_FIELDS),
        "```yaml",
        "apps:",
        "  - {name: app-a, instances: 1, cell: cell-1}",
        "  - {name: app-b, start: false}      # started by a `push` step",
        "```",
        "",
        "## `load`",
        "",
        "One thread per route sends `GET /` through the router (127.0.0.1, the route's"
        " `Host`) from before the first step until after the last, and classifies every"
        " answer: **intended** (the route's app answered), **misrouted** (another app"
        " answered 200) or **error** (anything else, counted by status and"
        " `X-Cf-Routererror`, or by the client's error: `0 timeout`).",
        "",
        *_fields(LOAD_FIELDS),
        "```yaml",
        "load: {rps: 20, keepalive: true, routes: [web], timeout: 5s}",
        "```",
        "",
        "## `steps`",
        "",
        "A step is a mapping with exactly one kind: `- KIND: {PARAM: VALUE, …}`, or"
        " `- KIND: VALUE` for its first parameter. Parameters left out take their default."
        " Steps run in order; each waits for its own action only (a `wait` waits for a"
        " condition). A step fails the mode (reported as an error, the foundation still torn"
        " down) when it cannot be carried out.",
        "",
        "**Per-mode steps.** `modes: [MODE, …]` beside the kind runs the step only in those"
        " modes:",
        "",
        "```yaml",
        "- wait: {until: route_error, app: app-a, timeout: 60s, name: pruned}",
        "  modes: [before-envoy]            # TLS routes are never pruned",
        "```",
        "",
        "Parameter types:",
        "",
        *_types(),
    ]
    for group in GROUPS:
        kinds = [k for k in KINDS.values() if k.group == group]
        if kinds:
            out += [f"## Steps: {group}", ""]
            for kind in kinds:
                out += _kind(kind)
    out += [
        "## Wait conditions",
        "",
        "`wait: {until: CONDITION, …}` polls every 0.3 s until the condition holds or"
        " `timeout` passes. A condition takes only the parameters listed for it.",
        "",
    ]
    for cond in CONDITIONS.values():
        takes = ", ".join([*(f"`{n}`" for n in cond.needs),
                           *(f"`{n}` (optional)" for n in cond.uses)]) or "nothing"
        out += [f"### `{cond.name}`", "", f"{cond.doc} Takes: {takes}.", "", "```yaml",
                f"- {cond.example}", "```", ""]
    out += [
        "## Marks, phases and windows",
        "",
        "`mark: NAME` starts the phase NAME. A request belongs to the phase that was current"
        " when it was **sent**, so a request in flight across a mark counts in the phase"
        " before it. `METRIC@NAME` counts only the requests of phase NAME: those sent from"
        " the `mark: NAME` step until the next `mark` (or the end of the run). For example"
        " `status.200@restarted` is the number of requests sent after `mark: restarted`"
        " (and before any later mark) that were answered with HTTP 200, by their own app or"
        " by another (`intended@restarted` counts only their own). Leave a moment between a"
        " mark and a fault (`observe: 1s`), or a request sent just before the mark and still"
        " in flight when the fault strikes counts against the phase before.",
        "",
        "Fault windows are what the timeline shades: each fault step opens one (see"
        " “Timeline” under each step kind) and its closer ends it; windows still open at the"
        " end of the run end there. `recovery_seconds` is measured from the start of the"
        " last fault window.",
        "",
        "```yaml",
        "- mark: outage",
        "- nats_outage: {how: pause}     # window “nats pause” opens",
        "- observe: 20s",
        "- nats_restore: {}              # … and ends",
        "- mark: restored",
        "```",
        "",
        "## Expectations",
        "",
        "`expect:` maps `all` or a mode to `METRIC[@MARK]: \"OP VALUE\"`, with OP one of"
        f" {', '.join(f'`{o}`' for o in schema.OPS)}. A bare number means `== NUMBER`."
        " A check takes `ok` or `fail` (`== ok`, `!= fail`). An expectation over requests"
        " fails when its phase had no requests (`misrouted == 0` over nothing proves"
        " nothing), and a timer that timed out fails too.",
        "",
        *_table(("metric", "what it counts", "example"),
                [(f"`{m}`", d, f"`{e}`") for m, d, e in METRICS]),
        "```yaml",
        "expect:",
        "  all:",
        "    misrouted: \"== 0\"",
        "  before-envoy:",
        "    misrouted@stale: \"> 0\"",
        "    status.404@after-prune: \"> 0\"",
        "```",
        "",
        "## Timers and checks",
        "",
        "A `wait` with `name: NAME` records timer NAME: the seconds it waited. Probe steps"
        " (`probe_direct`, `probe_credhub`, `bind_service` with a name, and `wait: {until:"
        " app_has_credentials, name: …}`) record check NAME, ok or fail; each check's name"
        " says what `ok` means, so a table reading “other-app-denied yes” is true.",
        "",
        "## What a run writes",
        "",
        "`cflab scenario run NAME --out DIR` writes `DIR/NAME/`:",
        "",
        "- `result.json`: per mode the status (passed, failed, error, skipped), the counts"
        " (overall, by route, by phase), each expectation with its actual value, timers,"
        " checks with details, fault windows, marks, the steps with their times and notes,"
        " and the requests (up to 6000, thinned evenly) with the time each was sent.",
        "- `report.md`: one row per mode, then each mode's expectations, each with its actual"
        " value and, for a metric over requests, the requests it counted: “12 requests sent"
        " from mark restart (3.0 s) to mark recovered (6.5 s)”; then misroutes, phases,"
        " timers and checks.",
        "- `timeline.png`: one row per mode; x is the time each request was sent (a request"
        " in flight across a fault shows where it started), one line per route; green"
        " intended, red misrouted, orange error; fault windows shaded and labelled above,"
        " marks dotted and labelled below, labels that start together stacked.",
        "- `scenario.yml` (the file as it ran) and `MODE/foundation.yml` (the settings the mode"
        " ran with).",
        "- `MODE/evidence/`: the router's `/routes`, `cfdot actual-lrps`, every proxy's"
        " `/certs`, the router's access-log lines around each fault"
        " (`access-log-around-faults.txt`, ±3 s), and the log tails of the router, NATS,"
        " BBS and cells at the end.",
        "",
        "`cflab scenario pack DIR/NAME -o incident.tar.gz` bundles all of it, with a README,"
        " as plain files another team can read without cflab; `cflab scenario replay"
        " incident.tar.gz` runs the same scenario on a fresh foundation and prints the"
        " verdicts then and now side by side, with what changed.",
        "",
        "## Commands",
        "",
        "```sh",
        "cflab scenario new my-incident            # a commented template in scenarios/",
        "cflab scenario new my-incident --from stale-route-port-reuse --dir ~/incidents",
        "cflab scenario list ~/incidents           # shipped and your scenarios, with descriptions",
        "cflab scenario check my-incident.yml      # validate, start nothing",
        "cflab scenario run my-incident.yml --mode strict --out out/scenarios",
        "cflab scenario table --out out/scenarios  # side-by-side table of the results",
        "cflab scenario pack out/scenarios/my-incident -o incident.tar.gz",
        "cflab scenario replay incident.tar.gz     # on a fresh foundation: then vs now",
        "```",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    args = p.parse_args(argv)
    text = render()
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
