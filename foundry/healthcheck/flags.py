"""Go ``flag``-style parsing: ``-name=value``, ``--name=value`` or ``-name value``."""

from __future__ import annotations

from foundry.durations import parse_go_duration


class FlagError(Exception):
    pass


def parse_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds ("1000ms", "1m30s", "0")."""
    try:
        return parse_go_duration(text)
    except ValueError:
        raise FlagError(f'invalid duration "{text}"') from None


class Options:
    """The health check's flags. A plain class, not a dataclass: `dataclasses` pulls in
    `inspect` and with it ~1 MB of the liveness process every app instance keeps for its
    whole life (Diego's is a small Go binary)."""

    __slots__ = ("network", "uri", "port", "timeout", "startup_interval", "startup_timeout",
                 "liveness_interval", "readiness_interval", "until_ready_interval")

    def __init__(self, network: str = "tcp", uri: str = "", port: int = 8080,
                 timeout: float = 1.0, startup_interval: float = 0.0,
                 startup_timeout: float = 60.0, liveness_interval: float = 0.0,
                 readiness_interval: float = 0.0, until_ready_interval: float = 0.0) -> None:
        self.network, self.uri, self.port, self.timeout = network, uri, port, timeout
        self.startup_interval, self.startup_timeout = startup_interval, startup_timeout
        self.liveness_interval, self.readiness_interval = liveness_interval, readiness_interval
        self.until_ready_interval = until_ready_interval

    def _values(self) -> tuple:
        return tuple(getattr(self, f) for f in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Options) and self._values() == other._values()

    __hash__ = None  # type: ignore[assignment] - mutable, as the dataclass was

    def __repr__(self) -> str:
        return "Options(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in self.__slots__) + ")"


_DURATIONS = {"timeout", "startup-interval", "startup-timeout", "liveness-interval",
              "readiness-interval", "until-ready-interval"}
_KNOWN = _DURATIONS | {"network", "uri", "port"}


def parse_flags(argv: list[str]) -> Options:
    opts = Options()
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            break
        if not arg.startswith("-") or arg == "-":
            raise FlagError(f"unexpected argument {arg!r}")
        name, eq, value = arg.lstrip("-").partition("=")
        if name in ("h", "help"):
            raise FlagError("help requested")
        if name not in _KNOWN:
            raise FlagError(f"flag provided but not defined: -{name}")
        if not eq:
            if i >= len(argv):
                raise FlagError(f"flag needs an argument: -{name}")
            value = argv[i]
            i += 1
        attr = name.replace("-", "_")
        if name in _DURATIONS:
            setattr(opts, attr, parse_duration(value))
        elif name == "port":
            try:
                opts.port = int(value)
            except ValueError:
                raise FlagError(f'invalid value "{value}" for flag -port') from None
        else:
            setattr(opts, attr, value)
    if opts.network not in ("tcp", "tcp4"):
        raise FlagError(f"unsupported -network {opts.network!r}")
    return opts


USAGE = """Usage of healthcheck:
  -liveness-interval duration   if set, starts the healthcheck in liveness mode
  -network string               network type to dial with (e.g. unix, tcp) (default "tcp")
  -port string                  port to healthcheck (default "8080")
  -readiness-interval duration  if set, starts the healthcheck in readiness mode
  -startup-interval duration    if set, starts the healthcheck in startup mode
  -startup-timeout duration     startup timeout (default 1m0s)
  -timeout duration             dial timeout (default 1s)
  -until-ready-interval duration  if set, retries until the check passes
  -uri string                   uri to healthcheck (an empty value means TCP)
"""
