"""Evidence from logs (sans-IO): the router's access-log lines around each fault.

gorouter stamps each access-log line with the time the request was received
(``[2026-11-29T16:00:00.123456789Z]``, UTC); a fault window is in seconds since the load
started, so `load_started_at` (wall clock) joins the two.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Sequence
from typing import Any

_STAMP = re.compile(r' - \[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z\] "')


def access_time(line: str) -> float | None:
    """The epoch seconds of an access-log line; None for any other line."""
    m = _STAMP.search(line)
    if not m:
        return None
    secs = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    return secs + float(f"0.{m.group(2) or 0}")


def around_faults(log_text: str, faults: Sequence[dict[str, Any]], load_started_at: float,
                  margin: float = 3.0, limit: int = 200) -> str:
    """Per fault window, the access-log lines received from `margin` s before it opened
    to `margin` s after it closed (at most `limit`, the first ones)."""
    stamped = [(t, line) for line in log_text.splitlines()
               if (t := access_time(line)) is not None]
    out = []
    for f in faults:
        end = f["end"] if f.get("end") is not None else f["start"]
        lo = load_started_at + f["start"] - margin
        hi = load_started_at + end + margin
        lines = [line for t, line in stamped if lo <= t <= hi]
        out.append(f"== {f['name']}: {f['start']:.1f} s – {end:.1f} s after the load started,"
                   f" ±{margin:g} s: {len(lines)} lines"
                   + (f" (the first {limit})" if len(lines) > limit else ""))
        out += lines[:limit] or ["(no access-log lines in this window)"]
        out.append("")
    return "\n".join(out)
