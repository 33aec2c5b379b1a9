"""Scenario files: every shipped one validates; a bad one names the field and step."""

from __future__ import annotations

import copy

import pytest

from orchestrator.scenario import schema, templates

GOOD = {
    "name": "demo",
    "foundation": {"modes": ["before-envoy", "strict"], "cells": 2,
                   "timings": {"droplet_stale_threshold": "20s",
                               "prune_stale_droplets_interval": "2s"}},
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
    shipped = templates.shipped()   # a user's own file in scenarios/ is not judged here
    found = {n: p for n, p in schema.discover().items() if n in shipped}
    assert set(found) >= {"stale-route-port-reuse", "nats-outage", "cert-rotation-under-load",
                          "strict-direct-access", "app-crash-restart", "cell-loss",
                          "credential-delivery", "router-restart-under-load",
                          "nats-outage-port-reuse", "oom-crash-loop", "neighbor-bypass"}
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


CRED = {
    "name": "cred",
    "foundation": {"modes": ["after-envoy", "strict"]},
    "apps": [{"name": "vault", "start": False}, {"name": "other", "start": False},
             {"name": "web"}],
    "steps": [
        {"cf_push": "vault"},
        {"cf_push": {"app": "other", "instances": 2}},
        {"bind_service": {"app": "vault", "service": "cflab-db", "plan": "small",
                          "instance_name": "vault-db", "name": "cc-view"}},
        {"wait": {"until": "app_has_credentials", "app": "vault", "name": "creds"}},
        {"probe_credhub": {"from_app": "other", "ref_app": "vault", "name": "other-denied"}},
        {"unbind_service": {"app": "vault", "instance_name": "vault-db"}},
    ],
    "expect": {"all": {"check.other-denied": "fail", "check.creds": "ok"}},
}


def bad_cred(mutate) -> str:
    data = copy.deepcopy(CRED)
    mutate(data)
    with pytest.raises(schema.ScenarioError) as exc:
        schema.parse(data, "c.yml")
    return str(exc.value)


def test_cloud_controller_steps_parse():
    sc = schema.parse(CRED)
    assert [s.kind for s in sc.steps] == ["cf_push", "cf_push", "bind_service", "wait",
                                          "probe_credhub", "unbind_service"]
    assert sc.steps[0].params == {"app": "vault"}
    assert sc.steps[1].params == {"app": "other", "instances": 2}
    assert sc.steps[2].params["instance_name"] == "vault-db"
    assert sc.steps[3].params["timeout"] == 60.0
    assert sc.steps[4].describe() == "probe_credhub(from_app=other, ref_app=vault,"\
        " name=other-denied)"
    assert [e.text for e in sc.expect["strict"]] == ["check.other-denied == fail",
                                                     "check.creds == ok"]


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["steps"].insert(0, {"cf_push": "web"}),
     "steps[0].cf_push.app: 'web' is already started"),
    (lambda d: d["steps"].append({"cf_push": {"app": "vault", "instances": 0}}),
     "steps[6].cf_push.instances: expected a whole number >= 1"),
    (lambda d: d["steps"].append({"cf_push": {"app": "vault", "memory": 64}}),
     "steps[6].cf_push.memory: unknown field"),
    (lambda d: d["steps"].append({"bind_service": {"app": "web", "service": "cflab-db",
                                                   "instance_name": "x"}}),
     "steps[6].bind_service.app: 'web' is not pushed with an earlier cf_push step"),
    (lambda d: d["steps"].insert(0, {"bind_service": {"app": "vault", "service": "cflab-db",
                                                      "instance_name": "x"}}),
     "steps[0].bind_service.app: 'vault' is not pushed"),
    (lambda d: d["steps"].append({"bind_service": {"app": "vault", "instance_name": "x"}}),
     "steps[6].bind_service.service: missing"),
    (lambda d: d["steps"].append({"bind_service": {"app": "vault", "service": "cflab-db",
                                                   "instance_name": "My DB"}}),
     "steps[6].bind_service.instance_name: lower-case"),
    (lambda d: d["steps"].append({"unbind_service": {"app": "vault"}}),
     "steps[6].unbind_service.instance_name: missing"),
    (lambda d: d["steps"].append({"probe_credhub": {"from_app": "nope", "ref_app": "vault",
                                                    "name": "p"}}),
     "steps[6].probe_credhub.from_app: no app 'nope'"),
    (lambda d: d["steps"].append({"probe_credhub": {"from_app": "web", "ref_app": "vault",
                                                    "name": "p"}}),
     "steps[6].probe_credhub.from_app: 'web' is not pushed"),
    (lambda d: d["steps"].append({"probe_credhub": {"from_app": "vault", "ref_app": "vault",
                                                    "name": "Not Ok"}}),
     "steps[6].probe_credhub.name: a check name"),
    (lambda d: d["steps"].append({"probe_credhub": {"from_app": "vault", "ref_app": "vault"}}),
     "steps[6].probe_credhub.name: missing"),
    (lambda d: d["steps"].append({"wait": {"until": "app_has_credentials"}}),
     "steps[6].wait.app: condition app_has_credentials needs an app"),
    (lambda d: d["apps"][0].update(host="safe.apps.internal"),
     "steps[0].cf_push.app: cf push routes vault.<apps_domain>"),
])
def test_bad_cloud_controller_steps_name_the_field(mutate, message):
    assert message in bad_cred(mutate)


def test_an_app_can_have_a_memory_limit_and_environment(tmp_path):
    from orchestrator.scenario import platform
    base = schema.discover()["app-crash-restart"].read_text()
    text = base.replace("- {name: web, instances: 2}",
                        '- {name: web, instances: 2, memory: 64, env: {CFLAB_OOM_INDEX: "1", '
                        "CFLAB_OOM_AFTER: 4}}")
    (tmp_path / "s.yml").write_text(text)
    sc = schema.load_file(tmp_path / "s.yml")
    web = sc.app("web")
    assert web.memory == 64 and dict(web.env) == {"CFLAB_OOM_INDEX": "1", "CFLAB_OOM_AFTER": "4"}
    lrp = platform.desired_lrp("p", web)
    assert (lrp["memory_mb"], lrp["cpu_weight"]) == (64, 1)
    assert {"name": "CFLAB_OOM_AFTER", "value": "4"} in lrp["env"]
    assert "memory_mb" not in platform.desired_lrp("p", sc.app("other"))
    (tmp_path / "bad.yml").write_text(text.replace("memory: 64", "memory: lots"))
    with pytest.raises(schema.ScenarioError, match=r"apps\[0\]\.memory"):
        schema.load_file(tmp_path / "bad.yml")
