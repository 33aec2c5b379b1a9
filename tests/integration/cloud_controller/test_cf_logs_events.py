"""A cell's reports (the rep's Reporter) reach the real CC; `cf logs`, `cf events` and
`cf push -m` over HTTPS against it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from cc_harness import wait_for

from foundry.loggregator import Reporter, gauge_envelope
from tests.support import REPO


def guid_of(foundation, name: str) -> str:
    _, body = foundation.cc_get(f"/v2/apps?q=name:{name}")
    return body["resources"][0]["metadata"]["guid"]


def test_reports_become_logs_events_and_usage(foundation, cf, tmp_path):
    (tmp_path / "app.py").write_text("print('hi')\n")
    r = cf("push", "web", "-p", str(tmp_path), "-m", "64M", "-k", "256M")
    assert r.returncode == 0, r.stderr
    lrp = foundation.desired()[0]
    assert (lrp["memory_mb"], lrp["disk_mb"], lrp["cpu_weight"]) == (64, 256, 1)
    guid = guid_of(foundation, "web")
    rep = Reporter(foundation.internal)
    rep.start()
    rep.log(guid, 0, "APP/PROC/WEB", "hello from the app")
    rep.log(guid, 0, "CELL", "Cell cell-1 successfully created container for instance ig")
    rep.crashed(lrp["process_guid"], {
        "instance": "ig", "index": 0, "cell_id": "cell-1", "reason": "CRASHED",
        "exit_status": 137, "crash_count": 1, "crash_timestamp": time.time_ns(),
        "exit_description": "APP/PROC/WEB: Exited with status 137 (out of memory)"})
    out = wait_for(lambda: (r := cf("logs", "web", "--recent")).returncode == 0 and
                   "hello from the app" in r.stdout and r.stdout, what="recent logs")
    assert "[APP/PROC/WEB/0] OUT hello from the app" in out
    assert "[CELL/0] OUT Cell cell-1 successfully created container" in out
    assert "[API/0] OUT Created app with guid" in out
    events = wait_for(lambda: "app.crash" in (r := cf("events", "web")).stdout and r.stdout,
                      what="the crash in cf events")
    crash = next(line for line in events.splitlines() if "app.crash" in line)
    assert "reason: CRASHED" in crash and "(out of memory)" in crash and " web " in crash
    assert "audit.app.create" in events and "audit.app.update" in events
    # metrics of an instance the BBS says is RUNNING: the fake cell's
    ig = wait_for(lambda: next((a["instance_guid"] for a in foundation.cc_get(
        f"/v3/processes/{guid}/stats")[1]["resources"] if a["state"] == "RUNNING"), None),
        what="a running instance")
    rep.envelope(gauge_envelope(guid, 0, {"cpu": (7.5, "percentage"),
                                          "memory": (30 * 1024 * 1024.0, "bytes"),
                                          "disk": (2 * 1024 * 1024.0, "bytes")}, ig))
    row = wait_for(lambda: next((line.split() for line in cf("app", "web").stdout.splitlines()
                                 if line.startswith("#0") and "30M" in line), None),
                   what="usage in cf app")
    assert row[3:10] == ["7.5%", "30M", "of", "64M", "2M", "of", "256M"]


def test_a_log_stream_follows_and_ends_when_the_app_is_deleted(foundation, cf, tmp_path):
    (tmp_path / "app.py").write_text("print('hi')\n")
    assert cf("push", "web", "-p", str(tmp_path), "--no-start").returncode == 0
    guid = guid_of(foundation, "web")
    env = {**os.environ, "PYTHONPATH": str(REPO), "CF_HOME": str(foundation.cf_home)}
    stream = subprocess.Popen([sys.executable, "-m", "foundry.cli.cf", "logs", "web"], env=env,
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[str] = []

    def read() -> None:
        for line in stream.stdout:  # type: ignore[union-attr]
            seen.append(line)
    threading.Thread(target=read, daemon=True).start()
    try:
        wait_for(lambda: any("Retrieving logs" in line for line in seen), what="the stream")
        rep = Reporter(foundation.internal)
        rep.start()
        for i in range(3):
            rep.log(guid, 0, "APP/PROC/WEB", f"line {i}")
        wait_for(lambda: sum("line " in s for s in seen) == 3, what="three streamed lines")
        assert cf("scale", "web", "-i", "2").returncode == 0
        wait_for(lambda: any("[API/0] OUT Updated app with guid" in s and '"instances"=>2' in s
                             for s in seen), what="the API's line")
        assert cf("delete", "web", "-f").returncode == 0
        assert stream.wait(timeout=20) == 1
        assert "App web was deleted; the log stream has ended." in stream.stderr.read()
    finally:
        stream.kill()
