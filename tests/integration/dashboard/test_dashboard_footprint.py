"""The dashboard process loads only what it uses (bench_dashboard holds it to 40 MB idle)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


@pytest.mark.skipif(importlib.util.find_spec("aiohttp") is None,
                    reason="aiohttp is not installed here: nothing could load it")
def test_nats_does_not_bring_aiohttp_into_the_dashboard(dashboard) -> None:
    # the fixture returns once the dashboard's NATS subscription is live (nats-py imported)
    maps = Path(f"/proc/{dashboard.proc.pid}/maps").read_text()
    assert "aiohttp" not in maps  # its C parsers would be mapped had nats-py imported it
