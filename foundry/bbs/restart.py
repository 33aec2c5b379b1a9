"""CF's restart policy (bbs ``models/restart_calculator.go``).

Crashes #1 and #2 restart at once; from #3 the LRP waits base × 2^(n−3), capped
(30 s, 60 s, … 16 min); from #200 it is never restarted again.
"""

from __future__ import annotations

from dataclasses import dataclass

NS = 1_000_000_000


@dataclass(frozen=True)
class RestartCalculator:
    immediate_restarts: int = 3
    backoff_base_s: float = 30.0
    backoff_max_s: float = 960.0
    max_restart_attempts: int = 200
    max_backoff_count: int = 5

    def backoff_ns(self, crash_count: int) -> int:
        """How long a CRASHED LRP with this count waits before convergence restarts it."""
        if crash_count < self.immediate_restarts:
            return 0
        exponent = min(crash_count - self.immediate_restarts, self.max_backoff_count)
        return int(min(self.backoff_base_s * 2**exponent, self.backoff_max_s) * NS)

    def should_restart_immediately(self, crash_count: int) -> bool:
        return crash_count < self.immediate_restarts

    def should_restart(self, now_ns: int, crashed_at_ns: int, crash_count: int) -> bool:
        if crash_count < self.immediate_restarts:
            return True
        if crash_count >= self.max_restart_attempts:
            return False
        return now_ns >= crashed_at_ns + self.backoff_ns(crash_count)
