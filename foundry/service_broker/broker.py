"""OSB API v2 logic: catalog, provision, bind (credentials to CredHub), unbind, deprovision.

``Broker.handle`` maps a parsed request to ``(status, body)``; CredHub is reached only
through the injected client (``credhub_client.CredHubClient`` or a fake in tests), and
the broker's own SQLite holds instance and binding records, never credential values.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import re
import secrets
import sqlite3
import threading
from typing import Any, Protocol
from urllib.parse import quote

log = logging.getLogger("service_broker")

SERVICE_ID = "6b0f1c2e-7a5d-4e4f-9c1a-cf1ab0d00001"
PLAN_ID = "6b0f1c2e-7a5d-4e4f-9c1a-cf1ab0d00002"
SERVICE_NAME = "cflab-db"
PLAN_NAME = "small"
MIN_API_VERSION = (2, 0)
ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (id TEXT PRIMARY KEY, service_id TEXT NOT NULL,
    plan_id TEXT NOT NULL, organization_guid TEXT, space_guid TEXT);
CREATE TABLE IF NOT EXISTS bindings (id TEXT PRIMARY KEY, instance_id TEXT NOT NULL,
    app_guid TEXT NOT NULL, credential_name TEXT NOT NULL, permission_uuid TEXT);
"""


def catalog() -> dict[str, Any]:
    return {"services": [{
        "id": SERVICE_ID, "name": SERVICE_NAME,
        "description": "A pretend database whose credentials are delivered through CredHub",
        "bindable": True, "plan_updateable": False, "tags": ["cflab", "credhub"],
        "metadata": {"displayName": "cflab DB", "shareable": False},
        "plans": [{"id": PLAN_ID, "name": PLAN_NAME, "description": "One pretend database",
                   "free": True, "bindable": True}],
    }]}


class CredHub(Protocol):
    def put_json(self, name: str, value: dict[str, Any]) -> dict[str, Any]: ...
    def delete(self, name: str) -> bool: ...
    def grant(self, path: str, actor: str, operations: list[str]) -> dict[str, Any]: ...
    def find_permission(self, path: str, actor: str) -> dict[str, Any] | None: ...
    def revoke(self, permission_uuid: str) -> bool: ...


def credential_name(broker_id: str, service_id: str, binding_id: str) -> str:
    return f"/c/{broker_id}/{service_id}/{binding_id}/credentials"


def generate_credentials(host: str, instance_id: str) -> dict[str, str]:
    username = "u" + secrets.token_hex(6)
    password = secrets.token_urlsafe(18)
    db = "db_" + re.sub(r"[^A-Za-z0-9]", "", instance_id)[:16]
    return {"uri": f"cflabdb://{username}:{quote(password, safe='')}@{host}:5432/{db}",
            "username": username, "password": password, "hostname": host, "port": "5432",
            "name": db}


def _err(status: int, error: str | None, description: str) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"description": description}
    if error:
        body["error"] = error
    return status, body


