"""`python3 -m foundry.healthcheck -port=8080 -timeout=1000ms -uri=/ ...` (Go-style flags)."""

from __future__ import annotations

import os
import sys
import time

from foundry.healthcheck.flags import USAGE, FlagError, parse_flags
from foundry.healthcheck.interface import find_address
from foundry.healthcheck.probe import check
from foundry.healthcheck.result import no_interface
from foundry.healthcheck.runner import run


def show_as_binary(argv: list[str]) -> None:
    """`ps -ef` names the process as on a Diego cell (`/etc/cf-assets/healthcheck/healthcheck
    -port=8080 ...`), not `python3 -m ...`: the wrapper script passes its path."""
    title = os.environ.pop("CFLAB_PROCTITLE", "")
    if not title:
        return
    from foundry.proctitle import set_title  # noqa: PLC0415 - setproctitle's C part alone

    set_title(" ".join([title, *argv]))


def main(argv: list[str] | None = None) -> int:
    show_as_binary(sys.argv[1:] if argv is None else argv)
    try:
        opts = parse_flags(sys.argv[1:] if argv is None else argv)
    except FlagError as e:
        print(f"{e}\n{USAGE}", file=sys.stderr)
        return 2
    ip = find_address()
    if ip is None:
        r = no_interface("no usable interface")
        print(r.message, file=sys.stderr)
        return r.code
    try:
        r = run(opts, lambda: check(ip, opts.port, opts.uri, opts.timeout),
                time.monotonic, time.sleep, lambda s: print(s, flush=True))
    except KeyboardInterrupt:
        return 130
    if r.ok:
        print(r.message, flush=True)
    else:
        print(r.message, file=sys.stderr, flush=True)
    return r.code


if __name__ == "__main__":
    sys.exit(main())
