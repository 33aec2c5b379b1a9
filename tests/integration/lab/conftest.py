"""`cflab lab` on loopback (see lab_harness)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lab_harness import LabHarness  # noqa: E402

from tests.browser_support import browser  # noqa: E402,F401 - the page tests' fixture


@pytest.fixture
def lab(tmp_path):
    h = LabHarness(tmp_path)
    try:
        yield h
    finally:
        h.stop()
