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
    assert svc.handle("POST", "/v1/desired_lrps", LRP)[0] == 409  # refused: changed nothing
    assert svc.version == 1
    svc.converge()  # the new LRP's instance is already UNCLAIMED: nothing to do
    assert svc.version == 1


PRESENCE = {"cell_id": "cell-1", "rep_address": "http://cell-1:1800", "zone": "z1",
            "capacity": {"memory_mb": 1024}}


def test_a_renewed_presence_wakes_no_one_but_a_new_or_changed_one_does(state, clock):
    svc = BBSService(state)
    assert svc.handle("POST", "/v1/cells/cell-1/presence", PRESENCE)[0] == 200
    assert svc.version == 1  # a cell appeared
    clock.advance(1)
    svc.handle("POST", "/v1/cells/cell-1/presence", PRESENCE)
    assert svc.version == 1  # only its lease renewed
    assert state.cells["cell-1"].last_heartbeat_ns == clock.now  # and that is kept
    svc.handle("POST", "/v1/cells/cell-1/presence", {**PRESENCE, "zone": "z2"})
    assert svc.version == 2
    clock.advance(11)  # the lease lapsed (ttl 10 s): the next heartbeat is news
    svc.handle("POST", "/v1/cells/cell-1/presence", {**PRESENCE, "zone": "z2"})
    assert svc.version == 3


def test_a_converge_that_changes_something_wakes_the_watchers(state, clock):
    svc = BBSService(state)
    svc.handle("POST", "/v1/cells/cell-1/presence", PRESENCE)
    svc.handle("POST", "/v1/desired_lrps", LRP)
    svc.handle("POST", "/v1/actual_lrps/claim", {
        "process_guid": "pg", "index": 0, "instance_guid": "ig-1", "cell_id": "cell-1"})
    before = svc.version
    svc.converge()
    assert svc.version == before  # the cell is present: nothing to do
    clock.advance(11)  # cell-1's presence lapsed with a claimed instance on it
    svc.converge(only_if_cells_lost=True)
    assert svc.version == before + 1
    assert state.list_actual(process_guid="pg")[0].state == "UNCLAIMED"


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
