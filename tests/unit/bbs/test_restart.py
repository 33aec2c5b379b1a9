import pytest

from foundry.bbs.restart import NS, RestartCalculator

calc = RestartCalculator()


@pytest.mark.parametrize("count,wait_s", [(0, 0), (1, 0), (2, 0), (3, 30), (4, 60), (5, 120),
                                          (6, 240), (7, 480), (8, 960), (9, 960), (50, 960)])
def test_cf_backoff_table(count, wait_s):
    assert calc.backoff_ns(count) == wait_s * NS


def test_immediate_restarts_for_first_two_crashes():
    assert calc.should_restart_immediately(1)
    assert calc.should_restart_immediately(2)
    assert not calc.should_restart_immediately(3)


def test_should_restart_after_backoff():
    assert not calc.should_restart(29 * NS, 0, 3)
    assert calc.should_restart(30 * NS, 0, 3)
    assert calc.should_restart(960 * NS, 0, 199)


def test_never_restarts_from_200():
    assert not calc.should_restart(10**6 * NS, 0, 200)


def test_configurable_base_and_cap():
    fast = RestartCalculator(backoff_base_s=1, backoff_max_s=4)
    assert [fast.backoff_ns(n) / NS for n in range(3, 8)] == [1, 2, 4, 4, 4]
