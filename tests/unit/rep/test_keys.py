"""Spare instance keys: the first few at once, the rest only with CPU no one wants."""

from __future__ import annotations

import threading

from foundry.rep.keys import KeyPool
from orchestrator.waiting import wait_for


def _nice(native_id: int) -> int:
    with open(f"/proc/self/task/{native_id}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[16])


def test_a_burst_grows_the_pool_which_refills_at_nice_19_and_hands_each_key_out_once():
    pool = KeyPool(2048, spares=4, urgent=1)
    wait_for(lambda: pool.ready() == 1, 60, 0.05, "the urgent key")
    assert pool.target == 1
    keys = [pool.take() for _ in range(3)]  # 1 spare, then 2 made on the spot: a burst
    assert pool.target == 4  # doubled at each empty take, up to spares
    wait_for(lambda: pool.ready() == 4, 120, 0.05, "four spare keys")
    assert pool.filler.native_id is not None
    assert _nice(pool.filler.native_id) == 19
    assert _nice(threading.get_native_id()) != 19  # only the filling thread was lowered
    keys += [pool.take() for _ in range(4)]
    assert pool.target == 4  # no empty take: it stays
    numbers = {k.private_numbers().p for k in keys}
    assert len(numbers) == 7 and all(k.key_size == 2048 for k in keys)


def test_a_pool_that_is_never_outrun_keeps_its_urgent_keys_only():
    pool = KeyPool(2048, spares=64, urgent=2)
    wait_for(lambda: pool.ready() == 2, 60, 0.05, "the urgent keys")
    pool.take()
    wait_for(lambda: pool.ready() == 2, 60, 0.05, "the urgent keys again")
    assert pool.target == 2 and _nice(pool.filler.native_id) != 19
