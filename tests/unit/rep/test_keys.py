"""Spare instance keys: the first few at once, the rest only with CPU no one wants."""

from __future__ import annotations

import threading

from foundry.rep.keys import KeyPool
from orchestrator.waiting import wait_for


def _nice(native_id: int) -> int:
    with open(f"/proc/self/task/{native_id}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[16])


def test_the_pool_fills_past_its_urgent_keys_at_nice_19_and_hands_each_key_out_once():
    pool = KeyPool(2048, spares=3, urgent=1)
    wait_for(lambda: pool.ready() == 3, 60, 0.05, "three spare keys")
    assert pool.filler.native_id is not None
    assert _nice(pool.filler.native_id) == 19
    assert _nice(threading.get_native_id()) != 19  # only the filling thread was lowered
    keys = [pool.take() for _ in range(5)]  # 3 spares, then 2 made on the spot
    numbers = {k.private_numbers().p for k in keys}
    assert len(numbers) == 5 and all(k.key_size == 2048 for k in keys)
