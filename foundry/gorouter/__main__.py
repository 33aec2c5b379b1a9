"""`python3 -m foundry.gorouter -c /var/vcap/jobs/gorouter/config/gorouter.yml`.

With `--interpolate MANIFEST --secrets DIR` it first writes that config from the
rendered job config and the job's credentials (credentials.py), as BOSH would.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from foundry.gorouter.config import ConfigError, load
from foundry.gorouter.credentials import CredentialsError, render
from foundry.gorouter.router import Router, tune_gc
from foundry.gorouter.status import Health
from foundry.gorouter.workers import (
    WorkerSupervisor,
    default_workers,
    report_forever,
    stop_on_stdin_eof,
)
from foundry.heap import keep_reads_in_heap

DEFAULT_CONFIG = "/var/vcap/jobs/gorouter/config/gorouter.yml"
DEFAULT_SECRETS = "/var/vcap/jobs/gorouter/secrets"


async def _main(config_path: str, workers: int, worker: int, report_fd: int) -> int:
    cfg = load(config_path)
    logging.getLogger().setLevel(cfg.logging_level.upper()
                                 if cfg.logging_level.upper() in logging._nameToLevel else "INFO")
    tune_gc()
    keep_reads_in_heap()
    router = Router(cfg, worker=worker > 0, reuse_port=workers > 1)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, router.request_stop)
    background: list[asyncio.Task] = []
    supervisor: WorkerSupervisor | None = None
    if worker > 0:
        background.append(asyncio.create_task(stop_on_stdin_eof(router.request_stop)))
        if report_fd >= 0:
            background.append(asyncio.create_task(report_forever(
                report_fd, router.metrics,
                lambda: router.proxy.server is not None and router.nats.connected)))
    else:
        loop.add_signal_handler(signal.SIGUSR1,
                                lambda: setattr(router.health, "state", Health.DEGRADED))
        if workers > 1:
            supervisor = WorkerSupervisor(config_path, workers, router.metrics)
            await supervisor.start()
    try:
        await router.run()
    finally:
        if supervisor is not None:
            await supervisor.stop()
        for t in background:
            t.cancel()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gorouter", description=__doc__)
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG, help="path to gorouter.yml")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="processes serving requests, like Go's GOMAXPROCS "
                             "(default: $GOMAXPROCS, else 1)")
    parser.add_argument("--interpolate", metavar="MANIFEST",
                        help="write the config from this gorouter.yml with ((variables)) "
                             "first, taking the credentials from --secrets")
    parser.add_argument("--secrets", default=DEFAULT_SECRETS,
                        help=f"the job's credentials (default {DEFAULT_SECRETS})")
    parser.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--report-fd", type=int, default=-1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.interpolate:
        try:
            render(Path(args.interpolate), Path(args.secrets), Path(args.config))
        except CredentialsError as e:
            print(f"gorouter: config error: {e}", file=sys.stderr)
            return 2
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is in the image; plain asyncio works too
        uvloop = None
    try:
        if uvloop is not None:
            return uvloop.run(_main(args.config, args.workers, args.worker, args.report_fd))
        return asyncio.run(_main(args.config, args.workers, args.worker, args.report_fd))
    except ConfigError as e:
        print(f"gorouter: config error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
