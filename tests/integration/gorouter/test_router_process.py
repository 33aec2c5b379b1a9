"""The router as its job runs it: `python -m foundry.gorouter -c gorouter.yml`, stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request

import pytest
from gorouter_harness import NatsServer, wait_until

from tests.support import free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def start_router(nats: NatsServer, tmp: str) -> tuple[subprocess.Popen, int]:
    status = free_port()
    cfg = os.path.join(tmp, "gorouter.yml")
    with open(cfg, "w") as f:
        json.dump({"port": free_port(), "status": {"port": status, "user": "u", "pass": "p",
                                                   "routes": {"port": free_port()}},
                   "nats": {"hosts": [{"hostname": "127.0.0.1", "port": nats.port}]},
                   "start_response_delay_interval": "0s",
                   "access_log": {"file": os.path.join(tmp, "access.log"),
                                  "enable_streaming": False}}, f)
    proc = subprocess.Popen([sys.executable, "-m", "foundry.gorouter", "-c", cfg], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def connected() -> bool:
        url = f"http://127.0.0.1:{status}/metrics"
        try:
            return "nats_connected 1" in urllib.request.urlopen(url, timeout=2).read().decode()
        except OSError:
            return False

    wait_until(connected, what="router process connected to NATS")
    return proc, status


@pytest.mark.parametrize("nats_goes_too", [False, True])
def test_sigterm_stops_the_router_even_as_nats_goes_away(nats_server: NatsServer, tmp_path,
                                                         nats_goes_too: bool) -> None:
    """The job stops cleanly on SIGTERM, with NATS up or going away at the same time
    (the race that once hung the stop is reproduced in test_nats_client)."""
    proc, _ = start_router(nats_server, str(tmp_path))
    try:
        proc.send_signal(signal.SIGTERM)
        if nats_goes_too:
            nats_server.proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
