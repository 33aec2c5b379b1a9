"""`python3 -m foundry.route_emitter -c /var/vcap/jobs/route_emitter/config/route_emitter.json`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

import nats.errors

from foundry.route_emitter.config import ConfigError, load
from foundry.route_emitter.emitter import GreetingFailed, RouteEmitter

DEFAULT_CONFIG = "/var/vcap/jobs/route_emitter/config/route_emitter.json"
log = logging.getLogger("route_emitter")


async def _main(config_path: str) -> int:
    cfg = load(config_path)
    logging.getLogger().setLevel(cfg.log_level.upper()
                                 if cfg.log_level.upper() in logging._nameToLevel else "INFO")
    try:
        emitter = RouteEmitter(cfg)
    except (OSError, ValueError) as e:  # an unreadable or mismatched BBS client cert/key
        raise ConfigError(f"BBS client TLS: {e}") from None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, emitter.request_stop)
    log.info("route emitter for cell %s, bbs %s, nats %s", cfg.cell_id, cfg.bbs_address,
             ",".join(cfg.nats_servers))
    await emitter.run()
    log.info("route emitter stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="route_emitter", description=__doc__)
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        uvloop = None
    runner = uvloop.run if uvloop is not None else asyncio.run
    try:
        return runner(_main(args.config))
    except ConfigError as e:
        print(f"route_emitter: config error: {e}", file=sys.stderr)
        return 2
    except GreetingFailed as e:
        log.error("%s", e)
        return 1
    except (OSError, nats.errors.Error) as e:  # NATS unreachable at start
        log.error("cannot connect to NATS: %s", e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
