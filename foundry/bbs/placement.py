"""Where an UNCLAIMED instance should start: the auctioneer's "balanced" choice.

Zone first (fewest instances of this LRP), then the cell with fewest instances of
this LRP (spread indexes), then the fewest instances overall; full cells are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from foundry.bbs.models import CellPresence

NO_COMPATIBLE_CELL = "found no compatible cell"
INSUFFICIENT_RESOURCES = "insufficient resources: containers"


@dataclass(frozen=True)
class Placement:
    cell_id: str = ""
    error: str = ""


def choose_cell(
    process_guid: str,
    cells: Iterable[CellPresence],
    load: dict[str, list[str]],
) -> Placement:
    """``load`` maps cell id → process guids of the instances placed on or run by it."""
    cells = list(cells)
    if not cells:
        return Placement(error=NO_COMPATIBLE_CELL)
    with_room = [c for c in cells
                 if c.containers is None or len(load.get(c.cell_id, [])) < c.containers]
    if not with_room:
        return Placement(error=INSUFFICIENT_RESOURCES)
    zone_count: dict[str, int] = {}
    for c in cells:
        zone_count.setdefault(c.zone, 0)
        zone_count[c.zone] += load.get(c.cell_id, []).count(process_guid)

    def score(c: CellPresence) -> tuple[int, int, int, str]:
        mine = load.get(c.cell_id, []).count(process_guid)
        return (zone_count[c.zone], mine, len(load.get(c.cell_id, [])), c.cell_id)

    return Placement(cell_id=min(with_room, key=score).cell_id)
