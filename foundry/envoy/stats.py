"""Counters and gauges with Envoy's names, and their text/JSON/Prometheus renderings.

The hot path holds ``Counter`` objects and bumps ``.value`` directly, so the
per-chunk cost is one attribute add instead of a dict lookup by name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable


class Counter:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class Gauge(Counter):
    __slots__ = ()


class Stats:
    def __init__(self) -> None:
        self.counters: dict[str, Counter] = {}
        self.gauges: dict[str, Gauge] = {}

    def counter(self, name: str) -> Counter:
        c = self.counters.get(name)
        if c is None:
            c = self.counters[name] = Counter()
        return c

    def gauge(self, name: str) -> Gauge:
        g = self.gauges.get(name)
        if g is None:
            g = self.gauges[name] = Gauge()
        return g

    def inc(self, name: str, n: int = 1) -> None:
        self.counter(name).value += n

    def set(self, name: str, value: int) -> None:
        self.gauge(name).value = value

    def get(self, name: str) -> int | None:
        stat = self.counters.get(name) or self.gauges.get(name)
        return None if stat is None else stat.value

    def items(self) -> list[tuple[str, int, str]]:
        """(name, value, 'counter'|'gauge') sorted by name, as /stats lists them."""
        rows = [(n, c.value, "counter") for n, c in self.counters.items()]
        rows += [(n, g.value, "gauge") for n, g in self.gauges.items()]
        return sorted(rows)


def _filtered(rows: Iterable[tuple[str, int, str]], pattern: str | None,
              used_only: bool = False) -> list[tuple[str, int, str]]:
    rx = re.compile(pattern) if pattern else None
    return [r for r in rows
            if (rx is None or rx.search(r[0])) and (not used_only or r[1] or r[2] == "gauge")]


def render_text(rows: Iterable[tuple[str, int, str]], pattern: str | None = None,
                used_only: bool = False) -> str:
    """Envoy's ``/stats``: one ``name: value`` line per stat."""
    return "".join(f"{n}: {v}\n" for n, v, _ in _filtered(rows, pattern, used_only))


def render_json(rows: Iterable[tuple[str, int, str]], pattern: str | None = None,
                used_only: bool = False) -> str:
    """Envoy's ``/stats?format=json``: ``{"stats": [{"name", "value"}, ...]}``."""
    stats = [{"name": n, "value": v} for n, v, _ in _filtered(rows, pattern, used_only)]
    return json.dumps({"stats": stats}, indent=1)


# Envoy's default tag extractors for the stat families this proxy emits.
_TAGS = (
    (re.compile(r"^listener\.((?:[0-9.]+|\[[^\]]*\]|[a-z]+)_\d+)\.(.*)$"), "envoy_listener_address", "listener."),
    (re.compile(r"^cluster\.([^.]+)\.(.*)$"), "envoy_cluster_name", "cluster."),
    (re.compile(r"^tcp\.([^.]+)\.(.*)$"), "envoy_tcp_prefix", "tcp."),
    (re.compile(r"^sds\.([^.]+)\.(.*)$"), "envoy_sds_secret", "sds."),
)
_BAD = re.compile(r"[^a-zA-Z0-9_]")


def prometheus_name_and_tags(name: str) -> tuple[str, dict[str, str]]:
    tags: dict[str, str] = {}
    for rx, tag, prefix in _TAGS:
        m = rx.match(name)
        if m:
            tags[tag] = m.group(1)
            name = prefix + m.group(2)
            break
    return "envoy_" + _BAD.sub("_", name), tags


def render_prometheus(rows: Iterable[tuple[str, int, str]], pattern: str | None = None) -> str:
    """Envoy's ``/stats/prometheus`` (text exposition format 0.0.4)."""
    families: dict[str, tuple[str, list[str]]] = {}
    for name, value, kind in _filtered(rows, pattern):
        metric, tags = prometheus_name_and_tags(name)
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(tags.items()))
        line = f"{metric}{{{labels}}} {value}"
        families.setdefault(metric, (kind, []))[1].append(line)
    out = []
    for metric in sorted(families):
        kind, lines = families[metric]
        out.append(f"# TYPE {metric} {kind}\n")
        out += [line + "\n" for line in lines]
    return "".join(out)
