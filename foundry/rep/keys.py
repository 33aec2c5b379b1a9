"""Spare RSA keys for instance credentials, generated ahead of need.

An RSA key takes 0.1–1 s to generate on a busy 2-core cell, which would sit on
the path from "desired" to "routable" for every start and rotation: with Debian's
OpenSSL 3.0 a 2048-bit key took 0.4-1.2 s of CPU on a cell (measured), most of an
instance start's cost, and during a scale-up of 50 instances on 2 cells the credential
step took 13-23 s of each start. The pool
keeps unused keys ready; each key is handed out once, so every
certificate still gets a key of its own, made on the cell.
"""

from __future__ import annotations

import os
import queue
import threading

from cryptography.hazmat.primitives.asymmetric import rsa

from foundry.pki.ca import new_key


class KeyPool:
    """Keys made ahead: `urgent` at once, more only after a burst outran the pool, and
    those only with CPU no one else wants (the filling thread drops to nice 19 once the
    urgent ones exist). Each start that finds the pool empty doubles how many are kept,
    up to `spares`: a cell that saw a scale-up has keys ready for the next one, while
    a cell that starts a few instances makes no more keys than before."""

    def __init__(self, key_size: int, spares: int = 64, urgent: int = 4) -> None:
        self.key_size = key_size
        self.limit = max(1, spares)
        self.urgent = min(urgent, self.limit)
        self.target = self.urgent
        self._spares: queue.SimpleQueue[rsa.RSAPrivateKey] = queue.SimpleQueue()
        self._wanted = threading.Event()
        self._wanted.set()
        self.filler = threading.Thread(target=self._fill, name="key-pool", daemon=True)
        self.filler.start()

    def _fill(self) -> None:
        niced = False
        while True:
            self._wanted.wait()
            self._wanted.clear()  # before looking: a take() from now on is seen next round
            while self._spares.qsize() < self.target:
                if not niced and self._spares.qsize() >= self.urgent:
                    niced = _lower_own_priority()
                self._spares.put(new_key(self.key_size))

    def ready(self) -> int:
        return self._spares.qsize()

    def take(self) -> rsa.RSAPrivateKey:
        """A spare key if one is ready, else a fresh one made now."""
        try:
            key = self._spares.get_nowait()
        except queue.Empty:
            self.target = min(self.limit, self.target * 2)  # a burst: keep more next time
            key = new_key(self.key_size)
        self._wanted.set()
        return key


def _lower_own_priority() -> bool:
    """Nice 19 for the calling thread only (Linux: a thread is a task of its own)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (OSError, AttributeError):
        return False
    return True
