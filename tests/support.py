"""What the loopback harnesses share: free ports, polling with a deadline, job subprocesses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tenacity

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05,
             what: str = "condition") -> Any:
    """Poll until `predicate` returns something truthy; fail after `timeout` seconds.

    An exception from `predicate` counts as "not yet" (a server still starting refuses
    connections); the last result or exception is in the failure message."""
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_delay(timeout), wait=tenacity.wait_fixed(interval),
        retry=tenacity.retry_if_exception_type(Exception) | tenacity.retry_if_not_result(bool))
    try:
        return retrying(predicate)
    except tenacity.RetryError as e:
        attempt = e.last_attempt
        last = attempt.exception() if attempt.failed else attempt.result()
        raise AssertionError(f"timed out waiting for {what}; last: {last!r}") from None


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
