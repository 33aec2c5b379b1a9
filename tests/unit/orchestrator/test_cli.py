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
    from orchestrator import config, docker_cli, foundation, render

    monkeypatch.setattr(render, "state_dir", lambda project: tmp_path / project)
    saved = tmp_path / "cflab-t" / "foundation.json"
    saved.parent.mkdir()
    saved.write_text('{"mode": "strict"}')
    assert foundation.saved_config_path("cflab-t") == saved
    for module in (foundation, docker_cli):  # down lists networks, remove_containers the rest
        monkeypatch.setattr(module, "ids", lambda kind, label: [])
    foundation.Foundation(config.load(None, {"project": "cflab-t"})).down()
    assert foundation.saved_config_path("cflab-t") is None


def test_the_lab_switch_is_cflab_mode(monkeypatch, tmp_path):
    """The page's switch does what `cflab mode M` does to the foundation `cflab lab` was
    started for; on a foundation that is not running it says so."""
    from orchestrator import foundation

    switched: list[tuple[str, str]] = []
    running = ["c1"]
    monkeypatch.setattr(cli, "require_engine", lambda: None)
    monkeypatch.setattr(foundation.Foundation, "running_containers", lambda self: running)
    monkeypatch.setattr(foundation.Foundation, "switch_mode",
                        lambda self, wait: switched.append((self.cfg.project, self.cfg.mode)))
    monkeypatch.setattr(cli, "saved_config_path", lambda project: None)
    args = cli.parser().parse_args(["--project", "cflab-labt", "lab", "--port", "0"])
    assert args.out == cli.Path("out/scenarios") and args.scenario_project == "cflab-scn"
    _, switch, _ = cli.lab_actions(args)
    switch("strict")
    assert switched == [("cflab-labt", "strict")]
    running.clear()
    with pytest.raises(cli.PhaseError, match="'cflab-labt' is not running"):
        switch("before-envoy")


def test_down_removes_an_app_container_a_dying_cell_made_after_the_listing(tmp_path, monkeypatch):
    """A rep killed by `docker rm -f` while it creates an app container leaves one the
    first listing did not show; down lists again and removes it, and then the network
    it held, instead of leaving both behind."""
    from orchestrator import config, docker_cli, foundation, render

    monkeypatch.setattr(render, "state_dir", lambda project: tmp_path / project)
    app, jobs = "cflab.foundation=cflab-t", "com.docker.compose.project=cflab-t"
    live = {"container": {"cell-1": {app, jobs}, "app-1": {app}},
            "network": {"cell-1-containers": {app, jobs}}, "volume": {}}
    late = {"app-2": {app}}  # what the cell is creating as it dies
    rm_calls: list[list[str]] = []

    def ids(kind: str, label: str) -> list[str]:
        return sorted(k for k, labels in live[kind].items() if label in labels)

    def run(argv: list[str], check: bool = True):
        assert argv[:4] == ["docker", "rm", "-f", "-v"], argv
        rm_calls.append(sorted(argv[4:]))
        for c in argv[4:]:
            live["container"].pop(c)
            if c == "cell-1":
                live["container"].update(late)

    def remove_network(net: str) -> bool:
        if live["container"]:
            return False
        del live["network"][net]
        return True

    for module in (foundation, docker_cli):  # down lists networks, remove_containers the rest
        monkeypatch.setattr(module, "ids", ids)
        monkeypatch.setattr(module, "run", run)
    monkeypatch.setattr(foundation, "remove_network", remove_network)
    monkeypatch.setattr(foundation.swarm, "in_swarm", lambda: False)
    counts = foundation.Foundation(config.load(None, {"project": "cflab-t"})).down()
    assert live == {"container": {}, "network": {}, "volume": {}}
    assert rm_calls == [["cell-1"], ["app-1", "app-2"]]  # the cells first, then the rest
    assert counts["containers"] == 3 and counts["networks"] == 1
