"""The one way host-side code waits for a condition: poll it until a deadline (tenacity).

The orchestrator, the scenarios, the benches and the tests all wait the same way: call a
predicate every `interval` until it returns something truthy, treat the exceptions named
in `retry_on` as "not yet" (a server still starting refuses connections), and on timeout
fail with what was waited for and the last result or error. Platform jobs inside the
containers do not use it (tenacity is a host-side dependency).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

import tenacity

Retryable = type[BaseException] | tuple[type[BaseException], ...]


class WaitTimeout(AssertionError):
    """The condition did not hold in time; `last` is its last result or exception.

    An AssertionError so a test that waits fails as a failed assertion."""

    def __init__(self, what: str, timeout: float, last: Any) -> None:
        super().__init__(f"timed out after {timeout:g}s waiting for {what}; last: {last!r}")
        self.what, self.timeout, self.last = what, timeout, last


def _policy(timeout: float, interval: float, retry_on: Retryable) -> dict[str, Any]:
    return {"stop": tenacity.stop_after_delay(timeout), "wait": tenacity.wait_fixed(interval),
            "retry": tenacity.retry_if_exception_type(retry_on)
            | tenacity.retry_if_not_result(bool)}


def _timeout(e: tenacity.RetryError, what: str, timeout: float) -> WaitTimeout:
    attempt = e.last_attempt
    return WaitTimeout(what, timeout, attempt.exception() if attempt.failed else attempt.result())


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05,
             what: str = "condition", retry_on: Retryable = Exception) -> Any:
    """`predicate()`'s first truthy result; WaitTimeout after `timeout` seconds."""
    try:
        return tenacity.Retrying(**_policy(timeout, interval, retry_on))(predicate)
    except tenacity.RetryError as e:
        raise _timeout(e, what, timeout) from None


async def wait_for_async(predicate: Callable[[], Any | Awaitable[Any]], timeout: float = 15.0,
                         interval: float = 0.05, what: str = "condition",
                         retry_on: Retryable = Exception) -> Any:
    """`wait_for` on the event loop: the predicate may be a plain or a coroutine function,
    and the loop keeps running between tries."""
    async def attempt() -> Any:
        result = predicate()
        return await result if inspect.isawaitable(result) else result

    try:
        return await tenacity.AsyncRetrying(**_policy(timeout, interval, retry_on))(attempt)
    except tenacity.RetryError as e:
        raise _timeout(e, what, timeout) from None


def seconds_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05,
                  what: str = "condition",
                  retry_on: Retryable = Exception) -> tuple[float | None, Any]:
    """(seconds until `predicate()` held, or None after `timeout`; its last result or
    error): for callers that measure how long a condition took and report a miss."""
    start = time.monotonic()
    try:
        result = wait_for(predicate, timeout, interval, what, retry_on)
    except WaitTimeout as e:
        return None, e.last
    return time.monotonic() - start, result
