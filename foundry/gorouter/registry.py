"""NATS registry messages and the route registry (gorouter `mbus/subscriber.go`, `registry/`).

Decoding mimics Go's `encoding/json` into `RegistryMessage`: unknown fields are
ignored, `null` leaves the zero value, a type mismatch rejects the whole
message, and field names match case-insensitively. The only semantic check is
gorouter's `ValidateMessage`: a route service URL must be https.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from foundry.gorouter.metrics import Metrics
from foundry.gorouter.pool import LB_ALGORITHMS, ROUND_ROBIN, Endpoint, EndpointPool, PutResult
from foundry.gorouter.route_table import RouteTable, route_key

log = logging.getLogger("gorouter.registry")

MAX_PAYLOAD_BYTES = 1024 * 1024  # nats-server's default max_payload
UINT16_MAX = 0xFFFF
INT64_MAX = 2**63 - 1


class InvalidRegistryMessage(ValueError):
    """A register/unregister payload gorouter would log as `validation-error` and drop."""


@dataclass(slots=True)
class RegistryMessage:
    host: str = ""
    port: int = 0
    tls_port: int = 0
    uris: list[str] = field(default_factory=list)
    app: str = ""
    private_instance_id: str = ""
    private_instance_index: str = ""
    server_cert_domain_san: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    stale_threshold_in_seconds: int = 0
    route_service_url: str = ""
    isolation_segment: str = ""
    endpoint_updated_at_ns: int = 0
    protocol: str = ""
    availability_zone: str = ""
    load_balancing: str = ""

    @property
    def tls(self) -> bool:
        return self.tls_port != 0

    @property
    def address(self) -> str:
        """The pool key: tls_port preferred over port."""
        return f"{self.host}:{self.tls_port or self.port}"


def _string(name: str, v: object) -> str:
    if not isinstance(v, str):
        raise InvalidRegistryMessage(
            f"json: cannot unmarshal {_json_type(v)} into Go struct field "
            f"RegistryMessage.{name} of type string")
    return v


def _int(name: str, v: object, lo: int, hi: int, go_type: str) -> int:
    if type(v) is not int or not lo <= v <= hi:
        raise InvalidRegistryMessage(
            f"json: cannot unmarshal {_json_type(v)} {v!r} into Go struct field "
            f"RegistryMessage.{name} of type {go_type}")
    return v


def _json_type(v: object) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "value"


def _str_list(name: str, v: object) -> list[str]:
    if type(v) is list and all(type(u) is str for u in v):
        return v
    if not isinstance(v, list):
        raise InvalidRegistryMessage(
            f"json: cannot unmarshal {_json_type(v)} into Go struct field "
            f"RegistryMessage.{name} of type []string")
    return [_string(name, u) if u is not None else "" for u in v]


def _str_map(name: str, v: object) -> dict[str, str]:
    if type(v) is dict and all(type(x) is str for x in v.values()):
        return v
    if not isinstance(v, dict):
        raise InvalidRegistryMessage(
            f"json: cannot unmarshal {_json_type(v)} into Go struct field "
            f"RegistryMessage.{name} of type map[string]string")
    return {k: (_string(name, x) if x is not None else "") for k, x in v.items()}


def _options(v: object) -> str:
    if not isinstance(v, dict):
        raise InvalidRegistryMessage(
            f"json: cannot unmarshal {_json_type(v)} into Go struct field "
            "RegistryMessage.options of type mbus.RegistryMessageOpts")
    for k, x in v.items():
        if k.lower() == "loadbalancing" and x is not None:
            return _string("options.loadbalancing", x)
    return ""


_STRINGS = frozenset({"host", "app", "private_instance_id", "private_instance_index",
                      "server_cert_domain_san", "route_service_url", "isolation_segment",
                      "protocol", "availability_zone"})
_UINT16 = frozenset({"port", "tls_port"})
_INT64 = {"stale_threshold_in_seconds": "int", "endpoint_updated_at_ns": "int64"}
_KNOWN = _STRINGS | _UINT16 | set(_INT64) | {"uris", "tags", "options"}
_LOWER = {k.lower(): k for k in _KNOWN}
# Exact key → kind for the fast path: 0 string, 1 uint16, 2 []string, 3 map, 4 int64.
_FAST = {**dict.fromkeys(_STRINGS, 0), **dict.fromkeys(_UINT16, 1), "uris": 2, "tags": 3,
         **dict.fromkeys(_INT64, 4)}
try:  # orjson decodes registry messages ~4x faster; the stdlib is the fallback.
    from orjson import loads as _loads
except ImportError:  # pragma: no cover
    _json_decode = json.JSONDecoder().decode

    def _loads(payload: bytes | str) -> object:
        return _json_decode(payload.decode("utf-8") if isinstance(payload, bytes) else payload)


def _decode_fields(data: dict) -> dict[str, object]:
    """The general case: case-insensitive names, nulls, unknown keys, type errors."""
    kw: dict[str, object] = {}
    for key, value in data.items():
        if key not in _KNOWN:
            key = _LOWER.get(key.lower(), "")
            if not key:
                continue  # unknown fields are ignored, as encoding/json does
        if value is None:
            continue  # null leaves the zero value
        if key in _STRINGS:
            kw[key] = value if type(value) is str else _string(key, value)
        elif key in _UINT16:
            kw[key] = _int(key, value, 0, UINT16_MAX, "uint16")
        elif key == "uris":
            kw[key] = _str_list(key, value)
        elif key == "tags":
            kw[key] = _str_map(key, value)
        elif key == "options":
            kw["load_balancing"] = _options(value)
        else:
            kw[key] = _int(key, value, -INT64_MAX - 1, INT64_MAX, _INT64[key])
    return kw


def parse_registry_message(payload: bytes | str) -> RegistryMessage:
    """Decode and validate one register/unregister payload or raise InvalidRegistryMessage.

    Written as one flat loop with exact type checks: it runs for every heartbeat of
    every route (100k routes every 20 s), so it must stay cheap.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidRegistryMessage(f"payload of {len(payload)} bytes is over {MAX_PAYLOAD_BYTES}")
    try:
        data = _loads(payload)
    except (ValueError, RecursionError) as e:
        raise InvalidRegistryMessage(f"invalid JSON: {e}") from None
    if type(data) is not dict:
        raise InvalidRegistryMessage(
            f"json: cannot unmarshal {_json_type(data)} into Go value of type mbus.RegistryMessage")
    # Fast path: every key spelled exactly and of the right type (what route emitters
    # send) means the decoded dict can be the constructor's keywords as it is.
    for key, value in data.items():
        kind = _FAST.get(key)
        if kind == 0:
            if type(value) is str:
                continue
        elif kind == 1:
            if type(value) is int and 0 <= value <= UINT16_MAX:
                continue
        elif kind == 2:
            if type(value) is list and all([type(u) is str for u in value]):
                continue
        elif kind == 3:
            if type(value) is dict and all([type(x) is str for x in value.values()]):
                continue
        elif kind == 4:
            if type(value) is int and -INT64_MAX - 1 <= value <= INT64_MAX:
                continue
        msg = RegistryMessage(**_decode_fields(data))
        break
    else:
        msg = RegistryMessage(**data)
    if msg.route_service_url and not msg.route_service_url.startswith("https"):
        raise InvalidRegistryMessage(
            f"invalid route service url {msg.route_service_url!r}: must use https")
    return msg


