"""malloc_trim gives freed heap back: the RSS drop is what the soak's verdict reads."""

from __future__ import annotations

from foundry import heap


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        return int(f.read().split("VmRSS:")[1].split()[0])


def test_freed_heap_goes_back_to_the_kernel() -> None:
    blocks = [bytes(4000) + bytes([i % 256]) for i in range(25_000)]  # ~100 MB of malloc chunks
    keep = blocks[::500]                                           # pins: the heap cannot shrink
    peak = rss_kb()
    del blocks
    before = rss_kb()
    assert before > peak - 20_000  # freed, but glibc still holds it
    assert heap.release_free_heap()
    after = rss_kb()
    assert before - after > 50_000, (peak, before, after)
    assert len(keep) == 50
