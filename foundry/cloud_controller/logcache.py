"""A small Log Cache: the last envelopes of every app, and its instances' latest metrics.

Real CF keeps app logs in Log Cache (a ring buffer per source id, ``max_per_source``)
and `cf logs` reads `/api/v1/read/<source id>` with ``start_time``; `cf app` and the
stats endpoints read the latest container metrics from it. Cells post v2 envelopes;
the Cloud Controller adds its own `API` lines. Sans-IO apart from a lock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

DEFAULT_MAX_PER_SOURCE = 1000
MAX_READ = 1000   # log-cache's limit on one read


class EnvelopeError(ValueError):
    pass


def _check(env: Any) -> dict[str, Any]:
    if not isinstance(env, dict) or not isinstance(env.get("source_id"), str) \
            or not env["source_id"]:
        raise EnvelopeError("an envelope needs a source_id")
    if not isinstance(env.get("log"), dict) and not isinstance(env.get("gauge"), dict):
        raise EnvelopeError("an envelope needs a log or a gauge")
    try:
        int(env.get("timestamp") or 0)
    except (TypeError, ValueError):
        raise EnvelopeError("timestamp must be nanoseconds") from None
    return env


class LogCache:
    def __init__(self, max_per_source: int = DEFAULT_MAX_PER_SOURCE) -> None:
        if max_per_source < 1:
            raise ValueError("max_per_source must be at least 1")
        self.max_per_source = max_per_source
        self._logs: dict[str, deque[dict[str, Any]]] = {}
        self._gauges: dict[tuple[str, str], dict[str, Any]] = {}
        self._last_ts: dict[str, int] = {}
        self._lock = threading.Lock()

    def ingest(self, envelopes: list[Any]) -> int:
        """Store a batch; each log envelope gets a timestamp later than its source's
        last one, so a reader that asks for "after t" never misses or repeats one."""
        checked = [_check(e) for e in envelopes]
        with self._lock:
            for env in checked:
                src = env["source_id"]
                if "gauge" in env:
                    self._gauges[(src, str(env.get("instance_id", "")))] = env
                    continue
                ts = max(int(env.get("timestamp") or 0) or time.time_ns(),
                         self._last_ts.get(src, 0) + 1)
                self._last_ts[src] = ts
                buf = self._logs.setdefault(src, deque(maxlen=self.max_per_source))
                buf.append({**env, "timestamp": str(ts)})
        return len(checked)

    def log(self, source_id: str, source_type: str, message: str, instance_id: str = "0",
            stream: str = "OUT") -> None:
        self.ingest([{"source_id": source_id, "instance_id": instance_id,
                      "timestamp": str(time.time_ns()), "tags": {"source_type": source_type},
                      "log": {"payload": message, "type": stream}}])

    def read(self, source_id: str, start_time: int = 0, limit: int = MAX_READ,
             descending: bool = False) -> list[dict[str, Any]]:
        """Log envelopes with timestamp >= start_time, oldest first (or the newest
        `limit`, newest first, with `descending`, as `cf logs --recent` asks)."""
        with self._lock:
            found = [e for e in self._logs.get(source_id, ()) if int(e["timestamp"]) >= start_time]
        if descending:
            return list(reversed(found))[:limit]
        return found[:limit]

    def gauges(self, source_id: str) -> dict[str, dict[str, Any]]:
        """instance id -> the latest container metrics envelope."""
        with self._lock:
            return {inst: env for (src, inst), env in self._gauges.items() if src == source_id}

    def forget(self, source_id: str) -> None:
        with self._lock:
            self._logs.pop(source_id, None)
            self._last_ts.pop(source_id, None)
            for key in [k for k in self._gauges if k[0] == source_id]:
                del self._gauges[key]
