"""The CC's Open Service Broker API v2 client (catalog, provision, bind, unbind, deprovision)."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

from foundry.cloud_controller.errors import CCError

API_VERSION = "2.15"
CATALOG_TTL = 30.0


class BrokerClient:
    def __init__(self, url: str, username: str, password: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self._catalog: tuple[float, dict[str, Any]] | None = None

    def call(self, method: str, path: str, body: Any = None,
             ok: tuple[int, ...] = (200, 201)) -> tuple[int, dict[str, Any]]:
        if not self.url:
            raise CCError("ServiceBrokerBadResponse", "no service broker is configured")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": self.auth, "X-Broker-API-Version": API_VERSION,
            "Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        except (urllib.error.URLError, OSError) as e:
            raise CCError("ServiceBrokerBadResponse",
                          f"The service broker could not be reached: {self.url}: "
                          f"{getattr(e, 'reason', e)}") from e
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {}
        if status not in ok:
            desc = parsed.get("description") if isinstance(parsed, dict) else None
            raise CCError("ServiceBrokerBadResponse",
                          f"Service broker error: {desc or 'status ' + str(status)}")
        return status, parsed if isinstance(parsed, dict) else {}

    def catalog(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._catalog and now - self._catalog[0] < CATALOG_TTL:
            return self._catalog[1]
        _, cat = self.call("GET", "/v2/catalog", ok=(200,))
        self._catalog = (now, cat)
        return cat

    def plan(self, plan_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        for svc in self.catalog().get("services", []):
            for plan in svc.get("plans", []):
                if plan.get("id") == plan_id:
                    return svc, plan
        return None

    def provision(self, iid: str, service_id: str, plan_id: str, org: str, space: str) -> None:
        self.call("PUT", f"/v2/service_instances/{iid}", {
            "service_id": service_id, "plan_id": plan_id, "organization_guid": org,
            "space_guid": space, "context": {"platform": "cloudfoundry",
                                             "organization_guid": org, "space_guid": space}})

    def deprovision(self, iid: str, service_id: str, plan_id: str) -> None:
        q = urlencode({"service_id": service_id, "plan_id": plan_id})
        self.call("DELETE", f"/v2/service_instances/{iid}?{q}", ok=(200, 410))

    def bind(self, iid: str, bid: str, service_id: str, plan_id: str,
             app_guid: str) -> dict[str, Any]:
        _, body = self.call("PUT", f"/v2/service_instances/{iid}/service_bindings/{bid}", {
            "service_id": service_id, "plan_id": plan_id, "app_guid": app_guid,
            "bind_resource": {"app_guid": app_guid}})
        creds = body.get("credentials") or {}
        if not isinstance(creds, dict):
            raise CCError("ServiceBrokerBadResponse", "credentials must be an object")
        return creds

    def unbind(self, iid: str, bid: str, service_id: str, plan_id: str) -> None:
        q = urlencode({"service_id": service_id, "plan_id": plan_id})
        self.call("DELETE", f"/v2/service_instances/{iid}/service_bindings/{bid}?{q}",
                  ok=(200, 410))
