"""The stale-route pruning cycle (gorouter `registry.StartPruningCycle`), clock-driven.

The I/O edge calls `tick()` on a timer and tells it whether NATS is connected;
this class decides whether a pass runs, and freshens every lease when NATS comes
back after a suspension so routes are not pruned for heartbeats NATS lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from foundry.gorouter.registry import Registry

log = logging.getLogger("gorouter.pruning")


class PruningCycle:
    def __init__(self, registry: Registry, *, interval: float,
                 suspend_if_nats_unavailable: bool, clock: Callable[[], float]) -> None:
        self.registry = registry
        self.interval = interval
        self.suspend_if_nats_unavailable = suspend_if_nats_unavailable
        self.clock = clock
        self.next_due = clock() + interval
        self.suspended = False

    def nats_state(self, connected: bool) -> None:
        """Report NATS connectivity; on reconnect after a suspension, freshen all routes."""
        if not self.suspend_if_nats_unavailable:
            return
        if not connected and not self.suspended:
            log.info("prune-suspended: NATS unavailable")
            self.suspended = True
        elif connected and self.suspended:
            log.info("prune-resumed: NATS connected, freshening routes")
            self.suspended = False
            self.registry.freshen_routes()

    def tick(self) -> int:
        """Run a pass if one is due; returns the number of endpoints pruned."""
        now = self.clock()
        if now < self.next_due:
            return 0
        self.next_due = now + self.interval
        if self.suspended:
            return 0
        return self.registry.prune_stale_droplets()

    def seconds_until_due(self) -> float:
        return max(0.0, self.next_due - self.clock())
