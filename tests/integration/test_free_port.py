"""free_port: a port is never handed out twice in one process."""

from __future__ import annotations

import socket

from tests.support import free_port


def test_free_port_never_hands_out_one_port_twice() -> None:
    # 500 draws from the 12,000 ports below the ephemeral range: without the memory of what
    # was handed out, two would coincide in almost every run (a birthday collision).
    ports = [free_port() for _ in range(500)]
    assert len(set(ports)) == len(ports)
    assert all(20000 <= p <= 32000 for p in ports)
    with socket.socket() as s:  # and each is free to bind
        s.bind(("127.0.0.1", ports[-1]))
