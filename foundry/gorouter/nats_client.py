"""NATS edge (gorouter `mbus/subscriber.go`, `mbus/client.go`).

Subscribes `router.*`; register/unregister go to the registry, `router.greet`
gets the start message as reply, and `router.start` is published on connect and
after every reconnect so route emitters re-send everything. While NATS is away
the last routing table keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import uuid
from collections.abc import Callable

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from foundry.gorouter.config import Config
from foundry.gorouter.registry import InvalidRegistryMessage, Registry

log = logging.getLogger("gorouter.nats")

PENDING_MSGS = 131072  # config.NatsClientMessageBufferSize
PENDING_BYTES = 131072 * 1024


def local_ip(cfg: Config) -> str:
    """The router's address for router.start `hosts` (gorouter: localip.LocalIP())."""
    if cfg.ip:
        return cfg.ip
    target = cfg.nats_hosts[0].hostname if cfg.nats_hosts else "8.8.8.8"
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((target, 4222))
        return s.getsockname()[0]
    return "127.0.0.1"


def start_message(cfg: Config, router_id: str | None = None) -> dict:
    """common.RouterStart; minimumRegisterIntervalInSeconds is start_response_delay_interval."""
    return {
        "id": router_id or f"{cfg.index}-{uuid.uuid4()}",
        "hosts": [local_ip(cfg)],
        "minimumRegisterIntervalInSeconds": int(cfg.start_response_delay_interval),
        "pruneThresholdInSeconds": int(cfg.droplet_stale_threshold),
    }


class NatsSubscriber:
    def __init__(self, cfg: Config, registry: Registry, *,
                 on_state: Callable[[bool], None] | None = None,
                 reconnect_time_wait: float = 0.5) -> None:
        self.cfg = cfg
        self.registry = registry
        self.on_state = on_state or (lambda _connected: None)
        self.reconnect_time_wait = reconnect_time_wait
        self.start_payload = json.dumps(start_message(cfg)).encode()
        self.nc: NATS | None = None
        self._task: asyncio.Task | None = None
        self.dropped = 0
        self.starts_published = 0

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    def servers(self) -> list[str]:
        auth = ""
        if self.cfg.nats_user:
            auth = f"{self.cfg.nats_user}:{self.cfg.nats_pass}@"
        return [f"nats://{auth}{h.hostname}:{h.port}" for h in self.cfg.nats_hosts]

    async def start(self) -> None:
        """Connect in the background; the router serves whether or not NATS is up."""
        self._task = asyncio.create_task(self._connect_loop())

    async def _connect_loop(self) -> None:
        while True:
            try:
                nc = await nats.connect(
                    servers=self.servers(), name="gorouter", allow_reconnect=True,
                    max_reconnect_attempts=-1, reconnect_time_wait=self.reconnect_time_wait,
                    ping_interval=20, max_outstanding_pings=2, connect_timeout=2,
                    disconnected_cb=self._disconnected, reconnected_cb=self._reconnected,
                    error_cb=self._error, closed_cb=self._closed)
            except Exception as e:  # noqa: BLE001 - keep trying; the table keeps serving
                log.warning("nats-connection-failed: %s", e)
                await asyncio.sleep(self.reconnect_time_wait)
                continue
            self.nc = nc
            await nc.subscribe("router.*", cb=self._on_msg, pending_msgs_limit=PENDING_MSGS,
                               pending_bytes_limit=PENDING_BYTES)
            log.info("nats-connected %s", nc.connected_url.netloc if nc.connected_url else "")
            self.on_state(True)
            await self.publish_start()
            return

    async def publish_start(self) -> None:
        if self.nc is None:
            return
        try:
            await self.nc.publish("router.start", self.start_payload)
            await self.nc.flush(timeout=2)
            self.starts_published += 1
        except Exception as e:  # noqa: BLE001
            log.warning("router-start-publish-failed: %s", e)

    async def _on_msg(self, msg: Msg) -> None:
        subject = msg.subject
        if subject == "router.greet":
            if msg.reply and self.nc is not None:
                await self.nc.publish(msg.reply, self.start_payload)
            return
        try:
            self.registry.handle(subject, msg.data)
        except InvalidRegistryMessage as e:
            self.dropped += 1
            log.warning("validation-error subject=%s error=%s payload=%r", subject, e,
                        msg.data[:256])
        except Exception:  # noqa: BLE001 - a hostile payload must not kill the subscriber
            self.dropped += 1
            log.exception("registry-message-failed subject=%s payload=%r", subject,
                          msg.data[:256])

    async def _disconnected(self) -> None:
        log.warning("nats-disconnected")
        self.on_state(False)

    async def _reconnected(self) -> None:
        log.info("nats-reconnected")
        self.on_state(True)
        await self.publish_start()

    async def _error(self, e: Exception) -> None:
        log.warning("nats-error: %s", e)

    async def _closed(self) -> None:
        log.info("nats-connection-closed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()
