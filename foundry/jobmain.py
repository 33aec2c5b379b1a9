"""A threaded control-plane job's life after its config: build, serve until SIGTERM, stop.

The Cloud Controller, CredHub, the service broker and UAA each open listeners on
threads and wait for the signal BOSH's monit (here Docker) sends to stop them.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from socketserver import BaseServer

Action = Callable[[], None]


def serving(server: BaseServer, prog: str, started: str, *closers: Action
            ) -> tuple[Action, Action]:
    """How to start and stop one listener: start serves on a daemon thread and logs
    `started`; stop ends serving, closes the socket, then runs each of `closers`."""
    def start() -> None:
        threading.Thread(target=server.serve_forever, name=prog, daemon=True).start()
        logging.getLogger(prog).info("%s", started)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        for close in closers:
            close()
    return start, stop


def serve_until_signalled(prog: str, build: Callable[[], tuple[Action, Action]]) -> int:
    """Runs `build` (it opens what the job needs and returns how to start and how to
    stop it), starts, waits for SIGTERM or SIGINT, stops; returns the exit code.

    An OSError or ValueError while building (a port in use, an unreadable key or
    database) ends the job with exit code 1 and one line naming it, before anything
    serves: the job fails as a BOSH job whose start fails does.
    """
    try:
        start, stop = build()
    except (OSError, ValueError) as e:
        print(f"{prog}: cannot start: {e}", file=sys.stderr)
        return 1
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    start()
    done.wait()
    stop()
    logging.getLogger(prog).info("%s stopped", prog)
    return 0
