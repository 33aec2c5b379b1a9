"""Router metrics with gorouter's names, rendered as Prometheus text.

Counters are plain dict increments so the hot path stays cheap; gauges are
callables read at scrape time (e.g. total_routes from the route table).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

# gorouter's latency histogram buckets (seconds), as in its prometheus config.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128,
                   0.256, 0.512, 1.024, 2.048, 4.096, 8.192, 16.384)

COUNTERS = {
    "backend_invalid_id": "Requests whose backend certificate did not carry the expected SAN",
    "backend_invalid_tls_cert": "Requests whose backend certificate was not trusted",
    "backend_tls_handshake_failed": "Backend TLS handshakes that failed",
    "backend_exhausted_conns": "Requests rejected because every endpoint was at max_conns",
    "bad_gateways": "Requests answered 502",
    "rejected_requests": "Requests rejected before routing (400/431)",
    "routes_pruned": "Endpoints removed by the stale-route pruning cycle",
    "total_requests": "Requests received",
    "backend_pruned_on_failure": "TLS endpoints removed after a prunable failure",
}


_STATUS_CLASS = {n: f"{n}xx" for n in range(1, 6)}


class Metrics:
    """A tiny registry: counters, labelled counters, gauges and one latency histogram."""

    def __init__(self) -> None:
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.registry_messages: dict[tuple[str, str], int] = {}
        self.responses: dict[str, int] = {}
        self.gauges: dict[str, Callable[[], float]] = {}
        self._buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self._latency_sum = 0.0
        self._latency_count = 0
        self.peers: dict[str, dict] = {}  # worker → its last snapshot(), summed into render()

    def inc(self, name: str, by: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + by

    def registry_message(self, action: str, component: str) -> None:
        """gorouter's `registry_message.<component>` counter, split by register/unregister."""
        key = (action, component or "unknown")
        self.registry_messages[key] = self.registry_messages.get(key, 0) + 1

    def response(self, status: int) -> None:
        cls = _STATUS_CLASS.get(status // 100) or f"{status // 100}xx"
        self.responses[cls] = self.responses.get(cls, 0) + 1

    def observe_latency(self, seconds: float) -> None:
        self._buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self._latency_sum += seconds
        self._latency_count += 1

    def gauge(self, name: str, fn: Callable[[], float]) -> None:
        self.gauges[name] = fn

    def snapshot(self) -> dict:
        """This process's counts, as a worker reports them to the router's main process."""
        return {"counters": self.counters, "responses": self.responses,
                "registry_messages": [[a, c, n] for (a, c), n in
                                      self.registry_messages.items()],
                "buckets": self._buckets, "latency_sum": self._latency_sum,
                "latency_count": self._latency_count}

    def _totals(self) -> tuple[dict[str, int], dict[str, int], dict[tuple[str, str], int],
                               list[int], float, int]:
        counters, responses = dict(self.counters), dict(self.responses)
        registry = dict(self.registry_messages)
        buckets, total, count = list(self._buckets), self._latency_sum, self._latency_count
        for snap in self.peers.values():
            for k, v in snap.get("counters", {}).items():
                counters[k] = counters.get(k, 0) + v
            for k, v in snap.get("responses", {}).items():
                responses[k] = responses.get(k, 0) + v
            for a, c, n in snap.get("registry_messages", []):
                registry[(a, c)] = registry.get((a, c), 0) + n
            for i, n in enumerate(snap.get("buckets", [])[:len(buckets)]):
                buckets[i] += n
            total += snap.get("latency_sum", 0.0)
            count += snap.get("latency_count", 0)
        return counters, responses, registry, buckets, total, count

    def render(self) -> str:
        """Prometheus text; counters include every worker's last report."""
        counters, responses, registry, buckets, latency_sum, latency_count = self._totals()
        lines: list[str] = []
        for name, value in sorted(counters.items()):
            lines.append(f"# HELP {name} {COUNTERS.get(name, name)}")
            lines.append(f"# TYPE {name} counter")
            lines.append(f"{name} {value}")
        lines.append("# HELP registry_message NATS registry messages processed")
        lines.append("# TYPE registry_message counter")
        for (action, component), value in sorted(registry.items()):
            lines.append(f'registry_message{{action="{action}",component="{component}"}} {value}')
        lines.append("# HELP responses Responses by status class")
        lines.append("# TYPE responses counter")
        for cls, value in sorted(responses.items()):
            lines.append(f'responses{{status_group="{cls}"}} {value}')
        for name, fn in sorted(self.gauges.items()):
            lines.append(f"# TYPE {name} gauge")
            lines.append(f"{name} {fn():g}")
        lines.append("# HELP latency Request latency through the router in seconds")
        lines.append("# TYPE latency histogram")
        cumulative = 0
        for bound, count in zip(LATENCY_BUCKETS, buckets, strict=False):
            cumulative += count
            lines.append(f'latency_bucket{{le="{bound}"}} {cumulative}')
        cumulative += buckets[-1]
        lines.append(f'latency_bucket{{le="+Inf"}} {cumulative}')
        lines.append(f"latency_sum {latency_sum:.6f}")
        lines.append(f"latency_count {latency_count}")
        return "\n".join(lines) + "\n"