class Registry:
    """Applies register/unregister messages to the route table and prunes stale endpoints."""

    def __init__(self, table: RouteTable | None = None, *, clock: Callable[[], float],
                 droplet_stale_threshold: float = 120.0, max_conns: int = 500,
                 balancing_algorithm: str = ROUND_ROBIN,
                 retry_after_failure: float | None = None,
                 sharding_mode: str = "all", isolation_segments: tuple[str, ...] = (),
                 metrics: Metrics | None = None) -> None:
        self.table = table if table is not None else RouteTable()
        self.clock = clock
        self.droplet_stale_threshold = droplet_stale_threshold
        self.max_conns = max_conns
        self.balancing_algorithm = balancing_algorithm
        # gorouter: retryAfterFailure = droplet_stale_threshold / 4 (gorouter #102).
        self.retry_after_failure = (droplet_stale_threshold / 4 if retry_after_failure is None
                                    else retry_after_failure)
        self.sharding_mode = sharding_mode
        self.isolation_segments = frozenset(isolation_segments)
        self.metrics = metrics or Metrics()
        self.last_update = 0.0
        self._endpoint_tally = [0]  # kept by the pools this registry creates

    # -- messages -------------------------------------------------------------
    def _in_shard(self, msg: RegistryMessage) -> bool:
        if self.sharding_mode == "segments":
            return msg.isolation_segment in self.isolation_segments
        if self.sharding_mode == "shared-and-segments":
            return not msg.isolation_segment or msg.isolation_segment in self.isolation_segments
        return True

    def _threshold(self, msg: RegistryMessage) -> float:
        threshold = float(self.droplet_stale_threshold)
        if 0 < msg.stale_threshold_in_seconds < threshold:
            threshold = float(msg.stale_threshold_in_seconds)  # can only shorten the TTL
        return threshold

    def endpoint_for(self, msg: RegistryMessage, now: float | None = None,
                     threshold: float | None = None) -> Endpoint:
        port = msg.tls_port or msg.port
        return Endpoint(
            host=msg.host, port=port, key=f"{msg.host}:{port}", tls=msg.tls_port != 0,
            app_id=msg.app, private_instance_id=msg.private_instance_id,
            private_instance_index=msg.private_instance_index,
            server_cert_domain_san=msg.server_cert_domain_san, tags=msg.tags,
            protocol=msg.protocol or "http1",
            stale_threshold=self._threshold(msg) if threshold is None else threshold,
            route_service_url=msg.route_service_url, isolation_segment=msg.isolation_segment,
            availability_zone=msg.availability_zone,
            endpoint_updated_at_ns=msg.endpoint_updated_at_ns,
            load_balancing_algorithm=msg.load_balancing,
            updated_at=self.clock() if now is None else now)

    @staticmethod
    def _unchanged(e: Endpoint, msg: RegistryMessage, threshold: float) -> bool:
        """The heartbeat case, checked without building a new Endpoint."""
        return (e.private_instance_id == msg.private_instance_id
                and e.tls == (msg.tls_port != 0)
                and e.server_cert_domain_san == msg.server_cert_domain_san
                and e.app_id == msg.app
                and e.private_instance_index == msg.private_instance_index
                and e.tags == msg.tags
                and e.protocol == (msg.protocol or "http1")
                and e.stale_threshold == threshold
                and e.route_service_url == msg.route_service_url
                and e.isolation_segment == msg.isolation_segment
                and e.availability_zone == msg.availability_zone
                and e.endpoint_updated_at_ns == msg.endpoint_updated_at_ns
                and e.load_balancing_algorithm == msg.load_balancing)

    def register(self, msg: RegistryMessage) -> None:
        self.metrics.registry_message("register", msg.tags.get("component", ""))
        if self.sharding_mode != "all" and not self._in_shard(msg):
            return
        if msg.load_balancing and msg.load_balancing not in LB_ALGORITHMS:
            log.warning("invalid-pool-load-balancing-algorithm %r for %s; keeping the pool's",
                        msg.load_balancing, msg.uris)
        now = self.last_update = self.clock()
        key = msg.address
        table = self.table
        threshold = self._threshold(msg)
        for uri in msg.uris:
            host, path = route_key(uri)
            pool = table.get(host, path)
            if pool is None:
                pool = EndpointPool(host, path or "/", lb_algorithm=self.balancing_algorithm,
                                    max_conns=self.max_conns,
                                    retry_after_failure=self.retry_after_failure,
                                    tally=self._endpoint_tally)
                table.add(host, path, pool)
            else:
                current = pool.by_key.get(key)
                if current is not None and self._unchanged(current, msg, threshold):
                    current.updated_at = now
                    pool.route_service_url = msg.route_service_url
                    continue
            if pool.put(self.endpoint_for(msg, now, threshold)) is PutResult.UPDATED:
                log.debug("endpoint-replaced %s %s", uri, key)

    def unregister(self, msg: RegistryMessage) -> None:
        """Remove `host:port` (tls_port preferred) under each uri, whatever its instance id."""
        self.metrics.registry_message("unregister", msg.tags.get("component", ""))
        if not self._in_shard(msg):
            return
        self.last_update = self.clock()
        key = msg.address
        for uri in msg.uris:
            host, path = route_key(uri)
            pool = self.table.get(host, path)
            if pool is not None and pool.remove(key) and pool.is_empty():
                self.table.delete(host, path)

    def handle(self, subject: str, payload: bytes) -> None:
        """Route one NATS message; raises InvalidRegistryMessage for the caller to log and drop."""
        if subject == "router.register":
            self.register(parse_registry_message(payload))
        elif subject == "router.unregister":
            self.unregister(parse_registry_message(payload))

    # -- failures and pruning -------------------------------------------------
    def endpoint_failed(self, pool: EndpointPool, endpoint: Endpoint, *, failable: bool,
                        prunable: bool) -> bool:
        pruned = pool.endpoint_failed(endpoint, self.clock(), failable=failable,
                                      prunable=prunable)
        if pruned:
            log.info("prune-failed-endpoint %s%s %s", pool.host, pool.context_path, endpoint.key)
            self.metrics.inc("backend_pruned_on_failure")
            if pool.is_empty():
                # gorouter keeps the empty pool until the next prune cycle: 503 no_endpoints.
                pass
        return pruned

    def prune_stale_droplets(self) -> int:
        """One pruning pass: plain endpoints past their TTL go; TLS endpoints never do."""
        now = self.clock()
        pruned = 0
        for host, path, pool in self.table.items():
            stale = pool.prune_stale(now)
            for e in stale:
                log.info("pruned-route %s%s %s", host, path, e.key)
            pruned += len(stale)
            if pool.is_empty():
                self.table.delete(host, path)
        if pruned:
            self.metrics.inc("routes_pruned", pruned)
        return pruned

    def freshen_routes(self) -> None:
        """After a NATS outage with pruning suspended, every endpoint gets a new lease."""
        now = self.clock()
        for _, _, pool in self.table.items():
            pool.freshen(now)

    def lookup(self, host: str, path: str) -> EndpointPool | None:
        return self.table.lookup(host, path)

    def lookup_with_instance(self, host: str, path: str, app_id: str,
                             index: str) -> EndpointPool | None:
        """X-CF-App-Instance: a one-endpoint "surgical" pool (gorouter LookupWithInstance).

        The endpoint is shared with the route's pool, but failures are recorded in the
        throwaway pool (retry_after_failure 0), so they never prune the route itself.
        """
        pool = self.table.lookup(host, path)
        if pool is None:
            return None
        found = None
        for e in pool.endpoints:  # the last match wins, as in gorouter
            if e.app_id == app_id and e.private_instance_index == index:
                found = e
        if found is None:
            return None
        surgical = EndpointPool(pool.host, pool.context_path, lb_algorithm=pool.lb_algorithm,
                                max_conns=pool.max_conns, retry_after_failure=0.0)
        surgical.put(found)
        return surgical

    def num_endpoints(self) -> int:
        """total_endpoints: O(1), counted as pools add and remove endpoints."""
        return self._endpoint_tally[0]
