"""`make soak`: a strict-mode foundation under steady load and recurring faults for N minutes.

The soak is a generated scenario run by the scenario runner (load, faults, fault windows,
every request classified by its X-Cf-Routererror), on its own project, ports and subnets,
plus a sampler that reads every job container's RSS and open file descriptors. First
the restarts (router, NATS, a cell: each restarts its job's processes, so their sizes
start over); then, after the warm-up sample, instance certificates rotate every minute
(compressed validity) while app processes are killed and an app is scaled up and down
until the time is up. Verdict: no request misrouted, no failure outside a fault window
(or a scale window), and no job's RSS or fd count grown by more than 10% since the
warm-up sample. Writes soak.md (the table) and soak.png (the plot).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.docker_cli import LABEL

PROJECT = "cflab-soak"


def placement(port_offset: int, subnet: int) -> dict[str, Any]:
    """Every published port at its default + `port_offset` (kept under 32768, Linux's
    ephemeral range) and subnets 10.<subnet>.0.0/24 and 10.<subnet - 1>.0.0/16."""
    from orchestrator import config

    return {"subnets": {"foundation": f"10.{subnet}.0.0/24",
                        "cell_containers": f"10.{subnet - 1}.0.0/16"},
            "ports": {k: v + port_offset for k, v in config.defaults()["ports"].items()}}


# Clear of `make up` (+0), `make scenarios` (+20000) and the e2e foundations.
PLACEMENT_ARGS = (16000, 226)
ROTATION_VALIDITY = "69s"   # the executor rotates at 7/8 of the validity: every ~60 s
GROWTH_LIMIT = 0.10
# Below these a change is noise (a page of heap, a socket), not growth.
RSS_SLACK_KB = 4096
FD_SLACK = 8
# Growth is judged only in runs this long: the router's pools and caches fill for its
# first ~8 minutes (measured: 33 → 57 MB, then level), so a shorter run (CI's 3-minute
# soak) would measure the warm-up itself. Shorter runs report growth without judging it.
GROWTH_JUDGED_FROM_MIN = 10.0
RESTART_PHASE_S = 65        # the three restarts with their recoveries (measured ~63 s)
CYCLE_S = 65                # one kill + scale-up + scale-down cycle (measured ~60 s)
QUIET = "steady"            # the phase (mark) in which no request may fail


def _recover(name: str, timeout: str = "90s") -> list[dict[str, Any]]:
    # A soak goes on after a slow recovery: the failed requests are in the table.
    return [{"wait": {"until": "routes_ok", "consecutive": 3, "timeout": timeout,
                      "name": name, "on_timeout": "continue"}}, {"mark": QUIET}]


def scenario_doc(minutes: float) -> dict[str, Any]:
    """The soak as a scenario document; `minutes` sets how many fault cycles follow."""
    steps: list[dict[str, Any]] = [{"mark": "warm-up"}, {"observe": "10s"}, {"mark": QUIET},
                                   {"observe": "5s"}]
    for i, job in enumerate(("router", "nats", "cell-1")):
        steps += [{"mark": f"restart-{job}"}, {"restart_job": job},
                  *_recover(f"recovery-{i}-{job}", "120s"), {"observe": "5s"}]
    steps += [{"mark": "measure"}, {"mark": QUIET}]
    cycles = max(1, round((minutes * 60 - RESTART_PHASE_S) / CYCLE_S))
    for c in range(cycles):
        # one instance at a time, in turn, of the apps with two: never a whole app down
        app, index = (("web", "api")[c % 2], (c // 2) % 2)
        steps += [{"observe": "25s"},
                  {"mark": "kill-app"}, {"crash_instance": {"app": app, "index": index}},
                  *_recover(f"crash-{c}"), {"observe": "15s"},
                  {"mark": "scale"}, {"scale": {"app": "api", "instances": 3}},
                  {"wait": {"until": "app_running", "app": "api", "timeout": "60s",
                            "name": f"scale-up-{c}", "on_timeout": "continue"}},
                  {"scale": {"app": "api", "instances": 2}},
                  *_recover(f"scale-down-{c}"), {"observe": "10s"}]
    steps += [{"mark": "end"}, {"observe": "2s"}]
    return {
        "name": "soak",
        "description": f"{minutes:g}-minute soak in strict mode",
        "foundation": {
            "modes": ["strict"], "cells": 2,
            "timings": {"instance_identity_validity_period": ROTATION_VALIDITY,
                        "register_interval": "2s", "start_response_delay_interval": "1s",
                        "healthcheck_startup_interval": "500ms",
                        "droplet_stale_threshold": "20s",
                        "prune_stale_droplets_interval": "2s",
                        # an instance killed every few minutes reaches Diego's crash
                        # backoff (30 s doubling to 16 min at CF's defaults): compressed
                        "restart_backoff_base": "2s", "restart_backoff_max": "10s"}},
        "apps": [{"name": "web", "instances": 2}, {"name": "api", "instances": 2},
                 {"name": "worker", "instances": 1}],
        # 5 s: on a loaded 2-core machine a 2 s client timeout measures the scheduler
        "load": {"rps": 5, "timeout": "5s"},
        "steps": steps,
        "expect": {"strict": {"misrouted": "== 0", f"errors@{QUIET}": "== 0"}},
    }


# -- resources ------------------------------------------------------------------------
_PROBE = ("rss=0; fds=0; for p in /proc/[0-9]*; do "
          "r=$(sed -n 's/^VmRSS:[^0-9]*\\([0-9]*\\).*/\\1/p' $p/status 2>/dev/null); "
          "[ -n \"$r\" ] && rss=$((rss+r)); "
          "n=$(ls $p/fd 2>/dev/null | wc -l); fds=$((fds+n)); done; echo $rss $fds")


def jobs(project: str) -> dict[str, str]:
    """Compose service -> container of the project's running jobs (app containers aside)."""
    out = subprocess.run(
        ["docker", "ps", "--filter", f"label=com.docker.compose.project={project}",
         "--format", '{{.Names}} {{.Label "com.docker.compose.service"}}'],
        capture_output=True, text=True, timeout=30).stdout
    return {svc: name for name, svc in (line.split() for line in out.splitlines()
                                        if len(line.split()) == 2)}


