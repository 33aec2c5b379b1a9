"""The BBS's HTTP JSON API as a pure dispatcher: (method, path, query, body) → (status, body).

One lock serialises the state and its persistence, so handler threads and the
convergence loop never interleave.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import parse_qs, unquote

from foundry.bbs.errors import BBSError, InvalidRequest, NotFound
from foundry.bbs.state import BBSState
from foundry.bbs.store import Store

log = logging.getLogger("bbs")
Response = tuple[int, Any]

LIFECYCLE = ("claim", "start", "crash", "remove", "retire")


MAX_EVENT_WAIT = 30.0


class BBSService:
    def __init__(self, state: BBSState, store: Store | None = None) -> None:
        self.state = state
        self.store = store
        self.lock = threading.Lock()
        # A change counter that `GET /v1/events` waits on: what BBS's event stream gives
        # the rep and the route emitter, so neither waits a poll interval to see work.
        self.version = 0
        self.changed = threading.Condition()

    def _bump(self) -> None:
        with self.changed:
            self.version += 1
            self.changed.notify_all()

    def wait_for_change(self, after: int, timeout: float) -> int:
        """Block until the state changed past version `after` (or `timeout`); the version."""
        with self.changed:
            self.changed.wait_for(lambda: self.version != after, min(timeout, MAX_EVENT_WAIT))
            return self.version

    def _flush(self) -> None:
        if self.store is not None:
            self.store.flush(self.state)

    def converge(self, only_if_cells_lost: bool = False) -> None:
        with self.lock:
            lost = self.state.lost_cells()
            if only_if_cells_lost and not lost:
                return
            if lost:  # their instances are handed back and placed again
                log.warning("cell presence expired: %s", ", ".join(sorted(lost)))
            generation = self.state.generation
            self.state.converge()
            self._flush()
            changed = self.state.generation != generation
        if changed:
            self._bump()

    def handle(self, method: str, target: str, body: Any) -> Response:
        path, _, qs = target.partition("?")
        query = {k: v[-1] for k, v in parse_qs(qs).items()}
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        try:
            if parts == ["v1", "events"] and method == "GET":
                return 200, {"version": self.wait_for_change(*self._event_args(query))}
            with self.lock:
                generation = self.state.generation
                try:
                    return self._route(method, parts, query, body)
                finally:
                    self._flush()
                    # Only a change wakes the watchers: a heartbeat or a converge that
                    # changed nothing would send every rep, route emitter and dashboard
                    # back to list the LRPs (twice a second with two cells, measured).
                    if self.state.generation != generation:
                        self._bump()
        except BBSError as e:
            return e.status, {"error": e.message}

    @staticmethod
    def _event_args(query: dict[str, str]) -> tuple[int, float]:
        try:
            return int(query.get("after", "-1")), float(query.get("timeout", "10"))
        except ValueError:
            raise InvalidRequest("after: an integer version; timeout: seconds") from None

    def _route(self, method: str, parts: list[str], query: dict[str, str], body: Any) -> Response:
        s = self.state
        if parts == ["ping"] and method == "GET":
            return 200, {"ok": True}
        if parts[:1] != ["v1"] or len(parts) < 2:
            raise NotFound("no such endpoint")
        resource, rest = parts[1], parts[2:]
        if resource == "desired_lrps":
            if not rest and method == "GET":
                return 200, s.list_desired(query.get("domain"))
            if not rest and method == "POST":
                return 201, s.desire(body)
            if len(rest) == 1 and method == "GET":
                return 200, s.get_desired(rest[0])
            if len(rest) == 1 and method == "PATCH":
                return 200, s.update_desired(rest[0], body)
            if len(rest) == 1 and method == "DELETE":
                s.remove_desired(rest[0])
                return 204, None
        elif resource == "actual_lrps":
            if not rest and method == "GET":
                index = query.get("index")
                if index is not None and not index.isdigit():
                    raise InvalidRequest("index: must be a non-negative integer")
                lrps = s.list_actual(domain=query.get("domain"), cell_id=query.get("cell_id"),
                                     process_guid=query.get("process_guid"),
                                     index=int(index) if index is not None else None)
                return 200, [lrp.to_json() for lrp in lrps]
            if len(rest) == 1 and rest[0] in LIFECYCLE and method == "POST":
                lrp = getattr(s, rest[0])(body)
                return 200, (lrp.to_json() if lrp is not None else {})
        elif resource == "cells":
            if not rest and method == "GET":
                return 200, [c.to_json() for c in s.present_cells()]
            if len(rest) == 2 and rest[1] == "presence" and method == "POST":
                return 200, s.heartbeat(rest[0], body).to_json()
            if len(rest) == 2 and rest[1] == "work" and method == "GET":
                return 200, s.work(rest[0])
        raise NotFound(f"no such endpoint: {method} /{'/'.join(parts)}")
