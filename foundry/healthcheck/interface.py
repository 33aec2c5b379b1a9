"""The address to check: the container's first non-loopback IPv4 address, never 127.0.0.1
(an app bound only to localhost must fail, as on Diego)."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import subprocess


def _usable(addr: str) -> bool:
    try:
        ip = ipaddress.IPv4Address(addr)
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_unspecified or ip.is_link_local)


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
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True,
                             timeout=5).stdout
        if addr := parse_ip_addr(out):
            return addr
    with contextlib.suppress(OSError), open("/proc/net/fib_trie", encoding="ascii") as f:
        if addr := parse_fib_trie(f.read()):
            return addr
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 1))  # no packet is sent; the kernel picks the source
        if _usable(addr := s.getsockname()[0]):
            return addr
    return None