def usage(container: str) -> tuple[int, int] | None:
    """(RSS in kB, open fds) summed over every process in the container."""
    try:
        proc = subprocess.run(["docker", "exec", container, "sh", "-c", _PROBE],
                              capture_output=True, text=True, timeout=30)
        rss, fds = proc.stdout.split()
        return int(rss), int(fds)
    except (ValueError, subprocess.TimeoutExpired):
        return None


@dataclass
class Sampler:
    """Samples every job's usage every `interval` seconds in a thread."""

    project: str
    interval: float = 20.0
    clock: Any = time.monotonic
    samples: list[dict[str, Any]] = field(default_factory=list)   # {t, job, rss_kb, fds}
    _halt: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self, t0: float) -> None:
        self.t0 = t0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._halt.is_set():
            self.sweep()
            self._halt.wait(self.interval)

    def sweep(self) -> None:
        for job, container in sorted(jobs(self.project).items()):
            got = usage(container)
            if got is not None:
                self.samples.append({"t": round(self.clock() - self.t0, 1), "job": job,
                                     "rss_kb": got[0], "fds": got[1]})

    def stop(self) -> list[dict[str, Any]]:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(60)
        return self.samples


@dataclass
class Growth:
    job: str
    rss_start: int
    rss_end: int
    fds_start: int
    fds_end: int

    @staticmethod
    def _over(start: int, end: int, slack: int) -> bool:
        return end - start > max(slack, start * GROWTH_LIMIT)

    @property
    def grew(self) -> bool:
        return (self._over(self.rss_start, self.rss_end, RSS_SLACK_KB)
                or self._over(self.fds_start, self.fds_end, FD_SLACK))


def growth(samples: list[dict[str, Any]], since: float) -> list[Growth]:
    """Per job: the first sample at or after `since` (the warm-up) against the last."""
    out = []
    for job in sorted({s["job"] for s in samples}):
        mine = [s for s in samples if s["job"] == job and s["t"] >= since]
        if len(mine) >= 2:
            a, b = mine[0], mine[-1]
            out.append(Growth(job, a["rss_kb"], b["rss_kb"], a["fds"], b["fds"]))
    return out


def pct(a: int, b: int) -> str:
    return f"{(b - a) / a * 100:+.1f}%" if a else "n/a"


