"""A/B of two checkouts' gorouters, side by side on one backend, in alternating runs.

    python bench/ab_gorouter.py OLD_CHECKOUT NEW_CHECKOUT [--conc 50] [--pairs 6]

On a shared two-core VM one run of the same code can land 2x from the last, so a
change is judged here rather than by two `bench_gorouter.py` runs: both routers
start from one NATS server with the same routes and the same TLS backend, then
take turns (who goes first alternates) and the script prints each pair's ratio,
the medians, and each router's CPU per request (steadier than req/s).
`git worktree add /tmp/old <rev>` gives the old checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_gorouter import (  # noqa: E402
    NATS_SERVER,
    NGINX,
    all_route,
    host_of,
    load,
    nginx_conf,
    port_open,
    publish_routes,
    register_frames,
    wait_for,
)

from foundry import httpclient  # noqa: E402
from foundry.pki import issue_instance_identity, new_ca, new_instance_guid  # noqa: E402
from tests.support import free_port  # noqa: E402


def metric(status_port: int, name: str) -> float:
    with httpclient.session() as http:
        text = http.get(f"http://127.0.0.1:{status_port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkouts", nargs=2, metavar="CHECKOUT", help="A (old), then B (new)")
    ap.add_argument("--routes", type=int, default=20_000)
    ap.add_argument("--conc", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=4.0, help="per run")
    ap.add_argument("--pairs", type=int, default=6)
    args = ap.parse_args()
    for checkout in args.checkouts:
        if not os.path.isfile(os.path.join(checkout, "foundry", "gorouter", "__main__.py")):
            ap.error(f"{checkout}: not a cflab checkout (no foundry/gorouter)")
    d = tempfile.mkdtemp(prefix="ab-gorouter-")
    procs: list[subprocess.Popen] = []
    try:
        guid = new_instance_guid()
        root = new_ca("application_ca")
        inst = issue_instance_identity(new_ca("instanceIdentityCA", issuer=root), guid,
                                       ["app:bench"], "127.0.0.1")
        for name, data in {"cert": inst.chain_pem, "key": inst.key_pem}.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        backend_port = free_port()
        conf = nginx_conf(d, f"""
    server {{
        listen 127.0.0.1:{backend_port} ssl;
        ssl_certificate {d}/cert; ssl_certificate_key {d}/key;
        keepalive_requests 1000000;
        location / {{ default_type text/plain; return 200 "{'x' * 1024}"; }}
    }}""")
        procs.append(subprocess.Popen([NGINX, "-c", conf, "-e", f"{d}/nginx-error.log"],
                                      stderr=subprocess.DEVNULL))
        wait_for(lambda: port_open(backend_port), 20, "backend nginx")
        nats_port = free_port()
        procs.append(subprocess.Popen([NATS_SERVER, "-a", "127.0.0.1", "-p", str(nats_port)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(lambda: port_open(nats_port), 20, "nats-server")
        routers: list[tuple[int, int, int]] = []  # router port, status port, pid
        for i, checkout in enumerate(args.checkouts):
            port, status = free_port(), free_port()
            cfg = os.path.join(d, f"gorouter-{i}.yml")
            with open(cfg, "w") as f:
                json.dump({
                    "port": port, "status": {"port": status, "user": "u", "pass": "p",
                                             "routes": {"port": free_port()}},
                    "nats": {"hosts": [{"hostname": "127.0.0.1", "port": nats_port}]},
                    "ca_certs": [root.cert_pem.decode()],
                    "start_response_delay_interval": "0s",
                    "access_log": {"file": os.path.join(d, f"access-{i}.log"),
                                   "enable_streaming": False},
                    "logging": {"level": "warning"}}, f)
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
            for i in (0, 1) if k % 2 == 0 else (1, 0):
                port, _, pid = routers[i]
                runs[i].append(load(port, args.routes, args.conc, args.seconds, pid))
            a, b = runs[0][-1], runs[1][-1]
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
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
