"""Detect files replaced by rename (or rewritten) by polling their stat signature.

Polling (no inotify) keeps the proxy dependency-free; the executor writes
``<name>.tmp`` and renames it, which changes the inode, so a cheap ``stat`` per
file every few hundred milliseconds sees every update.
"""

from __future__ import annotations

import os

Signature = tuple[int, int, int, int] | None


def signature(path: str) -> Signature:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


class FileWatcher:
    def __init__(self) -> None:
        self._seen: dict[str, Signature] = {}

    def track(self, path: str) -> None:
        """Start watching; the current state counts as already applied."""
        if path not in self._seen:
            self._seen[path] = signature(path)

    def changed(self) -> list[str]:
        """Paths whose signature changed since the last call (missing files are skipped)."""
        out = []
        for path, old in self._seen.items():
            new = signature(path)
            if new != old:
                self._seen[path] = new
                if new is not None:
                    out.append(path)
        return out
