"""CredHub's HTTP API as a pure function: (request, actor) → response.

Endpoints: ``/api/v1/data`` (set, get, get by id, delete, find by path),
``/api/v1/interpolate``, ``/api/v2/permissions``, ``/info``, ``/health``.
Error bodies are CredHub's ``{"error": "..."}`` with its texts. Nothing here logs
values: the ``note`` of a response is a value-free reason for the access log.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from foundry import httpapi
from foundry.credhub import permissions as perms
from foundry.credhub.auth import Actor
from foundry.credhub.store import Store

RESOURCE_NOT_FOUND = ("The request could not be completed because the credential does not "
                      "exist or you do not have sufficient authorization.")
BAD_REQUEST = ("The request could not be fulfilled because the request path or body did not "
               "meet expectation. Please check the documentation for required formatting and "
               "retry your request.")
MALFORMED_REFERENCE = "The credential reference is malformed. It must look like ((/name))."
NOT_JSON = "The credential type of the referenced credential must be json."
INVALID_TYPE = "The request does not include a valid type. Valid values include 'value', " \
               "'json', 'password'."
PERMISSION_NOT_FOUND = "The request could not be completed because the permission does not " \
                       "exist or you do not have sufficient authorization."
PERMISSION_EXISTS = "A permission entry for this actor and path already exists."
INVALID_OPERATION = "The provided operation is not supported. Valid values include read, " \
                    "write, delete, read_acl, and write_acl."
INVALID_PATH = "The provided path is invalid."

TYPES = ("value", "json", "password")
REFERENCE = re.compile(r"^\(\((?P<name>/?[^()]+)\)\)$")
MAX_VERSIONS = 100


class Request(httpapi.Request):
    def arg(self, key: str) -> str | None:
        values = self.query.get(key)
        return values[-1] if values else None


@dataclass
class Response:
    status: int
    body: Any = None
    note: str = ""  # value-free reason, for the log

    def encoded(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode()


def error(status: int, message: str, note: str = "") -> Response:
    return Response(status, {"error": message}, note or message)


class _Fail(Exception):
    def __init__(self, resp: Response) -> None:
        self.resp = resp


def normalize_name(name: str) -> str:
    return name if name.startswith("/") else "/" + name


class CredHubAPI:
    """``public`` routes need no actor; the rest do (the server answers 401 first)."""

    PUBLIC = ("/info", "/health", "/version")

    def __init__(self, store: Store, creators: frozenset[str] = frozenset()) -> None:
        self.store = store
        self.creators = creators  # actors that may create credentials without a grant

    # ---- helpers ----

    def can(self, actor: Actor, name: str, op: str) -> bool:
        return perms.allowed(self.store.permissions(), actor.name, name, op)

    @staticmethod
    def _json(req: Request) -> Any:
        try:
            return httpapi.parse_json(req.body or b"null")
        except ValueError as e:
            raise _Fail(error(400, BAD_REQUEST, "body is not JSON")) from e

    def _readable(self, actor: Actor, name: str) -> None:
        """404 if nothing is there, 403 if it is and the actor may not read it."""
        if self.store.latest(name) is None:
            raise _Fail(error(404, RESOURCE_NOT_FOUND, f"{name}: no such credential"))
        if not self.can(actor, name, "read"):
            raise _Fail(error(403, RESOURCE_NOT_FOUND, f"{name}: {actor.name} lacks read"))

    # ---- dispatch ----

    def handle(self, req: Request, actor: Actor | None) -> Response:
        path = req.path.rstrip("/") or "/"
        if path == "/info" and req.method == "GET":
            return Response(200, {"auth-server": {"url": ""}, "app": {"name": "CredHub"}})
        if path == "/health" and req.method == "GET":
            return Response(200, {"status": "UP"})
        if path == "/version" and req.method == "GET":
            return Response(200, {"version": "2.12.0-cflab"})
        assert actor is not None, "the server authenticates before calling handle()"
        try:
            if path == "/api/v1/data":
                fn = {"PUT": self.set, "GET": self.get, "DELETE": self.delete}.get(req.method)
            elif path.startswith("/api/v1/data/"):
                fn = self.get_by_id if req.method == "GET" else None
            elif path == "/api/v1/interpolate":
                fn = self.interpolate if req.method == "POST" else None
            elif path == "/api/v2/permissions":
                fn = {"POST": self.add_permission, "GET": self.find_permission}.get(req.method)
            elif path.startswith("/api/v2/permissions/"):
                fn = {"GET": self.get_permission, "DELETE": self.delete_permission,
                      "PUT": self.put_permission}.get(req.method)
            else:
                return error(404, "The request could not be completed because the path "
                             "does not exist.", f"no route {path}")
            if fn is None:
                return error(405, "The request method is not supported.", "method")
            return fn(req, actor)
        except _Fail as f:
            return f.resp

    # ---- /api/v1/data ----

    def set(self, req: Request, actor: Actor) -> Response:
        body = self._json(req)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) \
                or not body["name"].strip("/"):
            return error(400, "A credential name must be provided. Please validate your "
                         "input and retry your request.", "missing name")
        name = normalize_name(body["name"])
        if "//" in name or name.endswith("/"):
            return error(400, "A credential name cannot end with a '/' character or contain "
                         "'//'. Credential names should be in the form of /[path]/[name] or "
                         "[path]/[name]. Please update and retry your request.", "bad name")
        type_ = body.get("type")
        if type_ not in TYPES:
            return error(400, INVALID_TYPE, f"type {type_!r}")
        value = body.get("value")
        if type_ == "json" and not isinstance(value, dict):
            return error(400, "Value must be a JSON object.", "json value not an object")
        if type_ in ("value", "password") and (not isinstance(value, str) or not value):
            return error(400, "A non-empty value must be specified for the credential. Please "
                         "validate and retry your request.", "empty value")
        latest = self.store.latest(name)
        if latest is None:
            if not (actor.name in self.creators or self.can(actor, name, "write")):
                return error(403, RESOURCE_NOT_FOUND, f"{name}: {actor.name} may not create")
            cred = self.store.add_version(name, type_, value)
            granted = self.store.permission(name, actor.name)
            ops = sorted(set(perms.OPERATIONS) | set(granted["operations"] if granted else []),
                         key=perms.OPERATIONS.index)
            self.store.put_permission(name, actor.name, ops)
        else:
            if not self.can(actor, name, "write"):
                return error(403, RESOURCE_NOT_FOUND, f"{name}: {actor.name} lacks write")
            if latest["type"] != type_:
                return error(400, "The credential type cannot be modified. Please delete the "
                             "credential if you wish to create it with a different type.",
                             "type mismatch")
            cred = self.store.add_version(name, type_, value)
        return Response(200, cred, f"set {name} ({type_}) version {cred['id']}")

    def get(self, req: Request, actor: Actor) -> Response:
        name = req.arg("name")
        if name is None:
            prefix = req.arg("path")
            if prefix is None:
                return error(400, "The query parameter name is required for this request.",
                             "missing name")
            return self._find(prefix, actor)
        name = normalize_name(name)
        self._readable(actor, name)
        limit: int | None = None
        if (req.arg("current") or "").lower() == "true":
            limit = 1
        versions = req.arg("versions")
        if versions is not None:
            if limit == 1:
                return error(400, "The query parameters current and versions cannot be "
                             "provided in the same request.", "current+versions")
            if not versions.isdigit() or not 0 < int(versions) <= MAX_VERSIONS:
                return error(400, "The versions parameter must be a positive integer.",
                             "bad versions")
            limit = int(versions)
        return Response(200, {"data": self.store.versions(name, limit)}, f"get {name}")

    def _find(self, prefix: str, actor: Actor) -> Response:
        prefix = normalize_name(prefix).rstrip("/") + "/"
        found = [c for c in self.store.names() if c["name"].startswith(prefix)
                 and self.can(actor, c["name"], "read")]
        return Response(200, {"credentials": found}, f"find {prefix}")

    def get_by_id(self, req: Request, actor: Actor) -> Response:
        cid = req.path.rstrip("/").rsplit("/", 1)[-1]
        cred = self.store.by_id(cid)
        if cred is None:
            return error(404, RESOURCE_NOT_FOUND, f"id {cid}: not found")
        if not self.can(actor, cred["name"], "read"):
            return error(403, RESOURCE_NOT_FOUND, f"{cred['name']}: {actor.name} lacks read")
        return Response(200, cred, f"get {cred['name']} by id")

    def delete(self, req: Request, actor: Actor) -> Response:
        name = req.arg("name")
        if not name:
            return error(400, "The query parameter name is required for this request.",
                         "missing name")
        name = normalize_name(name)
        if self.store.latest(name) is None:
            return error(404, RESOURCE_NOT_FOUND, f"{name}: no such credential")
        if not self.can(actor, name, "delete"):
            return error(403, RESOURCE_NOT_FOUND, f"{name}: {actor.name} lacks delete")
        self.store.delete_credential(name)
        return Response(204, None, f"deleted {name}")

    # ---- /api/v1/interpolate ----

    def interpolate(self, req: Request, actor: Actor) -> Response:
        services = self._json(req)
        if not isinstance(services, dict):
            return error(400, BAD_REQUEST, "interpolate body not an object")
        names = []
        for entries in services.values():
            if not isinstance(entries, list):
                continue
            for entry in entries:
                creds = entry.get("credentials") if isinstance(entry, dict) else None
                if not isinstance(creds, dict):
                    continue
                ref = creds.get("credhub-ref", creds.get("credhub_ref"))
                if ref is None:
                    continue
                m = REFERENCE.match(ref) if isinstance(ref, str) else None
                if m is None:
                    return error(400, MALFORMED_REFERENCE, "malformed credhub-ref")
                name = normalize_name(m["name"].strip())
                self._readable(actor, name)
                latest = self.store.latest(name)
                assert latest is not None
                if latest["type"] != "json":
                    return error(400, NOT_JSON, f"{name}: type {latest['type']}")
                entry["credentials"] = latest["value"]
                names.append(name)
        return Response(200, services, f"interpolated {len(names)}: {', '.join(names)}")

    # ---- /api/v2/permissions ----

    def add_permission(self, req: Request, actor: Actor) -> Response:
        body = self._json(req)
        if not isinstance(body, dict):
            return error(400, BAD_REQUEST, "permission body not an object")
        path, target, ops = body.get("path"), body.get("actor"), body.get("operations")
        if not perms.valid_path(path):
            return error(400, INVALID_PATH, "bad path")
        if not isinstance(target, str) or not target:
            return error(400, "An actor must be specified.", "no actor")
        valid = perms.validate_operations(ops)
        if valid is None:
            return error(400, INVALID_OPERATION, "bad operations")
        if not self.can(actor, path, "write_acl"):
            return error(403, PERMISSION_NOT_FOUND, f"{path}: {actor.name} lacks write_acl")
        if self.store.permission(path, target) is not None:
            return error(409, PERMISSION_EXISTS, f"{path} {target}: exists")
        p = self.store.put_permission(path, target, valid)
        return Response(201, p, f"granted {','.join(valid)} on {path} to {target}")

    def find_permission(self, req: Request, actor: Actor) -> Response:
        path, target = req.arg("path"), req.arg("actor")
        if not path or not target:
            return error(400, "The query parameters path and actor are required.", "query")
        p = self.store.permission(path, target)
        if p is None or not self.can(actor, path, "read_acl"):
            return error(404, PERMISSION_NOT_FOUND, f"{path} {target}: not found/readable")
        return Response(200, p, f"permission {path} {target}")

    def _perm_by_path(self, req: Request, actor: Actor, op: str) -> dict[str, Any]:
        puid = req.path.rstrip("/").rsplit("/", 1)[-1]
        p = self.store.permission_by_uuid(puid)
        if p is None or not self.can(actor, p["path"], op):
            raise _Fail(error(404, PERMISSION_NOT_FOUND, f"permission {puid}: not found/{op}"))
        return p

    def get_permission(self, req: Request, actor: Actor) -> Response:
        return Response(200, self._perm_by_path(req, actor, "read_acl"), "permission")

    def delete_permission(self, req: Request, actor: Actor) -> Response:
        p = self._perm_by_path(req, actor, "write_acl")
        self.store.delete_permission(p["uuid"])
        return Response(200, p, f"revoked {p['path']} from {p['actor']}")

    def put_permission(self, req: Request, actor: Actor) -> Response:
        p = self._perm_by_path(req, actor, "write_acl")
        body = self._json(req)
        valid = perms.validate_operations(body.get("operations") if isinstance(body, dict)
                                          else None)
        if valid is None:
            return error(400, INVALID_OPERATION, "bad operations")
        if body.get("path", p["path"]) != p["path"] or body.get("actor", p["actor"]) != p["actor"]:
            return error(400, BAD_REQUEST, "path/actor change")
        return Response(200, self.store.put_permission(p["path"], p["actor"], valid),
                        f"updated {p['path']} {p['actor']}")