class Broker:
    def __init__(self, db_path: str, credhub: CredHub, username: str, password: str,
                 broker_id: str = "cflab-broker",
                 service_host: str = "cflab-db.service.cf.internal") -> None:
        self.conn = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.executescript(SCHEMA)
        self.lock = threading.RLock()
        self.credhub = credhub
        self.broker_id = broker_id
        self.service_host = service_host
        self._auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

    def close(self) -> None:
        self.conn.close()

    def _one(self, sql: str, *args: Any) -> dict[str, Any] | None:
        row = self.conn.execute(sql, args).fetchone()
        return dict(row) if row else None

    # ---- dispatch ----

    def handle(self, method: str, path: str, query: dict[str, str], body: bytes,
               headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        h = {k.lower(): v for k, v in headers.items()}
        if not hmac.compare_digest(h.get("authorization", ""), self._auth):
            return _err(401, None, "Unauthorized")
        version = h.get("x-broker-api-version", "")
        m = re.match(r"^(\d+)\.(\d+)", version)
        if not m or (int(m[1]), int(m[2])) < MIN_API_VERSION or int(m[1]) != 2:
            return _err(412, None, f"X-Broker-API-Version {version or '(missing)'} is not "
                        "supported; send 2.x")
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            return _err(400, "MalformedRequest", "body is not JSON")
        if not isinstance(data, dict):
            return _err(400, "MalformedRequest", "body must be a JSON object")
        parts = [p for p in path.split("/") if p]
        with self.lock:
            if parts == ["v2", "catalog"] and method == "GET":
                return 200, catalog()
            if len(parts) == 3 and parts[:2] == ["v2", "service_instances"]:
                if method == "PUT":
                    return self.provision(parts[2], data)
                if method == "DELETE":
                    return self.deprovision(parts[2], query)
                if method == "GET":
                    inst = self._one("SELECT * FROM instances WHERE id = ?", parts[2])
                    return (200, {"service_id": inst["service_id"], "plan_id": inst["plan_id"]}
                            ) if inst else _err(404, None, "no such instance")
            if len(parts) == 5 and parts[:2] == ["v2", "service_instances"] \
                    and parts[3] == "service_bindings":
                if method == "PUT":
                    return self.bind(parts[2], parts[4], data)
                if method == "DELETE":
                    return self.unbind(parts[2], parts[4], query)
        return _err(404, None, f"no route {method} {path}")

    # ---- operations ----

    def provision(self, iid: str, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not ID.match(iid):
            return _err(400, "MalformedRequest", "bad instance id")
        if data.get("service_id") != SERVICE_ID or data.get("plan_id") != PLAN_ID:
            return _err(400, "MalformedRequest", "unknown service_id or plan_id")
        existing = self._one("SELECT * FROM instances WHERE id = ?", iid)
        if existing:
            same = (existing["service_id"], existing["plan_id"]) == (data["service_id"],
                                                                    data["plan_id"])
            return (200, {}) if same else _err(409, None, "instance exists with other attributes")
        self.conn.execute("INSERT INTO instances VALUES (?, ?, ?, ?, ?)",
                          (iid, data["service_id"], data["plan_id"],
                           data.get("organization_guid"), data.get("space_guid")))
        log.info("provisioned instance %s", iid)
        return 201, {}

    def deprovision(self, iid: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if self._one("SELECT 1 AS x FROM instances WHERE id = ?", iid) is None:
            return 410, {}
        if self._one("SELECT 1 AS x FROM bindings WHERE instance_id = ?", iid):
            return _err(422, None, "instance still has bindings")  # CC unbinds first
        self.conn.execute("DELETE FROM instances WHERE id = ?", (iid,))
        log.info("deprovisioned instance %s", iid)
        return 200, {}

    def bind(self, iid: str, bid: str, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not ID.match(bid):
            return _err(400, "MalformedRequest", "bad binding id")
        inst = self._one("SELECT * FROM instances WHERE id = ?", iid)
        if inst is None:
            return _err(400, "MalformedRequest", f"instance {iid} does not exist")
        app_guid = (data.get("bind_resource") or {}).get("app_guid") or data.get("app_guid")
        if not isinstance(app_guid, str) or not app_guid:
            return _err(422, "RequiresApp", "This service supports generation of credentials "
                        "through binding an application only.")
        name = credential_name(self.broker_id, inst["service_id"], bid)
        ref = {"credentials": {"credhub-ref": f"(({name}))"}}
        existing = self._one("SELECT * FROM bindings WHERE id = ?", bid)
        if existing:
            if existing["app_guid"] == app_guid and existing["instance_id"] == iid:
                return 200, ref
            return _err(409, None, "binding exists with other attributes")
        self.credhub.put_json(name, generate_credentials(self.service_host, iid))
        actor = f"mtls-app:{app_guid}"
        perm = self.credhub.grant(name, actor, ["read"])
        self.conn.execute("INSERT INTO bindings VALUES (?, ?, ?, ?, ?)",
                          (bid, iid, app_guid, name, perm.get("uuid")))
        log.info("bound %s to app %s: stored %s, granted read to %s", iid, app_guid, name, actor)
        return 201, ref

    def unbind(self, iid: str, bid: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        b = self._one("SELECT * FROM bindings WHERE id = ? AND instance_id = ?", bid, iid)
        if b is None:
            return 410, {}
        actor = f"mtls-app:{b['app_guid']}"
        puid = b["permission_uuid"]
        if not puid:
            found = self.credhub.find_permission(b["credential_name"], actor)
            puid = found.get("uuid") if found else None
        if puid:
            self.credhub.revoke(puid)
        self.credhub.delete(b["credential_name"])
        self.conn.execute("DELETE FROM bindings WHERE id = ?", (bid,))
        log.info("unbound %s: deleted %s, revoked %s", bid, b["credential_name"], actor)
        return 200, {}
