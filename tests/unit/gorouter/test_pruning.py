"""Stale-route pruning with a fake clock (gorouter route/pool.go PruneEndpoints)."""

from __future__ import annotations

import json

from foundry.gorouter.pruning import PruningCycle
from foundry.gorouter.registry import Registry


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def reg_msg(port: int, tls: bool = False, **kw) -> bytes:
    m = {"host": "10.0.0.1", "uris": ["app.example.com"], "private_instance_id": f"g{port}"}
    m["tls_port" if tls else "port"] = port
    m.update(kw)
    return json.dumps(m).encode()


def setup(suspend: bool = False) -> tuple[Clock, Registry, PruningCycle]:
    clock = Clock()
    reg = Registry(clock=clock, droplet_stale_threshold=120)
    return clock, reg, PruningCycle(reg, interval=30, suspend_if_nats_unavailable=suspend,
                                    clock=clock)


def ports(reg: Registry) -> list[int]:
    pool = reg.lookup("app.example.com", "/")
    return sorted(e.port for e in pool.endpoints) if pool else []


def test_plain_pruned_after_threshold_tls_never() -> None:
    clock, reg, cycle = setup()
    reg.handle("router.register", reg_msg(1))
    reg.handle("router.register", reg_msg(2, tls=True))
    clock.t = 29
    assert cycle.tick() == 0  # not due yet
    clock.t = 120
    assert cycle.tick() == 0 and ports(reg) == [1, 2]  # exactly at threshold: kept
    clock.t = 150
    assert cycle.tick() == 1 and ports(reg) == [2]
    clock.t = 10_000
    cycle.tick()
    assert ports(reg) == [2]
    assert reg.metrics.counters["routes_pruned"] == 1


def test_heartbeat_keeps_plain_endpoint() -> None:
    clock, reg, cycle = setup()
    reg.handle("router.register", reg_msg(1))
    for t in range(20, 400, 20):
        clock.t = t
        reg.handle("router.register", reg_msg(1))
        cycle.tick()
    assert ports(reg) == [1]


def test_short_per_endpoint_threshold() -> None:
    clock, reg, cycle = setup()
    reg.handle("router.register", reg_msg(1, stale_threshold_in_seconds=10))
    clock.t = 31
    cycle.tick()
    assert ports(reg) == []
    assert reg.lookup("app.example.com", "/") is None  # empty route removed


def test_suspended_while_nats_unavailable_then_freshened() -> None:
    clock, reg, cycle = setup(suspend=True)
    reg.handle("router.register", reg_msg(1))
    cycle.nats_state(False)
    clock.t = 500
    assert cycle.tick() == 0 and ports(reg) == [1]
    cycle.nats_state(True)  # leases renewed at 500
    clock.t = 600
    cycle.tick()
    assert ports(reg) == [1]
    clock.t = 700
    cycle.tick()
    assert ports(reg) == []


def test_not_suspended_when_setting_off() -> None:
    clock, reg, cycle = setup(suspend=False)
    reg.handle("router.register", reg_msg(1))
    cycle.nats_state(False)
    clock.t = 500
    assert cycle.tick() == 1
