"""What a job tells the rest of the platform about apps, off the job's own loop.

Two jobs of a real foundation meet here, because cflab has no Loggregator:
- the loggregator agent: log lines (`APP/PROC/WEB`, `CELL` from cells, `RTR` from the
  router) and container metrics, as v2 envelopes (``source_id`` = app guid,
  ``instance_id`` = index), to the Log Cache the Cloud Controller keeps
  (`POST /internal/v1/envelopes` on its internal port);
- tps-watcher: a crash to `POST /internal/v4/apps/:process_guid/crashed`, with the
  payload tps-watcher sends, so the CC records ``app.crash``.

A bounded queue and one sender thread: a slow or absent CC costs dropped envelopes
(counted in the log), never a stalled job.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from typing import Any

log = logging.getLogger("loggregator")

MAX_QUEUE = 10_000
MAX_BATCH = 500


def log_envelope(source_id: str, index: int, source_type: str, message: str,
                 stream: str = "OUT", timestamp_ns: int | None = None) -> dict[str, Any]:
    return {"source_id": source_id, "instance_id": str(index),
            "timestamp": str(timestamp_ns or time.time_ns()),
            "tags": {"source_type": source_type},
            "log": {"payload": message, "type": stream}}


def gauge_envelope(source_id: str, index: int, metrics: dict[str, tuple[float, str]],
                   instance_guid: str = "") -> dict[str, Any]:
    return {"source_id": source_id, "instance_id": str(index),
            "timestamp": str(time.time_ns()),
            "tags": {"instance_guid": instance_guid} if instance_guid else {},
            "gauge": {"metrics": {k: {"value": v, "unit": u} for k, (v, u) in metrics.items()}}}


class Reporter:
    def __init__(self, cc_internal_url: str, timeout: float = 5.0) -> None:
        self.base = cc_internal_url.rstrip("/")
        self.timeout = timeout
        self.q: queue.Queue[tuple[str, Any]] = queue.Queue(MAX_QUEUE)
        self.dropped = 0
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.base)

    def start(self) -> None:
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="reporter", daemon=True)
            self._thread.start()

    def _put(self, kind: str, item: Any) -> None:
        if not self.enabled:
            return
        try:
            self.q.put_nowait((kind, item))
        except queue.Full:
            self.dropped += 1

    def envelope(self, env: dict[str, Any]) -> None:
        self._put("envelope", env)

    def log(self, source_id: str, index: int, source_type: str, message: str,
            stream: str = "OUT") -> None:
        if source_id:
            self.envelope(log_envelope(source_id, index, source_type, message, stream))

    def crashed(self, process_guid: str, payload: dict[str, Any]) -> None:
        self._put("crash", (process_guid, payload))

    def _post(self, path: str, body: Any) -> None:
        req = urllib.request.Request(self.base + path, data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            resp.read()

    def _run(self) -> None:
        while True:
            items = [self.q.get()]
            while len(items) < MAX_BATCH:
                try:
                    items.append(self.q.get_nowait())
                except queue.Empty:
                    break
            envelopes = [item for kind, item in items if kind == "envelope"]
            posts = [("/internal/v1/envelopes", {"envelopes": envelopes}, len(envelopes))] \
                if envelopes else []
            posts += [(f"/internal/v4/apps/{item[0]}/crashed", item[1], 1)
                      for kind, item in items if kind == "crash"]
            for path, body, count in posts:
                try:
                    self._post(path, body)
                except urllib.error.HTTPError as exc:
                    # e.g. a crash of an LRP no CC app owns (desired straight in the BBS)
                    log.debug("Cloud Controller refused %s: %s", path, exc)
                except (urllib.error.URLError, OSError, ValueError) as exc:
                    self.dropped += count
                    log.warning("Cloud Controller unreachable, %d reports dropped so far: %s",
                                self.dropped, exc)
                    time.sleep(1.0)
                    break
