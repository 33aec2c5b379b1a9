"""`python3 -m foundry.rep -c rep.json`: a Diego cell's rep.

Keeps its presence in the BBS on a thread of its own, takes the work the BBS
placed on it, and hands each instance to the executor; one work loop, so the
order of events on a cell is easy to follow in its log. Every
`polling_interval_in_seconds` (Diego's 30) a bulk sync stops the instances the
BBS no longer gives this cell. Crashes are checked on Docker's events
(`crash_watch`), not by inspecting every instance every second.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from foundry.bbs.client import BBSClient, BBSError
from foundry.durations import parse_go_duration
from foundry.loggregator import Reporter
from foundry.pki import Credential
from foundry.rep import pacing
from foundry.rep.crash_watch import CrashWatch
from foundry.rep.dnat import PlatformService
from foundry.rep.executor import Executor, ExecutorConfig
from foundry.rep.garden import Garden
from foundry.rep.policy_agent import PolicyAgent
from foundry.rep.ports import new_allocator
from foundry.rep.presence import Presence

log = logging.getLogger("rep")


def duration(value: str | float) -> float:
    """rep.json holds Go durations; a bare number is seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    return parse_go_duration(value)


def own_ip(subnet: str) -> str:
    """This cell's address on `subnet` (interface names do not follow attach order)."""
    net = ipaddress.IPv4Network(subnet)
    out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        addr = line.split()[3].split("/")[0]
        if ipaddress.IPv4Address(addr) in net:
            return addr
    raise SystemExit(f"rep: this cell has no address in {subnet}")


def load_config(path: Path) -> tuple[dict, ExecutorConfig]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"rep: cannot read {path}: {exc}") from None
    trusted = b"".join(Path(p).read_bytes() for p in raw.get("container_proxy_trusted_ca_certs", []))
    system = {Path(p).name: Path(p).read_bytes() for p in raw.get("trusted_system_certificates", [])}
    cfg = ExecutorConfig(
        cell_id=raw["cell_id"],
        cell_ip=own_ip(raw["foundation_subnet"]),
        container_subnet=raw["container_subnet"],
        garden_network=raw["garden_network"],
        stack_image=raw["stack_image"],
        foundation=raw["foundation"],
        proxy_enabled=raw["enable_container_proxy"],
        strict=raw["container_proxy_require_and_verify_client_certs"],
        unproxied_port_mappings=raw["enable_unproxied_port_mappings"],
        proxy_config_layout=raw["proxy_config_layout"],
        validity=duration(raw["instance_identity_validity_period"]),
        reload_duration=duration(raw["envoy_config_reload_duration"]),
        key_size=raw["instance_identity_key_size"],
        startup_interval=duration(raw["healthcheck_startup_interval"]),
        startup_timeout=duration(raw["healthcheck_startup_timeout"]),
        liveness_interval=duration(raw["healthcheck_liveness_interval"]),
        trusted_ca=trusted.decode(),
        verify_subject_alt_name=raw.get("container_proxy_verify_subject_alt_name", []),
        system_certs=system,
        state_dir=Path(raw.get("data_dir", "/var/vcap/data/rep")),
        cell_container_ip=own_ip(raw["container_subnet"]),
        platform_services=[resolve_service(s) for s in raw.get("platform_services", [])],
        proxy_memory_mb=int(raw.get("proxy_memory_allocation_mb", 32)),
        max_cpu_shares=int(raw.get("max_cpu_shares", 1024)),
        max_pids=int(raw.get("container_max_pids", 1024)),
        metrics_interval=duration(raw.get("container_metrics_report_interval", "15s")),
        ssh_authorized_keys=Path(raw["ssh_authorized_keys_file"]).read_bytes()
        if raw.get("ssh_authorized_keys_file") else b"",
    )
    return raw, cfg


def resolve_service(spec: dict) -> PlatformService:
    """Look the job up on the foundation network; retried, as the job may start later."""
    deadline = time.monotonic() + 60
    while True:
        try:
            ip = socket.gethostbyname(spec["host"])
            return PlatformService(spec["name"], int(spec["port"]), ip)
        except OSError as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"rep: cannot resolve {spec['host']}: {exc}") from None
            time.sleep(0.5)


