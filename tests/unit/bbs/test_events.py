"""`GET /v1/events`: a change counter the rep and route emitter block on instead of polling."""

from __future__ import annotations

import threading
import time

from foundry.bbs.api import BBSService
from orchestrator.waiting import wait_for

LRP = {"process_guid": "pg", "instances": 1, "ports": [8080]}


def test_a_waiter_behind_the_current_version_returns_at_once(state):
    svc = BBSService(state)
    status, body = svc.handle("GET", "/v1/events?after=-1&timeout=5", None)
    assert status == 200 and body == {"version": 0}


def test_no_change_means_the_wait_times_out_with_the_same_version(state):
    svc = BBSService(state)
    start = time.monotonic()
    assert svc.handle("GET", "/v1/events?after=0&timeout=0.05", None) == (200, {"version": 0})
    assert time.monotonic() - start >= 0.05


def test_reads_do_not_count_as_changes_but_writes_do(state):
    svc = BBSService(state)
    svc.handle("GET", "/v1/desired_lrps", None)
    assert svc.version == 0
    assert svc.handle("POST", "/v1/desired_lrps", LRP)[0] == 201
    assert svc.version == 1
    svc.handle("POST", "/v1/desired_lrps", LRP)  # refused (conflict): still woken, harmless
    assert svc.version == 2
    svc.converge()
    assert svc.version == 3


def test_a_write_wakes_a_blocked_waiter(state):
    svc = BBSService(state)
    got: list[tuple[int, float]] = []

    def waiter() -> None:
        t = time.monotonic()
        status, body = svc.handle("GET", "/v1/events?after=0&timeout=10", None)
        got.append((body["version"], time.monotonic() - t))

    th = threading.Thread(target=waiter)
    th.start()
    wait_for(lambda: svc.changed._waiters, 5, 0.005, "the waiter to park")  # noqa: SLF001
    svc.handle("POST", "/v1/desired_lrps", LRP)
    th.join(5)
    assert got and got[0][0] == 1 and got[0][1] < 5


def test_bad_arguments_are_a_400(state):
    status, body = BBSService(state).handle("GET", "/v1/events?after=x", None)
    assert status == 400 and "after" in body["error"]
