"""Containers as Garden runs them: quotas from `cf push/scale -m`, an OOM kill reported
as CF reports it (crash, events, logs), true usage in `cf app`, `cf logs` streaming
across a restart and ending when the app is deleted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
import requests

from tests.e2e.helpers import docker_json, http_get, through_router, wait_for

pytestmark = pytest.mark.e2e

HOG = '''\
import os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
print("hello from hog", flush=True)
print("a line on stderr", file=sys.stderr, flush=True)
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/hog":
            hoard = []
            while True:  # until the kernel's OOM killer ends it
                hoard.append(b"x" * (8 * 1024 * 1024))
        self.send_response(200); self.send_header("Content-Length", "2")
        self.end_headers(); self.wfile.write(b"ok")
HTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
'''
MB = 1024 * 1024


@pytest.fixture(scope="module")
def hog(cf, tmp_path_factory):
    app = tmp_path_factory.mktemp("hog")
    (app / "app.py").write_text(HOG)
    cf("push", "hog", "-p", str(app), "-m", "64M", "-k", "512M")
    yield app
    cf("delete", "hog", "-f", check=False)


def app_guid(cf, name: str = "hog") -> str:
    [app] = json.loads(cf("curl", f"/v2/apps?q=name:{name}").stdout)["resources"]
    return app["metadata"]["guid"]


def containers(guid: str) -> list[dict]:
    ids = subprocess.run(["docker", "ps", "-q", "--filter", f"label=cflab.app-guid={guid}"],
                         capture_output=True, text=True, check=True).stdout.split()
    return docker_json("inspect", *ids) if ids else []


def test_the_container_gets_diegos_limits(cfg, cf, hog):
    guid = app_guid(cf)
    [c] = wait_for(lambda: containers(guid), 60, what="the hog's container")
    hc = c["HostConfig"]
    proxy = 32 if cfg.mode != "before-envoy" else 0
    assert hc["Memory"] == (64 + proxy) * MB and hc["MemorySwap"] == hc["Memory"]
    assert hc["PidsLimit"] == 1024
    assert hc["CpuShares"] == 10  # 1024 shares × cpu_weight 1 (64M) / 100, as Garden gets


def test_usage_and_logs_of_a_running_instance(cfg, cf, hog):
    def usage_shown():
        rows = [line.split() for line in cf("app", "hog").stdout.splitlines()
                if line.startswith("#0")]
        return rows and rows[0][1] == "running" and rows[0][4] != "0" and rows[0]
    row = wait_for(usage_shown, 60, what="memory usage in cf app")
    assert row[5:7] == ["of", "64M"] and row[9:10] == ["512M"], row
    recent = cf("logs", "hog", "--recent").stdout
    assert "[APP/PROC/WEB/0] OUT hello from hog" in recent
    assert "[APP/PROC/WEB/0] ERR a line on stderr" in recent
    assert "[CELL/0] OUT Cell cell-" in recent and "successfully created container" in recent
    assert "[API/0] OUT Updated app with guid" in recent


def test_an_oom_kill_is_a_crash_that_users_see(cfg, cf, hog, foundation):
    env = dict(os.environ, CF_HOME=str(foundation.cf_home))
    stream = subprocess.Popen([sys.executable, "-m", "foundry.cli.cf", "logs", "hog"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[str] = []

    def read() -> None:
        for line in stream.stdout:  # type: ignore[union-attr]
            seen.append(line)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        # `cf logs` follows from the newest line it finds when it starts (as cf v7's walk
        # does), so the crash must come after that: a request it shows proves it follows.
        def following() -> bool:
            through_router(cfg, "hog.apps.internal")
            return any('"GET / HTTP/1.1"' in line for line in seen)
        wait_for(following, 30, interval=1, what="cf logs following the app")
        try:
            http_get(f"http://127.0.0.1:{cfg.ports['http']}/hog", 30,
                     headers={"Host": "hog.apps.internal"})
        except requests.RequestException:
            pass  # the app died mid-request: the router answers 502 or the client sees EOF
        reason = "APP/PROC/WEB: Exited with status 137 (out of memory)"
        events = wait_for(lambda: reason in cf("events", "hog").stdout and
                          cf("events", "hog").stdout, 60, what="app.crash in cf events")
        crash = next(line for line in events.splitlines() if " app.crash " in line)
        assert "reason: CRASHED" in crash and "exit_status: 137" in crash
        body = cf("curl", "/v2/events?q=type:app.crash").stdout
        assert '"exit_description": "' + reason in body and '"reason": "CRASHED"' in body
        # restarted at once (crash 1), and serving again through the router
        wait_for(lambda: through_router(cfg, "hog.apps.internal")[0] == 200, 60,
                 what="the restarted hog")
        row = wait_for(lambda: next((line for line in cf("app", "hog").stdout.splitlines()
                                     if line.startswith("#0") and "crashed 1 time" in line),
                                    None), 30, what="the crash count in cf app")
        assert reason in row
        wait_for(lambda: sum("hello from hog" in line for line in seen) >= 1 and
                 any("Exit status 137 (out of memory)" in line for line in seen), 30,
                 what="the crash and the restart in the running log stream")
        assert any("[CELL/0] OUT Cell" in line for line in seen)
        wait_for(lambda: any("[RTR/0] OUT hog.apps.internal - [" in line for line in seen), 30,
                 what="the router's line for the app")
    finally:
        cf("delete", "hog", "-f")
        try:
            stream.wait(timeout=30)
        finally:
            stream.kill()
    reader.join(5)
    assert stream.returncode == 1
    assert "App hog was deleted; the log stream has ended." in stream.stderr.read()


def test_scale_memory_restarts_with_the_new_limit(cfg, cf, tmp_path):
    (tmp_path / "app.py").write_text(HOG)
    cf("push", "hog2", "-p", str(tmp_path), "-m", "64M")
    guid = app_guid(cf, "hog2")
    try:
        out = cf("scale", "hog2", "-m", "128M", "-f").stdout
        assert "Stopping app hog2" in out and "Starting app hog2" in out
        proxy = 32 if cfg.mode != "before-envoy" else 0
        wait_for(lambda: [c["HostConfig"]["Memory"] for c in containers(guid)] ==
                 [(128 + proxy) * MB], 60, what="the new container's limit")
        bad = cf("scale", "hog2", "-m", "10X", check=False)
        assert bad.returncode == 1 and "Byte quantity must be an integer" in bad.stderr
        big = cf("scale", "hog2", "-m", "100G", "-f", check=False)
        assert big.returncode == 1 and "You have exceeded your space's memory limit" in big.stderr
        zero = cf("scale", "hog2", "-m", "0M", "-f", check=False)
        assert zero.returncode == 1 and "invalid amount of memory" in zero.stderr
        assert through_router(cfg, "hog2.apps.internal")[0] == 200  # still serving
    finally:
        cf("delete", "hog2", "-f", check=False)
