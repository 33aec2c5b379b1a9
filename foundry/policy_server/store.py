"""Policies kept in the Cloud Controller's SQLite database, beside the apps they name:
cf-deployment gives the policy server its own database, but both survive a restart the
same way, which is what a user sees."""

from __future__ import annotations

import sqlite3
import threading

from foundry.policy_server.policies import Policy

SCHEMA = """
CREATE TABLE IF NOT EXISTS network_policies (source_id TEXT NOT NULL,
    destination_id TEXT NOT NULL, protocol TEXT NOT NULL, start_port INTEGER NOT NULL,
    end_port INTEGER NOT NULL, created_at REAL NOT NULL DEFAULT (julianday('now')),
    PRIMARY KEY (source_id, destination_id, protocol, start_port, end_port));
"""


class PolicyStore:
    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock) -> None:
        self.conn, self.lock = conn, lock
        with self.lock:
            self.conn.executescript(SCHEMA)

    def all(self) -> list[Policy]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT source_id, destination_id, protocol, start_port, end_port "
                "FROM network_policies").fetchall()
        return sorted(Policy(*tuple(r)) for r in rows)

    def add(self, policies: list[Policy]) -> None:
        """Idempotent, as the policy server's create: an existing policy is kept."""
        self._each("INSERT OR IGNORE INTO network_policies (source_id, destination_id, protocol,"
                   " start_port, end_port) VALUES (?, ?, ?, ?, ?)", policies)

    def delete(self, policies: list[Policy]) -> None:
        """Idempotent too: deleting a policy that is not there is fine."""
        self._each("DELETE FROM network_policies WHERE source_id = ? AND destination_id = ? AND "
                   "protocol = ? AND start_port = ? AND end_port = ?", policies)

    def _each(self, sql: str, policies: list[Policy]) -> None:
        with self.lock:
            self.conn.executemany(sql, [(p.source_id, p.destination_id, p.protocol, p.start,
                                         p.end) for p in policies])
