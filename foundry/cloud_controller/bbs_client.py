"""A small blocking client for the BBS's HTTP JSON API; maps failures to CC errors."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from foundry.cloud_controller.errors import CCError


class BBSClient:
    def __init__(self, address: str, timeout: float = 10.0) -> None:
        self.base = address.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None,
              ok_missing: bool = False) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            if e.code == 404 and ok_missing:
                return None
            try:
                message = json.loads(e.read()).get("error", "")
            except (ValueError, AttributeError):
                message = ""
            raise CCError("RunnerError", f"BBS {method} {path}: {e.code} {message}".strip()) from e
        except (urllib.error.URLError, OSError) as e:
            raise CCError("RunnerUnavailable", f"cannot reach the BBS at {self.base}: "
                          f"{getattr(e, 'reason', e)}") from e

    def desire(self, lrp: dict[str, Any]) -> None:
        self._call("POST", "/v1/desired_lrps", lrp)

    def get_desired(self, pg: str) -> dict[str, Any] | None:
        return self._call("GET", f"/v1/desired_lrps/{urllib.parse.quote(pg)}", ok_missing=True)

    def update(self, pg: str, changes: dict[str, Any]) -> None:
        self._call("PATCH", f"/v1/desired_lrps/{urllib.parse.quote(pg)}", changes)

    def remove(self, pg: str) -> None:
        """Idempotent: a desired LRP already gone is fine."""
        self._call("DELETE", f"/v1/desired_lrps/{urllib.parse.quote(pg)}", ok_missing=True)

    def retire(self, pg: str, index: int) -> None:
        self._call("POST", "/v1/actual_lrps/retire", {"process_guid": pg, "index": index})

    def actual(self, pg: str) -> list[dict[str, Any]]:
        q = urllib.parse.urlencode({"process_guid": pg})
        return self._call("GET", f"/v1/actual_lrps?{q}") or []

    def list_desired(self, domain: str = "cf-apps") -> list[dict[str, Any]]:
        q = urllib.parse.urlencode({"domain": domain})
        return self._call("GET", f"/v1/desired_lrps?{q}") or []
