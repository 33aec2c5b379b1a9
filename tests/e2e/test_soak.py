"""The short soak: `make soak`'s run for 3 minutes on its own foundation (project
cflab-soak-e2e, its own ports and subnets), started beside the session foundation's tests
(tests/e2e/soak_background.py) and judged here, last. Steady load on three apps through
the router in strict mode while the router, NATS and a cell restart, an instance is
killed and an app scaled up and down, certificates rotating every minute. Nothing may be
misrouted and no request may fail outside a fault window. Resource growth is reported,
not judged: 3 minutes would measure the router's warm-up (the README has a 30-minute
run). CFLAB_SOAK_TEST=0 leaves it out."""

from __future__ import annotations

import json

import pytest

from orchestrator import soak
from tests.e2e import soak_background

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(soak_background.skipped(), reason="CFLAB_SOAK_TEST=0")]


@pytest.mark.timeout(900)
def test_a_three_minute_soak(soak_out):
    proc = soak_background.start_once(soak_out)  # already running unless no other e2e test ran
    code = soak_background.wait(proc, 840)
    log = (soak_out / "soak.log").read_text(errors="replace")
    try:
        assert code is not None, f"the soak still runs after 14 minutes:\n{log[-3000:]}"
    finally:
        soak_background.stop(proc)
        assert not soak.leftovers(soak_background.PROJECT), "the soak left containers behind"
    assert (soak_out / "soak.json").exists(), f"the soak ended without its report:\n{log[-3000:]}"
    doc = json.loads((soak_out / "soak.json").read_text())
    assert code == 0, (doc["problems"], log[-3000:])
    assert doc["problems"] == []
    counts = doc["counts"]
    assert counts["requests"] > 500 and counts["misrouted"] == 0, counts
    faults = {f["kind"] for f in doc["faults"]}
    assert {"restart_job", "crash_instance"} <= faults, doc["faults"]
    jobs = {s["job"] for s in doc["resources"]}
    assert {"router", "nats", "bbs", "cell-1", "cell-2"} <= jobs, jobs
    assert "Verdict: PASSED" in (soak_out / "soak.md").read_text()
    assert (soak_out / "soak.png").read_bytes()[:4] == b"\x89PNG"
