"""Host port allocators: cf-networking's first-fit (reuse at once) and Garden's FIFO."""

from __future__ import annotations

import pytest

from foundry.rep.ports import FifoAllocator, FirstFitAllocator, PortsExhausted, new_allocator


def test_first_fit_starts_at_61000_and_reuses_a_freed_port_at_once():
    a = FirstFitAllocator()
    assert [a.acquire("A"), a.acquire("A"), a.acquire("B")] == [61000, 61001, 61002]
    assert a.release_owner("A") == [61000, 61001]
    # The next container gets A's old port: the root of stale-route misrouting.
    assert a.acquire("C") == 61000
    assert a.acquire("C") == 61001
    assert a.acquire("C") == 61003


def test_fifo_starts_at_61001_and_reuses_only_after_the_pool_cycles():
    a = FifoAllocator(size=4)
    assert [a.acquire("A"), a.acquire("B")] == [61001, 61002]
    a.release_owner("A")
    assert [a.acquire("C"), a.acquire("C"), a.acquire("C")] == [61003, 61004, 61001]


def test_exhaustion_is_an_error():
    a = FirstFitAllocator(size=1)
    a.acquire("A")
    with pytest.raises(PortsExhausted):
        a.acquire("B")


def test_allocator_setting():
    assert isinstance(new_allocator("fifo"), FifoAllocator)
    with pytest.raises(ValueError, match="port_allocator"):
        new_allocator("random")
