import pytest

from foundry.bbs.errors import Conflict, InvalidRequest, NotFound
from foundry.bbs.models import CLAIMED, CRASHED, RUNNING, UNCLAIMED

PORTS = [{"container_port": 8080, "host_port": 61000, "container_tls_proxy_port": 61001,
          "host_tls_proxy_port": 61002}]


def cell(state, cell_id="cell-1", zone="z1"):
    state.heartbeat(cell_id, {"cell_id": cell_id, "rep_address": f"http://{cell_id}:1800",
                              "zone": zone, "capacity": {"containers": 100}})


def key(i=0, ig="ig-1", **extra):
    return {"process_guid": "pg", "index": i, "instance_guid": ig, **extra}


def run(state, i=0, ig="ig-1", cell_id="cell-1"):
    state.claim(key(i, ig, cell_id=cell_id))
    return state.start(key(i, ig, cell_id=cell_id, address="10.0.0.2", ports=PORTS,
                           instance_address="10.255.1.2", preferred_address="HOST",
                           availability_zone="z1"))


@pytest.fixture
def desired(state):
    cell(state)
    state.desire({"process_guid": "pg", "instances": 2, "ports": [8080]})
    return state


def test_desire_creates_unclaimed_placed_instances(desired):
    lrps = desired.list_actual()
    assert [(a.index, a.state, a.placement_cell_id) for a in lrps] == [
        (0, UNCLAIMED, "cell-1"), (1, UNCLAIMED, "cell-1")]
    assert lrps[0].to_json()["cell_id"] == ""
    assert len(desired.work("cell-1")["to_start"]) == 2
    assert desired.work("cell-2") == {"to_start": [], "to_stop": []}


def test_duplicate_desire_conflicts(desired):
    with pytest.raises(Conflict):
        desired.desire({"process_guid": "pg"})


def test_claim_start_shape(desired, clock):
    lrp = desired.claim(key(cell_id="cell-1"))
    assert (lrp.state, lrp.cell_id, lrp.instance_guid, lrp.since) == (
        CLAIMED, "cell-1", "ig-1", clock.now)
    clock.advance(1)
    j = run(desired).to_json()
    assert j["state"] == RUNNING and j["since"] == clock.now
    assert j["ports"] == PORTS and j["address"] == "10.0.0.2"
    assert j["modification_tag"]["index"] == 2
    assert list(j) == ["process_guid", "index", "domain", "instance_guid", "cell_id", "address",
                       "ports", "instance_address", "preferred_address", "crash_count", "state",
                       "since", "modification_tag", "presence", "availability_zone"]
    assert desired.work("cell-1")["to_start"][0]["actual_lrp"]["index"] == 1


def test_zero_ports_printed(desired):
    desired.claim(key(cell_id="cell-1"))
    lrp = desired.start(key(cell_id="cell-1", ports=[{"container_port": 8080,
                                                       "host_port": 61000}]))
    assert lrp.to_json()["ports"] == [{"container_port": 8080, "host_port": 61000,
                                       "container_tls_proxy_port": 0, "host_tls_proxy_port": 0}]


def test_bad_transitions(desired):
    with pytest.raises(NotFound):
        desired.claim({"process_guid": "pg", "index": 7, "instance_guid": "x", "cell_id": "cell-1"})
    with pytest.raises(InvalidRequest, match="^instance_guid"):
        desired.claim({"process_guid": "pg", "index": 0, "cell_id": "cell-1"})
    with pytest.raises(Conflict, match="placed on cell"):
        desired.claim(key(cell_id="cell-9"))
    with pytest.raises(Conflict):
        desired.crash(key())  # UNCLAIMED cannot crash
    run(desired)
    with pytest.raises(Conflict):
        desired.claim(key(ig="other", cell_id="cell-1"))
    with pytest.raises(Conflict):
        desired.start(key(ig="other", cell_id="cell-1"))
    with pytest.raises(Conflict):
        desired.remove(key(ig="other"))
    assert desired.claim(key(cell_id="cell-1")).state == RUNNING  # idempotent re-claim


def test_crash_one_and_two_restart_immediately(desired, clock):
    run(desired)
    lrp = desired.crash(key(crash_reason="Instance never healthy"))
    assert (lrp.state, lrp.crash_count, lrp.instance_guid, lrp.cell_id, lrp.address) == (
        UNCLAIMED, 1, "", "", "")
    assert lrp.crash_reason == "Instance never healthy"
    assert lrp.placement_cell_id == "cell-1" and lrp.since == clock.now
    run(desired, ig="ig-2")
    assert desired.crash(key(ig="ig-2")).state == UNCLAIMED
    run(desired, ig="ig-3")
    lrp = desired.crash(key(ig="ig-3"))
    assert (lrp.state, lrp.crash_count) == (CRASHED, 3)
    assert lrp.to_json()["cell_id"] == ""
    assert [w["actual_lrp"]["index"] for w in desired.work("cell-1")["to_start"]] == [1]


