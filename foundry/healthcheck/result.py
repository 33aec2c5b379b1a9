"""Check outcomes and their exit codes (healthcheck ``cmd/healthcheck/main.go``)."""

from __future__ import annotations

from collections import namedtuple

OK = 0
NO_INTERFACE = 3
TCP_REFUSED = 4
HTTP_REFUSED = 5
HTTP_NON_200 = 6
TCP_TIMEOUT = 64
HTTP_TIMEOUT = 65
UNKNOWN = 127


class Result(namedtuple("Result", "code message", defaults=("",))):
    """A check's exit code and message. A named tuple from `collections` (which `socket`
    loads anyway), not a dataclass or typing.NamedTuple: `dataclasses` and `typing` are
    1.5 MB each of the liveness process's RSS."""

    __slots__ = ()

    @property
    def ok(self) -> bool:
        return self.code == OK


PASSED = Result(OK, "healthcheck passed")


def classify_tcp(error: BaseException | None, port: int) -> Result:
    if error is None:
        return PASSED
    if isinstance(error, TimeoutError):
        return Result(TCP_TIMEOUT, f"Failed to make TCP connection to port {port}: "
                                   "timed out after the dial timeout")
    return Result(TCP_REFUSED, f"Failed to make TCP connection to port {port}: "
                               f"connection refused ({error})")


def classify_http(error: BaseException | None, status: int | None, uri: str,
                  port: int) -> Result:
    where = f"Failed to make HTTP request to '{uri}' on port {port}"
    if error is not None:
        if isinstance(error, TimeoutError):
            return Result(HTTP_TIMEOUT, f"{where}: timed out after the request timeout")
        return Result(HTTP_REFUSED, f"{where}: connection refused ({error})")
    if status == 200:
        return PASSED
    return Result(HTTP_NON_200, f"{where}: received status code {status}")


def no_interface(reason: str) -> Result:
    return Result(NO_INTERFACE, f"failed to find a non-loopback IPv4 address: {reason}")
