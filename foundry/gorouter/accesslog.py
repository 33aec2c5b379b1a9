"""Access-log records in gorouter's format (`accesslog/schema/access_log_record.go`)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from foundry.gorouter.memo import Memo

if TYPE_CHECKING:
    from foundry.gorouter.pool import Endpoint


def _q(value: str) -> str:
    """A quoted field; empty prints as "-" (quotes kept), inner quotes escaped like Go."""
    if not value:
        return '"-"'
    if "\\" not in value and '"' not in value:
        return f'"{value}"'
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# _q for the fields that repeat request after request (hosts, agents, addresses, app
# and instance ids): a dict lookup costs less than the call and the scans
_quoted: Memo[str, str] = Memo(_q, 4096)


_last_second: list[tuple[int, str]] = [(-1, "")]  # strftime once per second, not per request


def format_timestamp(ts: float) -> str:
    """`2006-01-02T15:04:05.000000000Z` in UTC."""
    secs = int(ts)
    nanos = int(round((ts - secs) * 1e9))
    if nanos >= 1_000_000_000:
        secs, nanos = secs + 1, nanos - 1_000_000_000
    cached_secs, text = _last_second[0]
    if cached_secs != secs:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
        _last_second[0] = (secs, text)
    return f"{text}.{nanos:09d}Z"


@dataclass(slots=True)
class AccessLogRecord:
    host: str = ""
    received_at: float = 0.0
    method: str = ""
    request_uri: str = ""
    proto: str = "HTTP/1.1"
    status: int | None = None
    bytes_received: int = 0
    bytes_sent: int = 0
    referer: str = ""
    user_agent: str = ""
    remote_addr: str = ""
    backend_addr: str = ""
    x_forwarded_for: str = ""
    x_forwarded_proto: str = ""
    vcap_request_id: str = ""
    finished_at: float = 0.0
    backend_time: float = 0.0
    app_id: str = ""
    app_index: str = ""
    instance_id: str = ""
    router_error: str = ""

    def endpoint(self, ep: Endpoint) -> None:
        """The fields of the endpoint an attempt goes to."""
        self.backend_addr, self.app_id = ep.key, ep.app_id
        self.app_index, self.instance_id = ep.private_instance_index, ep.private_instance_id

    def format(self) -> str:
        response_time = self.finished_at - self.received_at
        if response_time < 0:
            response_time = 0.0
        gorouter_time = response_time - self.backend_time
        if gorouter_time < 0:
            gorouter_time = 0.0
        status = str(self.status) if self.status is not None else '"-"'
        q, q_memo = _quoted.get, _quoted  # a hit costs a C call; a miss (None) fills it
        return (
            f"{self.host} - [{format_timestamp(self.received_at)}] "
            f'"{self.method} {self.request_uri} {self.proto}" {status} '
            f"{self.bytes_received} {self.bytes_sent} "
            f"{q(self.referer) or q_memo(self.referer)} "
            f"{q(self.user_agent) or q_memo(self.user_agent)} "
            f"{q(self.remote_addr) or q_memo(self.remote_addr)} "
            f"{q(self.backend_addr) or q_memo(self.backend_addr)} "
            f"x_forwarded_for:{q(self.x_forwarded_for) or q_memo(self.x_forwarded_for)} "
            f"x_forwarded_proto:{q(self.x_forwarded_proto) or q_memo(self.x_forwarded_proto)} "
            f"vcap_request_id:{_q(self.vcap_request_id)} "
            f"response_time:{response_time:.6f} gorouter_time:{gorouter_time:.6f} "
            f"app_id:{q(self.app_id) or q_memo(self.app_id)} "
            f"app_index:{q(self.app_index) or q_memo(self.app_index)} "
            f"instance_id:{q(self.instance_id) or q_memo(self.instance_id)} "
            f"x_cf_routererror:{q(self.router_error) or q_memo(self.router_error)}"
        )


class AccessLogWriter:
    """Appends records to the access log file and/or stdout (gorouter streams to both).

    Lines are batched and written whole with one write() on an O_APPEND descriptor
    (every second, or at 64 KiB), so the router's processes can share one file
    without splitting each other's lines, and a request costs no syscall.
    """

    BATCH = 64 * 1024

    def __init__(self, path: str = "", stdout: bool = True) -> None:
        import sys

        self._fd = -1
        if path:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                               0o644)
        self._stdout = sys.stdout if stdout else None
        self._pending: list[str] = []
        self._size = 0

    def write(self, line: str) -> None:
        self._pending.append(line)
        self._size += len(line) + 1
        if self._size >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        text = "\n".join(self._pending) + "\n"
        self._pending.clear()
        self._size = 0
        if self._fd >= 0:
            data = memoryview(text.encode())
            while data:
                data = data[os.write(self._fd, data):]
        if self._stdout is not None:
            self._stdout.write(text)
            self._stdout.flush()

    def close(self) -> None:
        self.flush()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
