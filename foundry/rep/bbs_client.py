"""The rep's calls to the BBS (plain HTTP JSON)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class BBSError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"BBS answered {status}: {message}")
        self.status = status


class BBSClient:
    def __init__(self, address: str, timeout: float = 10.0) -> None:
        self.address = address.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.address + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise BBSError(exc.code, exc.read().decode(errors="replace")) from None
        return json.loads(raw) if raw else None

    def heartbeat(self, cell_id: str, rep_address: str, zone: str, containers: int) -> None:
        self._call("POST", f"/v1/cells/{cell_id}/presence", {
            "cell_id": cell_id, "rep_address": rep_address, "zone": zone,
            "capacity": {"containers": containers}})

    def work(self, cell_id: str) -> dict[str, list[dict]]:
        return self._call("GET", f"/v1/cells/{cell_id}/work")

    def actual_lrps(self, cell_id: str) -> list[dict]:
        return self._call("GET", f"/v1/actual_lrps?cell_id={cell_id}")

    def wait_for_change(self, after: int, timeout: float) -> int:
        """Block until the BBS state changes past version `after` (at most `timeout`)."""
        path = f"/v1/events?after={after}&timeout={timeout:.3f}"
        return int(self._call("GET", path)["version"])

    def lifecycle(self, action: str, **fields: Any) -> Any:
        """claim / start / crash / remove an actual LRP."""
        return self._call("POST", f"/v1/actual_lrps/{action}", fields)
