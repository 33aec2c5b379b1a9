"""Spare RSA keys for instance credentials, generated ahead of need.

An RSA key takes 0.1–1 s to generate on a busy 2-core cell, which would sit on
the path from "desired" to "routable" for every start and rotation (during a scale-up
of 50 instances on 2 cells the credential step took 13-23 s of each start). The pool
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
    """`urgent` spares are made at once; the rest, up to `spares`, only with CPU no one
    else wants (the filling thread drops to nice 19 after the urgent ones): a cell that
    idled has a key ready for each of the next `spares` starts, while a cell under load
    makes its keys as it needs them, at the rep's own priority."""

    def __init__(self, key_size: int, spares: int = 32, urgent: int = 4) -> None:
        self.key_size = key_size
        self.urgent = min(urgent, spares)
        self._spares: queue.Queue[rsa.RSAPrivateKey] = queue.Queue(maxsize=spares)
        self._wanted = threading.Event()
        self._wanted.set()
        self.filler = threading.Thread(target=self._fill, name="key-pool", daemon=True)
        self.filler.start()

    def _fill(self) -> None:
        niced = False
        while True:
            self._wanted.wait()
            while not self._spares.full():
                if not niced and self._spares.qsize() >= self.urgent:
                    niced = _lower_own_priority()
                self._spares.put(new_key(self.key_size))
            self._wanted.clear()

    def ready(self) -> int:
        return self._spares.qsize()

    def take(self) -> rsa.RSAPrivateKey:
        """A spare key if one is ready, else a fresh one made now."""
        try:
            key = self._spares.get_nowait()
        except queue.Empty:
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
