"""Route broadcast scheduler (route-emitter ``scheduler/routebroadcastscheduler.go``).

Greets the router every ``greet_interval`` until a reply (gives up after
``greet_max_attempts``); the reply or a router.start gives the register interval.
Emits everything every interval; a later router.start restarts the ticker after a
random jitter in [0, jitter_factor × interval).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_INTERVAL_S = 20.0


@dataclass(frozen=True)
class Greet:
    attempt: int


@dataclass(frozen=True)
class EmitAll:
    reason: str


@dataclass(frozen=True)
class GiveUp:
    attempts: int


Action = Greet | EmitAll | GiveUp


def register_interval(payload: Any) -> float:
    """minimumRegisterIntervalInSeconds from a router.start / greet reply body."""
    if isinstance(payload, dict):
        value = payload.get("minimumRegisterIntervalInSeconds")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return float(value)
    return DEFAULT_INTERVAL_S


class RouteBroadcastScheduler:
    def __init__(self, greet_interval_s: float = 1.0, greet_max_attempts: int = 30,
                 jitter_factor: float = 0.2, rng: Callable[[], float] = random.random) -> None:
        self.greet_interval = greet_interval_s
        self.greet_max_attempts = greet_max_attempts
        self.jitter_factor = jitter_factor
        self.rng = rng
        self.interval: float | None = None
        self.greet_attempts = 0
        self.next_greet_at: float | None = 0.0
        self.next_emit_at: float | None = None
        self.gave_up = False

    @property
    def greeted(self) -> bool:
        return self.interval is not None

    def on_router_start(self, payload: Any, now: float, greet_reply: bool = False) -> list[Action]:
        interval = register_interval(payload)
        if not self.greeted:
            self.interval = interval
            self.next_greet_at = None
            self.next_emit_at = now + interval
            return [EmitAll("greeted")]
        if greet_reply:
            return []  # a late answer to an earlier greet changes nothing
        self.interval = interval
        self.next_emit_at = now + self.rng() * self.jitter_factor * interval
        return []

    def tick(self, now: float) -> list[Action]:
        actions: list[Action] = []
        if self.next_greet_at is not None and now >= self.next_greet_at:
            if self.greet_attempts >= self.greet_max_attempts:
                self.next_greet_at = None
                self.gave_up = True
                return [GiveUp(self.greet_attempts)]
            self.greet_attempts += 1
            self.next_greet_at = now + self.greet_interval
            actions.append(Greet(self.greet_attempts))
        if self.next_emit_at is not None and now >= self.next_emit_at:
            assert self.interval is not None
            self.next_emit_at = now + self.interval
            actions.append(EmitAll("interval"))
        return actions

    def next_deadline(self) -> float | None:
        times = [t for t in (self.next_greet_at, self.next_emit_at) if t is not None]
        return min(times, default=None)
