"""The netns agent's metrics script (garden.BATCH_METRICS) run for real against this
host's /proc: a process's cgroup files and one `du` through /proc/<pid>/root, and a pid
that does not belong to the container named is left out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from foundry.rep.garden import BATCH_METRICS, CGROUP_FILES, disk_bytes, file_metrics


def run_script(disk: str, *pairs: str) -> dict:
    out = subprocess.run([sys.executable, "-c", BATCH_METRICS, ",".join(CGROUP_FILES), disk,
                          *pairs], capture_output=True, text=True, check=True, timeout=30).stdout
    return json.loads(out)


def test_counters_and_du_of_a_live_process_and_not_of_a_stranger(tmp_path):
    (tmp_path / "droplet").write_bytes(b"x" * 256 * 1024)
    pid = os.getpid()
    cgroup = Path(f"/proc/{pid}/cgroup").read_text().splitlines()[0].rsplit(":", 1)[1]
    answer = run_script(str(tmp_path), f"{cgroup}={pid}", f"not-its-container-id={pid}")
    assert list(answer) == [cgroup]  # the pid's cgroup does not name the stranger
    du = answer[cgroup]["du"]
    assert du.endswith(f"/proc/{pid}/root{tmp_path}\n")
    assert disk_bytes(du) >= 256 * 1024
    if Path("/sys/fs/cgroup/cpuacct/cpuacct.usage").exists():  # cgroup v1, as on this machine
        m = file_metrics(answer[cgroup]["files"], 0)
        assert m is not None and m["cpu_ns"] > 0 and m["memory_bytes"] > 0


def test_no_du_without_disk_paths_and_a_dead_pid_is_skipped():
    pid = os.getpid()
    answer = run_script("", f"/={pid}", ":=999999999")  # ":" is in any cgroup file
    assert answer["/"]["du"] == ""
    assert ":" not in answer
