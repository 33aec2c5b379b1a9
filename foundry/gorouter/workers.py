"""The router's extra processes, its answer to Go's GOMAXPROCS.

Gorouter serves requests on every core; a Python process serves on one. With
`--workers N` (default: the GOMAXPROCS environment variable, else 1) the main
process starts N-1 workers. Each is a whole router (NATS subscription, route
table, pruning, proxy) on the same HTTP port with SO_REUSEPORT, so the kernel
spreads client connections over them, much as a load balancer spreads them over
router instances. The main process alone keeps the status port, `/routes`,
`router.start` and `router.greet`; every second a worker reports its counters on
a pipe and `/metrics` sums them. A worker exits when the main process goes (its
stdin closes), and the main process restarts a worker that dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable

from foundry.gorouter.metrics import Metrics

log = logging.getLogger("gorouter.workers")

REPORT_INTERVAL = 1.0
RESTART_DELAY = 1.0


def default_workers() -> int:
    try:
        return max(1, int(os.environ.get("GOMAXPROCS", "1")))
    except ValueError:
        return 1


class _Reports(asyncio.Protocol):
    """A worker's report pipe: JSON lines of Metrics.snapshot(); EOF = the worker exited."""

    def __init__(self, metrics: Metrics, name: str, on_eof: Callable[[], None]) -> None:
        self.metrics = metrics
        self.name = name
        self.on_eof = on_eof
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        for line in reversed(lines):
            try:
                snap = json.loads(line)
            except ValueError:
                continue
            if isinstance(snap, dict):
                self.metrics.peers[self.name] = snap
                break

    def connection_lost(self, exc: Exception | None) -> None:
        self.on_eof()


class WorkerSupervisor:
    """Starts, restarts and stops the worker processes of the main router process."""

    def __init__(self, config_path: str, count: int, metrics: Metrics) -> None:
        self.config_path = config_path
        self.count = count
        self.metrics = metrics
        self.procs: dict[int, subprocess.Popen] = {}
        self.names: dict[int, str] = {}  # the current process of each worker index
        self.stopping = False
        self._restarts: set[asyncio.Task] = set()  # referenced until done
        metrics.gauge("workers_ready", self.ready)

    def ready(self) -> float:
        """Workers whose last report says they listen and are subscribed to NATS."""
        return float(sum(1 for name in self.names.values()
                         if self.metrics.peers.get(name, {}).get("ready")))

    async def start(self) -> None:
        for index in range(1, self.count):
            await self._spawn(index)

    async def _spawn(self, index: int) -> None:
        r, w = os.pipe()
        proc = subprocess.Popen(
            [sys.executable, "-m", "foundry.gorouter", "-c", self.config_path,
             "--worker", str(index), "--report-fd", str(w)],
            stdin=subprocess.PIPE, pass_fds=(w,))
        os.close(w)
        self.procs[index] = proc
        # A key per process: a restarted worker's counters add to its predecessor's.
        name = self.names[index] = f"worker-{index}-{proc.pid}"
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(
            lambda: _Reports(self.metrics, name, lambda: self._exited(index, proc)),
            os.fdopen(r, "rb", buffering=0))
        log.info("gorouter.worker-spawned index=%d pid=%d", index, proc.pid)

    def _exited(self, index: int, proc: subprocess.Popen) -> None:
        if self.stopping or self.procs.get(index) is not proc:
            return
        # Its report pipe closed: the process is exiting. poll(), never wait(), on the
        # router's loop; the exit code is logged when it is already known.
        log.error("gorouter.worker-exited index=%d pid=%d code=%s; restarting",
                  index, proc.pid, proc.poll())
        loop = asyncio.get_running_loop()
        loop.call_later(RESTART_DELAY, lambda: self._restarts.add(
            loop.create_task(self._respawn(index, proc))))

    async def _respawn(self, index: int, proc: subprocess.Popen) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(0)  # reap it
        if not self.stopping and self.procs.get(index) is proc:
            await self._spawn(index)
        self._restarts = {t for t in self._restarts if not t.done()}

    async def stop(self, timeout: float = 10.0) -> None:
        self.stopping = True
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = asyncio.get_running_loop().time() + timeout
        for proc in self.procs.values():
            while proc.poll() is None and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
            if proc.poll() is None:
                proc.kill()
                proc.wait()


async def report_forever(fd: int, metrics: Metrics, ready: Callable[[], bool]) -> None:
    """A worker's side of the report pipe (a line is well under PIPE_BUF: atomic)."""
    try:
        while True:
            snap = metrics.snapshot()
            snap["ready"] = ready()
            os.write(fd, json.dumps(snap).encode() + b"\n")
            await asyncio.sleep(REPORT_INTERVAL if snap["ready"] else 0.1)
    except OSError:  # the main process has gone; stdin's EOF stops us
        return


async def stop_on_stdin_eof(stop: Callable[[], None]) -> None:
    """A worker outlives no main process: its stdin is the main process's pipe."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    class _Stdin(asyncio.Protocol):
        def connection_lost(self, exc: Exception | None) -> None:
            if not done.done():
                done.set_result(None)

    await loop.connect_read_pipe(_Stdin, sys.stdin.buffer.raw if hasattr(
        sys.stdin.buffer, "raw") else sys.stdin.buffer)
    await done
    stop()
