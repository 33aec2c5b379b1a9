"""Go's `time.ParseDuration`, the one duration grammar of every CF job's config.

gorouter.yml, rep.json, the route emitter's and the health check's flags all hold Go
durations ("120s", "1m30s", "250ms"), so cflab's jobs and the orchestrator share this
parser instead of each keeping a copy. Stdlib only: it runs in app containers too.
"""

from __future__ import annotations

import re

UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
         "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds from a Go duration string; ValueError with Go's message otherwise.

    As in Go: an optional sign, then one or more number+unit parts; "0" alone needs no
    unit; a unit is required otherwise ("10" is invalid)."""
    s = text.strip() if isinstance(text, str) else ""
    body = s[1:] if s[:1] in ("+", "-") else s
    if body == "0":
        return 0.0
    pos, total = 0, 0.0
    while body and pos < len(body):
        m = _PART.match(body, pos)
        if not m:
            break
        total += float(m.group(1)) * UNITS[m.group(2)]
        pos = m.end()
    if not body or pos != len(body):
        raise ValueError(f'time: invalid duration "{text}"')
    return -total if s.startswith("-") else total

