"""`python3 -m foundry.bbs -c /var/vcap/jobs/bbs/config/bbs.json`."""

from __future__ import annotations

import logging
import signal
import sys
import threading

from foundry.bbs.config import ConfigError, load
from foundry.bbs.server import BBSServer
from foundry.jobconfig import start_job

DEFAULT_CONFIG = "/var/vcap/jobs/bbs/config/bbs.json"


def main(argv: list[str] | None = None) -> int:
    cfg = start_job("bbs", __doc__, DEFAULT_CONFIG, load, ConfigError, argv)
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
