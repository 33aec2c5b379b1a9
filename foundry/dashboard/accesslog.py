"""The router's access log as a request stream: parse gorouter's line, say who answered.

The log names the endpoint the router chose (`backend`, with the app it was
registered for, `app_id`). Who really answered is whoever holds that cell port
now, which the BBS knows: an answer from another app's instance is a misroute,
the stale-route incident this project replays.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass


def _q(name: str) -> str:
    return rf'"(?P<{name}>(?:[^"\\]|\\.)*)"'


LINE = re.compile(
    r'^(?P<host>\S*) - \[(?P<ts>[^\]]+)\] "(?P<method>\S+) (?P<uri>\S*) (?P<proto>[^"]*)" '
    r'(?P<status>\d{3}|"-") (?P<bytes_in>\d+) (?P<bytes_out>\d+) '
    + " ".join(_q(n) for n in ("referer", "ua", "client", "backend"))
    + " x_forwarded_for:" + _q("xff") + " x_forwarded_proto:" + _q("xfp")
    + " vcap_request_id:" + _q("vcap") + r" response_time:(?P<rt>[\d.]+) gorouter_time:[\d.]+"
    + " app_id:" + _q("app_id") + " app_index:" + _q("app_index")
    + " instance_id:" + _q("instance_id") + " x_cf_routererror:" + _q("error"))


class AccessLogError(ValueError):
    """A line that is not in gorouter's access log format."""


def _unq(value: str) -> str:
    value = value.replace('\\"', '"').replace("\\\\", "\\")
    return "" if value == "-" else value


def _timestamp(text: str) -> float:
    """`2006-01-02T15:04:05.000000000Z` → epoch seconds."""
    main, _, frac = text.rstrip("Z").partition(".")
    secs = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    return secs + (float(f"0.{frac}") if frac else 0.0)


@dataclass(frozen=True)
class Request:
    host: str
    at: float
    method: str
    path: str
    status: int | None
    backend: str
    app_id: str
    app_index: str
    instance_id: str
    router_error: str
    vcap_request_id: str
    response_time: float


def parse_line(line: str) -> Request:
    m = LINE.match(line.rstrip("\n"))
    if m is None:
        raise AccessLogError(f"not a gorouter access log line: {line[:120]!r}")
    q = {k: _unq(v) for k, v in m.groupdict().items()}
    status = m.group("status")
    try:
        at = _timestamp(m.group("ts"))
    except ValueError:
        raise AccessLogError(f"bad timestamp {m.group('ts')!r}") from None
    return Request(host=m.group("host"), at=at, method=m.group("method"),
                   path=m.group("uri"), status=None if status == '"-"' else int(status),
                   backend=q["backend"], vcap_request_id=q["vcap"], app_id=q["app_id"],
                   app_index=q["app_index"], instance_id=q["instance_id"],
                   router_error=q["error"], response_time=float(m.group("rt")))


@dataclass(frozen=True)
class PortOwner:
    """The instance that holds a cell address:port now (from the BBS's actual LRPs)."""

    app_guid: str
    app_name: str
    index: int
    instance_guid: str


class PortHistory:
    """Who held each cell address:port, and since when: a request is judged by the
    instance that held its backend port *when it was received*, so a line read a second
    late, after the port changed hands, is not taken for a misroute."""

    KEPT = 8  # owners remembered per address

    def __init__(self) -> None:
        self.owners: dict[str, list[tuple[float, PortOwner]]] = {}

    def observe(self, address: str, since: float, owner: PortOwner) -> None:
        """`owner` is RUNNING on `address` since `since` (the BBS's `since`, in seconds)."""
        held = self.owners.setdefault(address, [])
        for i, (s, o) in enumerate(held):
            if s == since and o.instance_guid == owner.instance_guid:
                if owner.app_guid and not o.app_guid:
                    held[i] = (since, owner)  # its app became known
                return
        held.append((since, owner))
        held.sort(key=lambda x: x[0])
        del held[:-self.KEPT]

    def at(self, address: str, when: float) -> PortOwner | None:
        """The owner at `when`: the last one that started before it."""
        owner = None
        for since, o in self.owners.get(address, ()):
            if since <= when:
                owner = o
        return owner

    def now(self) -> dict[str, PortOwner]:
        return {a: held[-1][1] for a, held in self.owners.items() if held}


INTENDED, MISROUTED, ERROR = "intended", "misrouted", "error"


def classify(req: Request, owners: dict[str, PortOwner] | PortHistory,
             names: dict[str, str] | None = None) -> dict:
    """The stream row for one request: its outcome and who answered.

    error: no answer from an app (a 5xx, or any `X-Cf-Routererror`, such as a 404
    unknown_route); misrouted: the backend address belongs to an instance of
    another app than the route's; intended otherwise.
    """
    names = names or {}
    owner = (owners.at(req.backend, req.at) if isinstance(owners, PortHistory)
             else owners.get(req.backend))
    intended_name = names.get(req.app_id, req.app_id)
    row = {"at": req.at, "host": req.host, "path": req.path, "status": req.status,
           "backend": req.backend, "route_app": intended_name, "route_app_id": req.app_id,
           "router_error": req.router_error, "response_time": req.response_time,
           "answered_by": "", "answered_index": "", "answered_instance": ""}
    if req.router_error or req.status is None or req.status >= 500:
        row["outcome"] = ERROR
        return row
    if owner is not None:
        row.update(answered_by=owner.app_name or owner.app_guid or intended_name,
                   answered_index=str(owner.index), answered_instance=owner.instance_guid)
        # Another app's instance: only when both apps are known and the instance is not
        # the one the route was registered for.
        if (req.app_id and owner.app_guid and owner.app_guid != req.app_id
                and owner.instance_guid != req.instance_id):
            row["outcome"] = MISROUTED
            return row
    else:
        row.update(answered_by=intended_name, answered_index=req.app_index,
                   answered_instance=req.instance_id)
    row["outcome"] = INTENDED
    return row


class Traffic:
    """Per-route counts of outcomes, the `traffic` section."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = {}

    def add(self, row: dict) -> None:
        c = self.counts.setdefault(row["host"] or "-", {INTENDED: 0, MISROUTED: 0, ERROR: 0})
        c[row["outcome"]] += 1

    def rows(self) -> dict[str, dict]:
        return {host: dict(c) for host, c in self.counts.items()}
