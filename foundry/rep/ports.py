"""Host port allocation on a cell.

First-fit is cf-networking's allocator (garden-external-networker): the lowest
free port from 61000, so a port freed by a stopped instance goes to the very
next container — the reuse behind stale-route misrouting. FIFO is Garden's
built-in pool (from 61001): a freed port is reused only after the pool cycles.
"""

from __future__ import annotations

from collections import deque


class PortsExhausted(RuntimeError):
    pass


class FirstFitAllocator:
    def __init__(self, start: int = 61000, size: int = 5000) -> None:
        self.start, self.size = start, size
        self._acquired: dict[int, str] = {}

    def acquire(self, owner: str) -> int:
        for port in range(self.start, self.start + self.size):
            if port not in self._acquired:
                self._acquired[port] = owner
                return port
        raise PortsExhausted(f"no free host port in {self.start}-{self.start + self.size - 1}")

    def release_owner(self, owner: str) -> list[int]:
        """Release every port of a destroyed container (cf-networking's `Down`)."""
        ports = [p for p, o in self._acquired.items() if o == owner]
        for p in ports:
            del self._acquired[p]
        return sorted(ports)

    def acquired(self) -> dict[int, str]:
        return dict(self._acquired)


class FifoAllocator:
    def __init__(self, start: int = 61001, size: int = 4534) -> None:
        self.start, self.size = start, size
        self._free: deque[int] = deque(range(start, start + size))
        self._acquired: dict[int, str] = {}

    def acquire(self, owner: str) -> int:
        if not self._free:
            raise PortsExhausted(f"no free host port in a pool of {self.size}")
        port = self._free.popleft()
        self._acquired[port] = owner
        return port

    def release_owner(self, owner: str) -> list[int]:
        ports = sorted(p for p, o in self._acquired.items() if o == owner)
        for p in ports:
            del self._acquired[p]
            self._free.append(p)
        return ports

    def acquired(self) -> dict[int, str]:
        return dict(self._acquired)


def new_allocator(kind: str) -> FirstFitAllocator | FifoAllocator:
    if kind == "first-fit":
        return FirstFitAllocator()
    if kind == "fifo":
        return FifoAllocator()
    raise ValueError(f"port_allocator: unknown allocator {kind!r} (first-fit or fifo)")
