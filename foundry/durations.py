"""Go's `time.ParseDuration`, the one duration grammar of every CF job's config.

gorouter.yml, rep.json, the route emitter's and the health check's flags all hold Go
durations ("120s", "1m30s", "250ms"), so cflab's jobs and the orchestrator share this
parser instead of each keeping a copy. Stdlib only, and without `re`: the health check
that every app instance keeps running imports it, and `re` alone is 1.4 MB of its RSS.
"""

from __future__ import annotations

UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
         "m": 60.0, "h": 3600.0}
# Longest first: "ms" before "m".
_UNITS_BY_LENGTH = sorted(UNITS, key=len, reverse=True)
_DIGITS = "0123456789"


def parse_go_duration(text: str) -> float:
    """Seconds from a Go duration string; ValueError with Go's message otherwise.

    As in Go: an optional sign, then one or more number+unit parts; "0" alone needs no
    unit; a unit is required otherwise ("10" is invalid)."""
    s = text.strip() if isinstance(text, str) else ""
    body = s[1:] if s[:1] in ("+", "-") else s
    if body == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(body):
        start = pos
        while pos < len(body) and body[pos] in _DIGITS:
            pos += 1
        if pos < len(body) and body[pos] == ".":
            pos += 1
            while pos < len(body) and body[pos] in _DIGITS:
                pos += 1
        number = body[start:pos]
        unit = next((u for u in _UNITS_BY_LENGTH if body.startswith(u, pos)), None)
        if number in ("", ".") or unit is None:
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(number) * UNITS[unit]
        pos += len(unit)
    if not body:
        raise ValueError(f'time: invalid duration "{text}"')
    return -total if s.startswith("-") else total