def quiet_failures(result: Any) -> list[Any]:
    """Failed requests that began and ended in a quiet phase: one sent just before a
    fault's mark and broken by the fault belongs to the fault."""
    starts = sorted((m["t"], m["name"]) for m in getattr(result, "marks", []))
    out = []
    for s in result.samples:
        if s.outcome != "error" or s.phase != QUIET:
            continue
        end = s.t + s.latency
        if not any(s.t < t <= end and name != QUIET for t, name in starts):
            out.append(s)
    return out


def verdict(result: Any, grown: list[Growth], judge_growth: bool = True) -> list[str]:
    """What failed (empty: the soak passed)."""
    problems = []
    c = result.counts
    if c.misrouted:
        problems.append(f"{c.misrouted} requests misrouted")
    quiet = quiet_failures(result)
    if quiet:
        problems.append(f"{len(quiet)} requests failed outside fault windows: "
                        + ", ".join(f"{k} ×{n}" for k, n in
                                    Counter(s.error_key for s in quiet).most_common(5)))
    problems += [f"{g.job} grew: RSS {pct(g.rss_start, g.rss_end)}, fds"
                 f" {pct(g.fds_start, g.fds_end)}" for g in grown if g.grew and judge_growth]
    if result.error:
        problems.append(f"the run stopped: {result.error}")
    return problems


def table(minutes: float, result: Any, grown: list[Growth], problems: list[str]) -> str:
    c = result.counts
    serials: dict[str, set[str]] = {}
    for s in result.samples:
        if s.cert_serial:
            serials.setdefault(s.route, set()).add(s.cert_serial)
    failed = Counter((s.phase, s.error_key) for s in result.samples if s.outcome == "error")
    lines = [f"Soak: {minutes:g} min of load in strict mode ({result.duration / 60:.1f} min"
             " with set-up and teardown), 2 cells, apps web ×2, api ×2–3, worker ×1 at 5 rps"
             " each.", "",
             "| requests | failed | misrouted | failed outside fault windows |",
             "|---:|---:|---:|---:|",
             f"| {c.requests} | {c.errors} | {c.misrouted} |"
             f" {len(quiet_failures(result))} |", "",
             "| failures in | status and X-Cf-Routererror (or client error) | requests |",
             "|---|---|---:|"]
    lines += [f"| {phase} | {key} | {n} |" for (phase, key), n in sorted(failed.items())]
    lines += ["", "Instance certificates seen per app (rotation every ~60 s): "
              + ", ".join(f"{app} {len(v)}" for app, v in sorted(serials.items())), "",
              "| job | RSS after warm-up | RSS at end | growth | fds after warm-up |"
              " fds at end | growth |", "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {g.job} | {g.rss_start / 1024:.1f} MB | {g.rss_end / 1024:.1f} MB |"
              f" {pct(g.rss_start, g.rss_end)} | {g.fds_start} | {g.fds_end} |"
              f" {pct(g.fds_start, g.fds_end)} |" for g in grown]
    if minutes < GROWTH_JUDGED_FROM_MIN:
        lines += ["", f"Growth is not judged in a run under {GROWTH_JUDGED_FROM_MIN:g} minutes:"
                      " it would measure the router's warm-up."]
    lines += ["", "Verdict: " + ("PASSED" if not problems else "FAILED: " + "; ".join(problems))]
    return "\n".join(lines) + "\n"


