"""When the rep's work loop must wake without a BBS change: a credential rotation due,
the crash sweep, or, while Docker's event stream is down, the per-second sweep.

The loop used to wake every second and ask the BBS for its work each time: two HTTPS
calls a second per cell for an idle foundation. Now the work is asked for when the BBS
changes (and on each bulk sync), and the loop sleeps in the BBS's change long-poll
until the next of these is due.
"""

from __future__ import annotations

from collections.abc import Iterable

# While Docker's event stream is live, crash checks run on its events, and once on each
# instance as it becomes running (an exec that died before the rep knew its id); a full
# sweep this often is a net for an event the stream lost. Each sweep costs four Engine
# API calls per instance: at 30 s, ~13 a second and ~2% of a core at 100 instances.
CRASH_SWEEP_S = 300.0
# The longest the loop sleeps: how soon it notices the event stream went down (and
# SIGTERM, which does not cut the BBS long-poll short).
MAX_SLEEP_S = 5.0
# While the event stream is down: the sweep every second, as before the stream; and
# the shortest wait between ticks.
DOWN_TICK_S = 1.0


def next_tick(now: float, stream_live: bool, last_sweep: float,
              rotate_ats: Iterable[float]) -> float:
    """The monotonic time of the next executor tick: never sooner than a second away
    (a rotation that failed is retried each second, as before, not in a spin)."""
    if not stream_live:
        return now + DOWN_TICK_S
    return max(now + DOWN_TICK_S,
               min([now + MAX_SLEEP_S, last_sweep + CRASH_SWEEP_S, *rotate_ats]))
