"""A real nats-server, the BBS subprocess, a fake router on NATS, and the emitter process."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bbs"))

from bbs_harness import REPO, BBSProcess, free_port, wait_for  # noqa: E402

from tests.support import stop_process  # noqa: E402

NATS_SERVER = "/usr/sbin/nats-server"


class NatsServer:
    """nats-server as cf-deployment runs it: one user with a password."""

    user = "nats"

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.password = secrets.token_hex(12)
        self.url = f"nats://127.0.0.1:{self.port}"
        self.log = open(tmp / "nats.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port),
                                      "--user", self.user, "--pass", self.password],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._up, what="nats-server to listen")

    def _up(self) -> bool:
        import socket
        with socket.socket() as s:
            s.settimeout(0.5)
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()

    @property
    def credentials(self) -> dict[str, str]:
        """The user and password as nats-py's connect takes them."""
        return {"user": self.user, "password": self.password}


class FakeRouter:
    """Answers router.greet like gorouter and records router.register/unregister."""

    def __init__(self, server: NatsServer, interval: int = 1, answer_greet: bool = True) -> None:
        self.server = server
        self.interval = interval
        self.answer_greet = answer_greet
        self.messages: list[tuple[float, str, dict[str, Any]]] = []
        self.greets = 0
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._connect(), self.loop).result(10)

    async def _connect(self) -> None:
        import nats
        self.nc = await nats.connect(self.server.url, **self.server.credentials)
        start = json.dumps({"id": "fake-router", "hosts": ["127.0.0.1"],
                            "minimumRegisterIntervalInSeconds": self.interval,
                            "pruneThresholdInSeconds": 120}).encode()

        async def on_msg(msg: Any) -> None:
            if msg.subject == "router.greet":
                with self.lock:
                    self.greets += 1
                if self.answer_greet and msg.reply:
                    await self.nc.publish(msg.reply, start)
                return
            with self.lock:
                self.messages.append((time.monotonic(), msg.subject, json.loads(msg.data)))

        await self.nc.subscribe("router.*", cb=on_msg)
        await self.nc.flush()

    def of(self, subject: str, uri: str | None = None) -> list[tuple[float, dict[str, Any]]]:
        with self.lock:
            return [(t, m) for t, s, m in self.messages
                    if s == subject and (uri is None or uri in m.get("uris", []))]

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.nc.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class EmitterProcess:
    def __init__(self, tmp: Path, bbs: BBSProcess, nats_server: NatsServer,
                 **config: Any) -> None:
        cfg = {"cell_id": "cell-1", **bbs.client_config(), "nats_servers": [nats_server.url],
               "nats_username": nats_server.user, "nats_password": nats_server.password,
               "sync_interval": 5, "unregistration_interval": 0.5,
               "unregistration_send_count": 3, "jitter_factor": 0.2, "greet_interval": 0.2,
               "greet_max_attempts": 30, "poll_interval": 0.2, **config}
        path = tmp / "route_emitter.json"
        path.write_text(json.dumps(cfg))
        self.log_path = tmp / "route_emitter.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "foundry.route_emitter", "-c", str(path)], cwd=REPO,
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(REPO)})

    def output(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> int:
        code = stop_process(self.proc)
        self.log.close()
        return code


@pytest.fixture
def nats_server(tmp_path):
    server = NatsServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def bbs(tmp_path):
    proc = BBSProcess(tmp_path).start()
    yield proc
    proc.stop()


@pytest.fixture
def router(nats_server):
    r = FakeRouter(nats_server)
    yield r
    r.close()


@pytest.fixture
def emitter_factory(tmp_path, bbs, nats_server):
    made: list[EmitterProcess] = []

    def make(**config: Any) -> EmitterProcess:
        e = EmitterProcess(tmp_path, bbs, nats_server, **config)
        made.append(e)
        return e
    yield make
    for e in made:
        e.stop()
