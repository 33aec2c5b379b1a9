"""Fan-out of the state's changes to every connected page (one queue per SSE client)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from foundry.dashboard.state import SECTIONS, State, sse_event

QUEUE_LIMIT = 1000  # events a slow page may lag behind before it is dropped (it reconnects)
# A read of /api/state counts as someone watching for this long (a script or test that
# polls the snapshot gets the live rate as a page does).
WATCH_GRACE = 60.0


class Subscriber:
    def __init__(self, sections: tuple[str, ...]) -> None:
        self.sections = frozenset(sections)
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_LIMIT)


class Hub:
    def __init__(self, state: State | None = None) -> None:
        self.state = state or State()
        self.subscribers: set[Subscriber] = set()
        self.looked_at = float("-inf")
        self._watch = asyncio.Event()

    # Whether anyone watches: the per-second probes and identity reads cost one TLS
    # handshake per instance per second (measured at 100 instances: ~75% of a core
    # between the dashboard and the proxies), worth paying only while someone looks.
    def watched(self) -> bool:
        return bool(self.subscribers) or time.monotonic() - self.looked_at < WATCH_GRACE

    def look(self) -> None:
        """A snapshot was read: someone watches, for WATCH_GRACE seconds."""
        was = self.watched()
        self.looked_at = time.monotonic()
        if not was:
            self._wake()

    def _wake(self) -> None:
        self._watch.set()
        self._watch = asyncio.Event()

    async def until_watched(self, timeout: float) -> None:
        """Return after `timeout` seconds, or as soon as someone starts watching."""
        if timeout <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._watch.wait(), timeout)

    def subscribe(self, sections: tuple[str, ...] = SECTIONS) -> Subscriber:
        was = self.watched()
        sub = Subscriber(sections)
        self.subscribers.add(sub)
        if not was:
            self._wake()
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def _send(self, section: str | None, event: bytes) -> None:
        for sub in list(self.subscribers):
            if section is not None and section not in sub.sections:
                continue
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:  # too slow: end its stream, the page reconnects
                self.subscribers.discard(sub)
                while not sub.queue.empty():
                    sub.queue.get_nowait()
                sub.queue.put_nowait(None)

    def replace(self, section: str, rows: dict[str, Any]) -> bool:
        """A collector's full view of a section; pushes the difference. True if any."""
        patch = self.state.replace(section, rows)
        if patch is None:
            return False
        data = {**patch.to_json(), "server_time": time.time()}
        self._send(section, sse_event("patch", data, self.state.seq))
        return True

    def update(self, section: str, rows: dict[str, Any]) -> bool:
        return self.replace(section, {**self.state.sections[section], **rows})

    def requests(self, items: list[dict]) -> None:
        """New rows of the request stream (sampled by the caller)."""
        if not items:
            return
        self.state.add_requests(items)
        self._send(None, sse_event("requests", {"items": items, "server_time": time.time()},
                                   self.state.seq))
