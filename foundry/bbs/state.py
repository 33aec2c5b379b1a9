"""The BBS's state machine: desired LRPs, actual LRP lifecycle, cells, convergence.

A RUNNING instance whose cell's presence lapses is kept as a SUSPECT (bbs >= 2.x:
``presence: SUSPECT``, still RUNNING and listed for its cell) while a replacement is
placed; the replacement running ends it, its cell coming back first restores it.
A slow heartbeat therefore never throws a running instance away.

Sans-IO: every method takes its time from the injected clock (Unix ns) and records
what it changed in ``dirty`` so the SQLite edge can persist exactly that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from foundry.bbs.errors import Conflict, InvalidRequest, NotFound
from foundry.bbs.models import (
    CLAIMED,
    CRASHED,
    ORDINARY,
    PREFERRED_ADDRESSES,
    RUNNING,
    SUSPECT,
    UNCLAIMED,
    ActualLRP,
    CellPresence,
    ModificationTag,
    StopRequest,
    normalize_port_mapping,
)
from foundry.bbs.placement import choose_cell
from foundry.bbs.restart import NS, RestartCalculator
from foundry.bbs.validation import validate_desired, validate_update

Key = tuple[str, int]
Clock = Callable[[], int]


def _require(body: Any, *names: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidRequest("body: must be a JSON object")
    for name in names:
        value = body.get(name)
        if name == "index":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidRequest("index: must be a non-negative integer")
        elif not isinstance(value, str) or not value:
            raise InvalidRequest(f"{name}: is required")
    return body


class BBSState:
    def __init__(
        self,
        clock: Clock,
        calculator: RestartCalculator | None = None,
        cell_presence_ttl_s: float = 15.0,
        crash_reset_timeout_s: float = 300.0,
    ) -> None:
        self.clock = clock
        self.calculator = calculator or RestartCalculator()
        self.cell_ttl_ns = int(cell_presence_ttl_s * NS)
        self.crash_reset_ns = int(crash_reset_timeout_s * NS)
        self.desired: dict[str, dict[str, Any]] = {}
        self.actual: dict[Key, ActualLRP] = {}
        self.cells: dict[str, CellPresence] = {}
        self.stops: set[StopRequest] = set()
        self.suspects: dict[Key, ActualLRP] = {}
        self.dirty: set[tuple[str, Any]] = set()
        # Counts changes a watcher must see (`GET /v1/events`); a presence that only
        # renews its lease is persisted but not counted, or every heartbeat would wake
        # every rep, route emitter and dashboard.
        self.generation = 0

    # ---- helpers -------------------------------------------------------------------

    def _mark(self, item: tuple[str, Any]) -> None:
        self.dirty.add(item)
        self.generation += 1

    def _touch(self, lrp: ActualLRP) -> None:
        lrp.modification_tag.bump()
        self._mark(("actual", lrp.key))

    def _delete_actual(self, key: Key) -> None:
        self.actual.pop(key, None)
        self._mark(("actual", key))

    def _add_stop(self, stop: StopRequest) -> None:
        self.stops.add(stop)
        self._mark(("stop", stop))

    def _drop_stop(self, stop: StopRequest) -> None:
        self.stops.discard(stop)
        self._mark(("stop", stop))

    def _set_suspect(self, key: Key, lrp: ActualLRP | None) -> None:
        if lrp is None:
            self.suspects.pop(key, None)
        else:
            self.suspects[key] = lrp
        self._mark(("suspect", key))

    def _suspect(self, lrp: ActualLRP) -> None:
        """Its cell is lost: a SUSPECT copy keeps running; the ordinary one is re-placed."""
        self._stop_suspect(lrp.key)
        suspect = ActualLRP.from_record(lrp.to_record())
        suspect.presence = SUSPECT
        suspect.modification_tag.bump()
        self._set_suspect(lrp.key, suspect)
        self._unclaim(lrp)

    def _stop_suspect(self, key: Key) -> None:
        """The suspect is no longer wanted: its cell, if it comes back, stops it."""
        suspect = self.suspects.get(key)
        if suspect is not None:
            self._add_stop(StopRequest(suspect.cell_id, suspect.process_guid, suspect.index,
                                       suspect.instance_guid))
            self._set_suspect(key, None)

    def _restore_suspects(self, cell_id: str) -> None:
        """``cell_id`` is back before its suspects were replaced: they are ordinary again,
        and a replacement already claimed elsewhere is stopped there."""
        for key, suspect in list(self.suspects.items()):
            if suspect.cell_id != cell_id:
                continue
            lrp = self.actual.get(key)
            if lrp is None or lrp.state == RUNNING or not self.is_desired(suspect):
                self._stop_suspect(key)
                continue
            if lrp.state == CLAIMED:
                self._add_stop(StopRequest(lrp.cell_id, lrp.process_guid, lrp.index,
                                           lrp.instance_guid))
            suspect.presence = ORDINARY
            suspect.crash_count = lrp.crash_count
            self.actual[key] = suspect
            self._touch(suspect)
            self._set_suspect(key, None)

    def _ends_a_suspect(self, body: dict[str, Any]) -> bool:
        """Whether a cell's report (crash or remove) is about a suspect: it is dropped."""
        suspect = self.suspects.get((body["process_guid"], body["index"]))
        if suspect is not None and suspect.instance_guid == body["instance_guid"]:
            self._set_suspect(suspect.key, None)
            return True
        return False

    def is_desired(self, lrp: ActualLRP) -> bool:
        d = self.desired.get(lrp.process_guid)
        return d is not None and lrp.index < d["instances"]

    def is_present(self, cell: CellPresence, now: int | None = None) -> bool:
        now = self.clock() if now is None else now
        return now < cell.last_heartbeat_ns + self.cell_ttl_ns

    def present_cells(self) -> list[CellPresence]:
        now = self.clock()
        return sorted((c for c in self.cells.values() if self.is_present(c, now)),
                      key=lambda c: c.cell_id)

    def _cell_load(self) -> dict[str, list[str]]:
        load: dict[str, list[str]] = {}
        for lrp in self.actual.values():
            cell = lrp.cell_id if lrp.state in (CLAIMED, RUNNING) else (
                lrp.placement_cell_id if lrp.state == UNCLAIMED else "")
            if cell:
                load.setdefault(cell, []).append(lrp.process_guid)
        return load

    def _place(self, lrp: ActualLRP) -> None:
        lrp.placement_cell_id = ""
        choice = choose_cell(lrp.process_guid, self.present_cells(), self._cell_load())
        lrp.placement_cell_id = choice.cell_id
        lrp.placement_error = choice.error

    def _unclaim(self, lrp: ActualLRP) -> None:
        """Back to UNCLAIMED and re-auctioned; crash count is kept."""
        lrp.state = UNCLAIMED
        lrp.clear_instance()
        lrp.since = self.clock()
        self._place(lrp)
        self._touch(lrp)

    def _create_missing(self, pg: str) -> None:
        d = self.desired[pg]
        for index in range(d["instances"]):
            if (pg, index) not in self.actual:
                lrp = ActualLRP(process_guid=pg, index=index, domain=d["domain"],
                                since=self.clock())
                self._place(lrp)
                self.actual[lrp.key] = lrp
                self._mark(("actual", lrp.key))

    def _retire_undesired(self, pg: str) -> None:
        """Instances no longer desired: not running ones go now, running ones via the cell."""
        for lrp in [a for a in self.actual.values() if a.process_guid == pg]:
            if not self.is_desired(lrp) and lrp.state in (UNCLAIMED, CRASHED):
                self._delete_actual(lrp.key)
        for key in [k for k, a in self.suspects.items()
                    if a.process_guid == pg and not self.is_desired(a)]:
            self._stop_suspect(key)

    def _lookup(self, body: dict[str, Any]) -> ActualLRP:
        lrp = self.actual.get((body["process_guid"], body["index"]))
        if lrp is None:
            raise NotFound(f"actual LRP {body['process_guid']}/{body['index']} not found")
        return lrp

    # ---- desired LRPs ----------------------------------------------------------------

    def desire(self, body: Any) -> dict[str, Any]:
        d = validate_desired(body)
        pg = d["process_guid"]
        if pg in self.desired:
            raise Conflict(f"desired LRP {pg} already exists")
        d["modification_tag"] = ModificationTag().to_json()
        self.desired[pg] = d
        self._mark(("desired", pg))
        self._create_missing(pg)
        return d

    def get_desired(self, pg: str) -> dict[str, Any]:
        try:
            return self.desired[pg]
        except KeyError:
            raise NotFound(f"desired LRP {pg} not found") from None

    def list_desired(self, domain: str | None = None) -> list[dict[str, Any]]:
        return [d for pg, d in sorted(self.desired.items())
                if domain is None or d["domain"] == domain]

    def update_desired(self, pg: str, body: Any) -> dict[str, Any]:
        update = validate_update(body)
        d = self.get_desired(pg)
        d.update(update)
        if d.get("routes") is None:
            d["routes"] = {}
        d["modification_tag"] = {"epoch": d["modification_tag"]["epoch"],
                                 "index": d["modification_tag"]["index"] + 1}
        self._mark(("desired", pg))
        self._create_missing(pg)
        self._retire_undesired(pg)
        return d

    def remove_desired(self, pg: str) -> None:
        self.get_desired(pg)
        del self.desired[pg]
        self._mark(("desired", pg))
        self._retire_undesired(pg)

    # ---- actual LRPs -----------------------------------------------------------------

    def list_actual(self, domain: str | None = None, cell_id: str | None = None,
                    process_guid: str | None = None, index: int | None = None) -> list[ActualLRP]:
        out = []
        for lrp in sorted([*self.actual.values(), *self.suspects.values()],
                          key=lambda a: (a.key, a.presence == SUSPECT)):
            if domain is not None and lrp.domain != domain:
                continue
            if cell_id is not None and lrp.cell_id != cell_id:
                continue
            if process_guid is not None and lrp.process_guid != process_guid:
                continue
            if index is not None and lrp.index != index:
                continue
            out.append(lrp)
        return out

    def _for_cell(self, body: dict[str, Any]) -> tuple[ActualLRP, str, str, bool]:
        """The actual LRP a cell claims or starts, its instance guid and cell, and whether
        that cell already holds that instance; Conflict when the LRP is no longer desired
        or is placed on another cell."""
        lrp = self._lookup(body)
        ig, cell = body["instance_guid"], body["cell_id"]
        if not self.is_desired(lrp):
            raise Conflict("actual LRP is no longer desired")
        if lrp.state == UNCLAIMED and lrp.placement_cell_id and lrp.placement_cell_id != cell:
            raise Conflict(f"actual LRP is placed on cell {lrp.placement_cell_id}")
        if any((s.process_guid, s.index, s.instance_guid) == (lrp.process_guid, lrp.index, ig)
               for s in self.stops):
            # Handed back when its cell was lost: the cell is told to stop it, so taking it
            # back now would leave the LRP RUNNING on a container about to go.
            raise Conflict(f"instance {ig} is being stopped")
        return lrp, ig, cell, (lrp.instance_guid, lrp.cell_id) == (ig, cell)

    @staticmethod
    def _hold(lrp: ActualLRP, state: str, ig: str, cell: str) -> None:
        lrp.state = state
        lrp.instance_guid, lrp.cell_id = ig, cell
        lrp.placement_cell_id = cell
        lrp.placement_error = ""

    def claim(self, body: Any) -> ActualLRP:
        body = _require(body, "process_guid", "index", "instance_guid", "cell_id")
        lrp, ig, cell, same = self._for_cell(body)
        if lrp.state in (CLAIMED, RUNNING) and same:
            return lrp  # a repeated claim of the same instance changes nothing
        if lrp.state != UNCLAIMED:
            raise Conflict(f"cannot claim actual LRP in state {lrp.state}")
        self._hold(lrp, CLAIMED, ig, cell)
        lrp.since = self.clock()
        self._touch(lrp)
        return lrp

    def start(self, body: Any) -> ActualLRP:
        body = _require(body, "process_guid", "index", "instance_guid", "cell_id")
        lrp, ig, cell, same = self._for_cell(body)
        if lrp.state != UNCLAIMED and (lrp.state not in (CLAIMED, RUNNING) or not same):
            raise Conflict(f"cannot start actual LRP in state {lrp.state}"
                           + ("" if same else " held by another instance"))
        ports = body.get("ports", [])
        if not isinstance(ports, list) or not all(isinstance(p, dict) for p in ports):
            raise InvalidRequest("ports: must be a list of port mappings")
        preferred = body.get("preferred_address") or "UNKNOWN"
        if preferred not in PREFERRED_ADDRESSES:
            raise InvalidRequest("preferred_address: must be UNKNOWN, INSTANCE or HOST")
        for name in ("address", "instance_address", "availability_zone"):
            if not isinstance(body.get(name, ""), str):
                raise InvalidRequest(f"{name}: must be a string")
        was_running = lrp.state == RUNNING
        suspect = self.suspects.get(lrp.key)
        if suspect is not None and suspect.instance_guid == ig:
            self._set_suspect(lrp.key, None)  # the suspect itself (cannot be both)
        self._stop_suspect(lrp.key)  # replaced: the suspect goes
        self._hold(lrp, RUNNING, ig, cell)
        lrp.address = body.get("address", "")
        lrp.instance_address = body.get("instance_address", "")
        lrp.ports = [normalize_port_mapping(p) for p in ports]
        lrp.preferred_address = preferred
        lrp.availability_zone = body.get("availability_zone", "")
        if not was_running:
            lrp.since = self.clock()
        self._touch(lrp)
        return lrp

    def crash(self, body: Any) -> ActualLRP | None:
        """CF's crash rules (bbs ``db/sqldb/actual_lrp_db.go`` CrashActualLRP)."""
        body = _require(body, "process_guid", "index", "instance_guid")
        if self._ends_a_stop(body) or self._ends_a_suspect(body):
            return None
        lrp = self._lookup(body)
        if lrp.state not in (CLAIMED, RUNNING) or lrp.instance_guid != body["instance_guid"]:
            raise Conflict(f"cannot crash actual LRP in state {lrp.state} "
                           f"(instance {lrp.instance_guid or '-'})")
        now = self.clock()
        if lrp.state == RUNNING and now - lrp.since > self.crash_reset_ns:
            lrp.crash_count = 1
        else:
            lrp.crash_count += 1
        lrp.state = CRASHED
        lrp.crash_reason = str(body.get("crash_reason", ""))
        lrp.clear_instance()
        lrp.placement_cell_id = ""
        lrp.since = now
        if not self.is_desired(lrp):
            self._delete_actual(lrp.key)
            return None
        if self.calculator.should_restart_immediately(lrp.crash_count):
            lrp.state = UNCLAIMED
            self._place(lrp)
        self._touch(lrp)
        return lrp

    def remove(self, body: Any) -> ActualLRP | None:
        """The cell stopped an instance on purpose."""
        body = _require(body, "process_guid", "index", "instance_guid")
        if self._ends_a_stop(body) or self._ends_a_suspect(body):
            return None
        lrp = self._lookup(body)
        if lrp.instance_guid != body["instance_guid"]:
            raise Conflict("instance_guid: is not the actual LRP's current instance")
        if not self.is_desired(lrp):
            self._delete_actual(lrp.key)
            return None
        self._unclaim(lrp)
        return lrp

    def retire(self, body: Any) -> ActualLRP:
        """bbs ``RetireActualLRP`` (the CC's `DELETE /v2/apps/:guid/instances/:index`).

        The running instance is handed to its cell as a stop request and the index
        is re-placed at once: it comes back as a new instance, with a new guid.
        """
        body = _require(body, "process_guid", "index")
        lrp = self._lookup(body)
        if lrp.state in (CLAIMED, RUNNING) and lrp.cell_id:
            self._add_stop(StopRequest(lrp.cell_id, lrp.process_guid, lrp.index,
                                       lrp.instance_guid))
        self._unclaim(lrp)
        return lrp

    def _ends_a_stop(self, body: dict[str, Any]) -> bool:
        """Whether a cell's report is about an instance the BBS asked it to stop (a
        retired one): that stop request is done and dropped; the LRP is not touched."""
        for stop in self.stops:
            if (stop.process_guid, stop.index, stop.instance_guid) == (
                    body["process_guid"], body["index"], body["instance_guid"]):
                self._drop_stop(stop)
                return True
        return False

    # ---- cells -------------------------------------------------------------------------

    def heartbeat(self, cell_id: str, body: Any) -> CellPresence:
        if not isinstance(body, dict):
            raise InvalidRequest("body: must be a JSON object")
        if body.get("cell_id", cell_id) != cell_id:
            raise InvalidRequest("cell_id: does not match the URL")
        capacity = body.get("capacity") or {}
        if not isinstance(capacity, dict):
            raise InvalidRequest("capacity: must be an object")
        old = self.cells.get(cell_id)
        was_present = old is not None and self.is_present(old)
        cell = CellPresence(cell_id=cell_id, rep_address=str(body.get("rep_address", "")),
                            zone=str(body.get("zone", "")), capacity=capacity,
                            last_heartbeat_ns=self.clock())
        self.cells[cell_id] = cell
        if was_present and (old.rep_address, old.zone, old.capacity) == (
                cell.rep_address, cell.zone, cell.capacity):
            self.dirty.add(("cell", cell_id))  # the lease renewed: nothing to see
        else:
            self._mark(("cell", cell_id))
        if not was_present:
            self._restore_suspects(cell_id)
            self._place_unplaced()
        return cell

    def _place_unplaced(self) -> None:
        for lrp in self.actual.values():
            if lrp.state == UNCLAIMED and not lrp.placement_cell_id:
                self._place(lrp)
                if lrp.placement_cell_id:
                    self._touch(lrp)

    def work(self, cell_id: str) -> dict[str, list[dict[str, Any]]]:
        """What the rep on ``cell_id`` should start and stop now."""
        to_start, to_stop = [], []
        for key in sorted(self.actual):
            lrp = self.actual[key]
            if lrp.state == UNCLAIMED and lrp.placement_cell_id == cell_id:
                d = self.desired.get(lrp.process_guid)
                if d is not None and self.is_desired(lrp):
                    to_start.append({"desired_lrp": d, "actual_lrp": lrp.to_json()})
            elif (lrp.state in (CLAIMED, RUNNING) and lrp.cell_id == cell_id
                  and not self.is_desired(lrp)):
                to_stop.append({"process_guid": lrp.process_guid, "index": lrp.index,
                                "instance_guid": lrp.instance_guid})
        for stop in sorted(self.stops, key=lambda s: (s.process_guid, s.index, s.instance_guid)):
            if stop.cell_id == cell_id:
                to_stop.append(stop.to_json())
        return {"to_start": to_start, "to_stop": to_stop}

    # ---- convergence -------------------------------------------------------------------

    def lost_cells(self) -> set[str]:
        """Cells that have work recorded against them but whose presence has expired."""
        present = {c.cell_id for c in self.present_cells()}
        lost = set()
        for lrp in self.actual.values():
            cell = lrp.cell_id if lrp.state in (CLAIMED, RUNNING) else (
                lrp.placement_cell_id if lrp.state == UNCLAIMED else "")
            if cell and cell not in present:
                lost.add(cell)
        return lost

    def converge(self) -> None:
        """bbs ``ConvergeLRPs``: restart due crashes, re-place lost work, fill gaps."""
        now = self.clock()
        present = {c.cell_id for c in self.present_cells()}
        for lrp in list(self.actual.values()):
            if not self.is_desired(lrp):
                if lrp.state in (UNCLAIMED, CRASHED):
                    self._delete_actual(lrp.key)
                elif lrp.cell_id not in present:
                    self._delete_actual(lrp.key)  # nobody is left to stop it
                continue
            if lrp.state == RUNNING and lrp.cell_id not in present:
                self._suspect(lrp)
            elif lrp.state == CLAIMED and lrp.cell_id not in present:
                self._add_stop(StopRequest(lrp.cell_id, lrp.process_guid, lrp.index,
                                           lrp.instance_guid))
                self._unclaim(lrp)
            elif lrp.state == UNCLAIMED and lrp.placement_cell_id not in present:
                before = (lrp.placement_cell_id, lrp.placement_error)
                self._place(lrp)
                if (lrp.placement_cell_id, lrp.placement_error) != before:
                    self._touch(lrp)
            elif lrp.state == CRASHED and self.calculator.should_restart(
                    now, lrp.since, lrp.crash_count):
                self._unclaim(lrp)
        for key, suspect in list(self.suspects.items()):
            if not self.is_desired(suspect):
                self._stop_suspect(key)
            elif suspect.cell_id in present:  # back, and its heartbeat did not restore it
                self._restore_suspects(suspect.cell_id)
        for pg in list(self.desired):
            self._create_missing(pg)
        for cell_id in [c for c in self.cells if c not in present]:
            if now >= self.cells[cell_id].last_heartbeat_ns + 10 * self.cell_ttl_ns:
                del self.cells[cell_id]  # long gone: forget it and what it ran
                self._mark(("cell", cell_id))
                for stop in [s for s in self.stops if s.cell_id == cell_id]:
                    self._drop_stop(stop)
                for key in [k for k, a in self.suspects.items() if a.cell_id == cell_id]:
                    self._set_suspect(key, None)
