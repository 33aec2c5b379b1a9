"""Envoy admin endpoints as pure functions of the proxy's state (sans-IO).

``handle`` maps a method and request target to a ``Response``; the HTTP
plumbing lives in ``server.py``. Formats follow Envoy's admin API so tools
written against a real sidecar (curl, scenario evidence dumps) work unchanged.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from . import stats as stats_fmt
from .model import Cluster, Listener, ResolvedTls

REDACTED = "[redacted]"


@dataclass
class Response:
    status: int
    body: str
    content_type: str = "text/plain; charset=UTF-8"
    after: Callable[[], None] | None = field(default=None, repr=False)


class AdminBackend(Protocol):
    draining: bool

    def server_info(self) -> dict: ...
    def stats_rows(self) -> list[tuple[str, int, str]]: ...
    def cluster_views(self) -> list[tuple[Cluster, dict[str, dict[str, int]]]]: ...
    def active_listeners(self) -> list[Listener]: ...
    def tls_contexts(self) -> list[ResolvedTls]: ...
    def config_dump(self) -> dict: ...
    def drain_listeners(self) -> None: ...
    def quit(self) -> None: ...


def redact(doc: object) -> object:
    """Copy of a config document with every private key replaced by ``[redacted]``."""
    doc = copy.deepcopy(doc)

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "private_key" and isinstance(value, dict):
                    for k in list(value):
                        value[k] = REDACTED
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(doc)
    return doc


def _json(data: object, status: int = 200) -> Response:
    """Indented as Envoy's admin prints it, with protobuf's escapes of < > & in strings."""
    text = json.dumps(data, indent=1).replace("<", "\\u003c").replace(">", "\\u003e")
    return Response(status, text.replace("&", "\\u0026") + "\n", "application/json")


# What Envoy reports for a cluster without circuit_breakers (neither layout sets them).
THRESHOLDS = {"max_connections": 1024, "max_pending_requests": 1024, "max_requests": 1024,
              "max_retries": 3}
HOST_GAUGES = frozenset({"cx_active", "rq_active", "rq_pending_active"})


def _clusters_text(views: list[tuple[Cluster, dict[str, dict[str, int]]]]) -> str:
    lines = []
    for cluster, hosts in views:
        name = cluster.name
        lines.append(f"{name}::observability_name::{name}")
        for priority in ("default_priority", "high_priority"):
            lines += [f"{name}::{priority}::{k}::{v}" for k, v in THRESHOLDS.items()]
        lines.append(f"{name}::added_via_api::false")
        for ep in cluster.endpoints:
            host = f"{name}::{ep}"
            for stat, value in sorted(hosts.get(str(ep), {}).items()):
                lines.append(f"{host}::{stat}::{value}")
            lines += [f"{host}::hostname::", f"{host}::health_flags::healthy",
                      f"{host}::weight::1", f"{host}::region::", f"{host}::zone::",
                      f"{host}::sub_zone::", f"{host}::canary::false",
                      f"{host}::priority::0", f"{host}::success_rate::-1.0",
                      f"{host}::local_origin_success_rate::-1.0"]
    return "".join(line + "\n" for line in lines)


def _host_stat(name: str, value: int) -> dict:
    """proto3 JSON, as Envoy prints it: a zero value and the COUNTER type are left out."""
    out: dict = {"name": name}
    if value:
        out["value"] = str(value)
    if name in HOST_GAUGES:
        out["type"] = "GAUGE"
    return out


def _clusters_json(views: list[tuple[Cluster, dict[str, dict[str, int]]]]) -> dict:
    statuses = []
    for cluster, hosts in views:
        host_statuses = []
        for ep in cluster.endpoints:
            host_statuses.append({
                "address": {"socket_address": {"address": ep.address, "port_value": ep.port}},
                "stats": [_host_stat(k, v) for k, v in sorted(hosts.get(str(ep), {}).items())],
                "health_status": {"eds_health_status": "HEALTHY"},
                "weight": 1,
                "locality": {},
            })
        statuses.append({"name": cluster.name, "host_statuses": host_statuses,
                         "circuit_breakers": {"thresholds": [
                             THRESHOLDS, {"priority": "HIGH", **THRESHOLDS}]},
                         "observability_name": cluster.name})
    return {"cluster_statuses": statuses}


def _split_target(target: str) -> tuple[str, dict[str, str]]:
    """Path and query of a request target (the last value wins for a repeated key)."""
    if target.startswith("/") and not target.startswith("//") and not any(
            c in target for c in "?#\t\r\n"):
        return target, {}  # what urlsplit gives for a plain path, without importing urllib
    from urllib.parse import parse_qs, urlsplit  # noqa: PLC0415

    url = urlsplit(target)
    return url.path, {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}


def handle(backend: AdminBackend, method: str, target: str) -> Response:
    path, query = _split_target(target)
    path = path.rstrip("/") or "/"
    fmt = query.get("format", "")
    if path in ("/ready",):
        if backend.draining:
            return Response(503, "DRAINING\n")
        return Response(200, "LIVE\n")
    if path == "/server_info":
        return _json(backend.server_info())
    if path in ("/stats", "/stats/prometheus"):
        pattern = query.get("filter") or None
        try:
            if pattern:
                import re

                re.compile(pattern)
        except Exception as exc:  # noqa: BLE001 - user-supplied regex
            return Response(400, f"Invalid regex: {exc}\n")
        rows = backend.stats_rows()
        used = "usedonly" in query
        if path == "/stats/prometheus" or fmt == "prometheus":
            return Response(200, stats_fmt.render_prometheus(rows, pattern),
                            "text/plain; version=0.0.4")
        if fmt == "json":
            return Response(200, stats_fmt.render_json(rows, pattern, used) + "\n",
                            "application/json")
        return Response(200, stats_fmt.render_text(rows, pattern, used))
    if path == "/clusters":
        views = backend.cluster_views()
        if fmt == "json":
            return _json(_clusters_json(views))
        return Response(200, _clusters_text(views))
    if path == "/listeners":
        listeners = backend.active_listeners()
        if fmt == "json":
            return _json({"listener_statuses": [
                {"name": li.name, "local_address": {"socket_address": {
                    "address": li.address.address, "port_value": li.address.port}}}
                for li in listeners]})
        return Response(200, "".join(f"{li.name}::{li.address}\n" for li in listeners))
    if path == "/certs":
        # cryptography costs ~10 MB RSS: load it only when someone asks for /certs.
        from .certinfo import certs_json

        return _json(certs_json(backend.tls_contexts()))
    if path == "/config_dump":
        return _json(redact(backend.config_dump()))
    if path == "/drain_listeners":
        if method != "POST":
            return Response(405, "This endpoint requires POST\n")
        return Response(200, "OK\n", after=backend.drain_listeners)
    if path == "/quitquitquit":
        if method != "POST":
            return Response(405, "This endpoint requires POST\n")
        return Response(200, "OK\n", after=backend.quit)
    if path in ("/", "/help"):
        return Response(200, "".join(f"  {p}\n" for p in (
            "/certs", "/clusters", "/config_dump", "/drain_listeners", "/listeners",
            "/quitquitquit", "/ready", "/server_info", "/stats", "/stats/prometheus")))
    return Response(404, "invalid path. admin commands are:\n  /help\n")
