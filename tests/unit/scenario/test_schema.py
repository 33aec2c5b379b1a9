"""Scenario files: every shipped one validates; a bad one names the field and step."""

from __future__ import annotations

import copy

import pytest

from orchestrator.scenario import schema

GOOD = {
    "name": "demo",
    "foundation": {"modes": ["before-envoy", "strict"], "cells": 2,
                   "timings": {"droplet_stale_threshold": "20s"}},
    "apps": [{"name": "a", "instances": 2}, {"name": "b", "start": False}],
    "load": {"rps": 5, "keepalive": True},
    "steps": [
        {"mark": "start"},
        {"observe": "2s"},
        {"partition": {"from": "cell-1", "to": "nats"}},
        {"heal": {}},
        {"push": {"app": "b"}},
        {"wait": {"until": "route_ok", "app": "b", "timeout": "30s"}, "modes": ["strict"]},
        {"kill_job": {"job": "cell-of:a"}},
    ],
    "expect": {"all": {"misrouted": "== 0"}, "strict": {"availability@start": ">= 0.9"}},
}


def bad(mutate) -> str:
    data = copy.deepcopy(GOOD)
    mutate(data)
    with pytest.raises(schema.ScenarioError) as exc:
        schema.parse(data, "x.yml")
    return str(exc.value)


def test_shipped_scenarios_are_valid():
    found = schema.discover()
    assert set(found) == {"stale-route-port-reuse", "nats-outage", "cert-rotation-under-load",
                          "strict-direct-access", "app-crash-restart", "cell-loss"}
    for path in found.values():
        sc = schema.load_file(path)
        assert sc.name == path.stem
        assert sc.steps and all(sc.expect[m] for m in sc.modes)


def test_good_scenario_parses_with_defaults():
    sc = schema.parse(GOOD)
    assert sc.modes == ("before-envoy", "strict")
    assert sc.app("a").host == "a.apps.internal"
    assert sc.routes == ("a", "b")
    assert sc.steps[1].params == {"duration": 2.0}
    assert sc.steps[5].runs_in("strict") and not sc.steps[5].runs_in("before-envoy")
    assert sc.steps[5].params["timeout"] == 30.0
    assert [e.text for e in sc.expect["strict"]] == ["misrouted == 0.0",
                                                     "availability@start >= 0.9"]
    assert [e.text for e in sc.expect["before-envoy"]] == ["misrouted == 0.0"]


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["steps"].append({"wait": {"until": "forever", "app": "a"}}),
     "x.yml: steps[7].wait.until: unknown condition 'forever'"),
    (lambda d: d["steps"].append({"scale": {"app": "zz", "instances": 2}}),
     "steps[7].scale.app: no app 'zz'"),
    (lambda d: d["steps"].append({"scale": {"app": "a"}}), "steps[7].scale.instances: missing"),
    (lambda d: d["steps"].append({"explode": {}}), "steps[7]: unknown step 'explode'"),
    (lambda d: d["steps"].append({"observe": "soon"}), "steps[7].observe.duration"),
    (lambda d: d["steps"].append({"kill_job": "cell-3"}), "steps[7].kill_job.job: no job 'cell-3'"),
    (lambda d: d["steps"].append({"observe": "1s", "mark": "x"}),
     "steps[7]: a step has exactly one kind"),
    (lambda d: d["steps"].append({"wait": {"until": "route_ok"}}),
     "steps[7].wait.app: condition route_ok needs an app"),
    (lambda d: d["steps"].append({"heal": {"from": "nats"}}), "steps[7].heal: give both"),
    (lambda d: d["steps"].append({"partition": {"from": "nats", "to": "nats"}}),
     "steps[7].partition: from and to are the same"),
    (lambda d: d["steps"].append({"probe_direct": {"app": "a", "name": "p",
                                                   "client_cert": "mine"}}),
     "steps[7].probe_direct.client_cert"),
    (lambda d: d["steps"].append({"observe": "1s", "modes": ["sideways"]}),
     "steps[7].modes: unknown mode 'sideways'"),
    (lambda d: d["steps"].insert(0, {"push": {"app": "a"}}),
     "steps[0].push.app: 'a' is already started"),
    (lambda d: d["apps"].append({"name": "a"}), "apps[2].name: duplicate app name 'a'"),
    (lambda d: d["apps"][0].update(instances=0), "apps[0].instances: expected a whole number"),
    (lambda d: d["apps"][0].update(cell="cell-9"), "apps[0].cell: no such cell 'cell-9'"),
    (lambda d: d["apps"][0].update(colour="red"), "apps[0].colour: unknown field"),
    (lambda d: d["load"].update(rps=0), "load.rps"),
    (lambda d: d["load"].update(routes=["nope"]), "load.routes: no app 'nope'"),
    (lambda d: d["foundation"].update(modes=["warp"]), "foundation.modes: unknown mode 'warp'"),
    (lambda d: d["foundation"]["timings"].update(register_interval="never"),
     "timings.register_interval"),
    (lambda d: d["expect"].update(strict={"latency": "< 1"}), "expect.strict.latency: unknown metric"),
    (lambda d: d["expect"].update(strict={"misrouted": "about 0"}),
     "expect.strict.misrouted: expected 'OP VALUE'"),
    (lambda d: d["expect"].update(strict={"availability": ">= 95"}),
     "availability is a fraction"),
    (lambda d: d["expect"].update(strict={"misrouted@nowhere": "== 0"}),
     "expect.strict.misrouted@nowhere: no `mark: nowhere` step"),
    (lambda d: d["expect"].update({"after-envoy": {"misrouted": 0}}),
     "expect.after-envoy: mode not in foundation.modes"),
    (lambda d: d.update(name="Bad Name"), "name: lower-case"),
    (lambda d: d.update(extra=1), "extra: unknown field"),
])
def test_bad_scenarios_name_the_field(mutate, message):
    assert message in bad(mutate)


def test_checks_take_ok_or_fail():
    e = schema.parse_expectation("check.direct", "ok", "expect.strict")
    assert (e.metric, e.op, e.value) == ("check.direct", "==", "ok")
    e = schema.parse_expectation("check.direct", False, "expect.strict")
    assert e.value == "fail"
    with pytest.raises(schema.ScenarioError, match="a check is"):
        schema.parse_expectation("check.direct", "> 3", "expect.strict")


def test_bad_yaml_file(tmp_path):
    f = tmp_path / "s.yml"
    f.write_text("name: [unclosed\n")
    with pytest.raises(schema.ScenarioError, match="not valid YAML"):
        schema.load_file(f)
