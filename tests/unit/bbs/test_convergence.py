import pytest

from foundry.bbs.config import BBSConfig
from foundry.bbs.errors import Conflict
from foundry.bbs.models import CLAIMED, ORDINARY, RUNNING, SUSPECT, UNCLAIMED
from foundry.bbs.restart import NS
from foundry.bbs.state import BBSState


def heartbeat(state, cell_id, zone=""):
    state.heartbeat(cell_id, {"cell_id": cell_id, "zone": zone, "capacity": {"containers": 50}})


def run_on(state, cell_id, index, ig):
    k = {"process_guid": "pg", "index": index, "instance_guid": ig, "cell_id": cell_id}
    state.claim(k)
    state.start({**k, "address": "10.0.0.9", "ports": []})


def test_lost_cell_replaced_on_another(state, clock):
    heartbeat(state, "cell-1")
    heartbeat(state, "cell-2")
    state.desire({"process_guid": "pg", "instances": 2})
    placed = {a.index: a.placement_cell_id for a in state.list_actual()}
    assert sorted(placed.values()) == ["cell-1", "cell-2"]  # indexes spread
    for index, cell_id in placed.items():
        run_on(state, cell_id, index, f"ig-{index}")
    lost_index = next(i for i, c in placed.items() if c == "cell-1")
    tag_before = state.actual[("pg", lost_index)].modification_tag.index
    clock.advance(5)
    heartbeat(state, "cell-2")
    clock.advance(6)  # cell-1's presence (ttl 10 s) has expired; cell-2's has not
    assert state.lost_cells() == {"cell-1"}
    state.converge()
    lrp = state.actual[("pg", lost_index)]
    assert (lrp.state, lrp.placement_cell_id, lrp.instance_guid) == (UNCLAIMED, "cell-2", "")
    assert lrp.modification_tag.index > tag_before
    assert state.actual[("pg", 1 - lost_index)].state == RUNNING
    assert [c.cell_id for c in state.present_cells()] == ["cell-2"]
    # the lost instance is kept, RUNNING and SUSPECT, until its replacement runs
    assert [(a.state, a.presence, a.instance_guid) for a in state.list_actual(cell_id="cell-1")
            ] == [(RUNNING, SUSPECT, f"ig-{lost_index}")]
    assert state.lost_cells() == set()  # the suspect is not lost work: no converging each tick
    run_on(state, "cell-2", lost_index, "ig-new")
    assert state.suspects == {}
    # if cell-1 comes back it is told to stop the replaced instance
    heartbeat(state, "cell-1")
    assert state.work("cell-1")["to_stop"] == [
        {"process_guid": "pg", "index": lost_index, "instance_guid": f"ig-{lost_index}"}]
    assert state.remove({"process_guid": "pg", "index": lost_index,
                         "instance_guid": f"ig-{lost_index}"}) is None
    assert state.work("cell-1")["to_stop"] == []


def test_converge_creates_missing_indexes(state):
    heartbeat(state, "cell-1")
    state.desire({"process_guid": "pg", "instances": 2})
    state._delete_actual(("pg", 1))
    state.converge()
    assert [a.index for a in state.list_actual()] == [0, 1]


def test_unplaced_lrp_placed_by_convergence(state, clock):
    state.desire({"process_guid": "pg", "instances": 1})
    heartbeat(state, "cell-1")
    assert state.actual[("pg", 0)].placement_cell_id == "cell-1"
    clock.advance(11)
    state.converge()
    assert state.actual[("pg", 0)].placement_error == "found no compatible cell"


