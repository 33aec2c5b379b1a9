"""The dashboard job on loopback (see dashboard_harness)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard_harness import Dashboard  # noqa: E402


@pytest.fixture
def dashboard(tmp_path):
    d = Dashboard(tmp_path)
    try:
        yield d
    finally:
        d.stop()
