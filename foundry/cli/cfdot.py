"""cfdot: query the BBS and print one compact JSON object per line (Go json.Encoder).

Read-only commands as in cloudfoundry/cfdot: ``actual-lrp-groups``,
``actual-lrp-groups-for-guid PROCESS_GUID [-i N]``, ``actual-lrps``,
``desired-lrp PROCESS_GUID``, ``desired-lrps``, ``desired-lrp-scheduling-infos``,
``cells``, ``cell-states``, ``domains``, ``lrp-events``. The BBS URL comes from
``--bbsURL``, else ``$BBS_URL`` (a cell's environment, as ``/etc/profile.d/cfdot.sh``
sets it on a Diego VM), else 127.0.0.1:8889. Exit codes are cfdot's: 3 bad arguments,
4 a BBS error, 5 any other failure. A closed pipe ends it quietly, as a Go program
dies of SIGPIPE.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import urllib.parse
from collections.abc import Iterable
from http.client import responses
from typing import Any, TextIO

from foundry.bbs.client import BBSClient, BBSError
from foundry.cli import cfdot_shapes as shapes

DEFAULT_BBS_URL = "http://127.0.0.1:8889"
TIMEOUT_S = 10.0
EVENT_WAIT_S = 25.0
# bbs models.Error_Type for the HTTP statuses cflab's BBS answers with.
BBS_ERROR_TYPES = {400: (4, "InvalidRequest"), 404: (13, "ResourceNotFound"),
                   409: (11, "ResourceConflict")}
GROUP_EVENTS_WARNING = (
    'Event types "actual_lrp_created", "actual_lrp_changed" and "actual_lrp_removed" are '
    'deprecated. Use "--exclude-actual-lrp-groups" flag to exclude them.')


class CFDotError(Exception):
    exit_code = 5


class BBSUnavailable(CFDotError):
    pass


class BBSModelError(CFDotError):
    """An error the BBS answered with (cfdot prints its type and message, exit 4)."""

    exit_code = 4

    def __init__(self, status: int, message: str) -> None:
        number, name = BBS_ERROR_TYPES.get(status, (0, "UnknownError"))
        super().__init__(f"BBS error\nType {number}: {name}\nMessage: {message}")


class UsageError(CFDotError):
    exit_code = 3


def encode_line(obj: Any) -> str:
    """What Go's json.Encoder writes: compact, HTML-safe escapes, trailing newline."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for raw, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                     ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, esc)
    return text + "\n"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="cfdot", description="Diego operator tool (cflab)")
    p.add_argument("--bbsURL", "--bbs-url", dest="bbs_url", default=None,
                   help="BBS URL [environment variable equivalent: BBS_URL]")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, helptext in (("actual-lrps", "List actual LRPs"),
                           ("actual-lrp-groups", "[DEPRECATED] List actual LRP groups")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("-d", "--domain")
        s.add_argument("-c", "--cell-id", dest="cell_id")
        if name == "actual-lrps":
            s.add_argument("-p", "--process-guid", dest="process_guid")
            s.add_argument("-i", "--index", type=int)
    s = sub.add_parser("actual-lrp-groups-for-guid",
                       help="[DEPRECATED] List actual LRP groups for a process guid")
    s.add_argument("process_guid")
    s.add_argument("-i", "--index", type=int)
    s = sub.add_parser("desired-lrp", help="Show the specified desired LRP")
    s.add_argument("process_guid")
    for name, helptext in (("desired-lrps", "List desired LRPs"),
                           ("desired-lrp-scheduling-infos", "List desired LRP scheduling infos")):
        sub.add_parser(name, help=helptext).add_argument("-d", "--domain")
    sub.add_parser("cells", help="List registered cell presences")
    sub.add_parser("cell-states", help="Show cell states for all cells")
    sub.add_parser("domains", help="List fresh domains")
    s = sub.add_parser("lrp-events", help="Subscribe to BBS LRP events")
    s.add_argument("-c", "--cell-id", dest="cell_id", default="")
    s.add_argument("-x", "--exclude-actual-lrp-groups", dest="exclude_groups",
                   action="store_true")
    return p


def fetch_json(base: str, path: str, params: dict[str, Any],
               timeout: float = TIMEOUT_S) -> Any:
    """GET through the one BBS client, its failures as cfdot reports them."""
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    try:
        return BBSClient(base, timeout).call("GET", path + ("?" + query if query else ""))
    except BBSError as e:
        raise BBSModelError(e.status, e.message or responses.get(e.status, "")) from e
    except (ConnectionError, ValueError) as e:
        reason = e.__cause__ if isinstance(e, ConnectionError) and e.__cause__ else e
        reason = getattr(reason, "reason", reason)
        raise BBSUnavailable(f"BBS at {base} is unreachable: {reason}") from e


def _actual(base: str, **params: Any) -> list[dict[str, Any]]:
    return fetch_json(base, "/v1/actual_lrps", params)


def _desired(base: str, domain: str | None = None) -> list[dict[str, Any]]:
    return fetch_json(base, "/v1/desired_lrps", {"domain": domain})


def lines_for(args: argparse.Namespace, base: str) -> Iterable[Any]:
    """The objects one command prints (lrp-events is a stream, handled apart)."""
    cmd = args.command
    if cmd == "actual-lrps":
        return _actual(base, domain=args.domain, cell_id=args.cell_id,
                       process_guid=args.process_guid, index=args.index)
    if cmd == "actual-lrp-groups":
        return [shapes.group(x) for x in _actual(base, domain=args.domain, cell_id=args.cell_id)]
    if cmd == "actual-lrp-groups-for-guid":
        if args.index is not None and args.index < 0:
            raise UsageError("Invalid index")
        groups = [shapes.group(x) for x in _actual(base, process_guid=args.process_guid,
                                                   index=args.index)]
        if args.index is not None and not groups:
            raise BBSModelError(404, "the requested resource could not be found")
        return groups
    if cmd == "desired-lrp":
        return [fetch_json(base, "/v1/desired_lrps/" + urllib.parse.quote(args.process_guid,
                                                                          safe=""), {})]
    if cmd == "desired-lrps":
        return _desired(base, args.domain)
    if cmd == "desired-lrp-scheduling-infos":
        return [shapes.scheduling_info(d) for d in _desired(base, args.domain)]
    if cmd == "domains":
        return shapes.domains(_desired(base))
    cells = fetch_json(base, "/v1/cells", {})
    if cmd == "cells":
        return cells
    desired = {d["process_guid"]: d for d in _desired(base)}
    actual = _actual(base)
    return [shapes.cell_state(c, i, actual, desired) for i, c in enumerate(cells)]


def stream_lrp_events(args: argparse.Namespace, base: str, out: TextIO, err: TextIO) -> None:
    """Wait on the BBS's change counter; print what changed between snapshots."""
    if not args.exclude_groups:
        print(GROUP_EVENTS_WARNING, file=err, flush=True)
    version = fetch_json(base, "/v1/events", {"after": -1, "timeout": 0})["version"]
    diff = shapes.LRPEventDiff(_actual(base), _desired(base), cell_id=args.cell_id,
                               groups=not args.exclude_groups)
    while True:
        version = fetch_json(base, "/v1/events", {"after": version, "timeout": EVENT_WAIT_S},
                             timeout=EVENT_WAIT_S + TIMEOUT_S)["version"]
        for event in diff.update(_actual(base), _desired(base)):
            out.write(encode_line(event))
        out.flush()


def main(argv: list[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    if argv is None and out is None and hasattr(signal, "SIGPIPE"):
        # A Go program writing to a closed pipe dies of SIGPIPE, silently.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help
        return 0 if e.code in (0, None) else 3
    except UsageError as e:
        print(str(e), file=err)
        return e.exit_code
    base = args.bbs_url or os.environ.get("BBS_URL") or DEFAULT_BBS_URL
    try:
        if args.command == "lrp-events":
            stream_lrp_events(args, base, out, err)
        for item in lines_for(args, base):
            out.write(encode_line(item))
        out.flush()
    except CFDotError as e:
        print(str(e) if isinstance(e, BBSModelError) else f"cfdot: {e}", file=err)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
