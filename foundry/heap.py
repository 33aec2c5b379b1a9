"""Hand freed heap back to the kernel: glibc's `malloc_trim(0)`.

CPython frees memory to malloc, and glibc keeps freed chunks inside its heap
unless they sit at its very top, so a long-running job's RSS ratchets up to its
busiest moment and stays there. Go's runtime, which the real gorouter runs on,
returns idle spans to the kernel by itself. Measured on the router under route
churn (200 instance replacements, 21,711 requests, nothing left pooled): RSS 60.4
MB after warm-up, 70.9 MB at the end, 57.6 MB after one malloc_trim(0); the
tracemalloc view of the same run shows no Python object left behind. A trim costs
~2.5 ms on a freshly churned heap.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None


def release_free_heap() -> bool:
    """Return free heap pages to the kernel; False where libc has no malloc_trim."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
