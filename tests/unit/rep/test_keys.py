"""Spare instance keys: the first few at once, the rest only with CPU no one wants."""

from __future__ import annotations

import threading

from foundry.rep.keys import KeyPool
from orchestrator.waiting import wait_for


def _nice(native_id: int) -> int:
    with open(f"/proc/self/task/{native_id}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[16])


def test_a_burst_grows_the_pool_which_refills_at_nice_19_and_hands_each_key_out_once():
    pool = KeyPool(2048, spares=2, urgent=1)
    wait_for(lambda: pool.ready() == 1, 60, 0.05, "the urgent key")
    assert pool.target == 1
    # The spare, then one made on the spot (the filler needs far longer than this to
    # replace the spare): the second take finds the pool empty, a burst.
    keys = [pool.take() for _ in range(2)]
    assert pool.target == 2  # doubled, up to spares
    # The filler lowers itself before its first key past the urgent one (only that is
    # waited for: at nice 19 on a busy machine the key itself may take minutes).
    assert pool.filler.native_id is not None
    wait_for(lambda: _nice(pool.filler.native_id) == 19, 60, 0.05, "the filler at nice 19")
    assert _nice(threading.get_native_id()) != 19  # only the filling thread was lowered
    keys += [pool.take() for _ in range(3)]  # spares where ready, else made now
    assert pool.target == 2
    numbers = {k.private_numbers().p for k in keys}
    assert len(numbers) == 5 and all(k.key_size == 2048 for k in keys)


def test_a_pool_that_is_never_outrun_keeps_its_urgent_keys_only():
    pool = KeyPool(2048, spares=64, urgent=2)
    wait_for(lambda: pool.ready() == 2, 60, 0.05, "the urgent keys")
    pool.take()
    wait_for(lambda: pool.ready() == 2, 60, 0.05, "the urgent keys again")
    assert pool.target == 2 and _nice(pool.filler.native_id) != 19
