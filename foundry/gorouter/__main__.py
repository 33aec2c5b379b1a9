"""`python3 -m foundry.gorouter -c /var/vcap/jobs/gorouter/config/gorouter.yml`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from foundry.gorouter.config import ConfigError, load
from foundry.gorouter.router import Router, tune_gc
from foundry.gorouter.status import Health

DEFAULT_CONFIG = "/var/vcap/jobs/gorouter/config/gorouter.yml"


async def _main(config_path: str) -> int:
    cfg = load(config_path)
    logging.getLogger().setLevel(cfg.logging_level.upper()
                                 if cfg.logging_level.upper() in logging._nameToLevel else "INFO")
    tune_gc()
    router = Router(cfg)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, router.request_stop)
    loop.add_signal_handler(signal.SIGUSR1,
                            lambda: setattr(router.health, "state", Health.DEGRADED))
    await router.run()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gorouter", description=__doc__)
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG, help="path to gorouter.yml")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is in the image; plain asyncio works too
        uvloop = None
    try:
        if uvloop is not None:
            return uvloop.run(_main(args.config))
        return asyncio.run(_main(args.config))
    except ConfigError as e:
        print(f"gorouter: config error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
