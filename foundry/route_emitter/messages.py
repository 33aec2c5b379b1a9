"""RegistryMessage, field for field as route-emitter ``routingtable/registry_message.go``."""

from __future__ import annotations

from typing import Any

COMPONENT_TAG = {"component": "route-emitter"}


def resolve_metric_tags(metric_tags: Any, index: int, instance_guid: str) -> dict[str, str]:
    """DesiredLRP metric tags ({static} or {dynamic: INDEX|INSTANCE_GUID}) for one instance."""
    out: dict[str, str] = {}
    if not isinstance(metric_tags, dict):
        return out
    for name, value in metric_tags.items():
        if isinstance(value, str):
            out[name] = value
        elif isinstance(value, dict):
            if "static" in value:
                out[name] = str(value["static"])
            elif value.get("dynamic") == "INDEX":
                out[name] = str(index)
            elif value.get("dynamic") == "INSTANCE_GUID":
                out[name] = instance_guid
    return out


def registry_message(
    *,
    host: str,
    port: int,
    tls_port: int,
    hostname: str,
    app: str,
    instance_guid: str,
    index: int,
    route: dict[str, Any],
    tags: dict[str, str],
    availability_zone: str = "",
    endpoint_updated_at_ns: int = 0,
) -> dict[str, Any]:
    """Go's encoding of RegistryMessage: ``port`` always present, the rest omitempty."""
    msg: dict[str, Any] = {"host": host, "port": port}
    if tls_port:
        msg["tls_port"] = tls_port
    msg["uris"] = [hostname]
    if app:
        msg["app"] = app
    if route.get("route_service_url"):
        msg["route_service_url"] = route["route_service_url"]
    msg["private_instance_id"] = instance_guid
    msg["private_instance_index"] = str(index)
    msg["server_cert_domain_san"] = instance_guid
    if route.get("isolation_segment"):
        msg["isolation_segment"] = route["isolation_segment"]
    if endpoint_updated_at_ns:
        msg["endpoint_updated_at_ns"] = endpoint_updated_at_ns
    msg["tags"] = {**tags, **COMPONENT_TAG}
    if availability_zone:
        msg["availability_zone"] = availability_zone
    if route.get("protocol"):
        msg["protocol"] = route["protocol"]
    if route.get("options"):
        msg["options"] = route["options"]
    return msg
