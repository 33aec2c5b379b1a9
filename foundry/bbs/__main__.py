"""`python3 -m foundry.bbs -c /var/vcap/jobs/bbs/config/bbs.json`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from foundry.bbs.config import ConfigError, load
from foundry.bbs.server import BBSServer

DEFAULT_CONFIG = "/var/vcap/jobs/bbs/config/bbs.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bbs", description=__doc__)
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG, help="path to bbs.json")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = load(args.config)
    except ConfigError as e:
        print(f"bbs: config error: {e}", file=sys.stderr)
        return 2
    server = BBSServer(cfg)

    def stop(*_: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    finally:
        server.close()
    logging.getLogger("bbs").info("bbs stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
