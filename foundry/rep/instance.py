"""One app instance on a cell: its port mappings and the environment the executor sets.

Port shapes follow executor/run_step.go and cfdot: unproxied mappings (host
port -> app port) exist in `before-envoy` and `after-envoy`; TLS proxy mappings
(host port -> 61001...) whenever the proxy is on; strict mode turns unproxied
mappings off, so only the proxy is reachable from outside the cell.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from foundry.rep.proxy_config import proxy_ports


@dataclass
class PortMapping:
    container_port: int
    host_port: int = 0
    container_tls_proxy_port: int = 0
    host_tls_proxy_port: int = 0

    def as_bbs(self) -> dict[str, int]:
        return {
            "container_port": self.container_port,
            "host_port": self.host_port,
            "container_tls_proxy_port": self.container_tls_proxy_port,
            "host_tls_proxy_port": self.host_tls_proxy_port,
        }

    def as_env(self) -> dict[str, int]:
        """CF_INSTANCE_PORTS element: Go field order, zero values omitted but `internal`."""
        out: dict[str, int] = {}
        if self.host_port:
            out["external"] = self.host_port
        out["internal"] = self.container_port
        if self.host_tls_proxy_port:
            out["external_tls_proxy"] = self.host_tls_proxy_port
        if self.container_tls_proxy_port:
            out["internal_tls_proxy"] = self.container_tls_proxy_port
        return out


def plan_mappings(app_ports: list[int], proxy: bool, unproxied: bool,
                  acquire: Callable[[], int]) -> list[PortMapping]:
    """Allocate host ports in cf-networking's order: app ports first, then TLS ports."""
    ports = list(dict.fromkeys(app_ports))
    mappings = [PortMapping(container_port=p) for p in ports]
    if unproxied or not proxy:
        for m in mappings:
            m.host_port = acquire()
    if proxy:
        tls = proxy_ports(ports)
        for m in mappings:
            m.container_tls_proxy_port = tls[m.container_port]
            m.host_tls_proxy_port = acquire()
    return mappings


@dataclass
class InstanceEnv:
    instance_guid: str
    index: int
    cell_ip: str
    container_ip: str
    mappings: list[PortMapping]
    extra: dict[str, str] = field(default_factory=dict)

    def render(self) -> dict[str, str]:
        env = dict(self.extra)
        env.update({
            "CF_INSTANCE_GUID": self.instance_guid,
            "INSTANCE_GUID": self.instance_guid,
            "CF_INSTANCE_INDEX": str(self.index),
            "INSTANCE_INDEX": str(self.index),
            "CF_INSTANCE_IP": self.cell_ip,
            "CF_INSTANCE_INTERNAL_IP": self.container_ip,
            "CF_INSTANCE_PORTS": json.dumps([m.as_env() for m in self.mappings],
                                            separators=(",", ":")),
            "CF_INSTANCE_CERT": "/etc/cf-instance-credentials/instance.crt",
            "CF_INSTANCE_KEY": "/etc/cf-instance-credentials/instance.key",
            "CF_SYSTEM_CERT_PATH": "/etc/cf-system-certificates",
        })
        env.setdefault("PORT", "8080")
        if self.mappings and self.mappings[0].host_port:
            env["CF_INSTANCE_PORT"] = str(self.mappings[0].host_port)
            env["CF_INSTANCE_ADDR"] = f"{self.cell_ip}:{self.mappings[0].host_port}"
        return env
