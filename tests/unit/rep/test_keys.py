"""Spare instance keys: the first few at once, the rest only with CPU no one wants."""

from __future__ import annotations

import threading
import time

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


def test_the_spares_past_the_urgent_ones_wait_until_the_burst_is_over():
    made = []

    def instant(key_size: int):  # a stand-in key: only when keys are made matters here
        made.append(time.monotonic())
        return object()

    pool = KeyPool(2048, spares=8, urgent=1, quiet_s=0.4, make=instant)
    wait_for(lambda: pool.ready() == 1, 5, 0.01, "the urgent key")
    pool.target = 8  # as after a burst that outran the pool
    seen = []
    for _ in range(10):  # a burst of starts, one every 0.1 s: only the urgent key refills
        pool.take()
        wait_for(lambda: pool.ready() >= 1, 1, 0.005, "the urgent key, at once")
        time.sleep(0.1)  # the pace of the burst, not a wait for a condition
        seen.append(pool.ready())
    last = pool.last_take
    assert seen == [1] * 10
    wait_for(lambda: pool.ready() == 8, 5, 0.01, "the spares once the burst is over")
    after = sorted(t - last for t in made if t > last)
    # the urgent key came at once, the seven spares a quiet period later
    assert len(after) == 8 and after[0] < 0.2 and all(d >= 0.4 for d in after[1:]), after
