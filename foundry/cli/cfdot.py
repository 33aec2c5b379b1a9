"""cfdot: query the BBS and print one compact JSON object per line (Go json.Encoder).

Read-only commands as in cloudfoundry/cfdot: ``actual-lrp-groups``,
``actual-lrp-groups-for-guid PROCESS_GUID [-i N]``, ``actual-lrps``,
``desired-lrp PROCESS_GUID``, ``desired-lrps``, ``desired-lrp-scheduling-infos``,
``cells``, ``cell-states``, ``domains``, ``lrp-events``. The BBS and its mutual TLS
come from cfdot's flags or their environment variables: ``--bbsURL`` (``BBS_URL``),
``--caCertFile`` (``CA_CERT_FILE``), ``--clientCertFile`` (``CLIENT_CERT_FILE``),
``--clientKeyFile`` (``CLIENT_KEY_FILE``), ``--skipCertVerify`` (``SKIP_CERT_VERIFY``);
``--clientCertPath``/``--clientKeyPath`` are accepted as other names. A cell's
environment sets them all, as diego-release's cfdot job does on a Diego VM, so no flags
are needed there. Exit codes are cfdot's: 3 bad arguments (and TLS settings), 4 a BBS
error, 5 any other failure. A closed pipe ends it quietly, as a Go program dies of SIGPIPE.

It asks the BBS through `foundry.bbs.client`, the one BBS client every job and tool shares
(its timeouts, error mapping and mutual TLS in one place), not through `requests` as the
`cf` CLI does: a second BBS client for one tool would be the copy issue #14 removed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import ssl
import sys
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from http.client import responses
from typing import Any, TextIO

from foundry.bbs.client import BBSClient, BBSError
from foundry.cli import cfdot_shapes as shapes

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


@dataclass(frozen=True)
class BBSTarget:
    """Where cfdot asks: the BBS URL, and for https the mutual TLS context."""

    url: str
    tls: ssl.SSLContext | None = None


TRUE_WORDS = ("1", "t", "T", "TRUE", "true", "True")
BOOL_WORDS = (*TRUE_WORDS, "0", "f", "F", "FALSE", "false", "False")


def _readable(path: str, what: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise UsageError(f"{what} file '{path}' doesn't exist or is not readable: "
                         f"{e.strerror}") from None


def resolve_target(args: argparse.Namespace, env: dict[str, str]) -> BBSTarget:
    """cfdot's ClientPrehook: flags first, then the environment; https needs the CA
    (unless --skipCertVerify) and a client certificate and key."""
    url = args.bbs_url or env.get("BBS_URL", "")
    skip = args.skip_cert_verify
    if not skip and env.get("SKIP_CERT_VERIFY"):
        if env["SKIP_CERT_VERIFY"] not in BOOL_WORDS:
            raise UsageError(f"The value '{env['SKIP_CERT_VERIFY']}' is not a valid value for "
                             "SKIP_CERT_VERIFY. Please specify one of the following valid "
                             "boolean values: " + ", ".join(BOOL_WORDS))
        skip = env["SKIP_CERT_VERIFY"] in TRUE_WORDS
    ca = args.ca_cert_file or env.get("CA_CERT_FILE", "")
    cert = args.client_cert_file or env.get("CLIENT_CERT_FILE", "")
    key = args.client_key_file or env.get("CLIENT_KEY_FILE", "")
    if not url:
        raise UsageError("BBS URL not set. Please specify one with the '--bbsURL' flag or "
                         "the 'BBS_URL' environment variable.")
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme == "http":
        return BBSTarget(url)
    if scheme != "https":
        raise UsageError(f"The URL '{url}' does not have an 'http' or 'https' scheme. Please "
                         "specify one with the '--bbsURL' flag or the 'BBS_URL' environment "
                         "variable.")
    if not skip:
        if not ca:
            raise UsageError("--caCertFile must be specified if using HTTPS and "
                             "--skipCertVerify is not set")
        _readable(ca, "CA cert")
    if not cert or not key:
        raise UsageError("--clientCertFile and --clientKeyFile must both be specified for "
                         "TLS connections.")
    _readable(key, "key")
    _readable(cert, "cert")
    try:
        if skip:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx = ssl.create_default_context(cafile=ca)
        ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, ValueError) as e:
        raise CFDotError(f"cannot use the TLS files: {e}") from None
    return BBSTarget(url, ctx)


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
                   help="URL of BBS server to target [environment variable equivalent: "
                        "BBS_URL]")
    p.add_argument("--caCertFile", dest="ca_cert_file", default="",
                   help="path the Certificate Authority (CA) file to use when verifying TLS "
                        "keypairs [environment variable equivalent: CA_CERT_FILE]")
    p.add_argument("--clientCertFile", "--clientCertPath", dest="client_cert_file",
                   default="", help="path to the TLS client certificate to use during "
                   "mutual-auth TLS [environment variable equivalent: CLIENT_CERT_FILE]")
    p.add_argument("--clientKeyFile", "--clientKeyPath", dest="client_key_file", default="",
                   help="path to the TLS client private key file to use during mutual-auth "
                        "TLS [environment variable equivalent: CLIENT_KEY_FILE]")
    p.add_argument("--skipCertVerify", dest="skip_cert_verify", action="store_true",
                   help="when set to true, skips all SSL/TLS certificate verification "
                        "[environment variable equivalent: SKIP_CERT_VERIFY]")
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


def fetch_json(base: BBSTarget, path: str, params: dict[str, Any],
               timeout: float = TIMEOUT_S) -> Any:
    """GET through the one BBS client, its failures as cfdot reports them."""
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    try:
        return BBSClient(base.url, timeout, base.tls).call(
            "GET", path + ("?" + query if query else ""))
    except BBSError as e:
        raise BBSModelError(e.status, e.message or responses.get(e.status, "")) from e
    except (ConnectionError, ValueError) as e:
        reason = e.__cause__ if isinstance(e, ConnectionError) and e.__cause__ else e
        reason = getattr(reason, "reason", reason)
        raise BBSUnavailable(f"BBS at {base.url} is unreachable: {reason}") from e


def _actual(base: BBSTarget, **params: Any) -> list[dict[str, Any]]:
    return fetch_json(base, "/v1/actual_lrps", params)


def _desired(base: BBSTarget, domain: str | None = None) -> list[dict[str, Any]]:
    return fetch_json(base, "/v1/desired_lrps", {"domain": domain})


def lines_for(args: argparse.Namespace, base: BBSTarget) -> Iterable[Any]:
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


def stream_lrp_events(args: argparse.Namespace, base: BBSTarget, out: TextIO,
                      err: TextIO) -> None:
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
    try:
        base = resolve_target(args, dict(os.environ))
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
