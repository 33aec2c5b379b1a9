"""Routing table: a BBS snapshot (desired LRPs + this cell's actual LRPs) → registrations.

Only RUNNING instances register. For each cf-router route, the endpoint is the
instance's first port mapping for the route's container port (so the 61001 entry wins
over a later 61443 one for 8080, as in route-emitter). A registration is keyed by
(uri, host, port, tls_port): the router keys endpoints by address, and unregister
removes by address whatever the instance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from foundry.route_emitter.messages import registry_message, resolve_metric_tags

RegKey = tuple[str, str, int, int]


@dataclass
class Changes:
    """What a snapshot changed: messages to register now and to unregister."""

    registrations: list[dict[str, Any]] = field(default_factory=list)
    unregistrations: list[tuple[RegKey, dict[str, Any]]] = field(default_factory=list)


def _endpoint(actual: dict[str, Any], container_port: int,
              direct: bool) -> tuple[str, int, int] | None:
    for mapping in actual.get("ports") or []:
        if mapping.get("container_port") != container_port:
            continue
        preferred = actual.get("preferred_address", "UNKNOWN")
        use_instance = preferred == "INSTANCE" or (preferred == "UNKNOWN" and direct)
        if use_instance and actual.get("instance_address"):
            return (actual["instance_address"], container_port,
                    int(mapping.get("container_tls_proxy_port") or 0))
        return (actual.get("address", ""), int(mapping.get("host_port") or 0),
                int(mapping.get("host_tls_proxy_port") or 0))
    return None


class RoutingTable:
    def __init__(self, cell_id: str, direct_instance_routes: bool = False) -> None:
        self.cell_id = cell_id
        self.direct = direct_instance_routes
        self.current: dict[RegKey, dict[str, Any]] = {}
        self.seen_instances: set[str] = set()

    def compute(self, desired: list[dict[str, Any]],
                actual: list[dict[str, Any]]) -> dict[RegKey, tuple[dict[str, Any], int]]:
        """Every registration the snapshot implies, with the endpoint's ``since``."""
        by_guid = {d.get("process_guid"): d for d in desired}
        out: dict[RegKey, tuple[dict[str, Any], int]] = {}
        for a in actual:
            if a.get("state") != "RUNNING" or a.get("cell_id") != self.cell_id:
                continue
            d = by_guid.get(a.get("process_guid"))
            if d is None or a.get("index", 0) >= d.get("instances", 0):
                continue
            routes = (d.get("routes") or {}).get("cf-router") or []
            ig, index = a.get("instance_guid", ""), int(a.get("index", 0))
            tags = resolve_metric_tags(d.get("metric_tags"), index, ig)
            for route in routes:
                ep = _endpoint(a, route.get("port", 8080), self.direct)
                if ep is None:
                    continue
                host, port, tls_port = ep
                for hostname in route.get("hostnames") or []:
                    msg = registry_message(
                        host=host, port=port, tls_port=tls_port, hostname=hostname,
                        app=d.get("log_guid", ""), instance_guid=ig, index=index, route=route,
                        tags=tags, availability_zone=a.get("availability_zone", ""))
                    out[(hostname, host, port, tls_port)] = (msg, int(a.get("since") or 0))
        return out

    def update(self, desired: list[dict[str, Any]], actual: list[dict[str, Any]]) -> Changes:
        wanted = self.compute(desired, actual)
        changes = Changes()
        new_instances = set()
        for key, (msg, since) in sorted(wanted.items()):
            if self.current.get(key) == msg:
                continue
            ig = msg["private_instance_id"]
            if ig not in self.seen_instances and since:
                new_instances.add(ig)
                msg_now = {**msg, "endpoint_updated_at_ns": since}
                # keep Go's field order: endpoint_updated_at_ns before tags
                msg_now = {k: msg_now[k] for k in _ordered(msg_now)}
            else:
                msg_now = msg
            changes.registrations.append(msg_now)
        for key in sorted(set(self.current) - set(wanted)):
            changes.unregistrations.append((key, self.current[key]))
        self.current = {k: m for k, (m, _) in wanted.items()}
        self.seen_instances = {m["private_instance_id"] for m in self.current.values()}
        return changes

    def registrations(self) -> list[dict[str, Any]]:
        return [self.current[k] for k in sorted(self.current)]


_ORDER = ("host", "port", "tls_port", "uris", "app", "route_service_url", "private_instance_id",
          "private_instance_index", "server_cert_domain_san", "isolation_segment",
          "endpoint_updated_at_ns", "tags", "availability_zone", "protocol", "options")


def _ordered(msg: dict[str, Any]) -> list[str]:
    return [k for k in _ORDER if k in msg] + [k for k in msg if k not in _ORDER]
