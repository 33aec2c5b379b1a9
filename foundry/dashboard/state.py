"""The dashboard's state and what changed in it: the logic behind the pushed updates.

The state is a handful of sections (jobs, cells, containers, routes, identities,
traffic), each a mapping key → row. A collector hands over a whole section as it
sees it now; `State.replace` keeps it and returns only the difference, which is
what the server pushes. No sockets here: tests feed sections and read patches.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

SECTIONS = ("foundation", "jobs", "cells", "containers", "routes", "identities", "traffic")
REQUESTS_KEPT = 200


@dataclass(frozen=True)
class Patch:
    """Rows set (added or changed) and keys removed in one section."""

    section: str
    set: dict[str, Any]
    removed: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"section": self.section, "set": self.set, "removed": self.removed}


def diff(section: str, old: dict[str, Any], new: dict[str, Any]) -> Patch | None:
    """The patch that turns `old` into `new`, or None when they are equal."""
    changed = {k: v for k, v in new.items() if old.get(k) != v or k not in old}
    removed = sorted(k for k in old if k not in new)
    if not changed and not removed:
        return None
    return Patch(section, changed, removed)


@dataclass
class State:
    sections: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {name: {} for name in SECTIONS})
    requests: deque = field(default_factory=lambda: deque(maxlen=REQUESTS_KEPT))
    seq: int = 0  # bumps with every change, the SSE event id

    def replace(self, section: str, rows: dict[str, Any]) -> Patch | None:
        """Take a collector's full view of `section`; the patch, if anything changed."""
        if section not in self.sections:
            raise KeyError(f"unknown section {section!r}")
        patch = diff(section, self.sections[section], rows)
        if patch is not None:
            self.sections[section] = dict(rows)
            self.seq += 1
        return patch

    def update(self, section: str, rows: dict[str, Any]) -> Patch | None:
        """Set some rows of `section`, leaving the others as they are."""
        merged = {**self.sections[section], **rows}
        return self.replace(section, merged)

    def add_requests(self, items: list[dict]) -> None:
        self.requests.extend(items)
        self.seq += 1

    def snapshot(self, sections: tuple[str, ...] = SECTIONS, requests: int = 50) -> dict:
        return {"sections": {s: self.sections[s] for s in sections},
                "requests": list(self.requests)[-requests:] if requests else [],
                "seq": self.seq}


def sse_event(event: str, data: Any, event_id: int | None = None) -> bytes:
    """One server-sent event: `event:`, optional `id:`, one `data:` line of JSON."""
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return (head + "data: " + json.dumps(data, separators=(",", ":")) + "\n\n").encode()


class QueryError(ValueError):
    """A malformed query parameter: the server answers 400 with this message."""


def parse_query(query: dict[str, list[str]], allowed: dict[str, str]) -> dict[str, Any]:
    """Check a request's parameters: `allowed` maps name → kind (`sections` or `int`).

    `sections` is a comma list of known section names; `int` a whole number 0..1000.
    Anything unknown, repeated or malformed is a QueryError naming it.
    """
    out: dict[str, Any] = {}
    for name, values in query.items():
        if name not in allowed:
            raise QueryError(f"unknown parameter {name!r} (known: {', '.join(sorted(allowed))})")
        if len(values) != 1:
            raise QueryError(f"{name}: given more than once")
        value = values[0]
        if allowed[name] == "sections":
            names = tuple(v for v in value.split(",") if v)
            bad = [n for n in names if n not in SECTIONS]
            if bad or not names:
                raise QueryError(f"{name}: expected a comma list of {', '.join(SECTIONS)},"
                                 f" got {value!r}")
            out[name] = names
        elif allowed[name] == "int":
            if not value.isdigit() or int(value) > 1000:
                raise QueryError(f"{name}: expected a whole number 0..1000, got {value!r}")
            out[name] = int(value)
    return out
