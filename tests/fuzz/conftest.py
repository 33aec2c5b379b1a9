"""Hypothesis profiles for the fuzz targets.

`make test` runs each target for a few seconds (profile "ci", FUZZ_EXAMPLES examples,
default 100); `make fuzz` runs the "long" profile (FUZZ_EXAMPLES, default 20000).
Inputs that once broke something live in corpus/ and are replayed every run.
Derandomised in CI so a red run is reproducible; `make fuzz` explores afresh.
"""

from __future__ import annotations

import os
import sys

from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration", "gorouter"))

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "ci", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "100")), deadline=None,
    derandomize=True, database=None, suppress_health_check=_SLOW_OK)
settings.register_profile(
    "long", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "20000")), deadline=None,
    suppress_health_check=_SLOW_OK)
settings.load_profile(os.environ.get("FUZZ_PROFILE", "ci"))

# The router's loopback harness (nats-server, backends, the router on a loop thread).
from gorouter_harness import harness, loop_thread, nats_server  # noqa: E402,F401


def pytest_collection_modifyitems(items: list) -> None:
    """A hang fails its test (pytest-timeout) instead of stalling the whole run."""
    import pytest

    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(int(os.environ.get("FUZZ_TIMEOUT", "300"))))
