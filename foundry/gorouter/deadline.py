"""The router's waits with a time limit, on at most one timer each.

Two limits apply on both request paths: the client idle timeout (a keep-alive
connection waiting for its next request) and endpoint_timeout (a backend's
response head). Both are armed once per request, so a timer per arming
(`call_later` plus `cancel`) would cost a heap entry per request. A `Deadline`
is re-armed by moving its due time; its one timer, when it goes off early,
sleeps on for what is left, and stops while nothing waits.

The rule (`remaining`) is plain arithmetic; the clock and the timer come from
the loop passed in, so tests drive a Deadline with a fake clock and no sockets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

CLIENT_IDLE_TIMEOUT = 900.0  # gorouter's frontend idle timeout


class Clock(Protocol):
    """What a Deadline needs of the event loop."""

    def time(self) -> float: ...
    def call_later(self, delay: float, callback: Callable[[], Any]) -> Any: ...


def remaining(due: float, now: float) -> float:
    """Seconds left before `due`; 0 once it has passed."""
    left = due - now
    return left if left > 0 else 0.0


class Deadline:
    """Calls `on_due` once `period` has passed since the last `arm` without a `disarm`."""

    __slots__ = ("clock", "period", "on_due", "due", "armed", "fired", "handle")

    def __init__(self, clock: Clock, period: float, on_due: Callable[[], Any]) -> None:
        self.clock = clock
        self.period = period
        self.on_due = on_due
        self.due = 0.0
        self.armed = False
        self.fired = False
        self.handle: Any = None

    def arm(self) -> None:
        self.due = self.clock.time() + self.period
        self.armed = True
        self.fired = False
        if self.handle is None:
            self.handle = self.clock.call_later(self.period, self._check)

    def disarm(self) -> None:
        self.armed = False

    def cancel(self) -> None:
        """For good: the connection is gone."""
        self.armed = False
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None

    def _check(self) -> None:
        self.handle = None
        if not self.armed:
            return  # re-armed lazily by the next arm()
        left = remaining(self.due, self.clock.time())
        if left > 0:
            self.handle = self.clock.call_later(left, self._check)
            return
        self.armed = False
        self.fired = True
        self.on_due()
