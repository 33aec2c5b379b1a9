"""Spare RSA keys for instance credentials, generated ahead of need.

An RSA key takes 0.1–1 s to generate on a busy 2-core cell, which would sit on
the path from "desired" to "routable" for every start and rotation. The pool
keeps a few unused keys ready; each key is handed out once, so every
certificate still gets a key of its own, made on the cell.
"""

from __future__ import annotations

import queue
import threading

from cryptography.hazmat.primitives.asymmetric import rsa

from foundry.pki.ca import new_key


class KeyPool:
    def __init__(self, key_size: int, spares: int = 4) -> None:
        self.key_size = key_size
        self._spares: queue.Queue[rsa.RSAPrivateKey] = queue.Queue(maxsize=spares)
        self._wanted = threading.Event()
        self._wanted.set()
        threading.Thread(target=self._fill, name="key-pool", daemon=True).start()

    def _fill(self) -> None:
        while True:
            self._wanted.wait()
            while not self._spares.full():
                self._spares.put(new_key(self.key_size))
            self._wanted.clear()

    def take(self) -> rsa.RSAPrivateKey:
        """A spare key if one is ready, else a fresh one made now."""
        try:
            key = self._spares.get_nowait()
        except queue.Empty:
            key = new_key(self.key_size)
        self._wanted.set()
        return key
