"""The cell's presence in the BBS, refreshed on a thread of its own.

Diego's rep keeps its presence through locket's presence runner, apart from the work it
does: a cell whose presence lapses has every instance re-placed elsewhere, so creating
containers, crash checks or slow claims in the rep's work loop must never delay it (at
50 instances on 2 cores they did, and the BBS re-placed everything again and again).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from foundry.bbs.client import BBSError

log = logging.getLogger("rep.presence")


class Presence:
    """Calls ``beat`` every ``interval`` seconds until stopped; records the longest gap
    between two refreshes that reached the BBS, and says so in the log when one was late."""

    def __init__(self, beat: Callable[[], None], interval: float = 1.0, late_after: float = 5.0,
                 on_beat: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.beat, self.interval, self.late_after = beat, interval, late_after
        self.on_beat, self.clock = on_beat, clock
        self.last = 0.0
        self.longest_gap = 0.0

    def beat_once(self) -> bool:
        """One refresh; False (and a warning) when the BBS did not take it."""
        try:
            self.beat()
        except (BBSError, OSError) as exc:
            log.warning("presence not refreshed: %s", exc)
            return False
        now = self.clock()
        if self.last:
            gap = now - self.last
            self.longest_gap = max(self.longest_gap, gap)
            if gap > self.late_after:
                log.warning("presence refreshed %.1f s after the last refresh", gap)
        self.last = now
        self.on_beat()
        return True

    def run(self, stopping: threading.Event) -> None:
        while True:
            self.beat_once()
            if stopping.wait(self.interval):
                return

    def start(self, stopping: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stopping,), name="presence", daemon=True)
        thread.start()
        return thread
