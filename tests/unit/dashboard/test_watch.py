"""The dashboard's two rates: per-second probes and identity reads while someone watches
(an open page, or a snapshot read in the last minute), a slow round while no one does."""

from __future__ import annotations

import asyncio
import time
from itertools import pairwise

import pytest

from foundry.dashboard import hub as hub_module
from foundry.dashboard.collectors import Collectors
from foundry.dashboard.config import ConfigError, from_dict
from foundry.dashboard.hub import WATCH_GRACE, Hub


def test_a_page_or_a_recent_snapshot_read_is_watching(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(hub_module.time, "monotonic", lambda: now[0])
    hub = Hub()
    assert not hub.watched()
    sub = hub.subscribe()
    assert hub.watched()
    hub.unsubscribe(sub)
    assert not hub.watched()
    hub.look()
    now[0] += WATCH_GRACE - 1
    assert hub.watched()
    now[0] += 2
    assert not hub.watched()


def rounds(cfg: dict, watch_after: float | None, span: float) -> list[float]:
    """Start times of the rounds `next_round` paces within `span` seconds; a page
    subscribes `watch_after` seconds in (None: never)."""
    collectors = Collectors(from_dict({"bbs_address": "http://bbs:8889", **cfg}), Hub())
    starts: list[float] = []

    async def loop() -> None:
        while True:
            started = time.monotonic()
            starts.append(started)
            await collectors.next_round(started)

    async def main() -> None:
        task = asyncio.create_task(loop())
        if watch_after is not None:
            await asyncio.sleep(watch_after)
            collectors.hub.subscribe()
        await asyncio.sleep(span - (watch_after or 0))
        task.cancel()
    t0 = time.monotonic()
    asyncio.run(main())
    return [s - t0 for s in starts]


def test_unwatched_rounds_come_at_the_idle_interval():
    starts = rounds({"poll_interval": 0.1, "idle_poll_interval": 0.6}, None, 1.5)
    assert len(starts) == 3, starts  # at 0, 0.6, 1.2: not every 0.1 s
    assert all(b - a >= 0.55 for a, b in pairwise(starts)), starts


def test_a_page_that_opens_ends_the_idle_wait_and_keeps_the_live_rate():
    starts = rounds({"poll_interval": 0.1, "idle_poll_interval": 30}, 0.3, 1.0)
    assert starts[0] < 0.05 and 0.3 <= starts[1] < 0.45, starts  # woken, not 30 s later
    live = starts[1:]
    assert len(live) >= 5 and all(b - a < 0.25 for a, b in pairwise(live)), starts


def test_the_idle_interval_cannot_be_shorter_than_the_live_one():
    with pytest.raises(ConfigError, match="idle_poll_interval"):
        from_dict({"bbs_address": "http://bbs:8889", "poll_interval": 2,
                   "idle_poll_interval": 1})
    with pytest.raises(ConfigError, match="poll_interval"):
        from_dict({"bbs_address": "http://bbs:8889", "poll_interval": 0})


def test_the_bbs_long_poll_waits_long_unwatched_and_ends_when_a_page_opens():
    collectors = Collectors(from_dict({"bbs_address": "http://bbs:8889", "poll_interval": 0.1,
                                       "idle_poll_interval": 30}), Hub())
    polls: list[str] = []
    refreshed: list[float] = []

    async def bbs_json(path: str, timeout: float = 3.0):
        polls.append(path)
        await asyncio.sleep(float(path.rsplit("timeout=", 1)[1]))  # no change meanwhile
        return {"version": 1}

    async def refresh() -> None:
        refreshed.append(time.monotonic())

    collectors._bbs_json = bbs_json  # type: ignore[method-assign]
    collectors.refresh_bbs = refresh  # type: ignore[method-assign]

    async def main() -> None:
        task = asyncio.create_task(collectors.bbs_loop())
        await asyncio.sleep(0.3)
        collectors.hub.subscribe()
        await asyncio.sleep(0.3)
        task.cancel()
    t0 = time.monotonic()
    asyncio.run(main())
    assert polls[0].endswith("timeout=30"), polls        # unwatched: one long poll
    assert len(refreshed) == 2 and refreshed[1] - t0 < 0.45, refreshed  # a page ends it
    assert polls[1].endswith("timeout=2"), polls         # watched: the 2 s poll


def identity_rounds(watched: bool, certs: dict[str, tuple[float, float]]) -> list[str]:
    """The instances one identity round reads; `certs`: guid -> (not_before, not_after)
    of the certificate on record before the round (absent: none yet)."""
    from foundry.dashboard.certs import CertInfo, Identity
    collectors = Collectors(from_dict({"bbs_address": "http://bbs:8889"}), Hub())
    collectors.tls_targets = {g: f"10.0.0.{i}:61001" for i, g in enumerate(["new", *certs])}
    for guid, (nb, na) in certs.items():
        ident = collectors.identities[guid] = Identity(guid)
        ident.observe(CertInfo(serial=f"s-{guid}", not_before=nb, not_after=na), nb)
    if watched:
        collectors.hub.subscribe()
    read: list[str] = []

    async def read_cert(guid: str, target: str) -> bytes:
        read.append(guid)
        raise OSError("no proxy here")

    async def stop(started: float) -> None:
        raise asyncio.CancelledError

    collectors.read_cert = read_cert  # type: ignore[method-assign]
    collectors.next_round = stop  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(collectors.identity_loop())
    return sorted(read)


def test_an_unwatched_round_reads_only_new_certificates_and_due_rotations():
    now = time.time()
    certs = {"fresh": (now - 60, now + 24 * 3600),       # rotation 30 min before expiry
             "due": (now - 24 * 3600, now + 10 * 60),     # inside its last 30 min
             "short-due": (now - 100, now + 10)}          # < 4 h: an eighth left
    assert identity_rounds(False, certs) == ["due", "new", "short-due"]
    assert identity_rounds(True, certs) == ["due", "fresh", "new", "short-due"]


def test_a_failed_read_is_read_again_in_the_next_unwatched_round():
    collectors = Collectors(from_dict({"bbs_address": "http://bbs:8889"}), Hub())
    from foundry.dashboard.certs import Identity
    collectors.identities["g"] = Identity("g", error="OSError: refused")
    assert collectors.due("g", time.time())


def test_route_rows_wait_for_someone_to_watch():
    collectors = Collectors(from_dict({"bbs_address": "http://bbs:8889"}), Hub())
    built: list[int] = []
    collectors.route_table = lambda: built.append(1) or {}  # type: ignore[method-assign]

    async def main() -> None:
        task = asyncio.create_task(collectors.routes_loop())
        collectors.routes_dirty = True
        await asyncio.sleep(0.5)
        assert not built and collectors.routes_dirty  # no one watches: nothing built
        collectors.hub.subscribe()
        await asyncio.sleep(0.3)
        task.cancel()
    asyncio.run(main())
    assert built == [1] and not collectors.routes_dirty
