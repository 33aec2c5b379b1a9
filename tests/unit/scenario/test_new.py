"""`cflab scenario new` writes a checked template or copy; `list` shows yours beside
the shipped ones."""

from __future__ import annotations

import argparse

from orchestrator.scenario import cli, schema, templates


def args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    cli.add_parser(p.add_subparsers(dest="command"))
    return p.parse_args(["scenario", *argv])


def test_template_is_a_valid_commented_scenario(tmp_path, capsys):
    assert cli.run_command(args("new", "my-incident", "--dir", str(tmp_path))) == 0
    path = tmp_path / "my-incident.yml"
    assert f"wrote {path} (a template)" in capsys.readouterr().out
    text = path.read_text()
    assert text.count("\n#") >= 2 and "docs/scenarios.md" in text
    sc = schema.load_file(path)
    assert sc.name == "my-incident" and sc.steps and sc.expect["strict"]


def test_from_copies_a_shipped_scenario_renamed(tmp_path):
    assert cli.run_command(args("new", "my-outage", "--from", "nats-outage",
                                "--dir", str(tmp_path))) == 0
    copy = schema.load_file(tmp_path / "my-outage.yml")
    shipped = schema.load_file(schema.discover()["nats-outage"])
    assert copy.name == "my-outage"
    assert copy.steps == shipped.steps and copy.expect == shipped.expect
    # and from one of yours, by name in the folder
    assert cli.run_command(args("new", "second", "--from", "my-outage",
                                "--dir", str(tmp_path))) == 0
    assert schema.load_file(tmp_path / "second.yml").steps == shipped.steps


def test_new_refuses_to_overwrite_or_a_bad_name(tmp_path, capsys):
    (tmp_path / "taken.yml").write_text("mine\n")
    assert cli.run_command(args("new", "taken", "--dir", str(tmp_path))) == 2
    assert "exists already" in capsys.readouterr().err
    assert (tmp_path / "taken.yml").read_text() == "mine\n"
    assert cli.run_command(args("new", "Bad Name", "--dir", str(tmp_path))) == 2
    assert "lower-case letters" in capsys.readouterr().err
    assert cli.run_command(args("new", "x", "--from", "nope", "--dir", str(tmp_path))) == 2
    assert not (tmp_path / "x.yml").exists()


def test_list_shows_yours_beside_the_shipped(tmp_path, capsys):
    templates.write("my-incident", tmp_path)
    (tmp_path / "broken.yml").write_text("name: broken\napps: []\n")
    assert cli.run_command(args("list", str(tmp_path))) == 2   # one is invalid
    out = capsys.readouterr().out.splitlines()
    mine = out.index(f"yours ({tmp_path}):")
    assert out[0] == "shipped:" and any("stale-route-port-reuse" in x for x in out[1:mine])
    assert out[mine + 1].split()[0] == "broken" and "INVALID: " in out[mine + 1]
    assert out[mine + 2].split()[:2] == ["my-incident", "before-envoy,"]
    assert out[mine + 2].endswith("What happened, what should have happened, and what this"
                                  " run shows.")


def test_shipped_is_what_git_tracks_in_scenarios(tmp_path):
    assert "nats-outage" in templates.shipped()
    assert templates.shipped(tmp_path) == set()
