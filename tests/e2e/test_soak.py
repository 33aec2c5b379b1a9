"""The short soak (`CFLAB_SOAK_TEST=1 make test`): `make soak`'s run for 3 minutes on its own foundation (project
cflab-soak-e2e, its own ports and subnets): steady load on three apps through the router
in strict mode while the router, NATS and a cell restart, an instance is killed and an
app scaled up and down, certificates rotating every minute. Nothing may be misrouted and
no request may fail outside a fault window. Resource growth is reported, not judged: 3
minutes would measure the router's warm-up (the README has a 30-minute run)."""

from __future__ import annotations

import json
import os

import pytest

from orchestrator import soak

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    os.environ.get("CFLAB_SOAK_TEST") != "1",
    reason="4.3-5.1 minutes that `make test` cannot safely fit in CI's 30 (measured 1,376-1,571 s"
           " with it, against a ~1,679 s timeout): CFLAB_SOAK_TEST=1 runs it")]
PROJECT = "cflab-soak-e2e"


@pytest.mark.timeout(900)
def test_a_three_minute_soak(tmp_path):
    try:
        code = soak.run(3, tmp_path, project=PROJECT, placement_=soak.placement(15000, 232))
    finally:
        assert not soak.leftovers(PROJECT), "the soak left containers behind"
    doc = json.loads((tmp_path / "soak.json").read_text())
    assert code == 0, doc["problems"]
    assert doc["problems"] == []
    counts = doc["counts"]
    assert counts["requests"] > 500 and counts["misrouted"] == 0, counts
    faults = {f["kind"] for f in doc["faults"]}
    assert {"restart_job", "crash_instance"} <= faults, doc["faults"]
    jobs = {s["job"] for s in doc["resources"]}
    assert {"router", "nats", "bbs", "cell-1", "cell-2"} <= jobs, jobs
    assert "Verdict: PASSED" in (tmp_path / "soak.md").read_text()
    assert (tmp_path / "soak.png").read_bytes()[:4] == b"\x89PNG"
