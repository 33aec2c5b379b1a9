"""The address to check: the container's first non-loopback IPv4 address, never 127.0.0.1
(an app bound only to localhost must fail, as on Diego)."""

from __future__ import annotations

import contextlib
import os
import socket

# No `ipaddress` or `subprocess` here: the liveness process every instance keeps running
# imports this module, and each import stays in its RSS.


def _usable(addr: str) -> bool:
    parts = addr.split(".")
    if len(parts) != 4 or not all(p.isascii() and p.isdigit() and int(p) <= 255
                                  and (p == "0" or not p.startswith("0")) for p in parts):
        return False
    a, b = int(parts[0]), int(parts[1])
    return not (a == 127 or addr == "0.0.0.0" or (a, b) == (169, 254))


def _ip_addr_output() -> str:
    """`ip -4 -o addr`'s output, through posix_spawn and a pipe."""
    r, w = os.pipe()
    try:
        pid = os.posix_spawnp("ip", ["ip", "-4", "-o", "addr"], os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, w, 1), (os.POSIX_SPAWN_CLOSE, r)])
    finally:
        os.close(w)
    chunks = []
    with os.fdopen(r, "rb") as f:
        while chunk := f.read(65536):
            chunks.append(chunk)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode(errors="replace")


def parse_ip_addr(output: str) -> str | None:
    """First usable address in ``ip -4 -o addr`` output (interface order)."""
    for line in output.splitlines():
        fields = line.split()
        if "inet" in fields:
            addr = fields[fields.index("inet") + 1].split("/")[0]
            if _usable(addr):
                return addr
    return None


def parse_fib_trie(text: str) -> str | None:
    """First local host address in /proc/net/fib_trie (when iproute2 is absent)."""
    last = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("|--"):
            last = stripped[3:].strip()
        elif "/32 host LOCAL" in stripped and last and _usable(last):
            return last
    return None


def find_address() -> str | None:
    with contextlib.suppress(OSError):
        if addr := parse_ip_addr(_ip_addr_output()):
            return addr
    with contextlib.suppress(OSError), open("/proc/net/fib_trie", encoding="ascii") as f:
        if addr := parse_fib_trie(f.read()):
            return addr
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 1))  # no packet is sent; the kernel picks the source
        if _usable(addr := s.getsockname()[0]):
            return addr
    return None
