"""Run the BBS as a subprocess on a free loopback port with a temp SQLite db."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.support import REPO, JobProcess, free_port, wait_for


class BBSProcess(JobProcess):
    def __init__(self, tmp: Path, **config: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(tmp, "bbs", "foundry.bbs", {
            "listen_address": f"127.0.0.1:{self.port}", "db_path": str(tmp / "bbs.sqlite3"),
            "convergence_interval": 0.5, "cell_presence_ttl": 3, "restart_backoff_base": 1,
            "restart_backoff_max": 4, **config})

    def start(self) -> BBSProcess:
        super().start()
        wait_for(lambda: self.request("GET", "/ping")[0] == 200, what="bbs /ping")
        return self

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, json.loads(raw) if raw else None

    def heartbeat(self, cell_id: str, zone: str = "z1") -> None:
        status, _ = self.request("POST", f"/v1/cells/{cell_id}/presence",
                                 {"cell_id": cell_id, "rep_address": f"http://{cell_id}:1800",
                                  "zone": zone, "capacity": {"containers": 10}})
        assert status == 200


def cfdot(url: str, *args: str) -> tuple[int, list[Any], str]:
    proc = subprocess.run([sys.executable, "-m", "foundry.cli.cfdot", "--bbsURL", url, *args],
                          capture_output=True, text=True, cwd=REPO, timeout=30,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    return proc.returncode, lines, proc.stdout
