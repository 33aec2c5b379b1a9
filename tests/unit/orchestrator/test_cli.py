"""The cflab command: wrong arguments and bad config give a message and a non-zero exit."""

from __future__ import annotations

import pytest

from orchestrator import cli


def test_unknown_mode_is_refused_by_argparse(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["up", "--mode", "sideways"])
    assert exit_.value.code == 2
    assert "invalid choice: 'sideways'" in capsys.readouterr().err


def test_bad_config_file_exits_2_with_the_field(tmp_path, capsys):
    f = tmp_path / "foundation.yml"
    f.write_text("timings:\n  register_interval: never\n")
    assert cli.main(["--config", str(f), "status"]) == 2
    err = capsys.readouterr().err
    assert "timings.register_interval" in err


def test_missing_docker_is_reported(monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert cli.main(["--project", "cflab-nodocker", "status"]) == 1
    assert "docker is not installed" in capsys.readouterr().err


def test_up_says_where_its_mode_comes_from():
    assert cli.mode_note("strict", True, True, False) == " • mode strict: from --mode"
    kept = cli.mode_note("strict", False, True, False)
    assert "kept" in kept and "`make down` resets it" in kept
    fresh = cli.mode_note("after-envoy", False, False, False)
    assert fresh.startswith(" • mode after-envoy: the default: a fresh foundation")


def test_down_removes_the_saved_config_so_up_starts_fresh(tmp_path, monkeypatch):
    """`make down` deletes the state folder holding foundation.json (the mode set with
    `cflab mode`), so the next `make up` is a fresh foundation in the configured mode."""
    from orchestrator import config, foundation, render

    monkeypatch.setattr(render, "state_dir", lambda project: tmp_path / project)
    saved = tmp_path / "cflab-t" / "foundation.json"
    saved.parent.mkdir()
    saved.write_text('{"mode": "strict"}')
    assert foundation.saved_config_path("cflab-t") == saved
    monkeypatch.setattr(foundation, "ids", lambda kind, label: [])
    foundation.Foundation(config.load(None, {"project": "cflab-t"})).down()
    assert foundation.saved_config_path("cflab-t") is None
