"""The modes: single check, startup (retry until pass or timeout), liveness (loop until a
failure), readiness, until-ready. Clock and sleep are injected so the loops are tested
without waiting."""

from __future__ import annotations

from collections.abc import Callable

from foundry.healthcheck.flags import Options
from foundry.healthcheck.result import Result

Check = Callable[[], Result]


def run(opts: Options, check: Check, clock: Callable[[], float],
        sleep: Callable[[float], None], say: Callable[[str], None] = print) -> Result:
    if opts.until_ready_interval > 0:
        while not (r := check()).ok:
            sleep(opts.until_ready_interval)
        return r
    if opts.startup_interval > 0:
        started = clock()
        while True:
            r = check()
            if r.ok:
                break
            if clock() - started >= opts.startup_timeout:
                return Result(r.code, f"Instance never healthy after {opts.startup_timeout:g}s: "
                                      f"{r.message}")
            sleep(opts.startup_interval)
        if opts.liveness_interval <= 0 and opts.readiness_interval <= 0:
            return r
    if opts.liveness_interval > 0:
        while True:
            r = check()
            if not r.ok:
                return Result(r.code, f"Instance became unhealthy: {r.message}")
            sleep(opts.liveness_interval)
    if opts.readiness_interval > 0:
        ready: bool | None = None
        while True:  # reports changes; never exits on its own
            r = check()
            if r.ok != ready:
                ready = r.ok
                say("ready" if ready else f"not ready: {r.message}")
            sleep(opts.readiness_interval)
    return check()
