from foundry.bbs.restart import RestartCalculator
from foundry.bbs.state import BBSState
from foundry.bbs.store import Store


def test_round_trip(tmp_path, state, clock):
    store = Store(str(tmp_path / "bbs.sqlite3"))
    state.heartbeat("cell-1", {"zone": "z1", "capacity": {"containers": 3}})
    state.desire({"process_guid": "pg", "instances": 2, "routes": {"cf-router": []}})
    k = {"process_guid": "pg", "index": 0, "instance_guid": "ig", "cell_id": "cell-1"}
    state.claim(k)
    state.start({**k, "address": "10.0.0.2", "ports": [{"container_port": 8080}]})
    store.flush(state)
    state.remove_desired("pg")
    state.desire({"process_guid": "pg", "instances": 1})
    store.flush(state)
    store.close()

    again = BBSState(clock, RestartCalculator())
    Store(str(tmp_path / "bbs.sqlite3")).load(again)
    assert again.desired == state.desired
    assert {k: a.to_json() for k, a in again.actual.items()} == {
        k: a.to_json() for k, a in state.actual.items()}
    assert again.cells == state.cells


def test_a_suspect_survives_a_bbs_restart_and_goes_when_dropped(tmp_path, state, clock):
    path = str(tmp_path / "bbs.sqlite3")
    store = Store(path)
    state.heartbeat("cell-1", {"capacity": {"containers": 3}})
    state.desire({"process_guid": "pg", "instances": 1})
    k = {"process_guid": "pg", "index": 0, "instance_guid": "ig", "cell_id": "cell-1"}
    state.claim(k)
    state.start({**k, "address": "10.0.0.2", "ports": []})
    clock.advance(11)
    state.converge()  # cell-1 lost: ig is kept as a suspect
    store.flush(state)
    again = BBSState(clock, RestartCalculator())
    Store(path).load(again)
    assert [(a.presence, a.instance_guid) for a in again.suspects.values()] == [("SUSPECT", "ig")]
    state.remove(k)  # the cell hands it back: the suspect goes, in the store too
    store.flush(state)
    again = BBSState(clock, RestartCalculator())
    Store(path).load(again)
    assert again.suspects == {}
