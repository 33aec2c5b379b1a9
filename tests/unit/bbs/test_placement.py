from foundry.bbs.models import CellPresence
from foundry.bbs.placement import INSUFFICIENT_RESOURCES, NO_COMPATIBLE_CELL, choose_cell


def cells(*specs):
    return [CellPresence(cell_id=c, zone=z, capacity={"containers": n}) for c, z, n in specs]


def test_fewest_instances_wins():
    cs = cells(("cell-1", "", 10), ("cell-2", "", 10))
    load = {"cell-1": ["a", "b"], "cell-2": ["c"]}
    assert choose_cell("x", cs, load).cell_id == "cell-2"


def test_indexes_of_one_lrp_spread_before_total_load():
    cs = cells(("cell-1", "", 10), ("cell-2", "", 10))
    load = {"cell-1": ["a"], "cell-2": ["x"]}
    assert choose_cell("x", cs, load).cell_id == "cell-1"


def test_zone_aware():
    cs = cells(("cell-1", "z1", 10), ("cell-2", "z1", 10), ("cell-3", "z2", 10))
    load = {"cell-1": ["x"], "cell-3": ["a", "b", "c"]}
    # z1 already runs an instance of x, so z2 wins despite cell-3 being busier
    assert choose_cell("x", cs, load).cell_id == "cell-3"


def test_full_cells_skipped_and_errors():
    cs = cells(("cell-1", "", 1), ("cell-2", "", 1))
    assert choose_cell("x", cs, {"cell-1": ["a"]}).cell_id == "cell-2"
    assert choose_cell("x", cs, {"cell-1": ["a"], "cell-2": ["b"]}).error == INSUFFICIENT_RESOURCES
    assert choose_cell("x", [], {}).error == NO_COMPATIBLE_CELL


def test_tie_broken_by_cell_id():
    cs = cells(("cell-2", "", 5), ("cell-1", "", 5))
    assert choose_cell("x", cs, {}).cell_id == "cell-1"
