"""SQLite persistence: a BBS restart loses nothing.

Each record is a JSON blob keyed like the state's dicts; ``flush`` writes only what
the state marked dirty, in one transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3

from foundry.bbs.models import ActualLRP, CellPresence, StopRequest
from foundry.bbs.state import BBSState

SCHEMA = """
CREATE TABLE IF NOT EXISTS desired_lrps (process_guid TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS actual_lrps (process_guid TEXT, idx INTEGER, data TEXT NOT NULL,
                                        PRIMARY KEY (process_guid, idx));
CREATE TABLE IF NOT EXISTS suspect_lrps (process_guid TEXT, idx INTEGER, data TEXT NOT NULL,
                                         PRIMARY KEY (process_guid, idx));
CREATE TABLE IF NOT EXISTS cells (cell_id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stops (cell_id TEXT, process_guid TEXT, idx INTEGER,
                                  instance_guid TEXT,
                                  PRIMARY KEY (cell_id, process_guid, idx, instance_guid));
"""


class Store:
    def __init__(self, path: str) -> None:
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def load(self, state: BBSState) -> None:
        for (data,) in self.db.execute("SELECT data FROM desired_lrps"):
            d = json.loads(data)
            state.desired[d["process_guid"]] = d
        for (data,) in self.db.execute("SELECT data FROM actual_lrps"):
            lrp = ActualLRP.from_record(json.loads(data))
            state.actual[lrp.key] = lrp
        for (data,) in self.db.execute("SELECT data FROM suspect_lrps"):
            lrp = ActualLRP.from_record(json.loads(data))
            state.suspects[lrp.key] = lrp
        for (data,) in self.db.execute("SELECT data FROM cells"):
            cell = CellPresence.from_record(json.loads(data))
            state.cells[cell.cell_id] = cell
        for row in self.db.execute(
                "SELECT cell_id, process_guid, idx, instance_guid FROM stops"):
            state.stops.add(StopRequest(*row))
        state.dirty.clear()

    def flush(self, state: BBSState) -> None:
        if not state.dirty:
            return
        dirty, state.dirty = state.dirty, set()
        with self.db:
            self.db.execute("BEGIN")
            for kind, key in dirty:
                getattr(self, f"_write_{kind}")(state, key)

    def _write_desired(self, state: BBSState, pg: str) -> None:
        d = state.desired.get(pg)
        if d is None:
            self.db.execute("DELETE FROM desired_lrps WHERE process_guid=?", (pg,))
        else:
            self.db.execute("INSERT OR REPLACE INTO desired_lrps VALUES (?, ?)",
                            (pg, json.dumps(d)))

    def _write_actual(self, state: BBSState, key: tuple[str, int]) -> None:
        self._write_lrp("actual_lrps", state.actual.get(key), key)

    def _write_suspect(self, state: BBSState, key: tuple[str, int]) -> None:
        self._write_lrp("suspect_lrps", state.suspects.get(key), key)

    def _write_lrp(self, table: str, lrp: ActualLRP | None, key: tuple[str, int]) -> None:
        if lrp is None:
            self.db.execute(f"DELETE FROM {table} WHERE process_guid=? AND idx=?", key)
        else:
            self.db.execute(f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?)",
                            (key[0], key[1], json.dumps(lrp.to_record())))

    def _write_cell(self, state: BBSState, cell_id: str) -> None:
        cell = state.cells.get(cell_id)
        if cell is None:
            self.db.execute("DELETE FROM cells WHERE cell_id=?", (cell_id,))
        else:
            self.db.execute("INSERT OR REPLACE INTO cells VALUES (?, ?)",
                            (cell_id, json.dumps(cell.to_record())))

    def _write_stop(self, state: BBSState, stop: StopRequest) -> None:
        row = (stop.cell_id, stop.process_guid, stop.index, stop.instance_guid)
        if stop in state.stops:
            self.db.execute("INSERT OR REPLACE INTO stops VALUES (?, ?, ?, ?)", row)
        else:
            self.db.execute("DELETE FROM stops WHERE cell_id=? AND process_guid=? AND idx=? "
                            "AND instance_guid=?", row)

    def close(self) -> None:
        self.db.close()