def forget_previous_instances(bbs: BBSClient, cell_id: str) -> None:
    """A restarted rep has no containers: hand its old instances back to the BBS."""
    deadline = time.monotonic() + 60
    while True:
        try:
            lrps = bbs.actual_lrps(cell_id=cell_id)
            break
        except (BBSError, OSError) as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"rep: BBS unreachable: {exc}") from None
            time.sleep(0.5)
    for lrp in lrps:
        if lrp.get("state") in ("CLAIMED", "RUNNING"):
            try:
                bbs.lifecycle("remove", process_guid=lrp["process_guid"], index=lrp["index"],
                              instance_guid=lrp["instance_guid"], cell_id=cell_id)
            except BBSError as exc:
                log.info("could not hand back %s/%s: %s", lrp["process_guid"], lrp["index"], exc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rep")
    parser.add_argument("-c", "--config", type=Path, default=Path("/var/vcap/jobs/rep/config/rep.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("CFLAB_LOG_LEVEL", "INFO"), stream=sys.stdout,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    raw, cfg = load_config(args.config)
    signer = Credential.from_pem(Path(raw["instance_identity_ca_path"]).read_bytes(),
                                 Path(raw["instance_identity_private_key_path"]).read_bytes())
    garden = Garden(cfg.garden_network, {"cflab.foundation": cfg.foundation,
                                         "cflab.cell": cfg.cell_id, "cflab.role": "lrp"})
    bbs = BBSClient.from_files(raw["bbs_address"], raw.get("bbs_ca_cert_file", ""),
                               raw.get("bbs_client_cert_file", ""),
                               raw.get("bbs_client_key_file", ""))
    reporter = Reporter(raw.get("cc_internal_url", ""))
    reporter.start()
    executor = Executor(cfg, garden, bbs, signer, new_allocator(raw["port_allocator"]), reporter)
    garden.disk_quota()  # says once in the log when the engine cannot enforce one
    metrics_stop = threading.Event()
    threading.Thread(target=executor.metrics_loop, args=(metrics_stop,), name="metrics",
                     daemon=True).start()
    if raw.get("policy_server_url"):
        agent = PolicyAgent(raw["policy_server_url"], bbs, cfg.cell_container_ip,
                            executor.isolated_containers, executor.install_rules)
        executor.policy = agent
        threading.Thread(target=agent.loop, args=(metrics_stop,), name="policy-agent",
                         daemon=True).start()
    else:
        log.warning("no policy_server_url: app containers are not isolated from each other")
    executor.setup_network()
    executor.reap_orphans()
    forget_previous_instances(bbs, cfg.cell_id)
    stopping = False

    class _Stopped(BaseException):
        """Raised by SIGTERM's handler: Python retries a read a signal interrupted, so
        the loop would otherwise sit out its BBS long-poll (up to pacing.MAX_SLEEP_S)
        before it saw `stopping`, and each `cflab mode` recreate of a cell waited that."""

    def on_term(*_: object) -> None:
        nonlocal stopping
        stopping = True
        raise _Stopped

    signal.signal(signal.SIGTERM, on_term)
    log.info("rep %s on %s: proxy=%s strict=%s unproxied=%s", cfg.cell_id, cfg.cell_ip,
             cfg.proxy_enabled, cfg.strict, cfg.unproxied_port_mappings)
    ready = Path(cfg.state_dir) / "ready"
    ready.parent.mkdir(parents=True, exist_ok=True)
    # Its own client: a heartbeat gives up well within the BBS's presence TTL.
    beat_bbs = BBSClient(bbs.address, timeout=5.0, tls=bbs.tls)
    every = duration(raw.get("lock_retry_interval", "5s"))  # locket's presence retry
    Presence(lambda: beat_bbs.heartbeat(cfg.cell_id, f"http://{cfg.cell_ip}:1800",
                                        raw.get("zone", "z1"),
                                        int(raw.get("max_containers", 250))),
             interval=every, late_after=2 * every, on_beat=ready.touch).start(metrics_stop)
    watch = CrashWatch(garden.events, executor.known, executor.on_exit,
                       on_reconnect=executor.sweep_crashes)
    threading.Thread(target=watch.run, args=(metrics_stop,), name="crash-watch",
                     daemon=True).start()
    sync_interval = float(raw.get("polling_interval_in_seconds", 30))
    last_sweep = tick_at = 0.0
    last_sync = time.monotonic()
    version, taken = -1, None  # the BBS's version now, and the one whose work was taken
    try:
        while not stopping:
            now = time.monotonic()
            try:
                if now - last_sync >= sync_interval:  # rep bulk sync: drop what it no longer holds
                    executor.sync(bbs.actual_lrps(cell_id=cfg.cell_id))
                    last_sync, taken = now, None  # and take the work again (a start that failed)
                if version != taken:
                    work = bbs.work(cfg.cell_id)
                    known = executor.known()
                    for item in work.get("to_start", []):
                        executor.start(item["desired_lrp"], item["actual_lrp"])
                    for item in work.get("to_stop", []):
                        if item.get("instance_guid") in known:
                            executor.stop(item["instance_guid"])
                    taken = version
                if now >= tick_at:
                    # Crash checks cost Docker API calls: on events while the stream is live,
                    # with a sweep every CRASH_SWEEP_S as a safety net; else every second.
                    sweep = not watch.live.is_set() or now - last_sweep >= pacing.CRASH_SWEEP_S
                    executor.tick(crash_checks=sweep)
                    last_sweep = now if sweep else last_sweep
                    tick_at = pacing.next_tick(now, watch.live.is_set(), last_sweep,
                                               executor.rotations_due())
            except (BBSError, OSError) as exc:
                log.warning("BBS unavailable: %s", exc)
                time.sleep(0.2)
                continue
            # Until the BBS changes (new work at once, as the auctioneer's push) or a
            # tick or the bulk sync is due.
            due = min(tick_at, last_sync + sync_interval) - time.monotonic()
            try:
                version = bbs.wait_for_change(version, max(0.05, due))
            except (BBSError, OSError, KeyError, ValueError, TypeError) as exc:
                log.warning("BBS events unavailable: %s", exc)
                time.sleep(0.2)
    except _Stopped:  # SIGTERM while the loop waited on the BBS
        log.info("rep %s: SIGTERM, stopping", cfg.cell_id)
    metrics_stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
