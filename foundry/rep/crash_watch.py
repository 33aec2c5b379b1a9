"""Crash detection on Docker's event stream, as Garden reports a process exit to the
executor, instead of inspecting every running instance every second.

Polling cost one container inspect and up to three exec inspects per instance per
second: at 100 instances on two cells, ~400 Engine API calls a second for an idle
foundation. With the stream the rep checks an instance only when Docker reports that
its container died, was OOM-killed, or that one of its watched processes (app,
liveness, proxy) exited. While the stream is down the executor falls back to the
per-second sweep, and after every reconnect one full sweep covers the gap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

log = logging.getLogger("rep.crash_watch")

# Container events that can end an instance: the container exited, the kernel OOM-killed
# a process in it, or a process started with `Garden.run` exited.
WATCHED_ACTIONS = ("die", "oom", "exec_die")
WATCHED_PROCESSES = ("app", "liveness", "envoy")


class Watched(Protocol):
    cid: str
    state: str
    processes: dict[str, str]


def event_filters(labels: Mapping[str, str]) -> dict[str, list[str]]:
    """The Engine's `/events` filters for this cell's containers and the watched actions
    (Docker copies a container's labels onto its exec events, so one label filter
    selects both)."""
    return {"type": ["container"], "event": list(WATCHED_ACTIONS),
            "label": [f"{k}={v}" for k, v in labels.items()]}


def concerned_exit(event: Mapping[str, Any],
                   containers: Mapping[str, Watched]) -> tuple[str, str] | None:
    """(handle, exec id, or "" for the container itself) of the instance `event` may
    have ended, else None.

    For a running instance only its watched processes count: another exec (a startup
    check, a file rename, `cf ssh`) ending is not a crash. For a starting instance
    every exit is kept, because an exec id may reach the record after its process
    died; the executor matches them as the instance turns RUNNING (`ended_watched`),
    which costs no Engine call when nothing died. An instance the rep is stopping
    concerns none."""
    if event.get("Type", "container") != "container":
        return None
    action = str(event.get("Action") or event.get("status") or "")
    if action not in WATCHED_ACTIONS:
        return None
    actor = event.get("Actor") or {}
    cid = str(actor.get("ID") or event.get("id") or "")
    exec_id = str((actor.get("Attributes") or {}).get("execID") or "") \
        if action == "exec_die" else ""
    if not cid:
        return None
    for handle, c in containers.items():
        if c.cid != cid or c.state not in ("running", "starting"):
            continue
        if c.state == "running" and exec_id and not ended_watched({exec_id}, c.processes):
            return None
        return handle, exec_id
    return None


def ended_watched(exits: Iterable[str], processes: Mapping[str, str]) -> bool:
    """Whether `exits` (exec ids, "" for the container) include the container or one of
    its watched processes."""
    watched = {processes.get(name) for name in WATCHED_PROCESSES} - {None}
    return any(e == "" or e in watched for e in exits)


class CrashWatch:
    """Follows the event stream (`open_stream`) and hands each concerned exit, as
    (handle, exec id), to `check`. `live` is set while a stream is open, so the
    executor knows whether it must sweep every second; `on_reconnect` runs once per
    new stream, before events are read, to cover what happened while none was open."""

    def __init__(self, open_stream: Callable[[], Iterable[Mapping[str, Any]]],
                 containers: Callable[[], Mapping[str, Watched]],
                 check: Callable[[str, str], None], on_reconnect: Callable[[], None],
                 retry_s: float = 1.0) -> None:
        self.open_stream, self.containers, self.check = open_stream, containers, check
        self.on_reconnect, self.retry_s = on_reconnect, retry_s
        self.live = threading.Event()

    def follow(self) -> None:
        """One stream until it ends or fails."""
        stream = self.open_stream()
        self.live.set()
        try:
            self.on_reconnect()
            for event in stream:
                concerned = concerned_exit(event, self.containers())
                if concerned:
                    self.check(*concerned)
        finally:
            self.live.clear()
            close = getattr(stream, "close", None)
            if close:
                close()

    def run(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                self.follow()
                log.warning("Docker event stream ended; sweeping every second until it is back")
            except Exception as exc:  # noqa: BLE001 - the watch must outlive any engine error
                log.warning("Docker event stream failed (%s: %s); sweeping every second",
                            type(exc).__name__, exc)
            stopping.wait(self.retry_s)
