"""dashboard.json, as the orchestrator renders it under /var/vcap/jobs/dashboard/config/."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from foundry.jobconfig import read_object


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class JobProbe:
    """How the dashboard asks a job whether it is healthy: its own health endpoint
    (`http://host:port/path`, 200 = healthy) or, for a job with none, a TCP connect."""

    name: str
    url: str
    auth: str = ""  # user:password for HTTP basic auth

    @property
    def target(self) -> tuple[str, str, int, str]:
        """(scheme, host, port, path)."""
        u = urlsplit(self.url)
        if u.scheme not in ("http", "tcp") or not u.hostname or not u.port:
            raise ConfigError(f"jobs.{self.name}.url: expected http://host:port/path or"
                              f" tcp://host:port, got {self.url!r}")
        return u.scheme, u.hostname, u.port, u.path or "/"


@dataclass(frozen=True)
class DashboardConfig:
    listen_address: str = "0.0.0.0:8300"
    project: str = "cflab"
    mode: str = "after-envoy"
    cells: list[str] = field(default_factory=list)
    bbs_address: str = "https://bbs.service.cf.internal:8889"
    bbs_ca_cert_file: str = ""  # the BBS's mutual TLS: needed for an https bbs_address
    bbs_client_cert_file: str = ""
    bbs_client_key_file: str = ""
    nats_servers: list[str] = field(default_factory=lambda: ["nats://nats:4222"])
    nats_username: str = ""  # NATS's user and password (cf-deployment gives it one)
    nats_password: str = ""
    access_log: str = "/var/vcap/sys/log/gorouter/access.log"
    droplet_stale_threshold: float = 120.0
    prune_stale_droplets_interval: float = 30.0
    # The Cloud Controller (app names), with a client_credentials token from UAA; its CA
    # verifies both. Empty cc_url: the dashboard names apps from the BBS alone.
    cc_url: str = ""
    uaa_url: str = ""
    uaa_client: str = "cflab-dashboard"
    uaa_client_secret: str = ""
    cc_ca_cert_file: str = ""
    cc_poll_interval: float = 5.0
    jobs: list[JobProbe] = field(default_factory=list)
    poll_interval: float = 1.0  # health probes and identity reads; ≤ 1 s by the issue
    # ... and while no page is open and no snapshot was read for a minute (hub.watched):
    # job probes and the BBS at a thirtieth of the cost; certificates only when due
    # (Collectors.due), so a rotation is still seen.
    idle_poll_interval: float = 30.0

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen_address.rpartition(":")
        return host or "0.0.0.0", int(port)


def from_dict(raw: dict[str, Any]) -> DashboardConfig:
    kwargs: dict[str, Any] = {}
    defaults = DashboardConfig()
    for key, value in raw.items():
        if key not in DashboardConfig.__dataclass_fields__:
            continue  # BOSH-style: unknown properties are ignored
        if key == "jobs":
            if not isinstance(value, list):
                raise ConfigError("jobs: expected a list of {name, url}")
            try:
                kwargs[key] = [JobProbe(str(j["name"]), str(j["url"]), str(j.get("auth", "")))
                               for j in value]
            except (KeyError, TypeError) as e:
                raise ConfigError(f"jobs: each needs a name and a url ({e})") from None
            continue
        default = getattr(defaults, key)
        if isinstance(default, list):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{key}: expected a list of strings, got {value!r}")
            kwargs[key] = list(value)
            continue
        try:
            kwargs[key] = type(default)(value)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{key}: {e}") from None
    cfg = DashboardConfig(**kwargs)
    try:
        cfg.host_port  # noqa: B018 - validate early
    except ValueError:
        raise ConfigError(f"listen_address: {cfg.listen_address!r} is not host:port") from None
    if not 0 < cfg.poll_interval <= cfg.idle_poll_interval:
        raise ConfigError("poll_interval, idle_poll_interval: expected 0 < poll_interval <="
                          f" idle_poll_interval, got {cfg.poll_interval}, {cfg.idle_poll_interval}")
    for job in cfg.jobs:
        job.target  # noqa: B018
    bbs = urlsplit(cfg.bbs_address)
    if bbs.scheme not in ("http", "https") or not bbs.port:
        raise ConfigError(f"bbs_address: expected https://host:port, got {cfg.bbs_address!r}")
    if bbs.scheme == "https" and not (cfg.bbs_ca_cert_file and cfg.bbs_client_cert_file
                                      and cfg.bbs_client_key_file):
        raise ConfigError("bbs_ca_cert_file, bbs_client_cert_file, bbs_client_key_file:"
                          " required for an https bbs_address (the BBS's mutual TLS)")
    if cfg.cc_url and not (cfg.uaa_url and cfg.cc_ca_cert_file):
        raise ConfigError("uaa_url, cc_ca_cert_file: required with a cc_url")
    return cfg


def load(path: str) -> DashboardConfig:
    return from_dict(read_object(path, ConfigError))
