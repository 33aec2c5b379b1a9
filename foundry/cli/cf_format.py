"""Pure output formatting for `cf`: tables and summaries in the cf CLI's layout."""

from __future__ import annotations

import calendar
import time
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


def byte_size(n: float) -> str:
    """bytefmt.ByteSize, as the Go CLI prints usage and quotas: 25.6M, 256M, 1G, 0."""
    n = int(n)
    if n <= 0:
        return "0"
    for unit, size in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= size:
            text = f"{n / size:.1f}"
            return (text[:-2] if text.endswith(".0") else text) + unit
    return f"{n}B"


def instances_table(app: dict[str, Any], stats: list[dict[str, Any]]) -> str:
    """The Go CLI's instance table: state, since, cpu, memory, disk, details."""
    rows = []
    for inst in stats:
        state = inst["state"].lower()
        since = inst.get("since", "") if state == "running" else ""
        usage = inst.get("usage") or {}
        mem_quota = inst.get("mem_quota") or app["memory"] * 1024 * 1024
        disk_quota = inst.get("disk_quota") or app["disk_quota"] * 1024 * 1024
        rows.append([f"#{inst['index']}", state, since,
                     f"{float(usage.get('cpu') or 0) * 100:.1f}%",
                     f"{byte_size(usage.get('mem') or 0)} of {byte_size(mem_quota)}",
                     f"{byte_size(usage.get('disk') or 0)} of {byte_size(disk_quota)}",
                     instance_details(inst)])
    return table(["", "state", "since", "cpu", "memory", "disk", "details"], rows)


def instance_details(inst: dict[str, Any]) -> str:
    """The details column: CC's `details` (here the last crash reason) and, as a cflab
    extension of that free-text column, how often Diego has seen the instance crash,
    which is what tells a crash loop (backoff growing) from a single crash."""
    crashes = int(inst.get("crash_count") or 0)
    details = inst.get("details")
    parts = [details] if details else []
    if crashes:
        parts.append(f"crashed {crashes} time{'s' if crashes > 1 else ''}")
    return "; ".join(parts)


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


LOG_TIME = "%Y-%m-%dT%H:%M:%S"


def log_time(ns: int) -> str:
    """Go's ``2006-01-02T15:04:05.00-0700`` in local time."""
    t = ns / 1e9
    local = time.localtime(t)
    offset = time.strftime("%z", local)
    return f"{time.strftime(LOG_TIME, local)}.{int(t * 100) % 100:02d}{offset}"


def log_line(env: dict[str, Any]) -> str:
    """`cf logs`: ``   <time> [<source type>/<instance>] OUT|ERR <message>``."""
    tags = env.get("tags") or {}
    log = env.get("log") or {}
    head = (f"   {log_time(int(env.get('timestamp') or 0))} "
            f"[{tags.get('source_type', '')}/{env.get('instance_id', '')}] "
            f"{log.get('type', 'OUT')} ")
    lines = str(log.get("payload", "")).splitlines() or [""]
    pad = " " * len(head)
    return head + lines[0] + "".join(f"\n{pad}{rest}" for rest in lines[1:])


# The Go CLI's description of an event: these metadata keys, in this order.
EVENT_KEYS = ("index", "reason", "cell_id", "instance", "exit_description", "exit_status",
              "recursive", "disk_quota", "instances", "memory", "state", "command",
              "environment_json")


def event_description(entity: dict[str, Any]) -> str:
    meta = entity.get("metadata") or {}
    fields = dict(meta.get("request") or {}) if isinstance(meta.get("request"), dict) else {}
    fields.update({k: v for k, v in meta.items() if k != "request"})
    return ", ".join(f"{k}: {fields[k]}" for k in EVENT_KEYS if k in fields)


def event_time(iso: str) -> str:
    try:
        t = calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return iso
    return log_time(t * 1_000_000_000)


def events_table(events: list[dict[str, Any]]) -> str:
    if not events:
        return "No events found"
    rows = [[event_time(e["entity"]["timestamp"]), e["entity"]["type"],
             e["entity"].get("actor_name") or "", event_description(e["entity"])]
            for e in events]
    return table(["time", "event", "actor", "description"], rows)
