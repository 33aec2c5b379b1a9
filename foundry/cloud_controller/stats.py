"""App instance stats from BBS ActualLRPs, shaped as CC's v2 and v3 stats (sans-IO).

Port reporting mirrors CC's ``instances_stats_reporter.rb``: ``port`` is the host port
mapped to container port 8080, or 0 when there is none. In ``strict`` mode (PCF 2.3
with unproxied port mappings off) the cell maps no host port to 8080, so CC printed
``port: 0`` and only the TLS proxy port is reachable; we report 0 there even if a
cell mistakenly reports one.
"""

from __future__ import annotations

import time
from typing import Any

from foundry.cloud_controller.recipe import APP_PORT, FDS_QUOTA

# BBS ActualLRP state -> CC instance state (``LrpStateTranslator``)
STATES = {"UNCLAIMED": "STARTING", "CLAIMED": "STARTING", "RUNNING": "RUNNING",
          "CRASHED": "CRASHED"}


def app_port_mapping(lrp: dict[str, Any]) -> dict[str, Any]:
    for p in lrp.get("ports") or []:
        if p.get("container_port") == APP_PORT:
            return p
    return {}


def unproxied_port(lrp: dict[str, Any], mode: str) -> int:
    if mode == "strict":
        return 0
    return int(app_port_mapping(lrp).get("host_port") or 0)


def iso(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns / 1e9)) if ns else ""


def uptime(lrp: dict[str, Any], now: float) -> int:
    if lrp.get("state") != "RUNNING" or not lrp.get("since"):
        return 0
    return max(0, int(now - lrp["since"] / 1e9))


def _by_index(app: dict[str, Any], lrps: list[dict[str, Any]]) -> dict[int, dict[str, Any] | None]:
    """One slot per desired index; a missing instance is DOWN (CC's placeholder)."""
    out: dict[int, dict[str, Any] | None] = {i: None for i in range(app["instances"])}
    for lrp in sorted(lrps, key=lambda x: (x["index"], x.get("state") != "RUNNING")):
        if lrp["index"] < app["instances"] and out.get(lrp["index"]) is None:
            out[lrp["index"]] = lrp
    return out


def usage_of(lrp: dict[str, Any] | None, gauge: dict[str, Any] | None) -> dict[str, float]:
    """cpu (a fraction: CC divides the percentage by 100), mem and disk in bytes, from
    the instance's latest container metrics; zeros when there are none for *this*
    instance (a crashed predecessor's metrics are not its successor's)."""
    if not lrp or not gauge or lrp.get("state") != "RUNNING":
        return {"cpu": 0, "mem": 0, "disk": 0}
    guid = (gauge.get("tags") or {}).get("instance_guid")
    if guid and guid != lrp.get("instance_guid"):
        return {"cpu": 0, "mem": 0, "disk": 0}
    m = (gauge.get("gauge") or {}).get("metrics") or {}

    def value(name: str) -> float:
        return float((m.get(name) or {}).get("value") or 0)
    return {"cpu": value("cpu") / 100, "mem": int(value("memory")), "disk": int(value("disk"))}


def _state(lrp: dict[str, Any] | None) -> str:
    return "DOWN" if lrp is None else STATES.get(lrp.get("state", ""), "DOWN")


def v2_stats(app: dict[str, Any], uris: list[str], lrps: list[dict[str, Any]], mode: str,
             now: float | None = None,
             usage: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """``GET /v2/apps/:guid/stats``: {"0": {"state", "stats": {...}}, ...}."""
    now = time.time() if now is None else now
    out: dict[str, Any] = {}
    for index, lrp in _by_index(app, lrps).items():
        entry: dict[str, Any] = {"state": _state(lrp), "isolation_segment": None,
                                 "details": (lrp or {}).get("crash_reason") or None}
        if lrp is not None and lrp.get("state") == "RUNNING":
            entry["stats"] = {
                "name": app["name"],
                "uris": list(uris),
                "host": lrp.get("address", ""),
                "port": unproxied_port(lrp, mode),
                "uptime": uptime(lrp, now),
                **quotas(app),
                "usage": {"time": time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime(now)),
                          **usage_of(lrp, (usage or {}).get(str(index)))},
            }
        elif lrp is None:
            entry["uptime"] = 0
        out[str(index)] = entry
    return out


def quotas(app: dict[str, Any]) -> dict[str, int]:
    """An instance's limits as v2 and v3 stats show them, in bytes."""
    return {"mem_quota": app["memory"] * 1024 * 1024,
            "disk_quota": app["disk_quota"] * 1024 * 1024, "fds_quota": FDS_QUOTA}


def instance_ports(lrp: dict[str, Any], mode: str) -> list[dict[str, int]]:
    out = []
    for p in lrp.get("ports") or []:
        external = int(p.get("host_port") or 0)
        if mode == "strict" and p.get("container_port") == APP_PORT:
            external = 0
        out.append({"external": external, "internal": int(p.get("container_port") or 0),
                    "external_tls_proxy_port": int(p.get("host_tls_proxy_port") or 0),
                    "internal_tls_proxy_port": int(p.get("container_tls_proxy_port") or 0)})
    return out


def v3_stats(app: dict[str, Any], lrps: list[dict[str, Any]], mode: str,
             now: float | None = None,
             usage: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """``GET /v3/processes/:guid/stats``. ``instance_guid`` is CC's own (CAPI 1.1xx);
    ``cell_id``, ``instance_address`` and ``since`` are cflab extensions for `cf app`/`cf ssh`."""
    now = time.time() if now is None else now
    resources = []
    for index, lrp in _by_index(app, lrps).items():
        lrp_ = lrp or {}
        resources.append({
            "type": "web",
            "index": index,
            "state": _state(lrp),
            "routable": _state(lrp) == "RUNNING",
            "usage": {"time": iso(int(now * 1e9)),
                      **usage_of(lrp, (usage or {}).get(str(index)))},
            "host": lrp_.get("address", ""),
            "instance_ports": instance_ports(lrp_, mode),
            "uptime": uptime(lrp_, now),
            **quotas(app),
            "isolation_segment": None,
            "details": lrp_.get("crash_reason") or None,
            "instance_guid": lrp_.get("instance_guid", ""),
            "cell_id": lrp_.get("cell_id", ""),
            "instance_address": lrp_.get("instance_address", ""),
            "since": iso(int(lrp_.get("since") or 0)),
            "crash_count": int(lrp_.get("crash_count") or 0),
        })
    return {"resources": resources}
