"""The one client of the BBS's HTTP JSON API, for every job and tool that talks to it.

The rep, the route emitter, the Cloud Controller, cfdot, the scenarios and the tests all
call the same endpoints; one client means one place for timeouts, error mapping and the
mutual TLS diego-release's BBS demands (`client_tls`: the foundation's CA to check the
BBS, and the caller's own client certificate). Standard library only: it runs in the
platform image on every cell, where each extra package costs image size for all jobs.

Each thread keeps one connection open (`foundry.keepalive`), as Go's http.Client does
for the real BBS clients. A new connection per call, as urllib makes, cost a full
RSA-2048 mutual-TLS handshake per request: measured on an idle foundation with three
instances, ~27 handshakes a second into the BBS (reps, route emitters, dashboard) and
15.8% of a core in the BBS alone.
"""

from __future__ import annotations

import http.client
import json
import ssl
import urllib.parse
from typing import Any

from foundry.keepalive import KeptConnection


class BBSError(RuntimeError):
    """The BBS answered with an error status; `message` is its `error` text when it gave one."""

    def __init__(self, status: int, message: str, method: str = "", path: str = "") -> None:
        super().__init__(f"BBS answered {status}: {message}")
        self.status, self.message, self.method, self.path = status, message, method, path


class BBSUnavailable(ConnectionError):
    """The BBS could not be reached (refused, timed out, name not resolved); an OSError,
    as the socket error it stands for, so callers that retry on OSError keep doing so."""


def _error_text(raw: bytes) -> str:
    try:
        doc = json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace").strip()
    return str(doc.get("error", "")) if isinstance(doc, dict) else ""


def _query(**params: Any) -> str:
    q = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None and v != ""})
    return f"?{q}" if q else ""


def client_tls(ca_file: str, cert_file: str, key_file: str) -> ssl.SSLContext:
    """A BBS client's TLS: the BBS's certificate checked against `ca_file` (name and
    chain), ours from `cert_file`/`key_file`. OSError/ssl.SSLError name a bad file."""
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


class BBSClient:
    def __init__(self, address: str, timeout: float = 10.0,
                 tls: ssl.SSLContext | None = None) -> None:
        self.address = address.rstrip("/")
        self.timeout = timeout
        self.tls = tls
        try:
            self._conn = KeptConnection.for_url(self.address, tls)
        except ValueError:
            raise ValueError(f"{address}: not an http(s) URL of the BBS") from None

    @classmethod
    def from_files(cls, address: str, ca_file: str = "", cert_file: str = "",
                   key_file: str = "", timeout: float = 10.0) -> BBSClient:
        """A client as the jobs configure it: https with the three files, else plain."""
        tls = None
        if address.startswith("https:"):
            if not (ca_file and cert_file and key_file):
                raise ValueError(f"{address}: the BBS's mutual TLS needs a CA file, a client"
                                 " certificate and its key")
            tls = client_tls(ca_file, cert_file, key_file)
        return cls(address, timeout, tls)

    def close(self) -> None:
        """Close this thread's kept connection (the next call opens a new one)."""
        self._conn.close()

    def _exchange(self, method: str, path: str, data: bytes | None,
                  timeout: float) -> tuple[int, bytes]:
        try:
            return self._conn.exchange(method, path, data,
                                       {"Content-Type": "application/json"}, timeout)
        except (OSError, http.client.HTTPException) as e:
            raise BBSUnavailable(f"cannot reach the BBS at {self.address}: {e}") from e

    def call(self, method: str, path: str, body: Any = None, *, ok_missing: bool = False,
             timeout: float | None = None) -> Any:
        """The decoded JSON answer (None for an empty body, or a 404 when `ok_missing`)."""
        data = json.dumps(body).encode() if body is not None else None
        status, raw = self._exchange(method, path, data, timeout or self.timeout)
        if status >= 400:
            if status == 404 and ok_missing:
                return None
            raise BBSError(status, _error_text(raw), method, path)
        return json.loads(raw) if raw else None

    # -- desired LRPs (the Cloud Controller's side) ------------------------------------
    def desire(self, lrp: dict[str, Any]) -> Any:
        return self.call("POST", "/v1/desired_lrps", lrp)

    def desired_lrp(self, process_guid: str) -> dict[str, Any] | None:
        return self.call("GET", f"/v1/desired_lrps/{urllib.parse.quote(process_guid)}",
                         ok_missing=True)

    def desired_lrps(self, domain: str | None = None) -> list[dict[str, Any]]:
        return self.call("GET", "/v1/desired_lrps" + _query(domain=domain)) or []

    def update_desired(self, process_guid: str, changes: dict[str, Any]) -> Any:
        return self.call("PATCH", f"/v1/desired_lrps/{urllib.parse.quote(process_guid)}",
                         changes)

    def remove_desired(self, process_guid: str) -> None:
        """Idempotent: a desired LRP already gone is fine."""
        self.call("DELETE", f"/v1/desired_lrps/{urllib.parse.quote(process_guid)}",
                  ok_missing=True)

    # -- actual LRPs and cells ----------------------------------------------------------
    def actual_lrps(self, *, cell_id: str | None = None, process_guid: str | None = None,
                    domain: str | None = None, index: int | None = None
                    ) -> list[dict[str, Any]]:
        q = _query(cell_id=cell_id, process_guid=process_guid, domain=domain, index=index)
        return self.call("GET", "/v1/actual_lrps" + q) or []

    def cells(self) -> list[dict[str, Any]]:
        return self.call("GET", "/v1/cells") or []

    # -- the rep's side -----------------------------------------------------------------
    def heartbeat(self, cell_id: str, rep_address: str, zone: str, containers: int) -> None:
        self.call("POST", f"/v1/cells/{cell_id}/presence", {
            "cell_id": cell_id, "rep_address": rep_address, "zone": zone,
            "capacity": {"containers": containers}})

    def work(self, cell_id: str) -> dict[str, list[dict]]:
        return self.call("GET", f"/v1/cells/{cell_id}/work")

    def lifecycle(self, action: str, **fields: Any) -> Any:
        """claim / start / crash / remove an actual LRP."""
        return self.call("POST", f"/v1/actual_lrps/{action}", fields)

    def wait_for_change(self, after: int, timeout: float) -> int:
        """Block until the BBS state changes past version `after` (at most `timeout`):
        the stand-in for the BBS's event stream."""
        path = f"/v1/events?after={after}&timeout={timeout:.3f}"
        return int(self.call("GET", path, timeout=timeout + 5)["version"])
