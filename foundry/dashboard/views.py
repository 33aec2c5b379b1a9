"""Rows of the dashboard's sections, built from what the jobs answer (no I/O here).

The BBS gives the cells and every app container (actual LRPs: index, instance
guid, state, container IP, host ports); its desired LRPs name the app. The DNAT
target of a host port is the container address and port the cell maps it to.
Routes come from the router's own registry code fed with the NATS messages.
"""

from __future__ import annotations

import json
from typing import Any

from foundry.dashboard.accesslog import PortOwner


def app_of(desired: dict[str, Any]) -> tuple[str, str]:
    """(app guid, app name) of a desired LRP, from its VCAP_APPLICATION (as CC sets it)."""
    guid, name = desired.get("log_guid", ""), ""
    for var in desired.get("env") or []:
        if isinstance(var, dict) and var.get("name") == "VCAP_APPLICATION":
            try:
                vcap = json.loads(var.get("value") or "{}")
            except ValueError:
                break
            if isinstance(vcap, dict):
                guid = vcap.get("application_id") or guid
                name = vcap.get("application_name") or ""
    return guid or desired.get("process_guid", ""), name


def apps_by_process(desired_lrps: list[dict]) -> dict[str, tuple[str, str]]:
    return {d.get("process_guid", ""): app_of(d) for d in desired_lrps}


def container_rows(actual_lrps: list[dict], apps: dict[str, tuple[str, str]]) -> dict[str, dict]:
    """The `containers` section: one row per placed instance, keyed process_guid/index."""
    rows: dict[str, dict] = {}
    for lrp in actual_lrps:
        if not lrp.get("cell_id"):
            continue  # UNCLAIMED: no container yet
        guid, name = apps.get(lrp.get("process_guid", ""), ("", ""))
        cell_ip, ip = lrp.get("address", ""), lrp.get("instance_address", "")
        ports, dnat = [], []
        for p in lrp.get("ports") or []:
            if p.get("host_port"):
                ports.append(p["host_port"])
                dnat.append(f"{cell_ip}:{p['host_port']} → {ip}:{p.get('container_port', 0)}")
            if p.get("host_tls_proxy_port"):
                ports.append(p["host_tls_proxy_port"])
                dnat.append(f"{cell_ip}:{p['host_tls_proxy_port']} → "
                            f"{ip}:{p.get('container_tls_proxy_port', 0)} (TLS)")
        key = f"{lrp.get('process_guid', '')}/{lrp.get('index', 0)}"
        rows[key] = {"cell": lrp["cell_id"], "app": name or guid, "app_guid": guid,
                     "process_guid": lrp.get("process_guid", ""),
                     "index": lrp.get("index", 0), "instance_guid": lrp.get("instance_guid", ""),
                     "state": lrp.get("state", ""), "container_ip": ip, "cell_ip": cell_ip,
                     "host_ports": ports, "dnat": dnat, "since": lrp.get("since", 0),
                     "crash_count": lrp.get("crash_count", 0)}
    return rows


def port_owners(rows: dict[str, dict]) -> list[tuple[str, float, PortOwner]]:
    """(cell_ip:host_port, RUNNING since in s, instance): who can answer on each port."""
    owners = []
    for row in rows.values():
        if row["state"] != "RUNNING":
            continue
        owner = PortOwner(row["app_guid"], row["app"], row["index"], row["instance_guid"])
        for port in row["host_ports"]:
            owners.append((f"{row['cell_ip']}:{port}", row["since"] / 1e9, owner))
    return owners


def tls_targets(rows: dict[str, dict]) -> dict[str, str]:
    """instance guid → cell_ip:host TLS port of its proxy's 8080 listener (where the
    dashboard reads the identity certificate the router would see)."""
    out = {}
    for row in rows.values():
        if row["state"] != "RUNNING":
            continue
        for d in row["dnat"]:
            if d.endswith("(TLS)"):
                out[row["instance_guid"]] = d.split(" ", 1)[0]
                break
    return out


def cell_rows(cells: list[dict], cell_names: list[str],
              containers: dict[str, dict]) -> dict[str, dict]:
    """Every configured cell, present in the BBS or not, with its container count."""
    present = {c.get("cell_id", ""): c for c in cells}
    rows = {}
    for name in sorted(set(cell_names) | set(present)):
        c = present.get(name)
        rows[name] = {"present": c is not None, "zone": (c or {}).get("zone", ""),
                      "rep_address": (c or {}).get("rep_address", ""),
                      "containers": sum(1 for r in containers.values() if r["cell"] == name)}
    return rows


def route_rows(table: dict[str, list[dict]], names: dict[str, str]) -> dict[str, dict]:
    """The `routes` section: route → endpoints (address, TLS, SAN, TTL, last refresh).

    `table` is the registry's route → endpoint fields (`/routes` plus `app_id` and
    `updated_at`, the time of the endpoint's last register)."""
    rows = {}
    for route, endpoints in table.items():
        eps = [{"address": e["address"], "tls": bool(e.get("tls")),
                "san": e.get("server_cert_domain_san", ""), "ttl": e.get("ttl", 0),
                "instance_id": e.get("private_instance_id", ""),
                "app": names.get(e.get("app_id", ""), e.get("app_id", "")),
                "last_refresh": round(e.get("updated_at", 0.0), 3)} for e in endpoints]
        rows[route] = {"endpoints": sorted(eps, key=lambda x: x["address"])}
    return rows
