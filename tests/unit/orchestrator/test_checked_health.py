"""`cflab status`'s health: Docker's, except a job Docker has not checked yet whose own
check passes now (Docker checks once a minute: each check is an exec)."""

from __future__ import annotations

import pytest

from orchestrator import config
from orchestrator import foundation as fnd


def job(container: str, health: str, started: str = "2026-12-01T02:00:00Z") -> dict:
    return {"container": container, "state": "running", "health": health, "exit_code": 0,
            "check": ["CMD", "true"], "started_at": started}


def test_a_starting_job_whose_check_passes_is_healthy_and_probed_once(monkeypatch) -> None:
    states = {"nats": job("p-nats-1", "starting"), "router": job("p-router-1", "starting"),
              "bbs": job("p-bbs-1", "healthy"), "uaa": job("p-uaa-1", "unhealthy")}
    probed: list[str] = []

    def probe(self, state: dict) -> bool:
        probed.append(state["container"])
        return state["container"] == "p-nats-1"

    monkeypatch.setattr(fnd.Foundation, "job_states", lambda self: {
        k: dict(v) for k, v in states.items()})
    monkeypatch.setattr(fnd.Foundation, "probe", probe)
    monkeypatch.setattr(fnd, "_PROBED_HEALTHY", set())
    foundation = fnd.Foundation(config.load(None, {"project": "cflab-health"}))
    got = {k: v["health"] for k, v in foundation.checked_states().items()}
    assert got == {"nats": "healthy", "router": "starting", "bbs": "healthy",
                   "uaa": "unhealthy"}
    assert sorted(probed) == ["p-nats-1", "p-router-1"]  # only the starting ones
    probed.clear()
    foundation.checked_states()
    assert probed == ["p-router-1"]  # nats passed once: remembered for this run
    states["nats"]["started_at"] = "2026-12-01T02:05:00Z"  # restarted: checked again
    foundation.checked_states()
    assert sorted(probed) == ["p-nats-1", "p-router-1", "p-router-1"]


def test_wait_healthy_counts_a_starting_job_healthy_once_its_own_check_passes(
        monkeypatch) -> None:
    """`up` waits through the same probe-and-remember as `status`: no second list."""
    states = {"nats": job("p-nats-1", "starting"), "bbs": job("p-bbs-1", "healthy")}
    passes = iter([False, False, True])
    probed: list[str] = []

    def probe(self, state: dict) -> bool:
        probed.append(state["container"])
        return next(passes)

    monkeypatch.setattr(fnd.Foundation, "job_states", lambda self: {
        k: dict(v) for k, v in states.items()})
    monkeypatch.setattr(fnd.Foundation, "probe", probe)
    monkeypatch.setattr(fnd, "_PROBED_HEALTHY", set())
    monkeypatch.setattr(fnd.time, "sleep", lambda s: None)
    foundation = fnd.Foundation(config.load(None, {"project": "cflab-health"}))
    assert sorted(foundation.wait_healthy(5)) == ["bbs", "nats"]
    assert probed == ["p-nats-1"] * 3
    assert foundation.checked_states()["nats"]["health"] == "healthy"
    assert probed == ["p-nats-1"] * 3  # remembered: status does not probe it again


def test_wait_healthy_names_only_the_jobs_still_starting_when_it_gives_up(
        monkeypatch) -> None:
    states = {"nats": job("p-nats-1", "starting"), "bbs": job("p-bbs-1", "healthy")}
    monkeypatch.setattr(fnd.Foundation, "job_states", lambda self: {
        k: dict(v) for k, v in states.items()})
    monkeypatch.setattr(fnd.Foundation, "probe", lambda self, state: False)
    monkeypatch.setattr(fnd, "_PROBED_HEALTHY", set())
    foundation = fnd.Foundation(config.load(None, {"project": "cflab-health"}))
    with pytest.raises(fnd.PhaseError, match=r"^not healthy after 0s: nats \("):
        foundation.wait_healthy(0)