def test_an_instance_handed_back_from_a_lost_cell_cannot_be_started_again(state, clock):
    """A slow cell's instance finishing its start after convergence handed it back must be
    refused: its cell is told to stop it, so accepting it would leave the LRP RUNNING on a
    container that is about to go (and never replaced)."""
    heartbeat(state, "cell-1")
    state.desire({"process_guid": "pg", "instances": 1})
    k = {"process_guid": "pg", "index": 0, "instance_guid": "ig-old", "cell_id": "cell-1"}
    state.claim(k)
    clock.advance(11)
    state.converge()  # cell-1 lost: ig-old is handed back, nobody else is there
    assert state.actual[("pg", 0)].state == UNCLAIMED
    heartbeat(state, "cell-1")  # back, and finishing the old start
    with pytest.raises(Conflict, match="being stopped"):
        state.start({**k, "address": "10.0.0.9", "ports": []})
    with pytest.raises(Conflict, match="being stopped"):
        state.claim(k)
    assert state.work("cell-1")["to_stop"] == [
        {"process_guid": "pg", "index": 0, "instance_guid": "ig-old"}]
    assert state.remove(k) is None  # the cell's report of the stop ends the request
    new = {**k, "instance_guid": "ig-new"}
    state.claim(new)
    state.start({**new, "address": "10.0.0.9", "ports": []})
    assert (state.actual[("pg", 0)].state, state.actual[("pg", 0)].instance_guid) == (
        RUNNING, "ig-new")
    assert state.work("cell-1")["to_stop"] == []


def test_the_default_presence_ttl_is_lockets():
    assert BBSConfig().cell_presence_ttl == 15.0
    assert BBSState(lambda: 0).cell_ttl_ns == 15 * NS


def test_a_cell_back_before_the_replacement_runs_keeps_its_instance(state, clock):
    """A missed heartbeat throws nothing away (Diego >= 2.x): the suspect is ordinary
    again and the replacement, already claimed on another cell, is stopped there."""
    heartbeat(state, "cell-1")
    state.desire({"process_guid": "pg", "instances": 1})
    run_on(state, "cell-1", 0, "ig-1")
    clock.advance(11)
    heartbeat(state, "cell-2")
    state.converge()
    replacement = {"process_guid": "pg", "index": 0, "instance_guid": "ig-2", "cell_id": "cell-2"}
    assert state.claim(replacement).state == CLAIMED
    heartbeat(state, "cell-1")  # back
    lrp = state.actual[("pg", 0)]
    assert (lrp.state, lrp.presence, lrp.instance_guid, lrp.cell_id) == (
        RUNNING, ORDINARY, "ig-1", "cell-1")
    assert state.suspects == {} and len(state.list_actual()) == 1
    assert state.work("cell-2")["to_stop"] == [
        {"process_guid": "pg", "index": 0, "instance_guid": "ig-2"}]
    with pytest.raises(Conflict):  # the replacement cannot take the LRP over any more
        state.start({**replacement, "address": "10.0.0.8", "ports": []})


def test_a_suspects_crash_or_removal_drops_it_and_leaves_the_replacement(state, clock):
    heartbeat(state, "cell-1")
    state.desire({"process_guid": "pg", "instances": 1})
    run_on(state, "cell-1", 0, "ig-1")
    clock.advance(11)
    state.converge()  # no other cell: the replacement waits unplaced, the suspect runs
    assert [a.presence for a in state.list_actual(process_guid="pg")] == [ORDINARY, SUSPECT]
    assert state.crash({"process_guid": "pg", "index": 0, "instance_guid": "ig-1"}) is None
    assert state.suspects == {} and state.actual[("pg", 0)].state == UNCLAIMED


def test_scaling_down_stops_a_suspect(state, clock):
    heartbeat(state, "cell-1")
    state.desire({"process_guid": "pg", "instances": 1})
    run_on(state, "cell-1", 0, "ig-1")
    clock.advance(11)
    state.converge()
    state.update_desired("pg", {"instances": 0})
    assert state.suspects == {} and state.list_actual() == []
    heartbeat(state, "cell-1")
    assert state.work("cell-1")["to_stop"] == [
        {"process_guid": "pg", "index": 0, "instance_guid": "ig-1"}]
