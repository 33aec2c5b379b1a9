"""Reading a job's JSON config file (`bbs.json`, `credhub.json`, ...), shared by the jobs.

Each job's own module says which keys it takes; this only turns a missing,
unreadable or non-object file into that job's ConfigError naming the path.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def read_object(path: str, error: type[Exception]) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except (OSError, ValueError) as e:
        raise error(f"{path}: {e}") from e
    if not isinstance(raw, dict):
        raise error(f"{path}: top level must be an object")
    return raw


def typed_fields(cls: type, raw: dict[str, Any], error: type[Exception],
                 skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """A dataclass's keyword arguments from a BOSH-rendered object: unknown properties
    ignored, null keeps the default, each value coerced to its default's type (a bool
    must be a bool: `bool("false")` is True). Fields in `skip` are the caller's."""
    fields = cls.__dataclass_fields__  # type: ignore[attr-defined]
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields or key in skip or value is None:
            continue
        default = fields[key].default
        if isinstance(default, bool) and not isinstance(value, bool):
            raise error(f"{key}: expected true or false, got {value!r}")
        try:
            kwargs[key] = type(default)(value)
        except (TypeError, ValueError) as e:
            raise error(f"{key}: {e}") from e
    return kwargs


def split_host_port(address: str) -> tuple[str, int]:
    """`host:port` (host may be empty: all interfaces) → (host, port); ValueError otherwise."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{address!r} is not host:port")
    return host or "0.0.0.0", int(port)


def listen_address(address: str, error: type[Exception], key: str = "listen_address"
                   ) -> tuple[str, int]:
    try:
        return split_host_port(address)
    except ValueError as e:
        raise error(f"{key}: {e}") from None


def start_job(prog: str, description: str | None, default_path: str,
              load: Callable[[str], T], error: type[Exception],
              argv: list[str] | None = None) -> T:
    """A job's start: `-c PATH`, logging to stderr, its config loaded.

    A bad config ends the process with exit code 2 and one line naming the
    problem, as a BOSH job that fails its pre-start would.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("-c", "--config", default=default_path,
                        help=f"path to the job's config (default {default_path})")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return load(args.config)
    except error as e:
        print(f"{prog}: config error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
