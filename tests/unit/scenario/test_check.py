"""`cflab scenario check`: every problem of a file at once, each with its line, its field
and what is allowed; `scenario run` refuses a bad file before it touches Docker."""

from __future__ import annotations

import argparse
import textwrap

import pytest

from orchestrator.scenario import cli, schema

BAD = textwrap.dedent("""\
    name: my-incident
    foundation:
      modes: [strict]
      timings:
        register_intervl: 2s
    apps:
      - {name: web, instances: 2}
    steps:
      - observe: 2s
      - restart_job: routr
      - wait: {until: route_ok, app: web, consecutive: 0}
      - wiat: {until: routes_ok}
      - wait:
          until: app_running
          app: web
          cell: cell-1
      - nats_outage: sometimes
    expect:
      all:
        misrouted: "== 0"
        availability@recovered: ">= 0.99"
""")


def problems(tmp_path, text: str) -> list[str]:
    f = tmp_path / "incident.yml"
    f.write_text(text)
    with pytest.raises(schema.ScenarioError) as exc:
        schema.load_file(f)
    return [line.replace(str(f), "F") for line in str(exc.value).splitlines()]


def test_every_problem_with_its_line_field_and_what_is_allowed(tmp_path):
    found = problems(tmp_path, BAD)
    assert found[0].startswith("F:5: foundation.timings.register_intervl: unknown setting"
                               " (known here: ")
    assert "register_interval" in found[0]
    assert found[1:] == [
        "F:10: steps[1].restart_job.job: no job 'routr' (jobs: nats, router, bbs, cell-1,"
        " or cell-of:APP with APP one of web)",
        "F:11: steps[2].wait.consecutive: expected a whole number >= 1, got 0",
        f"F:12: steps[3]: unknown step 'wiat' (known: {', '.join(schema.KINDS)});"
        " did you mean 'wait'?",
        "F:16: steps[4].wait.cell: not used by condition app_running (it takes: app)",
        "F:17: steps[5].nats_outage.how: one of pause, stop, got 'sometimes'",
        "F:21: expect.all.availability@recovered: no `mark: recovered` step",
    ]


def test_a_missing_field_points_at_its_parent(tmp_path):
    text = "name: x\napps:\n  - {name: web}\nsteps:\n  - scale:\n      app: web\n"
    assert problems(tmp_path, text) == [
        "F:5: steps[0].scale.instances: missing (the new instance count)"]


def test_unknown_field_suggests_the_near_one(tmp_path):
    text = "name: x\napps:\n  - {name: web, instance: 2}\n"
    assert problems(tmp_path, text) == [
        "F:3: apps[0].instance: unknown field (known: name, host, instances, start, cell,"
        " memory, env);"
        " did you mean 'instances'?"]


def test_the_foundations_own_rules_are_checked_for_every_mode(tmp_path):
    text = ("name: x\nfoundation:\n  timings:\n    droplet_stale_threshold: 10s\n"
            "apps:\n  - {name: web}\n")
    assert problems(tmp_path, text) == [
        "F:3: foundation.timings.prune_stale_droplets_interval: longer than"
        " droplet_stale_threshold"]


@pytest.mark.parametrize("text, message", [
    ("- a list\n", "F:1: a scenario is a mapping"),
    ("name: x\napps: []\n", "F:2: apps: expected a non-empty list of apps"),
    ("name: x\napps: [{name: web}]\nsteps:\n  - nats_restore: now\n",
     "F:4: steps[0].nats_restore: takes no parameters, got 'now' (write `nats_restore: {}`)"),
    ("name: x\napps: [{name: web}]\nsteps:\n  - wait: {until: off_cell, app: web}\n",
     "F:4: steps[0].wait.cell: condition off_cell needs a cell"),
    ("name: x\napps: [{name: web}]\nsteps:\n  - wait: {until: routes_ok, name: Bad Name}\n",
     "F:4: steps[0].wait.name: a check name"),
    ("name: x\napps: [{name: web}]\nsteps:\n  - probe_credhub: {from_app: web, ref_app: web,"
     " name: p, expect: maybe}\n", "steps[0].probe_credhub.expect: one of read, denied"),
])
def test_messages(tmp_path, text, message):
    assert message in "\n".join(problems(tmp_path, text))


def test_bad_yaml_names_the_line(tmp_path):
    assert problems(tmp_path, "name: x\napps: [\n  - {name: web\n")[0].startswith(
        "F:3: not valid YAML")


def test_defaults_are_filled_and_the_description_keeps_what_was_written():
    sc = schema.parse({"name": "x", "apps": [{"name": "web"}],
                       "steps": [{"crash_instance": "web"}, {"nats_outage": "stop"},
                                 {"wait": {"until": "routes_ok"}}]})
    crash, outage, wait = sc.steps
    assert crash.params == {"app": "web", "index": 0}
    assert crash.describe() == "crash_instance(app=web)"
    assert outage.params == {"how": "stop"}
    assert wait.params == {"until": "routes_ok", "timeout": 60.0, "on_timeout": "fail"}


def args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    cli.add_parser(p.add_subparsers(dest="command"))
    return p.parse_args(["scenario", *argv])


def test_check_command(tmp_path, capsys):
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD)
    assert cli.run_command(args("check", "nats-outage")) == 0
    assert "nats-outage: ok — nats-outage, 9 steps" in capsys.readouterr().out
    assert cli.run_command(args("check", "nats-outage", str(bad))) == 2
    out = capsys.readouterr()
    assert "nats-outage: ok" in out.out
    assert f"{bad}:10: steps[1].restart_job.job" in out.err
    assert cli.run_command(args("check", "no-such-scenario")) == 2
    assert "no scenario 'no-such-scenario'" in capsys.readouterr().err


def test_run_checks_before_it_touches_docker(tmp_path, capsys, monkeypatch):
    import orchestrator.docker_cli as docker_cli

    def engine():
        raise AssertionError("a bad file must not reach the engine")
    monkeypatch.setattr(docker_cli, "require_engine", engine)
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD)
    assert cli.run_command(args("run", str(bad))) == 2
    assert "steps[3]: unknown step 'wiat'" in capsys.readouterr().err


def test_a_value_yaml_refuses_is_a_scenario_error(tmp_path):
    assert "not valid YAML: ValueError" in problems(tmp_path, "name: x\nwhen: 2001-13-01\n")[0]
