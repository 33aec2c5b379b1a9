"""Compose runs no health check on one engine either: each job's check rides in a label
for cflab to run when asked (`orchestrator/job_health.py`)."""

import yaml

from orchestrator import config, job_health, render


def test_no_job_is_checked_by_docker_and_each_check_rides_in_its_label() -> None:
    source = yaml.safe_load(render.COMPOSE_FILE.read_text())["services"]
    cells = render.cells_compose(config.load(None, {"cells": 2}), "/var/run/docker.sock")
    rendered = {**render.jobs_compose()["services"], **cells["services"]}
    checked = [n for n, svc in source.items() if svc.get("healthcheck")] + ["cell-1", "cell-2"]
    assert len(checked) >= 10
    for name in checked:
        svc = rendered[name]
        assert svc["healthcheck"] == {"disable": True}, name
        test, retries, by = job_health.check_of(
            {"Healthcheck": {"Test": ["NONE"]}, "Labels": svc["labels"]})
        assert by == "cflab" and test[0] == "CMD", name
        if name in source:
            assert (test, retries) == (source[name]["healthcheck"]["test"],
                                       source[name]["healthcheck"]["retries"]), name
            assert svc["labels"]["cflab.foundation"] == "${CFLAB_PROJECT}", name
    assert "healthcheck" not in rendered["pki"]


def test_moving_a_check_twice_keeps_it() -> None:
    svc = {"healthcheck": {"test": ["CMD", "true"], "retries": 4}, "labels": {"a": "b"}}
    once = job_health.checked_by_cflab(svc)
    assert job_health.checked_by_cflab(once) == once
    assert svc["healthcheck"]["test"] == ["CMD", "true"] and svc["labels"] == {"a": "b"}
