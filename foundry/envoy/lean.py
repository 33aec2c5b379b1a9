"""Keep the resident set of the ``envoy`` process small (it runs in every app container).

Modules needed only while starting or (re)loading config -- argparse, PyYAML
and what they pull in -- are dropped from ``sys.modules`` once a load is done
and imported again on the next reload, so their code objects do not stay
resident. Only the real process does this (``python -m foundry.envoy`` marks
the baseline): in-process callers such as tests keep their modules untouched,
and a module that was loaded before the baseline is never dropped.
"""

from __future__ import annotations

import gc
import os
import sys

# Loaded on demand (config.load_yaml; cli.build_parser, whose HelpFormatter imports shutil
# and through it bz2/lzma); not needed between reloads.
TRANSIENT = ("yaml", "argparse", "gettext", "datetime", "shutil", "fnmatch", "bz2", "lzma", "_compression")

_baseline: frozenset[str] | None = None


def mark_baseline() -> None:
    """Called by ``__main__`` before anything else is imported."""
    global _baseline
    _baseline = frozenset(sys.modules)


def enabled() -> bool:
    return _baseline is not None


def release() -> None:
    """Drop transient modules (real process only) and hand free heap back to the OS."""
    if _baseline is not None:
        for name in list(sys.modules):
            root = name.partition(".")[0]
            if root in TRANSIENT and name not in _baseline:
                del sys.modules[name]
        gc.collect()
    trim_heap()


def trim_heap() -> None:
    """Give the YAML/PEM parsing garbage back to the OS (glibc only; RSS matters here)."""
    try:
        import ctypes  # noqa: PLC0415

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def load_yaml(text: bytes, what: str = "") -> object:
    """``config.load_yaml`` run in a forked child, so PyYAML never loads into the proxy.

    PyYAML and libyaml stay resident once imported (~2.5 MB: its C extension
    keeps the package alive), and the proxy only needs them for a few
    milliseconds per reload. The child parses and sends the value back with
    ``marshal``; an error comes back as its ``ConfigError`` message. Whenever
    that cannot work (no fork, a value marshal cannot carry such as a YAML
    timestamp, a child that dies) the document is parsed here instead, so the
    result is always exactly ``config.load_yaml``'s.
    """
    import marshal  # noqa: PLC0415 - builtin, costs nothing

    from .config import load_yaml as load_here  # noqa: PLC0415
    from .model import ConfigError  # noqa: PLC0415

    if _baseline is None or not hasattr(os, "fork"):
        return load_here(text, what)
    try:
        rfd, wfd = os.pipe()
    except OSError:
        return load_here(text, what)
    try:
        pid = os.fork()
    except OSError:
        os.close(rfd)
        os.close(wfd)
        return load_here(text, what)
    if pid == 0:  # child: parse, answer, exit without running any cleanup
        status = 1
        try:
            os.close(rfd)
            try:
                reply: tuple = ("ok", load_here(text, what))
            except ConfigError as exc:
                reply = ("error", exc.path, exc.detail)
            data = marshal.dumps(reply)
            view = memoryview(data)
            while view:
                view = view[os.write(wfd, view):]
            status = 0
        finally:
            os._exit(status)
    os.close(wfd)
    chunks = []
    try:
        while chunk := os.read(rfd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(rfd)
        _, status = os.waitpid(pid, 0)
    if status != 0 or not chunks:
        return load_here(text, what)
    reply = marshal.loads(b"".join(chunks))
    if reply[0] == "error":
        raise ConfigError(reply[1], reply[2])
    return reply[1]
