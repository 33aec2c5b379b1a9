"""Wires the router together: registry, pruning, NATS, status and proxy listeners.

Start order follows gorouter's `router.Run`: status listener (503 while
initializing), NATS, wait `start_response_delay_interval` so routes preload,
then the HTTP listener and `/health` 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import time
from collections.abc import Callable

from foundry.gorouter.accesslog import AccessLogWriter
from foundry.gorouter.config import Config
from foundry.gorouter.metrics import Metrics
from foundry.gorouter.nats_client import NatsSubscriber
from foundry.gorouter.proxy import Proxy
from foundry.gorouter.pruning import PruningCycle
from foundry.gorouter.registry import Registry
from foundry.gorouter.status import Health, StatusServer
from foundry.heap import release_free_heap
from foundry.loggregator import Reporter

log = logging.getLogger("gorouter")


def tune_gc() -> None:
    """Fewer collections: 100k routes are ~1M long-lived objects and a full GC pass
    over them stalls the event loop (Go's GC has the same concern, GOGC)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


class Router:
    def __init__(self, cfg: Config, *, clock: Callable[[], float] = time.monotonic,
                 access_log: AccessLogWriter | None = None, worker: bool = False,
                 reuse_port: bool = False) -> None:
        """`worker`: one of the router's extra processes (see workers.py): no status
        listener, no router.start/greet. `reuse_port`: share the HTTP port with them."""
        self.cfg = cfg
        self.worker = worker
        self.reuse_port = reuse_port or worker
        self.metrics = Metrics()
        self.registry = Registry(
            clock=clock, droplet_stale_threshold=cfg.droplet_stale_threshold,
            max_conns=cfg.max_conns, balancing_algorithm=cfg.balancing_algorithm,
            retry_after_failure=cfg.retry_after_failure,
            sharding_mode=cfg.routing_table_sharding_mode,
            isolation_segments=tuple(cfg.isolation_segments), metrics=self.metrics)
        self.pruning = PruningCycle(
            self.registry, interval=cfg.prune_stale_droplets_interval,
            suspend_if_nats_unavailable=cfg.suspend_pruning_if_nats_unavailable, clock=clock)
        self.health = Health()
        self.access_log = access_log or AccessLogWriter(cfg.access_log_file,
                                                        cfg.access_log_stdout)
        self.app_logs = Reporter(cfg.log_cache_url) if cfg.log_cache_url else None
        if self.app_logs is not None:
            self.app_logs.start()
        # CFLAB_GOROUTER_FAST_PATH=0: every request on the stream path (bench_gorouter's
        # --no-fast-path; workers inherit it). Not a gorouter setting.
        self.proxy = Proxy(cfg, self.registry, self.metrics, self.access_log,
                           app_logs=self.app_logs,
                           fast_path=os.environ.get("CFLAB_GOROUTER_FAST_PATH", "1") != "0")
        self.nats = NatsSubscriber(cfg, self.registry, on_state=self.pruning.nats_state,
                                   announce=not worker)
        self.status = StatusServer(self.health, metrics_text=self.metrics.render,
                                   routes_json=self.registry.table.to_json,
                                   user=cfg.status_user, password=cfg.status_pass)
        self.metrics.gauge("total_routes", lambda: len(self.registry.table))
        self.metrics.gauge("total_endpoints", self.registry.num_endpoints)
        self.metrics.gauge("nats_connected", lambda: float(self.nats.connected))
        self._tasks: list[asyncio.Task] = []
        self._stopped = asyncio.Event()

    async def start(self) -> None:
        if not self.worker:
            await self.status.start(self.cfg.status_host, self.cfg.status_port,
                                    self.cfg.status_routes_port)
        await self.nats.start()
        self._tasks.append(asyncio.create_task(self._prune_loop()))
        self._tasks.append(asyncio.create_task(self._flush_loop()))
        if self.cfg.start_response_delay_interval > 0:
            log.info("waiting %ss for routes to load", self.cfg.start_response_delay_interval)
            await asyncio.sleep(self.cfg.start_response_delay_interval)
        await self.proxy.start(reuse_port=self.reuse_port)
        if self.worker:
            log.info("gorouter.worker-started port=%d", self.proxy.port)
            return
        if self.cfg.load_balancer_healthy_threshold > 0:
            # Listener is up; give the load balancer time before /health says 200.
            await asyncio.sleep(self.cfg.load_balancer_healthy_threshold)
        self.health.state = Health.HEALTHY
        log.info("gorouter.started port=%d status=%d routes=%d", self.proxy.port,
                 self.status.status_port, self.status.routes_port)

    async def _prune_loop(self) -> None:
        while True:
            await asyncio.sleep(self.pruning.seconds_until_due() + 0.001)
            self.pruning.nats_state(self.nats.connected)
            try:
                n = self.pruning.tick()
            except Exception:  # noqa: BLE001
                log.exception("prune-failed")
                continue
            if n:
                log.info("pruned %d stale endpoints", n)
            self.proxy.transport.sweep()
            # Freed memory back to the kernel, as Go's scavenger does (foundry/heap.py);
            # a few ms each prune interval (30 s).
            release_free_heap()

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(1)
            self.access_log.flush()

    async def run(self) -> None:
        await self.start()
        await self._stopped.wait()
        await self.stop()

    def request_stop(self) -> None:
        self._stopped.set()

    async def stop(self) -> None:
        self.health.state = Health.DEGRADED
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await t
        await self.proxy.stop()
        await self.nats.close()
        if not self.worker:
            await self.status.stop()
        self.access_log.flush()
        self.access_log.close()
