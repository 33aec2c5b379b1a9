"""orchestrator.waiting: the shared poll-until-deadline, sync and async."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from orchestrator.waiting import WaitTimeout, seconds_until, wait_for, wait_for_async


def test_returns_the_first_truthy_result_and_retries_errors():
    answers = iter([ConnectionRefusedError("starting"), 0, "ready"])

    def probe():
        a = next(answers)
        if isinstance(a, Exception):
            raise a
        return a

    assert wait_for(probe, timeout=5, interval=0.001) == "ready"


def test_a_timeout_names_the_wait_and_the_last_result():
    with pytest.raises(WaitTimeout, match=r"after 0.05s waiting for the BBS; last: \[\]") as e:
        wait_for(list, timeout=0.05, interval=0.01, what="the BBS")
    assert e.value.last == [] and isinstance(e.value, AssertionError)


def test_an_error_outside_retry_on_is_raised_at_once():
    calls = itertools.count()

    def probe():
        next(calls)
        raise KeyError("bug")

    with pytest.raises(KeyError):
        wait_for(probe, timeout=5, interval=0.001, retry_on=OSError)
    assert next(calls) == 1


def test_async_takes_plain_and_coroutine_predicates():
    n = itertools.count()

    async def later():
        return next(n) >= 2

    assert asyncio.run(wait_for_async(later, timeout=5, interval=0.001)) is True
    with pytest.raises(WaitTimeout, match="the socket"):
        asyncio.run(wait_for_async(lambda: None, timeout=0.02, interval=0.005, what="the socket"))


def test_seconds_until_reports_a_miss_with_the_last_error():
    took, last = seconds_until(lambda: 1, timeout=1)
    assert took is not None and 0 <= took < 1 and last == 1
    took, last = seconds_until(lambda: 1 / 0, timeout=0.02, interval=0.005)
    assert took is None and isinstance(last, ZeroDivisionError)
