"""How a foundation's cost grows with app instances, on one Docker engine and on the
swarm lab.

For 2 and 4 cells, one app is scaled 1 -> 10 -> 50 -> 100 instances (``--counts``) on a
fresh foundation. ``--engines one`` runs it on this engine (project cflab-bench-scale, its
own ports and subnets); ``--engines swarm-lab`` on a swarm of Docker-in-Docker nodes,
one per cell (`cflab swarm-lab`'s nodes, project cflab-lab, torn down after each cell
count). At each size:

- desired -> all routable: from the BBS update until the router's ``/routes`` lists
  every instance of the app's host (read inside the router container by one
  long-lived process, four times a second: a `docker exec` per poll would cost the
  engine more than what is measured);
- memory per instance: the app containers' ``docker stats`` memory (app + proxy), mean;
- idle CPU of the whole foundation (percent of one core), once it has settled after the
  scale-up and before any load: the machine's busy time over 20 s (/proc/stat) less
  what it was before any foundation started, so the Docker engine's work for the
  foundation (dockerd, containerd, the shims and their `runc` runs) counts, and no
  `docker stats` call adds to it;
- of that, the Docker engines' share (their processes' CPU, reaped `runc` children
  included; on the lab, every node's engine and this one's), and the kernel's memory
  reclaim thread's (kdamond: the machine pages out what was not touched for a minute,
  and its work grows with the memory the foundation holds);
- router p90 at c=50: ``wrk --latency`` through the router's published port, spread by
  the router's round robin over every instance;
- NATS messages in per second during the scale-up (``/varz`` ``in_msgs``: route
  registrations, mostly).

Each row prints its ratio to the 1-instance row. Targets on this machine (issue #20):
100 instances routable in <= 60 s, <= 45 MB per instance, idle CPU <= 10% of one core
at 100 instances.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_foundation import mib  # noqa: E402
from bench.bench_gorouter import cpu_seconds  # noqa: E402
from orchestrator import config, engines, images, swarm_lab  # noqa: E402
from orchestrator.docker_cli import LABEL, run  # noqa: E402
from orchestrator.foundation import Foundation  # noqa: E402
from orchestrator.scenario.platform import ROUTER_STATUS, bbs_client  # noqa: E402
from tests.e2e.helpers import http_get, identity_lrp, wait_for  # noqa: E402

PROJECT = "cflab-bench-scale"
BASE = {
    "project": PROJECT,
    "sample_apps": False,
    "subnets": {"foundation": "10.228.0.0/24", "cell_containers": "10.229.0.0/16"},
    "ports": {"http": 24080, "nats_monitor": 24222, "bbs": 24889, "cloud_controller": 25022,
              "uaa": 25024, "ssh_proxy": 25122, "dashboard": 24300},
    "timings": {"healthcheck_startup_interval": "200ms"},
}
PG, HOST = "scale-pg", "scale.apps.internal"
TARGET_ROUTABLE_S, TARGET_MB, TARGET_IDLE_CPU = 60.0, 45.0, 10.0
BUSY_MACHINE = 3.0  # % of a core: more than this machine does alone
ENGINE_NAMES = {"one": "one engine", "swarm-lab": "swarm lab"}
Stats = list[tuple[str, float, float, bool]]


def engine_envs() -> list[dict[str, str] | None]:
    """One environment per engine that holds the foundation's containers: the lab's
    nodes while `swarm_lab.lab_engines` aims cflab at them (`docker stats` and `ps`
    answer for one engine's containers only), else this engine (None: the caller's)."""
    nodes = engines.hosts(os.environ.get(engines.NODES_ENV))
    base = engines.one_engine_env(os.environ)
    return [{**base, "DOCKER_HOST": h} for h in nodes] if nodes else [None]


def docker_out(*args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True,
                          env=env).stdout


def project_stats(project: str, attempts: int = 3) -> Stats:
    """(name, cpu % of one core, memory MiB, is an app instance) of every container of
    `project` on every engine. A container can go between the listing and `docker stats`
    (a one-shot helper, an instance replaced), which fails the whole call: then list
    again."""
    for attempt in range(attempts):
        try:
            return [row for env in engine_envs() for row in _project_stats(project, env)]
        except subprocess.CalledProcessError as e:
            if attempt == attempts - 1:
                raise RuntimeError(f"docker stats failed {attempts} times: {e.stderr}") from e
    return []


def _project_stats(project: str, env: dict[str, str] | None) -> Stats:
    mine = ["--filter", f"label={LABEL}={project}"]
    ids = docker_out("ps", "-q", *mine, env=env).split()
    if not ids:
        return []
    apps = set(docker_out("ps", "-q", *mine, "--filter", f"label=cflab.process-guid={PG}",
                          env=env).split())
    out = docker_out("stats", "--no-stream", "--format",
                     "{{.ID}} {{.Name}} {{.CPUPerc}} {{.MemUsage}}", *ids, env=env)
    rows = []
    for line in out.splitlines():
        cid, name, cpu, mem = line.split(" ", 3)
        rows.append((name, float(cpu.rstrip("%") or 0), mib(mem),
                     any(a.startswith(cid) or cid.startswith(a) for a in apps)))
    return rows


def settled_stats(project: str, deadline_s: float = 240.0, busy: float = 50.0) -> Stats:
    """`project_stats` once the foundation is idle: new instances' start-up (health checks
    at the startup interval, first registrations) done and the cells' spare instance
    keys made again (keys.KeyPool refills at nice 19 after a scale-up: ~0.4-1.2 s of CPU
    a key), i.e. two samples in a row whose total CPU differs by under 5 points of a core
    and is under `busy`, or the lower of the last two at the deadline."""
    end = time.monotonic() + deadline_s
    last = project_stats(project)
    while True:
        now = project_stats(project)
        a, b = (sum(c for _, c, _, _ in x) for x in (last, now))
        if (abs(a - b) < 5.0 and max(a, b) < busy) or time.monotonic() > end:
            return now if b <= a else last
        last = now


def settled_machine(deadline_s: float = 180.0, window_s: float = 10.0,
                    within: float = 2.0) -> float:
    """Until the machine's busy % of a core over two `window_s` windows in a row differs
    by under `within` points (the lower then, or the last at the deadline).
    `settled_stats` sees only the containers, from `docker stats` samples; the engines'
    and the kernel's tail of a scale-up went on past it (a 2-node lab at 100 instances read
    25.4% in one run and 15.0% in the next)."""
    def window() -> float:
        return idle_cpu(0.0, window_s)["whole"]
    end = time.monotonic() + deadline_s
    last = window()
    while True:
        now = window()
        if abs(now - last) < within or time.monotonic() > end:
            return min(now, last)
        last = now


ENGINE_PROCESSES = ("dockerd", "containerd", "containerd-shim")
# The kernel's DAMON thread: on this VM it pages out what nobody touched for a minute
# (a `pageout` scheme the machine sets up, 50 ms a second at most), so its work grows
# with the memory a foundation holds, though it is the machine's, not the foundation's.
RECLAIM_PROCESSES = ("kdamond",)


def pids_named(prefixes: tuple[str, ...]) -> list[int]:
    """This host's processes whose name starts with one of `prefixes` (a lab's nodes'
    processes are this host's too)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip().startswith(prefixes):
                pids.append(int(pid))
        except OSError:
            continue
    return pids


