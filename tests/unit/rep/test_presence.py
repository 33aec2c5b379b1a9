"""The cell's presence is refreshed on its own thread: a work loop stuck creating
containers (seconds per Docker call at load average 80) must not let it lapse."""

from __future__ import annotations

import threading

from foundry.bbs.client import BBSUnavailable
from foundry.rep.presence import Presence


def test_presence_beats_on_its_own_thread_until_stopped():
    beats = threading.Semaphore(0)
    stopping = threading.Event()
    thread = Presence(beats.release, interval=0.01).start(stopping)
    try:
        for _ in range(5):
            assert beats.acquire(timeout=5), "no heartbeat from the presence thread"
    finally:
        stopping.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_an_unreachable_bbs_is_logged_and_the_next_beat_tried(caplog):
    calls: list[int] = []
    now = [100.0]

    def beat() -> None:
        calls.append(1)
        if len(calls) == 2:
            raise BBSUnavailable("cannot reach the BBS")

    ready: list[int] = []
    presence = Presence(beat, late_after=5.0, on_beat=lambda: ready.append(1),
                        clock=lambda: now[0])
    assert presence.beat_once()
    now[0] += 1.0
    assert not presence.beat_once()
    now[0] += 7.0
    assert presence.beat_once()
    assert ready == [1, 1] and presence.longest_gap == 8.0
    assert "presence not refreshed: cannot reach the BBS" in caplog.text
    assert "presence refreshed 8.0 s after the last refresh" in caplog.text
