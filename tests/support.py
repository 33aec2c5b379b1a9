"""What the loopback harnesses share: free ports, polling with a deadline, job subprocesses."""

from __future__ import annotations

import http.server
import json
import os
import random
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.waiting import wait_for, wait_for_async  # noqa: F401  (re-exported)

REPO = Path(__file__).resolve().parents[1]


_handed_out: set[int] = set()  # ports free_port gave this process, not yet bound maybe


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on `host` now, below Linux's ephemeral range (32768-60999).

    A port the kernel hands out for bind(0) comes from the ephemeral range, which outgoing
    connections draw from too: between this check and the job binding it, any connect()
    on the machine may take it (CI once failed so: the CC's "Address already in use").
    Below that range only listeners compete, and the check skips those. A port is not
    handed out twice in one process: two calls before either port is bound (an admin
    port and a listener) drew the same one once, and real Envoy failed to bind its
    listener (CI, 2 Dec 2026)."""
    if len(_handed_out) > 6000:  # half the range: forget the oldest rather than run dry
        _handed_out.clear()
    for _ in range(200):
        port = random.randint(20000, 32000)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            _handed_out.add(port)
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


class CountingHTTPServer(http.server.ThreadingHTTPServer):
    """A stand-in HTTP/1.1 server on loopback for the jobs' kept-connection clients: it
    counts connections and requests, answers each GET with `answer(path, n)` (status,
    JSON body; n counts from 1) and, with `drop_after`, closes a kept connection silently
    after that many answers, as a server with an idle timeout does between two requests.
    Use it as a context manager."""

    def __init__(self, answer: Callable[[str, int], tuple[int, Any]], drop_after: int = 0) -> None:
        self.connections, self.requests, self.drop_after = 0, 0, drop_after
        self.paths: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                server.connections += 1
                self.served = 0

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.requests += 1
                server.paths.append(self.path)
                status, doc = answer(self.path, server.requests)
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.served += 1
                if server.drop_after and self.served >= server.drop_after:
                    self.close_connection = True  # no Connection: close header: a silent drop

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        super().__exit__(*exc)
