"""A/B of two checkouts' gorouters, side by side on one backend, in alternating runs.

    python bench/ab_gorouter.py OLD_CHECKOUT NEW_CHECKOUT [--conc 50] [--pairs 6]

On a shared two-core VM one run of the same code can land 2x from the last, so a
change is judged here rather than by two `bench_gorouter.py` runs: both routers
start from one NATS server with the same routes and the same TLS backend, then
take turns of --slice seconds on connections kept open (who goes first alternates)
until each has had --seconds, and the script prints each pair's ratio,
the medians, and each router's CPU per request (steadier than req/s).
`git worktree add /tmp/old <rev>` gives the old checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_gorouter import (  # noqa: E402
    all_route,
    host_of,
    metric,
    paired,
    publish_routes,
    register_frames,
    start_backend,
    start_nats,
    stop_all,
    wait_for,
    write_router_config,
)

from tests.support import free_port  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkouts", nargs=2, metavar="CHECKOUT", help="A (old), then B (new)")
    ap.add_argument("--routes", type=int, default=20_000)
    ap.add_argument("--conc", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=4.0, help="of load per router in a pair")
    ap.add_argument("--slice", type=float, default=0.5,
                    help="seconds per turn: in a pair the two take turns this long")
    ap.add_argument("--pairs", type=int, default=6)
    args = ap.parse_args()
    if args.seconds <= 0 or args.slice <= 0 or args.slice > args.seconds:
        ap.error("--seconds and --slice must be above 0, --slice at most --seconds")
    if args.pairs < 1 or args.routes < 1 or args.conc < 1:
        ap.error("--pairs, --routes and --conc must be at least 1")
    for checkout in args.checkouts:
        if not os.path.isfile(os.path.join(checkout, "foundry", "gorouter", "__main__.py")):
            ap.error(f"{checkout}: not a cflab checkout (no foundry/gorouter)")
    d = tempfile.mkdtemp(prefix="ab-gorouter-")
    procs: list[subprocess.Popen] = []
    try:
        guid, root, backend_port = start_backend(d, procs)
        nats_port = start_nats(procs)
        routers: list[tuple[int, int, int]] = []  # router port, status port, pid
        for i, checkout in enumerate(args.checkouts):
            port, status = free_port(), free_port()
            cfg = write_router_config(d, "AB"[i], (port, status, free_port()), nats_port, root)
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "foundry.gorouter", "-c", cfg], cwd=checkout,
                stdout=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=checkout)))
            wait_for(lambda s=status: metric(s, "nats_connected") == 1, 30,
                     f"gorouter {'AB'[i]} connected to NATS")
            routers.append((port, status, procs[-1].pid))
        asyncio.run(publish_routes(nats_port, register_frames(args.routes, guid, backend_port)))
        for port, status, _ in routers:
            wait_for(lambda s=status: metric(s, "total_routes") >= args.routes, 120,
                     "routes loaded")
            wait_for(lambda p=port: all_route(p, host_of(args.routes - 1)), 60, "routable")
        runs: list[list[dict]] = [[], []]
        for k in range(args.pairs):
            got = paired({"A": routers[0][0], "B": routers[1][0]}, args.routes, args.conc,
                         args.seconds, args.slice, {"A": routers[0][2], "B": routers[1][2]})
            a, b = got["A"], got["B"]
            runs[0].append(a)
            runs[1].append(b)
            print(f"pair {k + 1}: A {a['rps']:,.0f} req/s ({a['cpu_us']:.0f} us/req)  "
                  f"B {b['rps']:,.0f} ({b['cpu_us']:.0f} us/req)  B/A {b['rps'] / a['rps']:.2f}",
                  flush=True)
        for i, checkout in enumerate(args.checkouts):
            rs = runs[i]
            print(f"{'AB'[i]} {checkout}: median {statistics.median(r['rps'] for r in rs):,.0f} "
                  f"req/s, {statistics.median(r['cpu_us'] for r in rs):.0f} us of CPU a request")
        ratios = [b["rps"] / a["rps"] for a, b in zip(runs[0], runs[1], strict=True)]
        cpu = [b["cpu_us"] / a["cpu_us"] for a, b in zip(runs[0], runs[1], strict=True)]
        print(f"B/A at {args.conc} clients: throughput {statistics.median(ratios):.2f}x, "
              f"CPU a request {statistics.median(cpu):.2f}x (medians of {args.pairs} pairs)")
    finally:
        stop_all(procs, d)


if __name__ == "__main__":
    main()
