"""The broker's CredHub client: mutual TLS with its own certificate (actor uaa-client:...)."""

from __future__ import annotations

import http.client
import json
import ssl
from typing import Any
from urllib.parse import quote, urlsplit


class CredHubError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"CredHub answered {status}: {message}")
        self.status = status


class CredHubClient:
    def __init__(self, url: str, cert_file: str, key_file: str, ca_file: str = "",
                 timeout: float = 10.0) -> None:
        u = urlsplit(url)
        self.host, self.port = u.hostname or "localhost", u.port or 443
        self.timeout = timeout
        self.ctx = ssl.create_default_context(cafile=ca_file or None)
        self.ctx.load_cert_chain(cert_file, key_file)

    def _call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                           timeout=self.timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return resp.status, parsed

    @staticmethod
    def _check(status: int, body: Any, ok: tuple[int, ...] = (200, 201, 204)) -> Any:
        if status not in ok:
            msg = body.get("error") if isinstance(body, dict) else None
            raise CredHubError(status, str(msg or "no error text"))
        return body

    def put_json(self, name: str, value: dict[str, Any]) -> dict[str, Any]:
        return self._check(*self._call("PUT", "/api/v1/data",
                                       {"name": name, "type": "json", "value": value}))

    def delete(self, name: str) -> bool:
        """True if deleted, False if it was not there."""
        status, body = self._call("DELETE", f"/api/v1/data?name={quote(name, safe='/')}")
        if status == 404:
            return False
        self._check(status, body)
        return True

    def grant(self, path: str, actor: str, operations: list[str]) -> dict[str, Any]:
        status, body = self._call("POST", "/api/v2/permissions",
                                  {"path": path, "actor": actor, "operations": operations})
        if status == 409:  # already granted (a retried bind): look it up
            return self.find_permission(path, actor) or {}
        return self._check(status, body)

    def find_permission(self, path: str, actor: str) -> dict[str, Any] | None:
        status, body = self._call("GET", f"/api/v2/permissions?path={quote(path, safe='/')}"
                                         f"&actor={quote(actor, safe='')}")
        if status == 404:
            return None
        return self._check(status, body)

    def revoke(self, permission_uuid: str) -> bool:
        status, body = self._call("DELETE", f"/api/v2/permissions/{quote(permission_uuid)}")
        if status == 404:
            return False
        self._check(status, body)
        return True
