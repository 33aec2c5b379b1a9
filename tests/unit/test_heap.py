"""malloc_trim gives freed heap back: the RSS drop is what the soak's verdict reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from foundry import heap

REPO = Path(__file__).resolve().parents[2]


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        return int(f.read().split("VmRSS:")[1].split()[0])


def test_freed_heap_goes_back_to_the_kernel() -> None:
    blocks = [bytes(4000) + bytes([i % 256]) for i in range(25_000)]  # ~100 MB of malloc chunks
    keep = blocks[::500]                                           # pins: the heap cannot shrink
    peak = rss_kb()
    del blocks
    before = rss_kb()
    assert before > peak - 20_000  # freed, but glibc still holds it
    assert heap.release_free_heap()
    after = rss_kb()
    assert before - after > 50_000, (peak, before, after)
    assert len(keep) == 50


MMAPPED = """
import ctypes, sys
from foundry import heap

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2

def mmapped_for_a_read() -> int:
    before = libc.mallinfo2().hblks
    buf = bytearray(heap.READ_BUFFER)  # what a TLS read allocates before it shrinks
    after = libc.mallinfo2().hblks
    del buf
    return after - before

print(mmapped_for_a_read(), heap.keep_reads_in_heap(), mmapped_for_a_read())
"""


def test_a_read_buffer_comes_from_the_heap_once_tuned() -> None:
    """Untuned, each 256 KiB read buffer is its own mmap (and munmap): the 16% of the
    router's time the profile showed. Tuned, it comes from the heap."""
    out = subprocess.run([sys.executable, "-c", MMAPPED], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout.split()
    assert out == ["1", "True", "0"], out
