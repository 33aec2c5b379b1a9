"""Spare RSA keys for instance credentials, generated ahead of need.

An RSA key takes 0.1–1 s to generate on a busy 2-core cell, which would sit on
the path from "desired" to "routable" for every start and rotation: with Debian's
OpenSSL 3.0 a 2048-bit key took 0.4-1.2 s of CPU on a cell (measured), most of an
instance start's cost, and during a scale-up of 50 instances on 2 cells the credential
step took 13-23 s of each start. The pool
keeps unused keys ready; each key is handed out once, so every
certificate still gets a key of its own, made on the cell.

The keys past the first few wait until the cell has taken none for `QUIET_S`. Nice 19
ranks the filling thread only against the rep's own threads: Docker gives the cell's
cgroup the same CPU share as each app container's, so a refill that ran during a
scale-up took from the very starts it was meant to speed up.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import rsa

from foundry.pki.ca import new_key

QUIET_S = 5.0  # the spares past `urgent` wait until no key was taken for this long


class KeyPool:
    """Keys made ahead: `urgent` at once, more only after a burst outran the pool, and
    those only once the burst is over, at nice 19. Each start that finds the pool empty
    doubles how many are kept, up to `spares`: a cell that saw a scale-up has keys ready
    for the next one, while a cell that starts a few instances makes no more keys than
    before."""

    def __init__(self, key_size: int, spares: int = 64, urgent: int = 4,
                 quiet_s: float = QUIET_S,
                 make: Callable[[int], rsa.RSAPrivateKey] = new_key) -> None:
        self.key_size, self.quiet_s, self.make = key_size, quiet_s, make
        self.limit = max(1, spares)
        self.urgent = min(urgent, self.limit)
        self.target = self.urgent
        self.last_take = float("-inf")  # monotonic time of the last take()
        self._spares: queue.SimpleQueue[rsa.RSAPrivateKey] = queue.SimpleQueue()
        self._wanted = threading.Event()
        self._wanted.set()  # set by each take(): wakes the filler, idle or waiting for quiet
        self.filler = threading.Thread(target=self._fill, name="key-pool", daemon=True)
        self.filler.start()

    def _fill(self) -> None:
        niced = False
        while True:
            self._wanted.wait()
            self._wanted.clear()  # before looking: a take() from now on is seen next round
            while self._spares.qsize() < self.target:
                if self._spares.qsize() >= self.urgent:
                    niced = niced or _lower_own_priority()
                    if not self._await_quiet():
                        continue  # taken below `urgent` meanwhile: those come at once
                self._spares.put(self.make(self.key_size))

    def _await_quiet(self) -> bool:
        """True once no key has been taken for `quiet_s` (a burst of starts is over);
        False as soon as takes leave fewer than `urgent`."""
        while (left := self.last_take + self.quiet_s - time.monotonic()) > 0:
            if self._spares.qsize() < self.urgent:
                return False
            self._wanted.wait(left)  # the round after re-reads the pool: no take is lost
            self._wanted.clear()
        return True

    def ready(self) -> int:
        return self._spares.qsize()

    def take(self) -> rsa.RSAPrivateKey:
        """A spare key if one is ready, else a fresh one made now."""
        try:
            key = self._spares.get_nowait()
        except queue.Empty:
            self.target = min(self.limit, self.target * 2)  # a burst: keep more next time
            key = self.make(self.key_size)
        self.last_take = time.monotonic()
        self._wanted.set()
        return key


def _lower_own_priority() -> bool:
    """Nice 19 for the calling thread only (Linux: a thread is a task of its own)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (OSError, AttributeError):
        return False
    return True
