"""The identity app's opt-in memory fault: only the named instance indexes hoard."""

from __future__ import annotations

from foundry.apps.identity import app


class Timer:
    started: list[tuple[float, object]] = []

    def __init__(self, after: float, fn: object) -> None:
        self.after, self.fn = after, fn

    def start(self) -> None:
        Timer.started.append((self.after, self.fn))


def test_only_the_named_index_is_armed(monkeypatch, capsys):
    monkeypatch.setattr(app.threading, "Timer", Timer)
    Timer.started.clear()
    monkeypatch.setenv("CFLAB_OOM_INDEX", "1, 3")
    monkeypatch.setenv("CFLAB_OOM_AFTER", "2.5")
    monkeypatch.setenv("CF_INSTANCE_INDEX", "0")
    app.oom_if_asked()
    assert Timer.started == []
    monkeypatch.setenv("CF_INSTANCE_INDEX", "3")
    app.oom_if_asked()
    assert Timer.started == [(2.5, app.hoard_memory)]
    assert "instance 3 will exceed its memory limit in 2.5s" in capsys.readouterr().out


def test_nothing_is_armed_without_the_setting(monkeypatch):
    monkeypatch.setattr(app.threading, "Timer", Timer)
    Timer.started.clear()
    monkeypatch.delenv("CFLAB_OOM_INDEX", raising=False)
    monkeypatch.setenv("CF_INSTANCE_INDEX", "0")
    app.oom_if_asked()
    assert Timer.started == []
