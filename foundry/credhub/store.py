"""SQLite persistence for credential versions and v2 permissions."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS credentials (seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL, value TEXT NOT NULL,
    version_created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS credentials_name ON credentials (name);
CREATE TABLE IF NOT EXISTS permissions (uuid TEXT PRIMARY KEY, path TEXT NOT NULL,
    actor TEXT NOT NULL, operations TEXT NOT NULL, UNIQUE (path, actor));
"""


def now_iso() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


class Store:
    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.lock = threading.RLock()
        with self.lock:
            self.conn.executescript(SCHEMA)

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    @staticmethod
    def _cred(row: sqlite3.Row) -> dict[str, Any]:
        return {"type": row["type"], "version_created_at": row["version_created_at"],
                "id": row["id"], "name": row["name"], "value": json.loads(row["value"])}

    @staticmethod
    def _perm(row: sqlite3.Row) -> dict[str, Any]:
        return {"uuid": row["uuid"], "path": row["path"], "actor": row["actor"],
                "operations": json.loads(row["operations"])}

    # ---- credentials ----

    def add_version(self, name: str, type_: str, value: Any) -> dict[str, Any]:
        cid = str(uuid.uuid4())
        with self.lock:
            self.conn.execute("INSERT INTO credentials (id, name, type, value, version_created_at)"
                              " VALUES (?, ?, ?, ?, ?)",
                              (cid, name, type_, json.dumps(value), now_iso()))
            row = self.conn.execute("SELECT * FROM credentials WHERE id = ?", (cid,)).fetchone()
        return self._cred(row)

    def versions(self, name: str, limit: int | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM credentials WHERE name = ? ORDER BY seq DESC"
        args: tuple[Any, ...] = (name,)
        if limit is not None:
            sql += " LIMIT ?"
            args += (limit,)
        with self.lock:
            return [self._cred(r) for r in self.conn.execute(sql, args).fetchall()]

    def latest(self, name: str) -> dict[str, Any] | None:
        found = self.versions(name, 1)
        return found[0] if found else None

    def by_id(self, cid: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.conn.execute("SELECT * FROM credentials WHERE id = ?", (cid,)).fetchone()
        return self._cred(row) if row else None

    def names(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT name, MAX(version_created_at) AS v FROM credentials GROUP BY name "
                "ORDER BY v DESC").fetchall()
        return [{"name": r["name"], "version_created_at": r["v"]} for r in rows]

    def delete_credential(self, name: str) -> int:
        with self.lock:
            return self.conn.execute("DELETE FROM credentials WHERE name = ?", (name,)).rowcount

    # ---- permissions ----

    def permissions(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self._perm(r) for r in self.conn.execute(
                "SELECT * FROM permissions").fetchall()]

    def permission(self, path: str, actor: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.conn.execute("SELECT * FROM permissions WHERE path = ? AND actor = ?",
                                    (path, actor)).fetchone()
        return self._perm(row) if row else None

    def permission_by_uuid(self, puid: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.conn.execute("SELECT * FROM permissions WHERE uuid = ?",
                                    (puid,)).fetchone()
        return self._perm(row) if row else None

    def put_permission(self, path: str, actor: str, operations: list[str]) -> dict[str, Any]:
        """Insert, or replace the operations of the existing (path, actor) entry."""
        with self.lock:
            existing = self.permission(path, actor)
            if existing:
                self.conn.execute("UPDATE permissions SET operations = ? WHERE uuid = ?",
                                  (json.dumps(operations), existing["uuid"]))
                return {**existing, "operations": operations}
            puid = str(uuid.uuid4())
            self.conn.execute("INSERT INTO permissions (uuid, path, actor, operations) "
                              "VALUES (?, ?, ?, ?)", (puid, path, actor, json.dumps(operations)))
            return {"uuid": puid, "path": path, "actor": actor, "operations": operations}

    def delete_permission(self, puid: str) -> None:
        with self.lock:
            self.conn.execute("DELETE FROM permissions WHERE uuid = ?", (puid,))
