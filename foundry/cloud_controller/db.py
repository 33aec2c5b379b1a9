"""SQLite persistence for orgs, spaces, apps, domains, routes and service bindings.

Rows come back as plain dicts so the sans-IO parts (recipe, stats, presenters) never
see sqlite3. One connection guarded by a lock: the CC is small and writes are rare.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

DEFAULT_ORG = "cflab-org"
DEFAULT_SPACE = "dev"

SCHEMA = """
CREATE TABLE IF NOT EXISTS organizations (guid TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS spaces (guid TEXT PRIMARY KEY, name TEXT NOT NULL,
    organization_guid TEXT NOT NULL REFERENCES organizations(guid), created_at TEXT NOT NULL,
    UNIQUE (organization_guid, name));
CREATE TABLE IF NOT EXISTS apps (guid TEXT PRIMARY KEY, name TEXT NOT NULL,
    space_guid TEXT NOT NULL REFERENCES spaces(guid), state TEXT NOT NULL,
    instances INTEGER NOT NULL, memory INTEGER NOT NULL, disk_quota INTEGER NOT NULL,
    command TEXT, detected_start_command TEXT NOT NULL DEFAULT '',
    bits_sha256 TEXT, package_updated_at TEXT, version_guid TEXT,
    environment_json TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (space_guid, name));
CREATE TABLE IF NOT EXISTS domains (guid TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS routes (guid TEXT PRIMARY KEY, host TEXT NOT NULL,
    domain_guid TEXT NOT NULL REFERENCES domains(guid), path TEXT NOT NULL DEFAULT '',
    space_guid TEXT NOT NULL REFERENCES spaces(guid), created_at TEXT NOT NULL,
    UNIQUE (host, domain_guid, path));
CREATE TABLE IF NOT EXISTS route_mappings (guid TEXT PRIMARY KEY,
    app_guid TEXT NOT NULL REFERENCES apps(guid), route_guid TEXT NOT NULL REFERENCES routes(guid),
    created_at TEXT NOT NULL, UNIQUE (app_guid, route_guid));
CREATE TABLE IF NOT EXISTS service_instances (guid TEXT PRIMARY KEY, name TEXT NOT NULL,
    space_guid TEXT NOT NULL REFERENCES spaces(guid), label TEXT NOT NULL,
    plan TEXT NOT NULL, tags TEXT NOT NULL DEFAULT '[]', credentials TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL, service_guid TEXT, service_plan_guid TEXT,
    UNIQUE (space_guid, name));
CREATE TABLE IF NOT EXISTS service_bindings (guid TEXT PRIMARY KEY,
    app_guid TEXT NOT NULL REFERENCES apps(guid),
    service_instance_guid TEXT NOT NULL REFERENCES service_instances(guid),
    credentials TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL,
    UNIQUE (app_guid, service_instance_guid));
CREATE TABLE IF NOT EXISTS events (guid TEXT PRIMARY KEY, type TEXT NOT NULL,
    actor TEXT NOT NULL, actor_type TEXT NOT NULL, actor_name TEXT NOT NULL,
    actor_username TEXT NOT NULL DEFAULT '', actee TEXT NOT NULL, actee_type TEXT NOT NULL,
    actee_name TEXT NOT NULL, timestamp TEXT NOT NULL, metadata TEXT NOT NULL DEFAULT '{}',
    space_guid TEXT NOT NULL, organization_guid TEXT NOT NULL, created_at TEXT NOT NULL,
    seq INTEGER);
CREATE INDEX IF NOT EXISTS events_actee ON events (actee, seq);
"""

JSON_COLUMNS = ("environment_json", "tags", "credentials", "metadata")


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_guid() -> str:
    return str(uuid.uuid4())


class DB:
    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.lock = threading.RLock()
        with self.lock:
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.executescript(SCHEMA)
            cols = {r[1] for r in self.conn.execute("PRAGMA table_info(service_instances)")}
            for col in ("service_guid", "service_plan_guid"):  # databases from before brokers
                if col not in cols:
                    self.conn.execute(f"ALTER TABLE service_instances ADD COLUMN {col} TEXT")

    @contextmanager
    def tx(self) -> Iterator[DB]:
        """A transaction: all or nothing, so a failed request leaves nothing half-done."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    @staticmethod
    def _row(row: sqlite3.Row | None) -> dict[str, Any] | None:
        if row is None:
            return None
        out = dict(row)
        for col in JSON_COLUMNS:
            if col in out and isinstance(out[col], str):
                out[col] = json.loads(out[col])
        return out

    def all(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        with self.lock:
            return [self._row(r) for r in self.conn.execute(sql, args).fetchall()]  # type: ignore[misc]

    def one(self, sql: str, *args: Any) -> dict[str, Any] | None:
        with self.lock:
            return self._row(self.conn.execute(sql, args).fetchone())

    def insert(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        row = {"guid": new_guid(), "created_at": now_iso(), **row}
        values = [json.dumps(v) if k in JSON_COLUMNS else v for k, v in row.items()]
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self.lock:
            self.conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", values)
        return row

    def update(self, table: str, guid: str, changes: dict[str, Any]) -> None:
        if table == "apps":
            changes = {**changes, "updated_at": now_iso()}
        sets = ", ".join(f"{k} = ?" for k in changes)
        values = [json.dumps(v) if k in JSON_COLUMNS else v for k, v in changes.items()]
        with self.lock:
            self.conn.execute(f"UPDATE {table} SET {sets} WHERE guid = ?", [*values, guid])

    def delete(self, table: str, where: str, *args: Any) -> None:
        with self.lock:
            self.conn.execute(f"DELETE FROM {table} WHERE {where}", args)

    def seed(self, apps_domain: str) -> None:
        """The default org, space and shared domain, as a fresh cf-deployment has them."""
        with self.tx():
            org = self.one("SELECT * FROM organizations WHERE name = ?", DEFAULT_ORG)
            if org is None:
                org = self.insert("organizations", {"name": DEFAULT_ORG})
            if self.one("SELECT 1 FROM spaces WHERE organization_guid = ? AND name = ?",
                        org["guid"], DEFAULT_SPACE) is None:
                self.insert("spaces", {"name": DEFAULT_SPACE, "organization_guid": org["guid"]})
            if self.one("SELECT 1 FROM domains WHERE name = ?", apps_domain) is None:
                self.insert("domains", {"name": apps_domain})