def test_third_crash_waits_for_convergence(desired, clock):
    for n in range(3):
        run(desired, ig=f"ig-{n}")
        desired.crash(key(ig=f"ig-{n}"))
    clock.advance(29)
    desired.converge()
    assert desired.actual[("pg", 0)].state == CRASHED
    clock.advance(1)
    desired.converge()
    assert desired.actual[("pg", 0)].state == UNCLAIMED
    assert desired.actual[("pg", 0)].crash_count == 3


def test_crash_count_resets_after_five_minutes_running(desired, clock):
    for n in range(2):
        run(desired, ig=f"ig-{n}")
        desired.crash(key(ig=f"ig-{n}"))
    run(desired, ig="ig-x")
    clock.advance(301)
    lrp = desired.crash(key(ig="ig-x"))
    assert (lrp.crash_count, lrp.state) == (1, UNCLAIMED)


def test_crash_count_200_never_restarts(desired, clock):
    run(desired)
    desired.actual[("pg", 0)].crash_count = 199
    assert desired.crash(key()).crash_count == 200
    clock.advance(10**6)
    desired.converge()
    assert desired.actual[("pg", 0)].state == CRASHED


def test_scale_down_stops_running_and_removes_the_rest(desired):
    run(desired, i=1)
    desired.update_desired("pg", {"instances": 0})
    assert [a.index for a in desired.list_actual()] == [1]
    assert desired.work("cell-1")["to_stop"] == [
        {"process_guid": "pg", "index": 1, "instance_guid": "ig-1"}]
    with pytest.raises(NotFound):
        desired.claim(key(cell_id="cell-1"))
    with pytest.raises(Conflict, match="no longer desired"):
        desired.start(key(i=1, cell_id="cell-1"))
    assert desired.remove(key(i=1)) is None
    assert desired.list_actual() == []


def test_scale_up_creates_indexes(desired):
    desired.update_desired("pg", {"instances": 4})
    assert [a.index for a in desired.list_actual()] == [0, 1, 2, 3]
    assert desired.get_desired("pg")["modification_tag"]["index"] == 1


def test_delete_desired(desired):
    run(desired)
    desired.remove_desired("pg")
    assert [a.index for a in desired.list_actual()] == [0]
    assert desired.work("cell-1")["to_stop"][0]["instance_guid"] == "ig-1"
    assert desired.crash(key()) is None  # crash of an undesired instance deletes it
    assert desired.list_actual() == []
    with pytest.raises(NotFound):
        desired.remove_desired("pg")


def test_remove_of_desired_instance_unclaims_it(desired):
    run(desired)
    lrp = desired.remove(key())
    assert (lrp.state, lrp.instance_guid, lrp.placement_cell_id) == (UNCLAIMED, "", "cell-1")


def test_unplaced_until_a_cell_appears(state):
    state.desire({"process_guid": "pg", "instances": 1})
    lrp = state.actual[("pg", 0)]
    assert lrp.placement_error == "found no compatible cell"
    assert lrp.to_json()["placement_error"] == "found no compatible cell"
    cell(state, "cell-7")
    assert (lrp.placement_cell_id, lrp.placement_error) == ("cell-7", "")


def test_retire_stops_the_instance_and_places_the_index_again(desired):
    run(desired, 0, "ig-old")
    lrp = desired.retire({"process_guid": "pg", "index": 0})
    assert (lrp.state, lrp.instance_guid, lrp.placement_cell_id) == (UNCLAIMED, "", "cell-1")
    work = desired.work("cell-1")
    assert {"process_guid": "pg", "index": 0, "instance_guid": "ig-old"} in work["to_stop"]
    assert any(w["actual_lrp"]["index"] == 0 for w in work["to_start"])
    assert desired.remove(key(0, "ig-old")) is None  # the cell's stop: the stop request goes
    assert desired.work("cell-1")["to_stop"] == []
    run(desired, 0, "ig-new")  # the index comes back as a new instance
    assert desired.list_actual(index=0)[0].instance_guid == "ig-new"
    with pytest.raises(NotFound):
        desired.retire({"process_guid": "pg", "index": 7})