def plot(path: Path, result: Any, samples: list[dict[str, Any]], since: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_req, ax_rss, ax_fds) = plt.subplots(3, 1, figsize=(11, 9), sharex=True)
    buckets: dict[str, Counter] = {"intended": Counter(), "error": Counter(),
                                   "misrouted": Counter()}
    for s in result.samples:
        buckets[s.outcome][int(s.t // 10) * 10] += 1
    for outcome, color in (("intended", "tab:green"), ("error", "tab:red"),
                           ("misrouted", "black")):
        xs = sorted(buckets[outcome])
        ax_req.plot(xs, [buckets[outcome][x] / 10 for x in xs], color=color, label=outcome)
    ax_req.set_ylabel("requests/s")
    ax_req.legend(loc="upper right")
    for job in sorted({s["job"] for s in samples}):
        mine = [s for s in samples if s["job"] == job]
        ax_rss.plot([s["t"] for s in mine], [s["rss_kb"] / 1024 for s in mine], label=job)
        ax_fds.plot([s["t"] for s in mine], [s["fds"] for s in mine], label=job)
    ax_rss.set_ylabel("RSS (MB)")
    ax_fds.set_ylabel("open fds")
    ax_fds.set_xlabel("seconds since load started")
    ax_rss.legend(loc="upper left", fontsize=7, ncol=3)
    for ax in (ax_req, ax_rss, ax_fds):
        for f in result.faults:
            ax.axvspan(f["start"], f.get("end") or f["start"] + 1, color="tab:orange",
                       alpha=0.2)
        ax.axvline(since, color="grey", linestyle="--")
    ax_req.set_title("soak: load, faults (shaded), warm-up sample (dashed)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


@contextlib.contextmanager
def start_lock(path: str) -> Iterator[None]:
    """Hold an flock on `path` (if given) while images build and the foundation starts:
    on a shared engine the images are rebuilt from the checkout, and that must not
    happen beside another foundation's start. The soak itself then runs unlocked."""
    if not path:
        yield
        return
    print(f"[soak] waiting for {path} to build images and start the foundation", flush=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    print(f"[soak] foundation started; {path} released", flush=True)


def reuse_images() -> None:
    """Start from the cflab images already built instead of rebuilding them from this
    checkout: a soak beside other foundations on a shared engine must not retag the
    images their cells start app containers from (SOAK_REUSE_IMAGES=1)."""
    from orchestrator import images

    images._BUILT_HERE.update(n for n in ("platform", "stack", *images.VARIANTS)
                              if images.image_exists(images.ref(n)))


def run(minutes: float, out: Path, project: str = PROJECT,
        placement_: dict[str, Any] | None = None) -> int:
    """Run the soak; 0 when it passed. Writes out/soak.md, soak.png, soak.json."""
    from orchestrator.scenario import runner, schema

    if os.environ.get("SOAK_REUSE_IMAGES") == "1":
        reuse_images()

    sc = schema.parse(scenario_doc(minutes), "soak")
    cfg = runner.foundation_config(sc, "strict", project,
                                   placement_ or placement(*PLACEMENT_ARGS))
    out.mkdir(parents=True, exist_ok=True)
    sampler = Sampler(project)
    mode_run = runner.ModeRun(sc, cfg, out / "strict", lambda m: print(f"[soak] {m}",
                                                                        flush=True))
    original_setup = mode_run.setup

    def setup_then_sample() -> None:
        with start_lock(os.environ.get("SOAK_START_LOCK", "")):
            original_setup()
        sampler.start(time.monotonic())   # the load's clock starts now too

    mode_run.setup = setup_then_sample  # type: ignore[method-assign]
    try:
        result = mode_run.run()
    finally:
        samples = sampler.stop()
    result.evaluate(sc.expect.get("strict", ()))
    (out / "raw.json").write_text(json.dumps(
        {"resources": samples, "samples": [x.to_json() for x in result.samples],
         "faults": result.faults, "marks": result.marks, "steps": result.steps,
         "error": result.error, "duration": result.duration}))
    # Warm-up: past the restarts and a third of the run (the router's pools and caches
    # fill for minutes before they level off).
    since = max(next((m["t"] for m in result.marks if m["name"] == "measure"), 0.0),
                result.samples[-1].t / 3 if result.samples else 0.0)
    grown = growth(samples, since)
    problems = verdict(result, grown, judge_growth=minutes >= GROWTH_JUDGED_FROM_MIN)
    text = table(minutes, result, grown, problems)
    (out / "soak.md").write_text(text)
    (out / "soak.json").write_text(json.dumps(
        {"minutes": minutes, "resources": samples, "counts": result.counts.to_json(),
         "faults": result.faults, "steps": result.steps, "problems": problems,
         "warm_up_sample_after": since}, indent=1))
    plot(out / "soak.png", result, samples, since)
    print(text, flush=True)
    return 0 if not problems else 1


def leftovers(project: str = PROJECT) -> str:
    return subprocess.run(["docker", "ps", "-aq", "--filter", f"label={LABEL}={project}"],
                          capture_output=True, text=True, timeout=30).stdout.strip()
