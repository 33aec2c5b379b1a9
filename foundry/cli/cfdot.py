"""cfdot: query the BBS and print one compact JSON object per line (Go json.Encoder).

``cfdot [--bbsURL URL] actual-lrp-groups | actual-lrps [-d] [-c] [-p] [-i] |
desired-lrps [-d] | cells``. The BBS URL comes from ``--bbsURL``, else ``BBS_URL``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, TextIO

DEFAULT_BBS_URL = "http://127.0.0.1:8889"
TIMEOUT_S = 10.0


class BBSUnavailable(Exception):
    pass


def encode_line(obj: Any) -> str:
    """What Go's json.Encoder writes: compact, HTML-safe escapes, trailing newline."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for raw, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                     ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, esc)
    return text + "\n"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cfdot", description="Diego operator tool (cflab)")
    p.add_argument("--bbsURL", "--bbs-url", dest="bbs_url", default=None,
                   help="BBS URL (default $BBS_URL or " + DEFAULT_BBS_URL + ")")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, helptext in (("actual-lrps", "list actual LRPs"),
                           ("actual-lrp-groups", "list actual LRP groups (deprecated)")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("-d", "--domain")
        s.add_argument("-c", "--cell-id", dest="cell_id")
        if name == "actual-lrps":
            s.add_argument("-p", "--process-guid", dest="process_guid")
            s.add_argument("-i", "--index", type=int)
    s = sub.add_parser("desired-lrps", help="list desired LRPs")
    s.add_argument("-d", "--domain")
    sub.add_parser("cells", help="list registered cell presences")
    return p


def fetch_json(base: str, path: str, params: dict[str, Any]) -> Any:
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    url = base.rstrip("/") + path + ("?" + query if query else "")
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        try:
            msg = json.loads(e.read()).get("error", e.reason)
        except ValueError:
            msg = e.reason
        raise BBSUnavailable(f"BBS at {base} answered {e.code}: {msg}") from e
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise BBSUnavailable(f"BBS at {base} is unreachable: {reason}") from e


def lines_for(args: argparse.Namespace, base: str) -> list[Any]:
    if args.command == "actual-lrps":
        return fetch_json(base, "/v1/actual_lrps", {
            "domain": args.domain, "cell_id": args.cell_id,
            "process_guid": args.process_guid, "index": args.index})
    if args.command == "actual-lrp-groups":
        lrps = fetch_json(base, "/v1/actual_lrps",
                          {"domain": args.domain, "cell_id": args.cell_id})
        return [{"instance": lrp} for lrp in lrps]
    if args.command == "desired-lrps":
        return fetch_json(base, "/v1/desired_lrps", {"domain": args.domain})
    return fetch_json(base, "/v1/cells", {})


def main(argv: list[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # argparse printed usage already
        return 0 if e.code == 0 else 2
    base = args.bbs_url or os.environ.get("BBS_URL") or DEFAULT_BBS_URL
    try:
        items = lines_for(args, base)
    except BBSUnavailable as e:
        print(f"cfdot: {e}", file=err)
        return 1
    for item in items:
        out.write(encode_line(item))
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