def engine_pids() -> list[int]:
    """The Docker engines' processes (dockerd, containerd, the shims: what `docker exec`,
    stats and inspect calls cost), a lab's nodes' engines included."""
    return pids_named(ENGINE_PROCESSES)


def machine_cpu_seconds() -> float:
    """CPU time every core spent busy so far (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    return (sum(vals) - vals[3] - vals[4]) / os.sysconf("SC_CLK_TCK")


def idle_cpu(baseline: float, seconds: float = 20.0) -> dict[str, float]:
    """The whole foundation's idle CPU over `seconds`, % of one core: the machine's busy
    time less `baseline` (the machine's own before the foundation started), so it counts
    everything the foundation costs (its containers, the Docker engine's dockerd,
    containerd, shims and their `runc` runs, the kernel's work for them) and nothing
    `docker stats` would add. "engine": the engine processes' share (a lab's node
    engines included)."""
    def used(prefixes: tuple[str, ...], children: bool) -> dict[int, float]:
        got = {}
        for pid in pids_named(prefixes):
            try:
                got[pid] = cpu_seconds(pid, children=children)
            except (OSError, IndexError, ValueError):
                continue
        return got

    def share(a: dict[int, float], b: dict[int, float], took: float) -> float:
        return 100.0 * sum(b[p] - a[p] for p in b if p in a) / took

    e0, r0 = used(ENGINE_PROCESSES, True), used(RECLAIM_PROCESSES, False)
    m0, t0 = machine_cpu_seconds(), time.monotonic()
    time.sleep(seconds)  # a measuring window, not a wait for a condition
    e1, r1 = used(ENGINE_PROCESSES, True), used(RECLAIM_PROCESSES, False)
    m1, took = machine_cpu_seconds(), time.monotonic() - t0
    return {"whole": max(0.0, 100.0 * (m1 - m0) / took - baseline),
            "engine": share(e0, e1, took), "reclaim": share(r0, r1, took)}


def machine_baseline(windows: int = 4, seconds: float = 10.0) -> tuple[float, float]:
    """The machine's busy % of one core before any foundation runs, and its kernel
    memory reclaim's part of it (what idle_cpu and the verdict subtract): the quietest
    of `windows`, so that the engine still tidying up after an earlier run (8.8%
    measured once right after an e2e swarm test) is not subtracted from the
    foundation's figures as if it were the machine's own."""
    def window() -> tuple[float, float]:
        got = idle_cpu(0.0, seconds)
        return got["whole"], got["reclaim"]
    return min(window() for _ in range(windows))


def idle_by_job(stats: Stats, project: str, top: int = 5) -> str:
    """The biggest idle CPU users, app instances summed as one: where the idle cost is."""
    jobs: Counter[str] = Counter()
    for name, cpu, _, is_app in stats:
        job = name.removeprefix(f"{project}-").removeprefix(f"{project}_").split(".")[0]
        jobs["app instances" if is_app else job] += cpu
    return ", ".join(f"{job} {cpu:.1f}%" for job, cpu in jobs.most_common(top))


# Runs inside the router container: the number of routes of one host in the gorouter's
# /routes (its status port, basic auth), one line four times a second; -1 while it
# cannot be read. It ends when its stdin does (the bench's `docker exec -i` ended): a
# killed `docker exec` client leaves its process running in the container.
ROUTE_COUNTER = """
import base64, json, os, sys, threading, time, urllib.request
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
req = urllib.request.Request("http://127.0.0.1:8082/routes", headers={
    "Authorization": "Basic " + base64.b64encode(sys.argv[2].encode()).decode()})
while True:
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            n = len(json.load(resp).get(sys.argv[1]) or [])
    except Exception:
        n = -1
    print(n, flush=True)
    time.sleep(0.25)
"""


class RouteCounter:
    """The latest route count of `host` from ROUTE_COUNTER, read on a thread; `ended`
    once its output ends (the router container went away)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.latest, self.ended = -1, False
        self._thread = threading.Thread(target=self._read, args=(lines,), daemon=True)
        self._thread.start()

    def _read(self, lines: Iterator[str]) -> None:
        for line in lines:
            try:
                self.latest = int(line)
            except ValueError:
                continue
        self.ended = True


@contextmanager
def route_counter(router: str, host: str) -> Iterator[RouteCounter]:
    # The engine that holds the router (a lab's node 1, the manager, or this one).
    env = next((e for e in engine_envs() if e is None or run(
        ["docker", "inspect", "-f", "x", router], check=False, env=e).returncode == 0), None)
    proc = subprocess.Popen(["docker", "exec", "-i", router, "python3", "-u", "-c",
                             ROUTE_COUNTER, host, ROUTER_STATUS], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert proc.stdout is not None
        yield RouteCounter(iter(proc.stdout.readline, ""))
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # the counter in the router ends, and with it `docker exec`
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_until_routable(counter: RouteCounter, project: str, n: int,
                        timeout: float = 600.0) -> None:
    """Until the router lists n instances; Runaway at once if containers pile up (checked
    every 5 s: `docker ps` on every engine is not free either)."""
    checked = [0.0]

    def routable() -> bool:
        if time.monotonic() - checked[0] > 5.0:
            checked[0] = time.monotonic()
            running = app_container_count(project)
            if running > 1.5 * n + 2:
                raise Runaway(f"{running} app containers for {n} desired instances")
        if counter.ended and counter.latest < n:
            raise RuntimeError(f"the route count in the router ended at {counter.latest} of {n}"
                               " (did the router container go away?)")
        return counter.latest >= n
    wait_for(routable, timeout, interval=0.25, what=f"{n} routable instances", retry_on=())


def nats_in_msgs(cfg: config.FoundationConfig) -> int:
    url = f"http://127.0.0.1:{cfg.ports['nats_monitor']}/varz"
    return int(http_get(url, 5).json()["in_msgs"])


def app_container_count(project: str) -> int:
    return sum(len(docker_out("ps", "-q", "--filter", f"label=cflab.process-guid={PG}",
                              "--filter", f"label={LABEL}={project}", env=env).split())
               for env in engine_envs())


class Runaway(Exception):
    """More app containers than desired instances: cells keep creating what the BBS never
    records as claimed (seen here at 50 instances on 2 cells, load average ~80)."""


def p90_ms(cfg: config.FoundationConfig, seconds: int) -> float:
    """wrk's p90 (its timeout raised to 30 s: under load a request can take seconds, and
    wrk leaves timed-out requests out of its latencies, printing a p90 of 0)."""
    out = subprocess.run(["wrk", "-t2", "-c50", f"-d{seconds}s", "--timeout", "30s", "--latency",
                          "-H", f"Host: {HOST}", f"http://127.0.0.1:{cfg.ports['http']}/"],
                         capture_output=True, text=True).stdout
    return parse_p90_ms(out)


def parse_p90_ms(out: str) -> float:
    """The p90 in ms; NaN when no request completed (wrk prints 0 then)."""
    done = re.search(r"^\s*(\d+) requests in", out, re.M)
    m = re.search(r"^\s*90%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if not m or not done:
        raise RuntimeError(f"no p90 in wrk's output:\n{out}")
    if int(done.group(1)) == 0:
        return float("nan")
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]


def measure(cells: int, counts: list[int], wrk_seconds: int, baseline: float) -> list[dict]:
    """The rows of one cell count on this engine."""
    cfg = config.load(overrides={**BASE, "cells": cells})
    foundation = Foundation(cfg)
    foundation.down()
    try:
        print(f"  {cells} cells: starting the foundation ...", flush=True)
        foundation.up()
        return scale_up(cfg, foundation, "one", counts, wrk_seconds, baseline)
    finally:
        foundation.down()


def measure_lab(cells: int, counts: list[int], wrk_seconds: int, baseline: float) -> list[dict]:
    """The rows of one cell count on a fresh swarm lab with one node per cell."""
    plan = swarm_lab.LabPlan(cells)
    lab = swarm_lab.Lab(plan)
    try:
        t0 = time.monotonic()
        print(f"  {cells} cells: {cells} Docker-in-Docker nodes, swarm, images ...", flush=True)
        lab.start_nodes()
        node_ids = lab.form_swarm()
        lab.load_images()
        print(f"  {cells} cells: lab ready in {time.monotonic() - t0:.0f} s; starting the"
              " foundation (engine swarm, one cell per node) ...", flush=True)
        with swarm_lab.lab_engines(lab):
            lab.label_cells(plan.project, plan.cell_nodes(cells), node_ids)
            cfg = config.load(overrides={**plan.foundation(cells), "timings": BASE["timings"]})
            foundation = Foundation(cfg)
            foundation.up(wait=300)
            return scale_up(cfg, foundation, "swarm-lab", counts, wrk_seconds, baseline)
    finally:
        left = lab.teardown()
        print(f"  {cells} cells: lab torn down" + (f"; LEFT {', '.join(left)}" if left else ""),
              flush=True)


def scale_up(cfg: config.FoundationConfig, foundation: Foundation, engine: str,
             counts: list[int], wrk_seconds: int, baseline: float) -> list[dict]:
    """Scale the app through `counts` on a running foundation; one row per size."""
    cells, project = cfg.cells, cfg.project
    rows: list[dict] = []
    router = foundation.job_states()["router"]["container"]
    bbs = bbs_client(cfg)
    for n in counts:
        # A counter per step, ended before the idle window (it costs ~0.5% of a core).
        with route_counter(router, HOST) as counter:
            msgs0, t0 = nats_in_msgs(cfg), time.monotonic()
            if not rows:
                bbs.desire(identity_lrp(PG, "scale-app", HOST, "scale", instances=n))
            else:
                bbs.update_desired(PG, {"instances": n})
            try:
                wait_until_routable(counter, project, n)
            except Runaway as e:
                states = Counter(lrp.get("state") for lrp in bbs.actual_lrps(process_guid=PG))
                print(f"    {n:4d} instances: RUNAWAY after {time.monotonic() - t0:.0f} s: {e};"
                      f" the BBS's actual LRPs: {dict(states)}", flush=True)
                break
            took = time.monotonic() - t0
            msgs = (nats_in_msgs(cfg) - msgs0) / took
        print(f"    {n:4d} instances routable in {took:.1f} s; measuring ...", flush=True)
        t_settle = time.monotonic()
        stats = settled_stats(project)
        settled_machine()
        print(f"    {n:4d} instances: idle after {time.monotonic() - t_settle:.0f} s"
              " (start-up done, spare keys made again, the machine's load steady)", flush=True)
        app_mem = [m for _, _, m, is_app in stats if is_app]
        idle = idle_cpu(baseline)
        row = {"engine": engine, "cells": cells, "instances": n, "routable_s": took,
               "mb_per_instance": sum(app_mem) / max(len(app_mem), 1),
               "idle_cpu": idle["whole"], "containers": len(stats),
               "engine_cpu": idle["engine"], "reclaim_cpu": idle["reclaim"],
               "p90_ms": p90_ms(cfg, wrk_seconds), "nats_msgs_per_s": msgs}
        rows.append(row)
        print(f"    {n:4d} instances: routable in {took:6.1f} s, {row['mb_per_instance']:5.1f} MB"
              f" each, idle CPU {row['idle_cpu']:5.1f}% ({len(stats)} containers and the"
              f" engine), p90 {row['p90_ms']:6.1f} ms, NATS {msgs:6.0f} msgs/s", flush=True)
        print(f"      of which Docker engine(s) {row['engine_cpu']:.1f}%, the kernel's memory"
              f" reclaim (kdamond) {row['reclaim_cpu']:.1f}%; by job (docker stats,"
              f" one sample): {idle_by_job(stats, project)}", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    head = ("| engine | cells | instances | desired -> routable | MB per instance | idle CPU, "
            "whole foundation (% of a core) | of which Docker engine(s) | of which the kernel's"
            " memory reclaim (kdamond) | router p90 at c=50 | NATS msgs/s in scale-up |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        base = next(b for b in rows if (b["engine"], b["cells"]) == (r["engine"], r["cells"]))

        def cell(key: str, fmt: str, r: dict = r, base: dict = base) -> str:
            ratio = r[key] / base[key] if base[key] else 0.0
            return f"{fmt.format(r[key])} ({ratio:.1f}x)"
        lines.append(f"| {ENGINE_NAMES[r['engine']]} | {r['cells']} | {r['instances']} | {cell('routable_s', '{:.1f} s')}"
                     f" | {cell('mb_per_instance', '{:.1f}')} | {cell('idle_cpu', '{:.1f}')}"
                     f" | {cell('engine_cpu', '{:.1f}')} | {r['reclaim_cpu']:.1f}"
                     f" | {cell('p90_ms', '{:.1f} ms')} | {cell('nats_msgs_per_s', '{:.0f}')} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    ap.add_argument("--cells", type=int, nargs="+", default=[2, 4],
                    help="cell counts, a fresh foundation each (default: 2 4)")
    ap.add_argument("--counts", type=int, nargs="+", default=[1, 10, 50, 100],
                    help="app instances, ascending: one row each (default: 1 10 50 100)")
    ap.add_argument("--wrk-seconds", type=int, default=5,
                    help="length of the router p90 load at c=50 (default: 5)")
    ap.add_argument("--engines", nargs="+", choices=sorted(ENGINE_NAMES), default=["one", "swarm-lab"],
                    help="one: this Docker engine; swarm-lab: a Docker-in-Docker swarm with"
                    " one node per cell (as `make swarm-lab`)")
    args = ap.parse_args()
    if sorted(args.counts) != args.counts or args.counts[0] < 1:
        ap.error("--counts must be ascending and >= 1 (each step scales the same app up)")
    if "swarm-lab" in args.engines and max(args.cells) > swarm_lab.MAX_NODES:
        ap.error(f"--cells: the swarm lab has at most {swarm_lab.MAX_NODES} nodes, one per cell")
    images.build((*images.BUILD_ORDER, "node") if "swarm-lab" in args.engines else
                 images.BUILD_ORDER)
    signal.signal(signal.SIGTERM, swarm_lab.terminate)  # a killed bench tears down too
    baseline, reclaim_baseline = machine_baseline()
    print(f"bench: the machine alone is busy {baseline:.1f}% of a core (idle CPU is over that;"
          f" the kernel's memory reclaim {reclaim_baseline:.1f}% of it)", flush=True)
    if baseline > BUSY_MACHINE:
        print(f"bench: WARNING: over {BUSY_MACHINE:.0f}% with no foundation: something else runs"
              " here, and the idle figures move with it", flush=True)
    rows = []
    for engine in args.engines:
        print(f"bench: one app scaled up on a fresh foundation per cell count"
              f" ({ENGINE_NAMES[engine]})", flush=True)
        run = measure if engine == "one" else measure_lab
        rows += [r for cells in args.cells
                 for r in run(cells, args.counts, args.wrk_seconds, baseline)]
    print()
    print(table(rows))
    top = [r for r in rows if r["instances"] == max(args.counts)]
    for r in top:
        apart = r["idle_cpu"] - r["engine_cpu"]
        own = r["idle_cpu"] - max(0.0, r["reclaim_cpu"] - reclaim_baseline)
        print(f"[{ENGINE_NAMES[r['engine']]}, {r['cells']} cells, {r['instances']} instances]"
              f" routable {r['routable_s']:.1f} s (target <= {TARGET_ROUTABLE_S:.0f} s:"
              f" {r['routable_s'] <= TARGET_ROUTABLE_S}); {r['mb_per_instance']:.1f} MB per"
              f" instance (target <= {TARGET_MB:.0f}: {r['mb_per_instance'] <= TARGET_MB});"
              f" idle CPU {r['idle_cpu']:.1f}% of a core with the Docker engine's work, {apart:.1f}%"
              f" without it, {own:.1f}% without the kernel's memory reclaim (target <="
              f" {TARGET_IDLE_CPU:.0f}%: {r['idle_cpu'] <= TARGET_IDLE_CPU} /"
              f" {apart <= TARGET_IDLE_CPU} / {own <= TARGET_IDLE_CPU})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
