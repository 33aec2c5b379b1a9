"""What the loopback harnesses share: free ports, polling with a deadline, job subprocesses."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.waiting import wait_for, wait_for_async  # noqa: F401  (re-exported)

REPO = Path(__file__).resolve().parents[1]


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on `host` now, below Linux's ephemeral range (32768-60999).

    A port the kernel hands out for bind(0) comes from the ephemeral range, which outgoing
    connections draw from too: between this check and the job binding it, any connect()
    on the machine may take it (CI once failed so: the CC's "Address already in use").
    Below that range only listeners compete, and the check skips those."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-32000")


def raw_exchange(port: int, data: bytes, wrap: Callable[[socket.socket], Any] | None = None,
                 timeout: float = 10.0) -> bytes:
    """Send `data` on a fresh connection to 127.0.0.1:`port` (TLS-wrapped by `wrap`) and
    return every byte that comes back until the server closes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if wrap is not None:
            sock = wrap(sock)
        sock.sendall(data)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out
    finally:
        sock.close()


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> int:
    """SIGTERM, then SIGKILL if it has not exited within `timeout`; its exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


class JobProcess:
    """A platform job (`python -m <module> -c <name>.json`) run from the repo, logging to a file."""

    def __init__(self, tmp: Path, name: str, module: str, config: dict[str, Any]) -> None:
        self.tmp, self.name, self.module, self.config = tmp, name, module, config
        self.config_path = tmp / f"{name}.json"
        self.config_path.write_text(json.dumps(config))
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.log = open(self.tmp / f"{self.name}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module, "-c", str(self.config_path)],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)})

    def stop(self) -> None:
        if self.proc:
            stop_process(self.proc)
            self.log.close()

    def logs(self) -> str:
        return (self.tmp / f"{self.name}.log").read_text()
