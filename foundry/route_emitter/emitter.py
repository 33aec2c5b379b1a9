"""The edge: NATS (nats-py) and BBS polling around EmitterCore.

Polls ``/v1/desired_lrps`` and ``/v1/actual_lrps?cell_id=`` every ``poll_interval``
(each poll is a full sync; ``sync_interval`` bounds how long a BBS outage may keep the
last table before we log it). SIGTERM stops emitting at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import nats
from nats.aio.msg import Msg

from foundry.bbs.client import BBSClient, BBSError
from foundry.route_emitter.config import EmitterConfig
from foundry.route_emitter.core import GREET, EmitterCore, Publish
from foundry.route_emitter.scheduler import GiveUp, Greet

log = logging.getLogger("route_emitter")


class GreetingFailed(Exception):
    pass


def fetch_snapshot(bbs: BBSClient, cell_id: str
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """This cell's actual LRPs and, when it runs any, the desired LRPs they belong to."""
    actual = bbs.actual_lrps(cell_id=cell_id)
    desired = bbs.desired_lrps() if actual else []
    return desired, actual


class RouteEmitter:
    def __init__(self, cfg: EmitterConfig) -> None:
        self.cfg = cfg
        self.core = EmitterCore(cfg)
        self.stop_event = asyncio.Event()
        self.wake = asyncio.Event()
        self.nc: Any = None
        self.last_sync = time.monotonic()
        self.bbs = BBSClient.from_files(cfg.bbs_address, cfg.bbs_ca_cert_file,
                                        cfg.bbs_client_cert_file, cfg.bbs_client_key_file,
                                        timeout=5.0)

    def request_stop(self) -> None:
        self.stop_event.set()
        self.wake.set()

    async def _publish(self, outs: list[Any]) -> None:
        for out in outs:
            if isinstance(out, Publish):
                await self.nc.publish(out.subject, json.dumps(out.message).encode())
            elif isinstance(out, Greet):
                log.info("greeting router (attempt %d)", out.attempt)
                await self.nc.publish(GREET, b"", reply=self.inbox)
            elif isinstance(out, GiveUp):
                raise GreetingFailed(f"no router answered router.greet after {out.attempts} "
                                     "attempts; giving up")

    async def _on_start(self, msg: Msg, greet_reply: bool) -> None:
        if not msg.data or (msg.headers or {}).get("Status"):
            return  # a "no responders" status for our greet: nobody is listening yet
        try:
            payload = json.loads(msg.data or b"{}")
        except ValueError:
            log.warning("ignoring undecodable %s: %r", msg.subject, msg.data[:200])
            return
        was_greeted = self.core.scheduler.greeted
        outs = self.core.on_router_start(payload, time.monotonic(), greet_reply)
        if not was_greeted and self.core.scheduler.greeted:
            log.info("router answered; register interval %ss", self.core.scheduler.interval)
        elif not greet_reply:
            log.info("router.start received; re-emitting after jitter")
        await self._publish(outs)
        self.wake.set()

    async def _poll_loop(self) -> None:
        """A full sync whenever the BBS changes (its event stream), and at least every
        `poll_interval`; a change made while syncing is seen by the next wait."""
        version = -1
        while not self.stop_event.is_set():
            try:
                desired, actual = await asyncio.to_thread(
                    fetch_snapshot, self.bbs, self.cfg.cell_id)
                self.last_sync = time.monotonic()
                await self._publish(self.core.on_snapshot(desired, actual, time.monotonic()))
            except (BBSError, OSError, ValueError) as e:
                stale = time.monotonic() - self.last_sync
                lvl = logging.WARNING if stale > self.cfg.sync_interval else logging.DEBUG
                log.log(lvl, "BBS sync failed (%s); last good sync %.0fs ago", e, stale)
            try:
                version = await asyncio.to_thread(self.bbs.wait_for_change, version,
                                                  self.cfg.poll_interval)
            except (BBSError, OSError, ValueError, KeyError, TypeError):
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.stop_event.wait(), self.cfg.poll_interval)

    async def _tick_loop(self) -> None:
        while not self.stop_event.is_set():
            await self._publish(self.core.tick(time.monotonic()))
            deadline = self.core.next_deadline()
            timeout = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            self.wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)

    async def run(self) -> None:
        auth = {"user": self.cfg.nats_username, "password": self.cfg.nats_password} \
            if self.cfg.nats_username else {}
        self.nc = await nats.connect(
            servers=self.cfg.nats_servers, name=f"route_emitter-{self.cfg.cell_id}", **auth,
            max_reconnect_attempts=-1, reconnect_time_wait=1, ping_interval=20,
            connect_timeout=2, allow_reconnect=True)
        try:
            self.inbox = self.nc.new_inbox()

            async def on_reply(msg: Msg) -> None:
                await self._on_start(msg, greet_reply=True)

            async def on_start(msg: Msg) -> None:
                await self._on_start(msg, greet_reply=False)

            await self.nc.subscribe(self.inbox, cb=on_reply)
            await self.nc.subscribe("router.start", cb=on_start)
            tasks = [asyncio.create_task(self._tick_loop()),
                     asyncio.create_task(self._poll_loop())]
            done, pending = await asyncio.wait(
                [*tasks, asyncio.create_task(self.stop_event.wait())],
                return_when=asyncio.FIRST_COMPLETED)
            self.stop_event.set()
            for t in pending:
                t.cancel()
            for t in done:
                if t.exception() is not None:
                    raise t.exception()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.close(), 2)
