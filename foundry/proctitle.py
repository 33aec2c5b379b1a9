"""The command line `ps -ef` shows, set as Diego's Go binaries have it.

Debian's python3-setproctitle does the work in its C extension, but its package
imports `logging` (and through it `re`) first: ~30 ms of CPU and ~1.5 MB of RSS in
every health check and proxy process, measured in the stack image, and an instance
start runs four health checks. The extension alone is loaded here, by path.
"""

from __future__ import annotations

import os
import sys


class _Spec:
    """What `_imp.create_dynamic` reads of a module spec."""

    __slots__ = ("name", "origin")

    def __init__(self, name: str, origin: str) -> None:
        self.name, self.origin = name, origin


def _extension() -> object | None:
    import _imp  # noqa: PLC0415 - built in: what importlib itself loads extensions with

    for entry in sys.path:
        folder = os.path.join(entry or ".", "setproctitle")
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if name.startswith("_setproctitle") and name.endswith(".so"):
                try:
                    module = _imp.create_dynamic(_Spec("setproctitle._setproctitle",
                                                       os.path.join(folder, name)))
                    _imp.exec_dynamic(module)
                except (ImportError, OSError):
                    return None
                return module
    return None


def set_title(title: str) -> bool:
    """Show `title` as the whole command line; False where setproctitle is missing."""
    ext = _extension()
    if ext is None:
        return False
    ext.setproctitle(title)  # type: ignore[attr-defined]
    return True
