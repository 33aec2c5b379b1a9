"""The router's deadlines (client idle, response head) on a fake clock: no sockets, no sleeping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from foundry.gorouter.deadline import Deadline, remaining


class FakeClock:
    """A loop's time() and call_later(), advanced by hand."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[list[Any]] = []  # [when, callback, cancelled]

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], Any]) -> Any:
        timer = [self.now + delay, callback, False]
        self.timers.append(timer)
        clock = self

        class Handle:
            def cancel(self) -> None:
                timer[2] = True
                clock.timers.remove(timer)

        return Handle()

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while due := sorted((t for t in self.timers if t[0] <= end), key=lambda t: t[0]):
            timer = due[0]
            self.timers.remove(timer)
            self.now = timer[0]
            timer[1]()
        self.now = end


def test_remaining() -> None:
    assert remaining(10.0, 4.0) == 6.0
    assert remaining(10.0, 10.0) == 0.0
    assert remaining(10.0, 12.0) == 0.0


def test_fires_once_the_period_passes_without_a_disarm() -> None:
    clock, fired = FakeClock(), []
    d = Deadline(clock, 5.0, lambda: fired.append(clock.now))
    d.arm()
    clock.advance(4.9)
    assert fired == [] and d.armed
    clock.advance(0.2)
    assert fired == [5.0] and d.fired and not d.armed
    clock.advance(100)
    assert fired == [5.0]  # once


def test_re_arming_moves_the_due_time_on_one_timer() -> None:
    clock, fired = FakeClock(), []
    d = Deadline(clock, 5.0, lambda: fired.append(clock.now))
    d.arm()
    for _ in range(30):  # a busy keep-alive connection: a request every 0.5 s
        clock.advance(0.5)
        d.arm()
        assert len(clock.timers) == 1
    clock.advance(4.9)
    assert fired == []
    clock.advance(0.2)
    assert fired == [20.0]  # 5 s after the last arming, at 15 s


def test_disarmed_it_never_fires_and_drops_its_timer() -> None:
    clock, fired = FakeClock(), []
    d = Deadline(clock, 5.0, lambda: fired.append(clock.now))
    d.arm()
    clock.advance(1)
    d.disarm()  # a request in flight: the connection is not idle
    clock.advance(60)
    assert fired == [] and clock.timers == []
    d.arm()  # idle again: a new timer, the full period
    assert len(clock.timers) == 1
    clock.advance(5.0)
    assert fired == [66.0] and d.fired


def test_cancel_stops_it_for_good() -> None:
    clock, fired = FakeClock(), []
    d = Deadline(clock, 5.0, lambda: fired.append(clock.now))
    d.arm()
    d.cancel()
    clock.advance(60)
    assert fired == [] and clock.timers == []
