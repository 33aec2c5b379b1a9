import pytest

from foundry.route_emitter.scheduler import (
    EmitAll,
    GiveUp,
    Greet,
    RouteBroadcastScheduler,
    register_interval,
)

START = {"id": "r1", "hosts": ["10.0.0.1"], "minimumRegisterIntervalInSeconds": 20,
         "pruneThresholdInSeconds": 120}


def test_greets_every_second_then_gives_up_after_30():
    s = RouteBroadcastScheduler(1.0, 30)
    greets = []
    now = 0.0
    for _ in range(31):
        actions = s.tick(now)
        greets += [a for a in actions if isinstance(a, Greet)]
        assert s.tick(now + 0.5) == []  # no greet between attempts
        now += 1.0
    assert [g.attempt for g in greets] == list(range(1, 31))
    assert s.tick(now) == [] or s.gave_up
    assert s.gave_up


def test_give_up_action_after_max_attempts():
    s = RouteBroadcastScheduler(1.0, 2)
    assert s.tick(0) == [Greet(1)]
    assert s.tick(1) == [Greet(2)]
    assert s.tick(2) == [GiveUp(2)]
    assert s.next_deadline() is None


def test_reply_sets_interval_and_emits():
    s = RouteBroadcastScheduler()
    s.tick(0)
    assert s.on_router_start(START, 0.3, greet_reply=True) == [EmitAll("greeted")]
    assert s.tick(1.5) == []  # greeting stopped
    assert s.tick(20.2) == []
    assert s.tick(20.3) == [EmitAll("interval")]
    assert s.tick(40.3) == [EmitAll("interval")]
    assert s.on_router_start(START, 41, greet_reply=True) == []  # late greet reply ignored
    assert s.next_deadline() == pytest.approx(60.3)


def test_router_start_also_ends_greeting():
    s = RouteBroadcastScheduler()
    s.tick(0)
    assert s.on_router_start({**START, "minimumRegisterIntervalInSeconds": 5}, 0.1) == [
        EmitAll("greeted")]
    assert s.interval == 5


@pytest.mark.parametrize("r", [0.0, 0.5, 0.999])
def test_later_router_start_reemits_after_bounded_jitter(r):
    s = RouteBroadcastScheduler(jitter_factor=0.2, rng=lambda: r)
    s.on_router_start(START, 0)
    assert s.on_router_start(START, 10) == []
    at = 10 + r * 0.2 * 20
    assert at < 10 + 4  # jitter < 20 % of the interval
    assert s.next_deadline() == pytest.approx(at)
    assert s.tick(at) == [EmitAll("interval")]
    assert s.next_deadline() == pytest.approx(at + 20)


def test_register_interval_parsing():
    assert register_interval(START) == 20
    assert register_interval({}) == 20
    assert register_interval({"minimumRegisterIntervalInSeconds": 2}) == 2
    assert register_interval("junk") == 20
