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
