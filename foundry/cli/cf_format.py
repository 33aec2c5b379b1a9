"""Pure output formatting for `cf`: tables and summaries in the cf CLI's layout."""

from __future__ import annotations

from typing import Any


def table(header: list[str], rows: list[list[str]], indent: str = "") -> str:
    """Left-aligned columns separated by three spaces, as cf prints them."""
    cols = [header, *rows]
    widths = [max(len(r[i]) for r in cols) for i in range(len(header))]
    lines = []
    for r in cols:
        cells = [c.ljust(w) for c, w in zip(r, widths, strict=True)]
        lines.append((indent + "   ".join(cells)).rstrip())
    return "\n".join(lines)


def key_values(pairs: list[tuple[str, str]], gap: int = 3) -> str:
    width = max(len(k) for k, _ in pairs) + 1 + gap
    return "\n".join(f"{(k + ':').ljust(width)}{v}".rstrip() for k, v in pairs)


def megabytes(mb: int) -> str:
    return f"{mb // 1024}G" if mb >= 1024 and mb % 1024 == 0 else f"{mb}M"


def app_address(inst: dict[str, Any]) -> str:
    """cell IP with the external port of 8080, else its TLS proxy port (strict mode)."""
    host = inst.get("host") or ""
    if not host:
        return ""
    for p in inst.get("instance_ports") or []:
        if p.get("internal") == 8080:
            port = p.get("external") or p.get("external_tls_proxy_port") or 0
            return f"{host}:{port}" if port else host
    return host


def instances_table(app: dict[str, Any], stats: list[dict[str, Any]]) -> str:
    mem, disk = megabytes(app["memory"]), megabytes(app["disk_quota"])
    rows = []
    for inst in stats:
        state = inst["state"].lower()
        since = inst.get("since", "") if state == "running" else ""
        rows.append([f"#{inst['index']}", state, since, "0.0%", f"0 of {mem}", f"0 of {disk}",
                     inst.get("cell_id", ""), app_address(inst), inst.get("details") or ""])
    return table(["", "state", "since", "cpu", "memory", "disk", "cell", "address", "details"],
                 rows)


def app_summary(summary: dict[str, Any], stats: list[dict[str, Any]]) -> str:
    uris = ", ".join(route_url(r) for r in summary.get("routes", []))
    running = sum(1 for s in stats if s["state"] == "RUNNING")
    head = key_values([
        ("name", summary["name"]),
        ("requested state", summary["state"].lower()),
        ("routes", uris),
        ("last uploaded", summary.get("package_updated_at") or ""),
        ("stack", "cflinuxfs3"),
        ("buildpacks", "python"),
    ])
    command = summary.get("command") or summary.get("detected_start_command") or "python3 app.py"
    proc = key_values([
        ("type", "web"),
        ("instances", f"{running}/{summary['instances']}"),
        ("memory usage", megabytes(summary["memory"])),
        ("start command", command),
    ], gap=2)
    body = instances_table(summary, stats) if stats else "There are no running instances of this process."
    return f"{head}\n\n{proc}\n{body}"


def route_url(route: dict[str, Any]) -> str:
    host = route.get("host") or ""
    domain = route["domain"]["name"]
    return (f"{host}.{domain}" if host else domain) + (route.get("path") or "")


def apps_table(apps: list[dict[str, Any]]) -> str:
    if not apps:
        return "No apps found"
    rows = [[a["name"], a["state"].lower(), f"{a.get('running_instances', 0)}/{a['instances']}",
             megabytes(a["memory"]), megabytes(a["disk_quota"]), ", ".join(a.get("urls", []))]
            for a in apps]
    return table(["name", "requested state", "instances", "memory", "disk", "urls"], rows)


def routes_table(space: str, routes: list[dict[str, Any]]) -> str:
    """``routes``: dicts with host, domain, path and apps (names)."""
    if not routes:
        return "No routes found"
    rows = [[space, r["host"], r["domain"], "", r.get("path", ""), "", ", ".join(r["apps"]), ""]
            for r in routes]
    return table(["space", "host", "domain", "port", "path", "type", "apps", "service"], rows)


def marketplace_table(services: list[dict[str, Any]], plans: list[dict[str, Any]]) -> str:
    """``cf marketplace``: v2 service and plan resources → offering / plans / description."""
    if not services:
        return "No service offerings found."
    rows = []
    for svc in services:
        e = svc["entity"]
        names = [p["entity"]["name"] for p in plans
                 if p["entity"].get("service_guid") == svc["metadata"]["guid"]]
        rows.append([e["label"], ", ".join(names), e.get("description", ""),
                     e.get("service_broker_name") or ""])
    return table(["offering", "plans", "description", "broker"], rows)
