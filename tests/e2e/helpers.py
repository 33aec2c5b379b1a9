"""Helpers shared by the e2e tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CONFIG = Path(__file__).with_name("foundation.yml")


def cflab(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "orchestrator.cli", "--config", str(CONFIG), *args],
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"cflab {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def docker_json(*args: str):
    return json.loads(subprocess.run(["docker", *args], capture_output=True, check=True).stdout)
