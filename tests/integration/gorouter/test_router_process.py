"""The router as its job runs it: `python -m foundry.gorouter -c gorouter.yml`, stopped by SIGTERM."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator

import pytest
from gorouter_harness import NatsServer, wait_until

from tests.support import free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def start_router(nats: NatsServer, tmp: str,
                 workers: int = 1) -> tuple[subprocess.Popen, int, int]:
    """The router job's process; (process, status port, HTTP port)."""
    status, port = free_port(), free_port()
    cfg = os.path.join(tmp, "gorouter.yml")
    with open(cfg, "w") as f:
        json.dump({"port": port, "status": {"port": status, "user": "u", "pass": "p",
                                            "routes": {"port": free_port()}},
                   "nats": {"hosts": [{"hostname": "127.0.0.1", "port": nats.port}]},
                   "start_response_delay_interval": "0s",
                   "access_log": {"file": os.path.join(tmp, "access.log"),
                                  "enable_streaming": False}}, f)
    proc = subprocess.Popen([sys.executable, "-m", "foundry.gorouter", "-c", cfg,
                             "--workers", str(workers)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def connected() -> bool:
        try:
            return metric(status, "nats_connected") == 1
        except OSError:  # not listening yet
            return False

    wait_until(connected, what="router process connected to NATS")
    return proc, status, port


@pytest.mark.parametrize("nats_goes_too", [False, True])
def test_sigterm_stops_the_router_even_as_nats_goes_away(nats_server: NatsServer, tmp_path,
                                                         nats_goes_too: bool) -> None:
    """The job stops cleanly on SIGTERM, with NATS up or going away at the same time
    (the race that once hung the stop is reproduced in test_nats_client)."""
    proc, _, _ = start_router(nats_server, str(tmp_path))
    try:
        proc.send_signal(signal.SIGTERM)
        if nats_goes_too:
            nats_server.proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- --workers: the router's processes share the port -----------------------------------
class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def children(pid: int) -> set[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return {int(p) for p in f.read().split()}
    except OSError:
        return set()


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def get(port: int, host: str, timeout: float = 5) -> int:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", "/", headers={"Host": host})
        return c.getresponse().status
    finally:
        c.close()


def metric(status: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{status}/metrics", timeout=5).read()
    for line in text.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def test_workers_share_the_port_and_report_their_counters(nats_server: NatsServer, tmp_path,
                                                          backend: int) -> None:
    proc, status, port = start_router(nats_server, str(tmp_path), workers=2)
    try:
        worker = wait_until(lambda: children(proc.pid), what="the worker process")
        assert len(worker) == 1
        wait_until(lambda: metric(status, "workers_ready") == 1,
                   what="the worker listens and is subscribed")
        registration = {"host": "127.0.0.1", "port": backend, "uris": ["w.example.com"]}

        def both_route() -> bool:
            # Re-registering like the route emitter's heartbeat reaches a worker that
            # subscribed after the first message; fresh connections, which SO_REUSEPORT
            # spreads over both processes, must all route.
            nats_server.publish("router.register", registration)
            return all(get(port, "w.example.com") == 200 for _ in range(16))

        wait_until(both_route, what="both processes route w.example.com")
        statuses = [get(port, "w.example.com") for _ in range(40)]
        assert set(statuses) == {200}, statuses
        # /metrics sums the worker's reports: every request counted, once.
        served = wait_until(lambda: metric(status, "total_requests") >= 56 and
                            metric(status, "total_requests"), what="summed counters")
        log_lines = wait_until(
            lambda: len(lines := (tmp_path / "access.log").read_text().splitlines()) == served
            and lines,
            what="one access log line per request, from both processes")
        # A process that had not yet got the registration answered both_route's first tries
        # with unknown_route's 404 (and logged it); every request after that was a 200.
        statuses_logged = [m.group(1) if (m := re.search(r'"GET / HTTP/1.1" (\d{3}) ', line))
                           else line for line in log_lines]
        assert set(statuses_logged) <= {"200", "404"}, log_lines
        assert statuses_logged.count("200") >= 56, log_lines
        # With the main process stopped, connections the kernel gives the worker still work.
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            answers = []
            for _ in range(20):
                try:
                    answers.append(get(port, "w.example.com", timeout=0.5))
                except OSError:
                    pass
            assert answers and set(answers) == {200}, answers
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        wait_until(lambda: not any(alive(w) for w in worker), what="the worker stopped")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_dead_worker_is_restarted_and_workers_die_with_the_router(
        nats_server: NatsServer, tmp_path) -> None:
    proc, _, _ = start_router(nats_server, str(tmp_path), workers=2)
    try:
        first = wait_until(lambda: children(proc.pid), what="the worker process")
        os.kill(next(iter(first)), signal.SIGKILL)
        second = wait_until(lambda: children(proc.pid) - first, what="a restarted worker")
        proc.kill()  # no SIGTERM: the worker notices its stdin close
        proc.wait()
        wait_until(lambda: not any(alive(w) for w in second), what="the orphan worker exited")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_job_start_writes_the_config_with_credentials_inline(nats_server: NatsServer,
                                                             tmp_path) -> None:
    """The router container's command: `--interpolate` the rendered job config (BOSH
    variables) with the secrets volume into config/gorouter.yml, then serve from it."""
    import yaml

    from foundry.pki import bundle

    bundle.init(tmp_path / "secrets")
    status, port = free_port(), free_port()
    manifest = tmp_path / "manifest" / "gorouter.yml"
    manifest.parent.mkdir()
    manifest.write_text(yaml.safe_dump({
        "port": port, "status": {"port": status, "routes": {"port": free_port()}},
        "nats": {"hosts": [{"hostname": "127.0.0.1", "port": nats_server.port}]},
        "start_response_delay_interval": "0s",
        "backends": {"cert_chain": "((gorouter_backend_tls.certificate))",
                     "private_key": "((gorouter_backend_tls.private_key))"},
        "ca_certs": ["((application_ca.certificate))"],
        "access_log": {"enable_streaming": False}}))
    config = tmp_path / "config" / "gorouter.yml"
    proc = subprocess.Popen([sys.executable, "-m", "foundry.gorouter", "--interpolate",
                             str(manifest), "--secrets", str(tmp_path / "secrets" / "gorouter"),
                             "-c", str(config)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _nats_connected(status), what="router serving from the config")
        raw = yaml.safe_load(config.read_text())
        assert raw["backends"]["cert_chain"].startswith("-----BEGIN CERTIFICATE-----")
        assert oct(config.stat().st_mode & 0o777) == "0o600"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def _nats_connected(status: int) -> bool:
    try:
        return metric(status, "nats_connected") == 1
    except OSError:
        return False
