"""gorouter.yml loading, with gorouter's key names (gorouter `config/config.go`).

Schema (every key optional; unset keys take gorouter's *code* defaults, see `Config`;
the values shown are what routing-release's BOSH template renders):

```yaml
index: 0                        # router index, first part of the router.start id
zone: z1
status:
  host: 0.0.0.0
  port: 8080                    # /health and /metrics
  user: router-status           # basic auth for /routes
  pass: secret
  routes: {port: 8082}          # /routes, always on 127.0.0.1
nats:
  hosts: [{hostname: nats, port: 4222}]
  user: ""                      # optional
  pass: ""
port: 80                        # HTTP listener
ip: ""                          # advertised in router.start "hosts" (default: the host's IP)
backends:
  max_attempts: 3               # >= 1
  max_conns: 500                # in-flight requests per endpoint, 0 = unlimited
  cert_chain: "-----BEGIN CERTIFICATE-----..."   # client cert for strict mode (PEM or path)
  private_key: "-----BEGIN RSA PRIVATE KEY-----..."  # PEM or path
ca_certs: ["-----BEGIN CERTIFICATE-----..."]   # list of PEM strings, one PEM string, or a path
skip_ssl_validation: false      # route services only; never affects backends (gorouter f7cdb605)
droplet_stale_threshold: 120s
prune_stale_droplets_interval: 30s
suspend_pruning_if_nats_unavailable: false
empty_pool_response_code_503: false   # a route whose pool emptied: 503 no_endpoints, else 404
start_response_delay_interval: 20s
endpoint_timeout: 900s          # whole backend request
endpoint_dial_timeout: 5s
tls_handshake_timeout: 10s
balancing_algorithm: round-robin   # or least-connection
routing_table_sharding_mode: all   # all | segments | shared-and-segments
isolation_segments: []
sticky_session_cookie_names: [JSESSIONID]
secure_cookies: false
max_header_bytes: 1048576       # gorouter: max_header_kb * 1024
access_log: {file: /var/vcap/sys/log/gorouter/access.log, enable_streaming: true}
load_balancer_healthy_threshold: 20s # wait after the listener is up before /health 200
logging: {level: info, syslog: ""}
```

Durations accept Go duration strings ("120s", "1m30s", "500ms") or numbers.
A bare number means *seconds* (Go's yaml would read it as nanoseconds, which no
operator means); this is our one deviation and it only widens what is accepted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import yaml

from foundry.durations import parse_go_duration
from foundry.gorouter.pool import LB_ALGORITHMS


class ConfigError(ValueError):
    """Bad gorouter.yml; the message names the key."""


@dataclass(frozen=True)
class NatsHost:
    hostname: str
    port: int


@dataclass
class Config:
    index: int = 0
    zone: str = ""
    status_host: str = "0.0.0.0"
    status_port: int = 8080
    status_user: str = ""
    status_pass: str = ""
    status_routes_port: int = 8082
    nats_hosts: list[NatsHost] = field(default_factory=lambda: [NatsHost("localhost", 4222)])
    nats_user: str = ""
    nats_pass: str = ""
    port: int = 80
    ip: str = ""
    max_attempts: int = 3
    max_conns: int = 500
    backend_cert_chain: str = ""
    backend_private_key: str = ""
    ca_certs: list[str] = field(default_factory=list)
    skip_ssl_validation: bool = False
    droplet_stale_threshold: float = 120.0
    prune_stale_droplets_interval: float = 30.0
    suspend_pruning_if_nats_unavailable: bool = False
    empty_pool_response_code_503: bool = False
    start_response_delay_interval: float = 5.0
    endpoint_timeout: float = 60.0
    endpoint_dial_timeout: float = 5.0
    tls_handshake_timeout: float = 10.0
    balancing_algorithm: str = "round-robin"
    routing_table_sharding_mode: str = "all"
    isolation_segments: list[str] = field(default_factory=list)
    sticky_session_cookie_names: list[str] = field(default_factory=lambda: ["JSESSIONID"])
    secure_cookies: bool = False
    max_header_bytes: int = 1024 * 1024
    access_log_file: str = ""
    access_log_stdout: bool = True
    # cflab has no Loggregator: each access log line of a request to an app also goes to
    # the Cloud Controller's Log Cache as the app's `RTR` line (empty: not sent).
    log_cache_url: str = ""
    load_balancer_healthy_threshold: float = 0.0
    logging_level: str = "info"

    @property
    def retry_after_failure(self) -> float:
        return self.droplet_stale_threshold / 4


def parse_duration(key: str, value: Any) -> float:
    """Go's time.ParseDuration (seconds as float); a bare number is seconds."""
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a duration, got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ConfigError(f"{key}: duration must not be negative, got {value!r}")
        return float(value)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}: expected a duration like '120s', got {value!r}")
    try:
        seconds = parse_go_duration(value)
    except ValueError:
        raise ConfigError(f"{key}: invalid duration {value!r}") from None
    if seconds < 0:
        raise ConfigError(f"{key}: duration must not be negative, got {value!r}")
    return seconds


