"""Unregistration cache (route-emitter ``unregistration/``).

An unregister is sent at once, then re-sent every ``interval`` ``send_count`` more
times, so a router that missed it (NATS blip, restart) still drops the stale route.
Re-registering the same route removes it early.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from foundry.route_emitter.routing_table import RegKey


@dataclass
class _Pending:
    message: dict[str, Any]
    remaining: int
    next_at: float


class UnregistrationCache:
    def __init__(self, interval_s: float = 30.0, send_count: int = 20) -> None:
        self.interval = interval_s
        self.send_count = send_count
        self.pending: dict[RegKey, _Pending] = {}

    def add(self, key: RegKey, message: dict[str, Any], now: float) -> dict[str, Any]:
        """Remember an unregister; returns the message to send now."""
        self.pending[key] = _Pending(message, self.send_count, now + self.interval)
        return message

    def cancel(self, key: RegKey) -> None:
        self.pending.pop(key, None)

    def due(self, now: float) -> list[dict[str, Any]]:
        out = []
        for key in sorted(self.pending):
            p = self.pending[key]
            if now >= p.next_at:
                out.append(p.message)
                p.remaining -= 1
                p.next_at = now + self.interval
                if p.remaining <= 0:
                    del self.pending[key]
        return out

    def next_deadline(self) -> float | None:
        return min((p.next_at for p in self.pending.values()), default=None)
