"""A rep refreshes its presence as locket's presence runner does: every 5 s against a
15 s TTL, and three times within a scenario's shorter TTL."""

import pytest

from foundry.rep.__main__ import duration
from orchestrator import config, render


@pytest.mark.parametrize("ttl, every", [("15s", 5.0), ("3s", 1.0), ("60s", 5.0)])
def test_the_rep_refreshes_its_presence_three_times_per_ttl_at_most_every_5s(ttl, every):
    cfg = config.load(None, {"timings": {"cell_presence_ttl": ttl}})
    assert duration(render.rep_json(cfg, 1, "cell-1")["lock_retry_interval"]) == every
