"""Classify one request through the router: intended, misrouted or error (sans-IO).

The identity app says who answered (``X-Cf-App-Name`` header, ``app_name`` in the
JSON body), so a misroute is a 200 whose answerer is not the app the route belongs
to. Anything else is an error, keyed by status and ``X-Cf-Routererror`` the way a
gorouter operator reads the access log.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

INTENDED, MISROUTED, ERROR = "intended", "misrouted", "error"
OUTCOMES = (INTENDED, MISROUTED, ERROR)


@dataclass(frozen=True)
class Sample:
    t: float                 # seconds since the mode's load started
    route: str               # the app the route belongs to
    outcome: str             # intended | misrouted | error
    status: int = 0          # 0: no HTTP response (connection error, timeout)
    reason: str = ""         # X-Cf-Routererror, or the client-side error
    answered_by: str = ""    # app name of the answerer
    instance_guid: str = ""
    cert_serial: str = ""
    latency: float = 0.0
    phase: str = ""          # the last `mark` before the request

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", 0, 0.0) or k in
                ("t", "route", "outcome", "status")}

    @property
    def error_key(self) -> str:
        """`503 no_endpoints`, `0 timeout`: how errors are counted and shown."""
        return f"{self.status} {self.reason}".strip()


def _header(headers: dict[str, str], name: str) -> str:
    lname = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lname), "")


def _body_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def classify(intended_app: str, status: int, headers: dict[str, str], body: bytes,
             t: float = 0.0, latency: float = 0.0, phase: str = "") -> Sample:
    """A Sample for an HTTP response to a request for `intended_app`'s route."""
    router_error = _header(headers, "X-Cf-Routererror")
    if status != 200 or router_error:
        return Sample(t, intended_app, ERROR, status, router_error or "app_error",
                      latency=latency, phase=phase)
    data = _body_json(body)
    answered_by = _header(headers, "X-Cf-App-Name") or str(data.get("app_name", ""))
    guid = _header(headers, "X-Cf-Instance-Guid") or str(data.get("instance_guid", ""))
    serial = str((data.get("certificate") or {}).get("serial", "")) \
        if isinstance(data.get("certificate"), dict) else ""
    if not answered_by:
        return Sample(t, intended_app, ERROR, status, "unidentified_answer", latency=latency,
                      phase=phase)
    outcome = INTENDED if answered_by == intended_app else MISROUTED
    return Sample(t, intended_app, outcome, status, "", answered_by, guid, serial, latency,
                  phase)


def failure(intended_app: str, exc: BaseException, t: float = 0.0, latency: float = 0.0,
            phase: str = "") -> Sample:
    """A Sample for a request that got no HTTP response."""
    name = type(exc).__name__
    reason = {"TimeoutError": "timeout", "timeout": "timeout",
              "ConnectionRefusedError": "connection_refused",
              "ConnectionResetError": "connection_reset",
              "RemoteDisconnected": "remote_disconnected"}.get(name, name)
    return Sample(t, intended_app, ERROR, 0, reason, latency=latency, phase=phase)
