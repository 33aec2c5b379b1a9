"""One line per phase with its duration, like kind's phase-by-phase output."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


class PhaseError(RuntimeError):
    """A phase failed; the message says what the user can do about it."""


@contextmanager
def phase(name: str, stream=sys.stdout) -> Iterator[list[str]]:
    """Print `name ...` now and `✓ name (1.2s) detail` when the block ends."""
    start = time.monotonic()
    details: list[str] = []
    print(f" • {name} ...", file=stream, flush=True)
    try:
        yield details
    except BaseException:
        print(f" ✗ {name} ({time.monotonic() - start:.1f}s)", file=stream, flush=True)
        raise
    extra = f"  {'; '.join(details)}" if details else ""
    print(f" ✓ {name} ({time.monotonic() - start:.1f}s){extra}", file=stream, flush=True)


def info(message: str, stream=sys.stdout) -> None:
    print(f"   {message}", file=stream, flush=True)
