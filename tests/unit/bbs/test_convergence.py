from foundry.bbs.models import RUNNING, UNCLAIMED


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
    # if cell-1 comes back it is told to stop the stale instance
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
