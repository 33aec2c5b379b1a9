"""`cflab status`'s health: Docker's, except a job Docker has not checked yet whose own
check passes now (Docker checks once a minute: each check is an exec)."""

from __future__ import annotations

import pytest

from orchestrator import config, job_health
from orchestrator import foundation as fnd


def job(container: str, health: str, started: str = "2026-12-01T02:00:00Z",
        by: str = "docker") -> dict:
    return {"container": container, "state": "running", "health": health, "exit_code": 0,
            "check": ["CMD", "true"], "retries": 3, "checked_by": by, "started_at": started}


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
    monkeypatch.setattr(fnd, "_REMEMBERED", job_health.Remembered())
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
    monkeypatch.setattr(fnd, "_REMEMBERED", job_health.Remembered())
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
    monkeypatch.setattr(fnd, "_REMEMBERED", job_health.Remembered())
    foundation = fnd.Foundation(config.load(None, {"project": "cflab-health"}))
    with pytest.raises(fnd.PhaseError, match=r"^not healthy after 0s: nats \("):
        foundation.wait_healthy(0)


def test_a_job_docker_does_not_check_is_probed_at_most_once_a_minute_while_it_passes() -> None:
    """A swarm task: its check rides in a label and cflab runs it when asked."""
    remembered = job_health.Remembered()
    state = job("p_nats.1.x", "starting", by="cflab")
    calls: list[float] = []

    def probe(result: bool | None):  # noqa: ANN202
        def run() -> bool | None:
            calls.append(1)
            return result
        return run

    assert remembered.health(state, probe(False), now=0.0) == "starting"  # never passed
    assert remembered.health(state, probe(True), now=1.0) == "healthy"
    assert remembered.health(state, probe(False), now=60.0) == "healthy"  # remembered
    assert len(calls) == 2
    # older than a minute: probed again; a failure counts only after `retries` in a row
    assert [remembered.health(state, probe(False), now=62.0) for _ in range(3)] == [
        "healthy", "healthy", "unhealthy"]
    assert remembered.health(state, probe(None), now=63.0) == "unhealthy"  # no answer
    assert remembered.health(state, probe(True), now=64.0) == "healthy"
    assert remembered.health(state, probe(False), now=130.0) == "healthy"  # count reset
    restarted = dict(state, started_at="2026-12-01T03:00:00Z")
    assert remembered.health(restarted, probe(None), now=131.0) == "starting"


def test_docker_s_own_verdict_stands_and_jobs_without_a_check_are_not_probed() -> None:
    remembered = job_health.Remembered()

    def never() -> bool:
        raise AssertionError("probed")

    for health in ("healthy", "unhealthy"):
        assert remembered.health(job("c", health), never, now=0.0) == health
    assert remembered.health(dict(job("c", "none"), checked_by="none"), never, 0.0) == "none"
    assert remembered.health(dict(job("c", "starting", by="cflab"), state="exited"), never,
                             0.0) == "starting"


def test_check_of_reads_docker_s_check_or_the_label() -> None:
    assert job_health.check_of({"Healthcheck": {"Test": ["CMD", "true"], "Retries": 5}}) == (
        ["CMD", "true"], 5, "docker")
    label = job_health.check_label({"test": ["CMD", "curl", "x"], "retries": 4})
    assert job_health.check_of({"Healthcheck": {"Test": ["NONE"]},
                                "Labels": {job_health.CHECK_LABEL: label}}) == (
        ["CMD", "curl", "x"], 4, "cflab")
    assert job_health.check_of({"Labels": None}) == ([], 0, "none")
