"""Endpoints and endpoint pools (gorouter `route/pool.go`, `roundrobin.go`, `leastconnection.go`).

A pool holds the endpoints of one route (host + context path), keyed by
`host:port`. Selection is done by an iterator per request, so one request can
try several endpoints while the pool's shared round-robin cursor moves on for
everyone. Everything here is sans-IO: times come from the caller.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from enum import Enum

import msgspec

ROUND_ROBIN = "round-robin"
LEAST_CONNECTION = "least-connection"
LB_ALGORITHMS = (ROUND_ROBIN, LEAST_CONNECTION)


class Endpoint(msgspec.Struct, eq=False, gc=False):
    """One backend address of a route, as registered over NATS.

    A msgspec Struct that the garbage collector does not track (it refers to no
    container but its tags, a dict of strings): 100k routes are 100k endpoints, and
    every collection pass would walk them all.
    """

    host: str
    port: int
    tls: bool = False
    app_id: str = ""
    private_instance_id: str = ""
    private_instance_index: str = ""
    server_cert_domain_san: str = ""
    tags: dict[str, str] = {}
    protocol: str = "http1"
    stale_threshold: float = 120.0
    route_service_url: str = ""
    isolation_segment: str = ""
    availability_zone: str = ""
    endpoint_updated_at_ns: int = 0
    load_balancing_algorithm: str = ""
    updated_at: float = 0.0
    failed_at: float | None = None
    in_flight: int = 0
    key: str = ""  # host:port, the pool key; computed once
    backend_headers: str = ""  # its X-CF-* request lines (headers.py), built on first use

    def __post_init__(self) -> None:
        if not self.key:
            self.key = f"{self.host}:{self.port}"

    @property
    def instance_id_header(self) -> str:
        """X-CF-InstanceID: the instance guid, or host:port when there is none."""
        return self.private_instance_id or self.key

    def same_registration(self, other: Endpoint) -> bool:
        """gorouter's Endpoint.Equal minus the TTL: an identical re-register only refreshes."""
        return (
            self.tls == other.tls
            and self.app_id == other.app_id
            and self.private_instance_id == other.private_instance_id
            and self.private_instance_index == other.private_instance_index
            and self.server_cert_domain_san == other.server_cert_domain_san
            and self.tags == other.tags
            and self.protocol == other.protocol
            and self.stale_threshold == other.stale_threshold
            and self.route_service_url == other.route_service_url
            and self.isolation_segment == other.isolation_segment
            and self.availability_zone == other.availability_zone
            and self.endpoint_updated_at_ns == other.endpoint_updated_at_ns
        )

    def is_overloaded(self, max_conns: int) -> bool:
        return max_conns > 0 and self.in_flight >= max_conns

    def to_json(self) -> dict:
        """The `/routes` shape (gorouter `Endpoint.MarshalJSON`, empty strings omitted)."""
        out: dict = {"address": self.key}
        if self.availability_zone:
            out["availability_zone"] = self.availability_zone
        out["protocol"] = self.protocol
        out["tls"] = self.tls
        out["ttl"] = int(self.stale_threshold)
        out["tags"] = self.tags
        for name in ("route_service_url", "isolation_segment", "private_instance_id",
                     "server_cert_domain_san", "load_balancing_algorithm"):
            value = getattr(self, name)
            if value:
                out[name] = value
        return out


class PutResult(Enum):
    ADDED = "added"
    UPDATED = "updated"
    UNMODIFIED = "unmodified"


