"""Reading a job's JSON config file (`bbs.json`, `credhub.json`, ...), shared by the jobs.

Each job's own module says which keys it takes (a `JobConfig` dataclass); this
turns a missing, unreadable or non-object file, or a bad value, into a ConfigError
naming the path or the key.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from typing import Any, ClassVar, Self, TypeVar

T = TypeVar("T")


class ConfigError(Exception):
    """A job's config file is missing or unreadable, or a key holds a bad value; the
    message names the file or the key."""


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
        if isinstance(default, int) and not isinstance(default, bool) and (
                isinstance(value, bool) or isinstance(value, float) and not value.is_integer()):
            raise error(f"{key}: expected a whole number, got {value!r}")
        if isinstance(default, str) and isinstance(value, (dict, list, bool)):
            raise error(f"{key}: expected a string, got {value!r}")
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


class JobConfig:
    """Base of a job's frozen config dataclass, so each job declares only its keys and rules.

    `from_dict` takes the BOSH-rendered object: scalar fields through `typed_fields`,
    the fields named in `special` through `special_fields` (lists, mappings), then
    checks each `listen_keys` field is `host:port`, each `required` one is set, and
    the job's own rules (`check`). Every failure is the job's `error`, naming the key.
    """

    error: ClassVar[type[Exception]] = ConfigError
    listen_keys: ClassVar[tuple[str, ...]] = ("listen_address",)
    required: ClassVar[tuple[str, ...]] = ()
    special: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Self:
        kwargs = typed_fields(cls, raw, cls.error, skip=cls.special)
        kwargs.update(cls.special_fields(raw))
        cfg = cls(**kwargs)
        for key in cls.listen_keys:
            listen_address(getattr(cfg, key), cls.error, key)
        for key in cls.required:
            if not getattr(cfg, key):
                raise cls.error(f"{key}: required")
        cfg.check()
        return cfg

    @classmethod
    def load(cls, path: str) -> Self:
        return cls.from_dict(read_object(path, cls.error))

    @classmethod
    def special_fields(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """The `special` fields' values, checked; a key absent from `raw` keeps its default."""
        return {}

    def check(self) -> None:
        """Rules across fields, raising `error`; none by default."""

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) to listen on."""
        return split_host_port(self.listen_address)  # type: ignore[attr-defined]


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
