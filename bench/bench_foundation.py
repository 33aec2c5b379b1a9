"""Cold start of a foundation with images built, its memory, and Diego's start latency.

Peer, measured in the same run: one bare `docker run` of the NATS image until
it answers (the floor any Compose foundation pays). Published figure for
context: `kind create cluster` 12.5 s (kind issue #2893).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator import config, images  # noqa: E402
from orchestrator.docker_cli import stats_mib  # noqa: E402
from orchestrator.foundation import Foundation  # noqa: E402
from tests.e2e.helpers import bbs, http_get, identity_lrp, through_router, wait_for  # noqa: E402

TARGET_S = 15.0
LRP_TARGET_S = 2.0
KIND_S = 12.5


def mib(text: str) -> float:
    """MiB of a `docker stats` memory figure; 0 for one it does not print as usage."""
    try:
        return stats_mib(text)
    except ValueError:
        return 0.0


def bare_nats_start() -> float:
    name = "cflab-bench-bare-nats"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    start = time.monotonic()
    subprocess.run(["docker", "run", "-d", "--init", "--name", name, "--label",
                    "cflab.foundation=cflab-bench", "-p", "127.0.0.1:18999:8222",
                    images.ref("nats")], check=True, capture_output=True)
    try:
        wait_for(lambda: http_get("http://127.0.0.1:18999/healthz", 1).ok, 30, interval=0.05,
                 what="the bare nats-server's /healthz")
        return time.monotonic() - start
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


BASE = {
    "project": "cflab-bench",
    "sample_apps": False,
    "subnets": {"foundation": "10.238.0.0/24", "cell_containers": "10.237.0.0/16"},
    "ports": {"http": 17080, "nats_monitor": 17222, "bbs": 17889, "cloud_controller": 17022,
              "uaa": 17024, "ssh_proxy": 17122, "dashboard": 17300},
}


SAMPLES = 5


def first_200(cfg: config.FoundationConfig, i: int) -> float:
    """Desired LRP created -> first 200 through the router; the one before is deleted
    and gone first, so each sample starts on a quiet cell (the last one stays)."""
    if i:
        bbs(cfg, "DELETE", f"/v1/desired_lrps/bench-pg-{i - 1}")
        wait_for(lambda: not subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label=cflab.process-guid=bench-pg-{i - 1}"],
            capture_output=True, text=True).stdout.strip(), 60, what="the previous instance gone")
    host = f"bench-{i}.apps.internal"
    start = time.monotonic()
    bbs(cfg, "POST", "/v1/desired_lrps", identity_lrp(f"bench-pg-{i}", f"bench-app-{i}", host,
                                                      f"bench-{i}"))
    wait_for(lambda: through_router(cfg, host)[0] == 200, 120, interval=0.02, what="the first 200")
    return time.monotonic() - start


def run_once(overrides: dict) -> dict:
    """Start a foundation, measure it, start one LRP, measure that; always tear down."""
    cfg = config.load(overrides={**BASE, **overrides})
    foundation = Foundation(cfg)
    foundation.down()
    start = time.monotonic()
    try:
        foundation.up()
        out: dict = {"cold": time.monotonic() - start}
        out["stats"] = subprocess.run(
            ["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}",
             *[s["container"] for s in foundation.job_states().values()]],
            capture_output=True, text=True, check=True).stdout.splitlines()
        out["first_200"] = [first_200(cfg, i) for i in range(SAMPLES)]
        guid = bbs(cfg, "GET", f"/v1/actual_lrps?process_guid=bench-pg-{SAMPLES - 1}"
                   )[0]["instance_guid"]
        out["app_mem"] = subprocess.run(
            ["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", guid],
            capture_output=True, text=True, check=True).stdout
        out["proxy_rss"] = subprocess.run(
            ["docker", "exec", guid, "sh", "-c", "grep VmRSS /proc/$(pgrep -x envoy | head -1)/status"],
            capture_output=True, text=True).stdout.split()
        return out
    finally:
        foundation.down()


def main() -> int:
    images.build()
    print("bench: foundation cold start (images built, fresh PKI, `cflab up`), then one LRP")
    cf_defaults = run_once({})
    print("bench: again with the health check's startup interval at 200 ms (CF: 2 s)")
    fast = run_once({"timings": {"healthcheck_startup_interval": "200ms"}})
    cold, stats = cf_defaults["cold"], cf_defaults["stats"]
    total = sum(mib(line.split(" ", 1)[1]) for line in stats)
    bare = bare_nats_start()
    print()
    print(f"{'figure':<46} {'value':>10}")
    for label, run in (("", cf_defaults), (" (2nd run)", fast)):
        print(f"{'cflab up, first healthy foundation' + label:<46} {run['cold']:>9.1f}s  (target <"
              f" {TARGET_S:.0f}s: {'met' if run['cold'] < TARGET_S else 'MISSED'})")
    print(f"{'peer: bare docker run of nats to healthy':<46} {bare:>9.2f}s  ratio {cold / bare:.1f}x")
    print(f"{'published: kind create cluster':<46} {KIND_S:>9.1f}s  ratio {cold / KIND_S:.2f}x")
    print(f"{'foundation memory (docker stats, all jobs)':<46} {total:>8.1f}MiB  ({len(stats)} containers)")
    for line in stats:
        print(f"    {line}")
    for label, run in (("CF's 2 s health-check interval", cf_defaults), ("200 ms interval", fast)):
        samples = sorted(run["first_200"])
        median = statistics.median(samples)
        verdict = (f"target < {LRP_TARGET_S:.0f}s: {'met' if median < LRP_TARGET_S else 'MISSED'}"
                   if run is fast else "floor: the startup check's 2 s interval (its first probe"
                   " comes before the app listens)")
        print(f"{'desired LRP -> first 200, ' + label:<46} {median:>9.2f}s  median of {len(samples)}"
              f" ({', '.join(f'{x:.2f}' for x in samples)}); {verdict}; real CF: tens of seconds")
    print(f"{'app container with its proxy (docker stats)':<46} {mib(cf_defaults['app_mem']):>8.1f}MiB"
          f"  (Diego budgets +32 MB for Envoy)")
    if len(cf_defaults["proxy_rss"]) >= 2:
        print(f"{'  of which the proxy (VmRSS)':<46} {int(cf_defaults['proxy_rss'][1]) / 1024:>8.1f}MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
