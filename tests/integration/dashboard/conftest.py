"""The dashboard job on loopback (see dashboard_harness)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard_harness import Dashboard  # noqa: E402

from tests.browser_support import browser  # noqa: E402,F401 - the page tests' fixture


@pytest.fixture
def dashboard(tmp_path):
    d = Dashboard(tmp_path)
    try:
        yield d
    finally:
        d.stop()