def _get(d: dict, key: str, path: str) -> Any:
    if not isinstance(d, dict):
        raise ConfigError(f"{path}: expected a mapping, got {type(d).__name__}")
    return d.get(key)


def _int(path: str, v: Any, lo: int = 0, hi: int = 2**31) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(f"{path}: expected an integer, got {v!r}")
    if not lo <= v <= hi:
        raise ConfigError(f"{path}: {v} is out of range {lo}..{hi}")
    return v


def _port(path: str, v: Any) -> int:
    return _int(path, v, 0, 65535)


def _str(path: str, v: Any) -> str:
    if not isinstance(v, str):
        raise ConfigError(f"{path}: expected a string, got {v!r}")
    return v


def _bool(path: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(f"{path}: expected true or false, got {v!r}")
    return v


def _pem_or_file(path: str, v: Any, marker: str) -> str:
    """Inline PEM (gorouter's form) or a path to a PEM file (what cflab's renderer writes)."""
    v = _str(path, v)
    if "-----BEGIN" not in v:
        try:
            with open(v.strip()) as f:
                v = f.read()
        except OSError as e:
            raise ConfigError(f"{path}: neither PEM nor a readable file: {e}") from None
    if marker not in v:
        raise ConfigError(f"{path}: no PEM block containing {marker!r}")
    return v


def _pem_list(path: str, v: Any) -> list[str]:
    """ca_certs: a list of PEM strings, one PEM string (many certs), or a file path."""
    items = v if isinstance(v, list) else [v]
    out: list[str] = []
    for i, item in enumerate(items):
        p = f"{path}[{i}]" if isinstance(v, list) else path
        item = _str(p, item)
        if "-----BEGIN" not in item:
            if len(item.strip()) < 50 and not os.path.exists(item.strip()):
                if item.strip():
                    raise ConfigError(f"{p}: neither PEM nor an existing file: {item!r}")
                continue  # gorouter drops blank entries
            try:
                with open(item.strip()) as f:
                    item = f.read()
            except OSError as e:
                raise ConfigError(f"{p}: cannot read {item!r}: {e}") from None
            if "-----BEGIN CERTIFICATE-----" not in item:
                raise ConfigError(f"{p}: file holds no PEM certificate")
        out.append(item)
    return out


def from_dict(raw: dict) -> Config:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"gorouter.yml: expected a mapping at the top, got {type(raw).__name__}")
    c = Config()
    if (v := raw.get("index")) is not None:
        c.index = _int("index", v)
    if (v := raw.get("zone")) is not None:
        c.zone = _str("zone", v)
    status = raw.get("status") or {}
    if (v := _get(status, "host", "status")) is not None:
        c.status_host = _str("status.host", v)
    if (v := _get(status, "port", "status")) is not None:
        c.status_port = _port("status.port", v)
    if (v := _get(status, "user", "status")) is not None:
        c.status_user = _str("status.user", v)
    if (v := _get(status, "pass", "status")) is not None:
        c.status_pass = str(v)
    routes = _get(status, "routes", "status") or {}
    if (v := _get(routes, "port", "status.routes")) is not None:
        c.status_routes_port = _port("status.routes.port", v)
    nats = raw.get("nats")
    if nats is not None:
        if isinstance(nats, list):  # the pre-2021 layout: [{host, port, user, pass}]
            nats = {"hosts": [{"hostname": n.get("host"), "port": n.get("port")}
                              for n in nats if isinstance(n, dict)]}
        hosts = _get(nats, "hosts", "nats")
        if hosts is not None:
            if not isinstance(hosts, list) or not hosts:
                raise ConfigError("nats.hosts: expected a non-empty list")
            c.nats_hosts = []
            for i, h in enumerate(hosts):
                name = _str(f"nats.hosts[{i}].hostname", _get(h, "hostname", f"nats.hosts[{i}]"))
                port = _port(f"nats.hosts[{i}].port", _get(h, "port", f"nats.hosts[{i}]"))
                c.nats_hosts.append(NatsHost(name, port))
        if (v := _get(nats, "user", "nats")) is not None:
            c.nats_user = _str("nats.user", v)
        if (v := _get(nats, "pass", "nats")) is not None:
            c.nats_pass = str(v)
    if (v := raw.get("port")) is not None:
        c.port = _port("port", v)
    if (v := raw.get("ip")) is not None:
        c.ip = _str("ip", v)
    backends = raw.get("backends") or {}
    if (v := _get(backends, "max_attempts", "backends")) is not None:
        c.max_attempts = _int("backends.max_attempts", v, 1)
    if (v := _get(backends, "max_conns", "backends")) is not None:
        c.max_conns = _int("backends.max_conns", v)
    chain = _get(backends, "cert_chain", "backends")
    key = _get(backends, "private_key", "backends")
    if bool(chain) != bool(key):
        raise ConfigError("backends.cert_chain and backends.private_key must be set together")
    if chain:
        c.backend_cert_chain = _pem_or_file("backends.cert_chain", chain, "-----BEGIN CERTIFICATE")
        c.backend_private_key = _pem_or_file("backends.private_key", key, "PRIVATE KEY-----")
    if (v := raw.get("ca_certs")) is not None:
        c.ca_certs = _pem_list("ca_certs", v)
    if (v := raw.get("skip_ssl_validation")) is not None:
        c.skip_ssl_validation = _bool("skip_ssl_validation", v)
    for name in ("droplet_stale_threshold", "prune_stale_droplets_interval",
                 "start_response_delay_interval", "endpoint_timeout", "endpoint_dial_timeout",
                 "tls_handshake_timeout", "load_balancer_healthy_threshold"):
        if (v := raw.get(name)) is not None:
            setattr(c, name, parse_duration(name, v))
    if c.droplet_stale_threshold <= 0:
        raise ConfigError("droplet_stale_threshold: must be positive")
    if c.prune_stale_droplets_interval <= 0:
        raise ConfigError("prune_stale_droplets_interval: must be positive")
    # gorouter: the threshold is raised to the start delay so preloaded routes survive.
    c.droplet_stale_threshold = max(c.droplet_stale_threshold, c.start_response_delay_interval)
    if (v := raw.get("suspend_pruning_if_nats_unavailable")) is not None:
        c.suspend_pruning_if_nats_unavailable = _bool("suspend_pruning_if_nats_unavailable", v)
    if (v := raw.get("empty_pool_response_code_503")) is not None:
        c.empty_pool_response_code_503 = _bool("empty_pool_response_code_503", v)
    if (v := raw.get("balancing_algorithm")) is not None:
        if v not in LB_ALGORITHMS:
            raise ConfigError(f"balancing_algorithm: must be one of {', '.join(LB_ALGORITHMS)}, "
                              f"got {v!r}")
        c.balancing_algorithm = v
    if (v := raw.get("routing_table_sharding_mode")) is not None:
        if v not in ("all", "segments", "shared-and-segments"):
            raise ConfigError(f"routing_table_sharding_mode: invalid value {v!r}")
        c.routing_table_sharding_mode = v
    if (v := raw.get("isolation_segments")) is not None:
        if not isinstance(v, list):
            raise ConfigError("isolation_segments: expected a list")
        c.isolation_segments = [_str(f"isolation_segments[{i}]", s) for i, s in enumerate(v)]
    if (v := raw.get("sticky_session_cookie_names")) is not None:
        if not isinstance(v, list):
            raise ConfigError("sticky_session_cookie_names: expected a list")
        c.sticky_session_cookie_names = [_str("sticky_session_cookie_names", s) for s in v]
    if (v := raw.get("secure_cookies")) is not None:
        c.secure_cookies = _bool("secure_cookies", v)
    if (v := raw.get("max_header_bytes")) is not None:
        c.max_header_bytes = _int("max_header_bytes", v, 1024)
    access_log = raw.get("access_log") or {}
    if (v := _get(access_log, "file", "access_log")) is not None:
        c.access_log_file = _str("access_log.file", v)
    if (v := _get(access_log, "enable_streaming", "access_log")) is not None:
        c.access_log_stdout = _bool("access_log.enable_streaming", v)
    if (v := raw.get("log_cache_url")) is not None:
        c.log_cache_url = _str("log_cache_url", v)
    logging_ = raw.get("logging") or {}
    if (v := _get(logging_, "level", "logging")) is not None:
        c.logging_level = _str("logging.level", v)
    return c


def loads(text: str) -> Config:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"gorouter.yml: invalid YAML: {e}") from None
    return from_dict(raw)


def load(path: str) -> Config:
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e}") from None
    return loads(text)
