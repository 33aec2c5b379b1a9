"""Crash checks on Docker's events: which events concern which instance, the watch's
reconnects, and that the executor's per-second tick no longer inspects instances
while the stream is live."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from foundry.rep.crash_watch import CrashWatch, concerned_exit, ended_watched, event_filters
from foundry.rep.executor import Container
from tests.unit.rep.test_limits_and_crashes import CrashGarden, crash_executor


def running(cid: str, state: str = "running") -> Container:
    return Container(process_guid="pg", index=0, instance_guid=f"ig-{cid}", desired={},
                     cid=cid, state=state,
                     processes={"app": f"app-{cid}", "liveness": f"live-{cid}", "envoy": f"env-{cid}"})


def event(action: str, cid: str, exec_id: str = "", legacy: bool = False) -> dict:
    if legacy:  # the pre-1.22 fields Docker still sends beside Actor
        return {"status": action, "id": cid, "Type": "container"}
    attributes = {"execID": exec_id, "exitCode": "137"} if exec_id else {}
    return {"Type": "container", "Action": action, "Actor": {"ID": cid, "Attributes": attributes}}


CONTAINERS = {"h1": running("c1"), "h2": running("c2"), "h3": running("c3", state="starting"),
              "h4": running("c4", state="stopping")}


def test_the_filters_select_this_cells_containers_and_the_actions_that_end_an_instance():
    assert event_filters({"cflab.foundation": "f", "cflab.cell": "cell-1"}) == {
        "type": ["container"], "event": ["die", "oom", "exec_die"],
        "label": ["cflab.foundation=f", "cflab.cell=cell-1"]}


def test_a_dead_or_oom_killed_container_concerns_its_running_instance():
    assert concerned_exit(event("die", "c1"), CONTAINERS) == ("h1", "")
    assert concerned_exit(event("oom", "c2"), CONTAINERS) == ("h2", "")
    assert concerned_exit(event("die", "c2", legacy=True), CONTAINERS) == ("h2", "")


def test_only_the_watched_processes_exits_count():
    for name in ("app", "live", "env"):
        assert concerned_exit(event("exec_die", "c1", f"{name}-c1"), CONTAINERS) == (
            "h1", f"{name}-c1")
    # a startup check, a file rename or a `cf ssh` session ending is not a crash
    assert concerned_exit(event("exec_die", "c1", "some-other-exec"), CONTAINERS) is None
    # another instance's process id on this container is not this container's process
    assert concerned_exit(event("exec_die", "c1", "app-c2"), CONTAINERS) is None


def test_a_starting_instance_keeps_every_exit_for_its_running_transition():
    """Its exec ids may not be on record yet: which exit mattered is decided later."""
    assert concerned_exit(event("die", "c3"), CONTAINERS) == ("h3", "")
    assert concerned_exit(event("exec_die", "c3", "some-exec"), CONTAINERS) == ("h3", "some-exec")
    processes = {"app": "a", "liveness": "l", "envoy": "e"}
    assert not ended_watched(set(), processes)
    assert not ended_watched({"startup-check", "rename"}, processes)
    assert ended_watched({"rename", "e"}, processes) and ended_watched({""}, processes)
    assert not ended_watched({"x"}, {"app": "a"})  # a process not started has no id


def test_stopping_unknown_and_odd_events_concern_none():
    assert concerned_exit(event("die", "c4"), CONTAINERS) is None  # the rep stops it
    assert concerned_exit(event("die", "elsewhere"), CONTAINERS) is None
    assert concerned_exit(event("start", "c1"), CONTAINERS) is None
    assert concerned_exit({"Type": "network", "Action": "die", "Actor": {"ID": "c1"}},
                          CONTAINERS) is None
    assert concerned_exit({}, CONTAINERS) is None
    assert concerned_exit({"Action": "die", "Actor": {}}, CONTAINERS) is None


def test_the_watch_checks_concerned_instances_and_sweeps_once_per_stream():
    calls: list = []
    live_while_reading: list[bool] = []
    watch: CrashWatch

    def stream() -> Iterator[dict]:
        live_while_reading.append(watch.live.is_set())
        yield event("exec_die", "c1", "some-other-exec")
        yield event("exec_die", "c1", "app-c1")
        yield event("die", "c4")
        yield event("oom", "c2")

    watch = CrashWatch(stream, lambda: CONTAINERS, lambda *exit: calls.append(exit),
                       on_reconnect=lambda: calls.append("sweep"))
    watch.follow()
    assert calls == ["sweep", ("h1", "app-c1"), ("h2", "")]
    assert live_while_reading == [True] and not watch.live.is_set()


def test_the_watch_outlives_a_failing_engine_and_reconnects():
    opened: list[int] = []
    stopping = threading.Event()
    checked: list = []

    def flaky() -> Iterator[dict]:
        opened.append(1)
        if len(opened) == 1:
            raise ConnectionError("engine restarting")
        if len(opened) == 3:
            stopping.set()
        yield event("die", "c1")

    watch = CrashWatch(flaky, lambda: CONTAINERS, lambda *exit: checked.append(exit),
                       on_reconnect=lambda: None, retry_s=0.01)
    done = threading.Thread(target=watch.run, args=(stopping,))
    done.start()
    done.join(timeout=10)
    assert not done.is_alive()
    assert len(opened) == 3 and checked == [("h1", ""), ("h1", "")]


class CountingGarden(CrashGarden):
    def __init__(self) -> None:
        super().__init__(exit_code=1, oom=False)
        self.inspects = 0

    def container_running(self, cid: str) -> bool:
        self.inspects += 1
        return True


def test_tick_without_crash_checks_inspects_nothing_and_an_event_check_crashes(
        tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("foundry.rep.executor.iptables", lambda cmd: None)
    garden = CountingGarden()
    ex, bbs, _ = crash_executor(tmp_path, garden)
    ex.containers["ig-1"].rotate_at = float("inf")
    ex.tick(crash_checks=False)
    assert garden.inspects == 0 and bbs.calls == []
    (handle,) = ex.known()
    ex.on_exit(handle, "app-exec")
    assert garden.inspects == 1
    assert bbs.calls[0][0] == "crash"
    assert bbs.calls[0][1]["crash_reason"] == "APP/PROC/WEB: Exited with status 1"
    assert ex.known() == {}
