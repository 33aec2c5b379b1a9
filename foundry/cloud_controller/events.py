"""The CC's audit events (``Repositories::AppEventRepository``) and the `API` log lines
it emits beside them (``VCAP::AppLogEmitter``).

Types are CC's: ``audit.app.create``, ``audit.app.update`` (v2 PUT, scale included),
``audit.app.restage``, ``audit.app.delete-request``, ``audit.app.map-route``,
``audit.app.unmap-route``, ``audit.service_binding.create`` / ``delete`` (their actee
is the binding, as on CF) and ``app.crash`` (actor: the app itself). Request bodies are
censored as CC censors them.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

from foundry.cloud_controller.db import DB, now_iso

CENSORED = ("environment_json", "command", "docker_credentials")
HIDDEN = "PRIVATE DATA HIDDEN"
CRASH_FIELDS = ("instance", "index", "cell_id", "exit_status", "exit_description", "reason")
MAX_DESCRIPTION = 5000  # CC's TruncationMixin
ADMIN = {"actor": "cflab-admin", "actor_type": "user", "actor_name": "admin",
         "actor_username": "admin"}


def censor(request: dict[str, Any]) -> dict[str, Any]:
    return {k: (HIDDEN if k in CENSORED else v) for k, v in request.items()}


def ruby_hash(d: dict[str, Any]) -> str:
    """How CC's log line prints a request: ``{"instances"=>2}``."""
    def value(v: Any) -> str:
        if isinstance(v, str):
            return f'"{v}"'
        if v is None:
            return "nil"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, dict):
            return ruby_hash(v)
        return str(v)
    return "{" + ", ".join(f'"{k}"=>{value(v)}' for k, v in d.items()) + "}"


def crash_metadata(payload: dict[str, Any]) -> dict[str, Any]:
    meta = {k: payload[k] for k in CRASH_FIELDS if k in payload}
    if isinstance(meta.get("exit_description"), str):
        meta["exit_description"] = meta["exit_description"][:MAX_DESCRIPTION]
    return meta


class EventRepository:
    def __init__(self, db: DB) -> None:
        self.db = db
        row = db.one("SELECT MAX(seq) AS seq FROM events")
        self._seq = itertools.count(int((row or {}).get("seq") or 0) + 1)
        self._lock = threading.Lock()

    def record(self, type_: str, app: dict[str, Any], space: dict[str, Any],
               metadata: dict[str, Any] | None = None, actor: dict[str, str] | None = None,
               actee: tuple[str, str, str] | None = None) -> dict[str, Any]:
        guid, kind, name = actee or (app["guid"], "app", app["name"])
        with self._lock:
            seq = next(self._seq)
        return self.db.insert("events", {
            "type": type_, **(actor or ADMIN), "actee": guid, "actee_type": kind,
            "actee_name": name, "timestamp": now_iso(), "metadata": metadata or {},
            "space_guid": space["guid"], "organization_guid": space["organization_guid"],
            "seq": seq})

    def crash(self, app: dict[str, Any], space: dict[str, Any],
              payload: dict[str, Any]) -> dict[str, Any]:
        actor = {"actor": app["guid"], "actor_type": "app", "actor_name": app["name"],
                 "actor_username": ""}
        return self.record("app.crash", app, space, crash_metadata(payload), actor)

    def list(self, filters: dict[str, list[str]], descending: bool = False) -> list[dict[str, Any]]:
        """v2 `q=` filters on actee, type (``type IN a,b``), space_guid, timestamp>…"""
        sql, args = "SELECT * FROM events WHERE 1=1", []
        for key, values in filters.items():
            for v in values:
                if key in ("actee", "type", "space_guid", "organization_guid", "actee_type"):
                    sql += f" AND {key} = ?"
                    args.append(v)
                elif key == "type IN":
                    types = v.split(",")
                    sql += f" AND type IN ({', '.join('?' for _ in types)})"
                    args.extend(types)
                elif key in ("timestamp>", "timestamp>=", "timestamp<", "timestamp<="):
                    sql += f" AND timestamp {key[9:]} ?"
                    args.append(v)
        sql += " ORDER BY seq " + ("DESC" if descending else "ASC")
        return self.db.all(sql, *args)


def v2_event(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("type", "actor", "actor_type", "actor_name", "actor_username", "actee",
            "actee_type", "actee_name", "timestamp", "metadata", "space_guid",
            "organization_guid")
    return {"metadata": {"guid": row["guid"], "url": f"/v2/events/{row['guid']}",
                         "created_at": row["created_at"], "updated_at": None},
            "entity": {k: row[k] for k in keys}}
