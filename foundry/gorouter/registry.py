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
from typing import Annotated

import msgspec

from foundry.gorouter.metrics import Metrics
from foundry.gorouter.pool import LB_ALGORITHMS, ROUND_ROBIN, Endpoint, EndpointPool, PutResult
from foundry.gorouter.route_table import RouteTable, route_key

log = logging.getLogger("gorouter.registry")

MAX_PAYLOAD_BYTES = 1024 * 1024  # nats-server's default max_payload
UINT16_MAX = 0xFFFF
INT64_MAX = 2**63 - 1


class InvalidRegistryMessage(ValueError):
    """A register/unregister payload gorouter would log as `validation-error` and drop."""


_UINT16 = Annotated[int, msgspec.Meta(ge=0, le=UINT16_MAX)]
_INT64 = Annotated[int, msgspec.Meta(ge=-INT64_MAX - 1, le=INT64_MAX)]


class RegistryOptions(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """`options` (mbus.RegistryMessageOpts)."""

    loadbalancing: str = ""


class RegistryMessage(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """mbus.RegistryMessage. Decoded by msgspec only when every key is spelled exactly
    and every value has its type (what route emitters send); anything else, including
    an unknown key, goes through `_decode_fields`, which follows encoding/json."""

    host: str = ""
    port: _UINT16 = 0
    tls_port: _UINT16 = 0
    uris: list[str] = []
    app: str = ""
    private_instance_id: str = ""
    private_instance_index: str = ""
    server_cert_domain_san: str = ""
    tags: dict[str, str] = {}
    stale_threshold_in_seconds: _INT64 = 0
    route_service_url: str = ""
    isolation_segment: str = ""
    endpoint_updated_at_ns: _INT64 = 0
    protocol: str = ""
    availability_zone: str = ""
    options: RegistryOptions | None = None

    @property
    def load_balancing(self) -> str:
        return self.options.loadbalancing if self.options is not None else ""

    @property
    def tls(self) -> bool:
        return self.tls_port != 0

    @property
    def address(self) -> str:
        """The pool key: tls_port preferred over port."""
        return f"{self.host}:{self.tls_port or self.port}"


_decode_exact = msgspec.json.Decoder(RegistryMessage).decode


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
_UINT16_KEYS = frozenset({"port", "tls_port"})
_INT64_KEYS = {"stale_threshold_in_seconds": "int", "endpoint_updated_at_ns": "int64"}
_KNOWN = _STRINGS | _UINT16_KEYS | set(_INT64_KEYS) | {"uris", "tags", "options"}
_LOWER = {k.lower(): k for k in _KNOWN}
try:  # orjson decodes ~4x faster than the stdlib, which is the fallback.
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
        elif key in _UINT16_KEYS:
            kw[key] = _int(key, value, 0, UINT16_MAX, "uint16")
        elif key == "uris":
            kw[key] = _str_list(key, value)
        elif key == "tags":
            kw[key] = _str_map(key, value)
        elif key == "options":
            kw["options"] = RegistryOptions(_options(value))
        else:
            kw[key] = _int(key, value, -INT64_MAX - 1, INT64_MAX, _INT64_KEYS[key])
    return kw


def _decode_general(payload: bytes | str) -> RegistryMessage:
    """encoding/json's rules: case-insensitive names, nulls, unknown keys, type errors."""
    try:
        data = _loads(payload)
    except (ValueError, RecursionError) as e:
        raise InvalidRegistryMessage(f"invalid JSON: {e}") from None
    if type(data) is not dict:
        raise InvalidRegistryMessage(
            f"json: cannot unmarshal {_json_type(data)} into Go value of type mbus.RegistryMessage")
    return RegistryMessage(**_decode_fields(data))


def parse_registry_message(payload: bytes | str) -> RegistryMessage:
    """Decode and validate one register/unregister payload or raise InvalidRegistryMessage.

    It runs for every heartbeat of every route (100k routes every 20 s), so the
    common message is decoded and type-checked in one C call (msgspec: 5x the rate of
    orjson plus a Python check of each field, measured with `bench_gorouter.py`);
    only a message that call refuses pays for the general decoder.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidRegistryMessage(f"payload of {len(payload)} bytes is over {MAX_PAYLOAD_BYTES}")
    try:
        msg = _decode_exact(payload)
    except msgspec.MsgspecError:
        msg = _decode_general(payload)
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
        # Positional, in Endpoint's field order: one is built per new registration and
        # 17 keywords cost more than the rest of it (1.8 -> 1.0 us, timeit).
        return Endpoint(
            msg.host, port, msg.tls_port != 0, msg.app, msg.private_instance_id,
            msg.private_instance_index, msg.server_cert_domain_san, msg.tags,
            msg.protocol or "http1",
            self._threshold(msg) if threshold is None else threshold,
            msg.route_service_url, msg.isolation_segment, msg.availability_zone,
            msg.endpoint_updated_at_ns, msg.load_balancing,
            self.clock() if now is None else now, None, 0, f"{msg.host}:{port}")

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
        algorithm = msg.load_balancing
        if algorithm and algorithm not in LB_ALGORITHMS:
            log.warning("invalid-pool-load-balancing-algorithm %r for %s; keeping the pool's",
                        algorithm, msg.uris)
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
