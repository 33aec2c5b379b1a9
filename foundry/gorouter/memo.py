"""A bounded memo for pure functions the router calls on inputs that repeat.

Backend response heads and access-log field values repeat request after
request; remembering the result costs a dict lookup where working it out again
costs a parse or a scan. The table is cleared when full rather than kept in
LRU order: an LRU's bookkeeping on every hit would cost about what is saved,
and a clear only means the next inputs are worked out once more.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    """`memo(key)` is `fn(key)`, worked out once per key while the table has room.
    `memo.get` is the table's own lookup (None on a miss) for a caller's hottest path."""

    __slots__ = ("fn", "max", "table", "get")

    def __init__(self, fn: Callable[[K], V], max_size: int) -> None:
        self.fn = fn
        self.max = max_size
        self.table: dict[K, V] = {}
        self.get = self.table.get

    def __call__(self, key: K) -> V:
        value = self.table.get(key)
        if value is None:
            value = self.fn(key)
            if len(self.table) >= self.max:
                self.table.clear()
            self.table[key] = value
        return value
