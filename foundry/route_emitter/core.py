"""The emitter's decisions in one sans-IO object: events in, NATS publishes out."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from foundry.route_emitter.config import EmitterConfig
from foundry.route_emitter.routing_table import RoutingTable
from foundry.route_emitter.scheduler import EmitAll, GiveUp, Greet, RouteBroadcastScheduler
from foundry.route_emitter.unregistration import UnregistrationCache

REGISTER = "router.register"
UNREGISTER = "router.unregister"
GREET = "router.greet"


@dataclass(frozen=True)
class Publish:
    subject: str
    message: dict[str, Any]


Outbound = Publish | Greet | GiveUp


class EmitterCore:
    def __init__(self, cfg: EmitterConfig, rng: Callable[[], float] = random.random) -> None:
        self.table = RoutingTable(cfg.cell_id, cfg.register_direct_instance_routes)
        self.cache = UnregistrationCache(cfg.unregistration_interval,
                                         cfg.unregistration_send_count)
        self.scheduler = RouteBroadcastScheduler(cfg.greet_interval, cfg.greet_max_attempts,
                                                 cfg.jitter_factor, rng)

    def _emit_all(self) -> list[Outbound]:
        return [Publish(REGISTER, m) for m in self.table.registrations()]

    def _run(self, actions: list[Any]) -> list[Outbound]:
        out: list[Outbound] = []
        for action in actions:
            if isinstance(action, EmitAll):
                out.extend(self._emit_all())
            else:
                out.append(action)
        return out

    def on_snapshot(self, desired: list[dict[str, Any]], actual: list[dict[str, Any]],
                    now: float) -> list[Outbound]:
        """A fresh read of the BBS: register what is new, unregister what went away."""
        changes = self.table.update(desired, actual)
        if not self.scheduler.greeted:
            return []  # nothing reaches the router before we know it is there
        out: list[Outbound] = []
        for msg in changes.registrations:
            self.cache.cancel((msg["uris"][0], msg["host"], msg["port"],
                               msg.get("tls_port", 0)))
            out.append(Publish(REGISTER, msg))
        for key, msg in changes.unregistrations:
            out.append(Publish(UNREGISTER, self.cache.add(key, msg, now)))
        return out

    def on_router_start(self, payload: Any, now: float, greet_reply: bool = False
                        ) -> list[Outbound]:
        return self._run(self.scheduler.on_router_start(payload, now, greet_reply))

    def tick(self, now: float) -> list[Outbound]:
        out = self._run(self.scheduler.tick(now))
        if self.scheduler.greeted:
            out.extend(Publish(UNREGISTER, m) for m in self.cache.due(now))
        return out

    def next_deadline(self) -> float | None:
        times = [t for t in (self.scheduler.next_deadline(), self.cache.next_deadline())
                 if t is not None]
        return min(times, default=None)
