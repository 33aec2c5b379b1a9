"""The rep's unit tests never touch the host's iptables."""

from __future__ import annotations

import subprocess

import pytest


@pytest.fixture(autouse=True)
def no_host_iptables_restore(monkeypatch) -> list[str]:
    """Every `iptables-restore` transaction an executor would apply, recorded instead."""
    applied: list[str] = []

    def record(rules: str) -> subprocess.CompletedProcess:
        applied.append(rules)
        return subprocess.CompletedProcess(["iptables-restore"], 0, "", "")

    monkeypatch.setattr("foundry.rep.executor.iptables_restore", record)
    return applied