class EndpointPool:
    """The endpoints of one route plus its balancing state."""

    __slots__ = ("host", "context_path", "endpoints", "by_key", "next_idx",
                 "lb_algorithm", "route_service_url", "max_conns",
                 "retry_after_failure", "_random", "tally")

    def __init__(self, host: str, context_path: str = "/", *, lb_algorithm: str = ROUND_ROBIN,
                 max_conns: int = 500, retry_after_failure: float = 30.0,
                 rng: random.Random | None = None, tally: list[int] | None = None) -> None:
        self.host = host
        # A one-element list shared by the registry's pools: endpoints over all routes.
        self.tally = tally if tally is not None else [0]
        self.context_path = context_path
        self.endpoints: list[Endpoint] = []
        self.by_key: dict[str, Endpoint] = {}
        self.next_idx = -1
        self.lb_algorithm = lb_algorithm
        self.route_service_url = ""
        self.max_conns = max_conns
        self.retry_after_failure = retry_after_failure
        self._random = rng or random

    def __len__(self) -> int:
        return len(self.endpoints)

    def is_empty(self) -> bool:
        return not self.endpoints

    def put(self, endpoint: Endpoint) -> PutResult:
        """Add, refresh (same registration) or replace (e.g. another instance on a reused port)."""
        self.route_service_url = endpoint.route_service_url  # last registration wins
        algo = endpoint.load_balancing_algorithm
        if algo in LB_ALGORITHMS:
            self.lb_algorithm = algo
        current = self.by_key.get(endpoint.key)
        if current is None:
            self.endpoints.append(endpoint)
            self.by_key[endpoint.key] = endpoint
            self.tally[0] += 1
            return PutResult.ADDED
        if current.same_registration(endpoint):
            current.updated_at = endpoint.updated_at
            return PutResult.UNMODIFIED
        i = self.endpoints.index(current)
        endpoint.in_flight = current.in_flight
        self.endpoints[i] = endpoint
        self.by_key[endpoint.key] = endpoint
        return PutResult.UPDATED

    def remove(self, key: str) -> bool:
        current = self.by_key.pop(key, None)
        if current is None:
            return False
        self.endpoints.remove(current)
        self.tally[0] -= 1
        return True

    def find_by_instance_id(self, instance_id: str) -> Endpoint | None:
        for e in self.endpoints:
            if e.private_instance_id == instance_id:
                return e
        return None

    def all_overloaded(self) -> bool:
        max_conns = self.max_conns
        if max_conns <= 0 or not self.endpoints:
            return False
        for e in self.endpoints:  # a loop, not all(genexpr): this runs on every request
            if e.in_flight < max_conns:
                return False
        return True

    def endpoint_failed(self, endpoint: Endpoint, now: float, *, failable: bool,
                        prunable: bool) -> bool:
        """Record a failed attempt; returns True when the endpoint was pruned from the pool.

        A TLS endpoint with a prunable (dial/TLS) error leaves at once: it is never
        TTL-pruned, so this is how a reused port stops receiving traffic.
        """
        if endpoint.tls and prunable:
            current = self.by_key.get(endpoint.key)
            if current is endpoint:
                return self.remove(endpoint.key)
            return False
        if failable:
            endpoint.failed_at = now
        return False

    def prune_stale(self, now: float) -> list[Endpoint]:
        """Drop plain endpoints whose last heartbeat is older than their threshold."""
        stale = [e for e in self.endpoints
                 if not e.tls and e.updated_at < now - e.stale_threshold]
        for e in stale:
            self.remove(e.key)
        return stale

    def freshen(self, now: float) -> None:
        for e in self.endpoints:
            e.updated_at = now

    def iterator(self, now: float, sticky_instance_id: str = "",
                 lb_override: str = "") -> EndpointIterator:
        algo = lb_override or self.lb_algorithm
        if algo == LEAST_CONNECTION:
            return LeastConnection(self, now, sticky_instance_id)
        return RoundRobin(self, now, sticky_instance_id)


class EndpointIterator:
    """Picks endpoints for one request; `next()` returns None when nothing is eligible."""

    def __init__(self, pool: EndpointPool, now: float, sticky_instance_id: str) -> None:
        self.pool = pool
        self.now = now
        self.sticky_instance_id = sticky_instance_id

    def _sticky(self) -> Endpoint | None:
        if not self.sticky_instance_id:
            return None
        e = self.pool.find_by_instance_id(self.sticky_instance_id)
        self.sticky_instance_id = ""
        if e is None or e.is_overloaded(self.pool.max_conns):
            return None
        return e

    def next(self) -> Endpoint | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __iter__(self) -> Iterator[Endpoint]:
        while (e := self.next()) is not None:
            yield e


class RoundRobin(EndpointIterator):
    """Shared cursor from a random start; skips endpoints failed < retry_after_failure ago."""

    def next(self) -> Endpoint | None:
        sticky = self._sticky()
        if sticky is not None:
            return sticky
        pool = self.pool
        eps = pool.endpoints
        size = len(eps)
        if size == 0:
            return None
        if pool.next_idx < 0:
            pool.next_idx = pool._random.randrange(size)
        elif pool.next_idx >= size:
            pool.next_idx = 0
        start = cur = pool.next_idx
        max_conns = pool.max_conns
        while True:
            e = eps[cur]
            nxt = cur + 1
            if nxt == size:
                nxt = 0
            pool.next_idx = nxt
            if e.failed_at is not None and self.now - e.failed_at > pool.retry_after_failure:
                e.failed_at = None
            if e.failed_at is None and not e.is_overloaded(max_conns):
                return e
            cur = nxt
            if cur == start:
                break
        # Every endpoint is marked failed: clear the marks and pick one anyway.
        for e in eps:
            e.failed_at = None
        for i in range(size):
            e = eps[(start + i) % size]
            if not e.is_overloaded(max_conns):
                pool.next_idx = (start + i + 1) % size
                return e
        return None


class LeastConnection(EndpointIterator):
    """Fewest in-flight requests over a random permutation; ignores failure marks."""

    def next(self) -> Endpoint | None:
        sticky = self._sticky()
        if sticky is not None:
            return sticky
        eps = list(self.pool.endpoints)
        if not eps:
            return None
        self.pool._random.shuffle(eps)
        best: Endpoint | None = None
        for e in eps:
            if e.is_overloaded(self.pool.max_conns):
                continue
            if best is None or e.in_flight < best.in_flight:
                best = e
        return best
