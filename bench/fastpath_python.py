"""The gorouter's own Python for one fast-path request, without sockets.

    python bench/fastpath_python.py [--requests 20000] [--routes 100000] [--profile]

A `ClientProtocol` and a pooled backend `Connection` on fake transports are fed
what the load generator and nginx would send (a bodiless GET for a random one
of `--routes` hosts; a 1 KiB keep-alive answer), so the figure is the request's
parse, routing, backend head, response framing, client head, access-log line
and bookkeeping: what is the router's alone, apart from uvloop, TLS and the
kernel. On a shared VM `bench_gorouter.py`'s CPU a request moves by 10-20% from
round to round; this figure (the best of five passes) moves by a few percent,
so it can judge a change of a microsecond or two. `--profile` adds cProfile's
table. Run it under Debian's python3 with the platform wheels to match the image.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import shutil
import sys
import tempfile
import time
from collections import deque

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_gorouter import host_of, route_registration  # noqa: E402

from foundry.gorouter.accesslog import AccessLogWriter  # noqa: E402
from foundry.gorouter.config import from_dict  # noqa: E402
from foundry.gorouter.frontend import ClientProtocol  # noqa: E402
from foundry.gorouter.metrics import Metrics  # noqa: E402
from foundry.gorouter.proxy import Proxy  # noqa: E402
from foundry.gorouter.registry import Registry  # noqa: E402
from foundry.gorouter.router import tune_gc  # noqa: E402
from foundry.gorouter.transport import BackendProtocol, BackendReader, Connection  # noqa: E402

GUID = "5f0c3e52-3f6b-4d4e-9a57-2c1d0b8e7a61"
BACKEND_PORT = 61001  # the route's tls_port
RESPONSE = (b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
            b"Date: Thu, 03 Dec 2026 14:00:00 GMT\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 1024\r\nConnection: keep-alive\r\n\r\n" + b"x" * 1024)


class CountingTransport(asyncio.Transport):
    """A transport that takes writes and counts them (so a run can be checked)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes += 1

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 50000) if name == "peername" else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=20_000, help="requests per pass")
    ap.add_argument("--routes", type=int, default=100_000)
    ap.add_argument("--profile", action="store_true", help="print cProfile's table too")
    args = ap.parse_args()
    if args.requests < 1 or args.routes < 1:
        ap.error("--requests and --routes must be at least 1")

    try:
        import uvloop
        loop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    work = tempfile.mkdtemp(prefix="fastpath-python-")
    cfg = from_dict({"access_log": {"file": os.path.join(work, "access.log"),
                                    "enable_streaming": False}})
    registry = Registry(clock=time.monotonic)
    for i in range(args.routes):
        registry.handle("router.register", route_registration(i, GUID, BACKEND_PORT))
    tune_gc()  # as the router process does once its table is loaded
    proxy = Proxy(cfg, registry, Metrics(), AccessLogWriter(cfg.access_log_file, stdout=False))

    client = ClientProtocol(proxy, loop)
    to_client = CountingTransport()
    client.connection_made(to_client)
    reader = BackendReader(65536, loop)
    backend = BackendProtocol(reader, loop, cfg.endpoint_timeout)
    to_backend = CountingTransport()
    backend.connection_made(to_backend)
    backend.writer = asyncio.StreamWriter(to_backend, backend, reader, loop)
    key = ("127.0.0.1", BACKEND_PORT, True, GUID)
    proxy.transport.idle[key] = deque([Connection(reader, backend.writer, key, backend)])

    rnd = random.Random(1)
    requests = [(f"GET / HTTP/1.1\r\nHost: {host_of(rnd.randrange(args.routes))}\r\n"
                 f"User-Agent: bench\r\n\r\n").encode() for _ in range(5000)]

    def run(n: int) -> None:
        for i in range(n):
            client.data_received(requests[i % 5000])
            backend.data_received(RESPONSE)

    run(2000)  # warm: memos filled, the pooled connection in fast mode
    if to_client.writes < 2000 or to_backend.writes < 2000:
        sys.exit(f"the fast path did not answer: {to_client.writes} answers, "
                 f"{to_backend.writes} backend requests for 2000 requests")
    passes = []
    for _ in range(5):
        t0 = time.perf_counter()
        run(args.requests)
        passes.append((time.perf_counter() - t0) / args.requests * 1e6)
    print(f"{min(passes):.2f} us of Python a fast-path request (best of 5 passes of "
          f"{args.requests:,}; all {', '.join(f'{p:.1f}' for p in passes)}), "
          f"{sys.executable} {sys.version.split()[0]}")
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        run(args.requests)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(40)
    proxy.access_log.close()  # type: ignore[union-attr]
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
