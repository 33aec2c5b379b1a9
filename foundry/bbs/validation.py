"""DesiredLRP validation: every error names the field, as the API's 400 answer."""

from __future__ import annotations

from typing import Any

from foundry.bbs.errors import InvalidRequest

DEFAULT_DOMAIN = "cf-apps"
UPDATABLE = ("instances", "routes", "annotation", "metric_tags")

# Defaults cfdot shows for a DesiredLRP whose creator left them out.
DESIRED_ORDER = (
    "process_guid", "domain", "rootfs", "instances", "env", "setup", "action",
    "start_timeout_ms", "monitor", "disk_mb", "memory_mb", "cpu_weight", "privileged",
    "ports", "routes", "log_source", "log_guid", "metrics_guid", "annotation",
    "egress_rules", "modification_tag", "placement_tags", "certificate_properties",
    "check_definition", "metric_tags",
)

DESIRED_DEFAULTS: dict[str, Any] = {
    "domain": DEFAULT_DOMAIN,
    "rootfs": "",
    "instances": 0,
    "env": [],
    "start_timeout_ms": 0,
    "disk_mb": 0,
    "memory_mb": 0,
    "cpu_weight": 0,
    "privileged": False,
    "ports": [],
    "routes": {},
    "log_source": "CELL",
    "log_guid": "",
    "metrics_guid": "",
    "annotation": "",
    "placement_tags": [],
}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _bad(field: str, what: str) -> InvalidRequest:
    return InvalidRequest(f"{field}: {what}")


def _check_nonneg_int(body: dict, name: str) -> None:
    if name in body and (not _is_int(body[name]) or body[name] < 0):
        raise _bad(name, "must be a non-negative integer")


def _check_routes(routes: Any) -> None:
    if routes is None:
        return
    if not isinstance(routes, dict):
        raise _bad("routes", "must be an object keyed by router type")
    cf = routes.get("cf-router")
    if cf is None:
        return
    if not isinstance(cf, list):
        raise _bad("routes", "cf-router must be a list")
    for i, route in enumerate(cf):
        where = f"routes: cf-router[{i}]"
        if not isinstance(route, dict):
            raise InvalidRequest(f"{where} must be an object")
        hostnames = route.get("hostnames")
        if not isinstance(hostnames, list) or not all(isinstance(h, str) for h in hostnames):
            raise InvalidRequest(f"{where}.hostnames must be a list of strings")
        if not _is_int(route.get("port")) or not 0 < route["port"] < 65536:
            raise InvalidRequest(f"{where}.port must be a port number")
        rs = route.get("route_service_url")
        if rs is not None and not isinstance(rs, str):
            raise InvalidRequest(f"{where}.route_service_url must be a string or null")


def _check_common(body: dict) -> None:
    _check_nonneg_int(body, "instances")
    if "routes" in body:
        _check_routes(body["routes"])
    if "annotation" in body and not isinstance(body["annotation"], str):
        raise _bad("annotation", "must be a string")
    if "metric_tags" in body and not isinstance(body["metric_tags"], (dict, type(None))):
        raise _bad("metric_tags", "must be an object")


def validate_desired(body: Any) -> dict[str, Any]:
    """A validated copy of a DesiredLRP with defaults filled in; unknown keys kept as given."""
    if not isinstance(body, dict):
        raise InvalidRequest("body: must be a JSON object")
    pg = body.get("process_guid")
    if not isinstance(pg, str) or not pg:
        raise _bad("process_guid", "is required")
    if "/" in pg or len(pg) > 255:
        raise _bad("process_guid", "must be at most 255 characters without '/'")
    if "domain" in body and (not isinstance(body["domain"], str) or not body["domain"]):
        raise _bad("domain", "must be a non-empty string")
    _check_common(body)
    for name in ("start_timeout_ms", "memory_mb", "disk_mb", "cpu_weight"):
        _check_nonneg_int(body, name)
    ports = body.get("ports", [])
    if not isinstance(ports, list) or not all(_is_int(p) and 0 < p < 65536 for p in ports):
        raise _bad("ports", "must be a list of port numbers")
    for name in ("log_guid", "rootfs", "metrics_guid"):
        if name in body and not isinstance(body[name], str):
            raise _bad(name, "must be a string")
    env = body.get("env", [])
    if not isinstance(env, list) or not all(
        isinstance(e, dict) and isinstance(e.get("name"), str) and e["name"]
        and isinstance(e.get("value", ""), str) for e in env
    ):
        raise _bad("env", "must be a list of {\"name\",\"value\"} strings")
    cp = body.get("certificate_properties")
    if cp is not None:
        ou = cp.get("organizational_unit", []) if isinstance(cp, dict) else None
        if not isinstance(ou, list) or not all(isinstance(x, str) for x in ou):
            raise _bad("certificate_properties", "organizational_unit must be a list of strings")
    tags = body.get("placement_tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise _bad("placement_tags", "must be a list of strings")
    for name in ("action", "setup", "monitor", "check_definition"):
        if body.get(name) is not None and not isinstance(body[name], dict):
            raise _bad(name, "must be an object")
    merged = {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
              for k, v in DESIRED_DEFAULTS.items()}
    merged.update(body)
    if not merged["metrics_guid"]:
        merged["metrics_guid"] = merged["log_guid"]
    if merged.get("routes") is None:
        merged["routes"] = {}
    # cfdot's key order (bbs DesiredLRP struct), then whatever else the creator sent
    out = {k: merged.pop(k) for k in DESIRED_ORDER if k in merged}
    out.update(merged)
    return out


def validate_update(body: Any) -> dict[str, Any]:
    """A DesiredLRPUpdate: only instances, routes, annotation, metric_tags."""
    if not isinstance(body, dict):
        raise InvalidRequest("body: must be a JSON object")
    for name in body:
        if name not in UPDATABLE:
            raise _bad(name, "cannot be updated (only " + ", ".join(UPDATABLE) + ")")
    _check_common(body)
    return dict(body)
