"""`python3 -m foundry.cloud_controller -c /var/vcap/jobs/cloud_controller/config/cloud_controller.json`."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

from foundry.cloud_controller.api import API
from foundry.cloud_controller.bbs_client import CCBBSClient
from foundry.cloud_controller.bits import BitsStore
from foundry.cloud_controller.config import ConfigError, load
from foundry.cloud_controller.db import DB
from foundry.cloud_controller.server import CCServers
from foundry.cloud_controller.service import CloudController
from foundry.jobconfig import start_job

DEFAULT_CONFIG = "/var/vcap/jobs/cloud_controller/config/cloud_controller.json"


def main(argv: list[str] | None = None) -> int:
    cfg = start_job("cloud_controller", __doc__, DEFAULT_CONFIG, load, ConfigError, argv)
    os.makedirs(os.path.dirname(os.path.abspath(cfg.db_path)), exist_ok=True)
    bits = BitsStore(cfg.bits_dir)
    cc = CloudController(cfg, DB(cfg.db_path), CCBBSClient(cfg.bbs_address, cfg.bbs_timeout), bits)
    try:
        servers = CCServers(cfg, API(cc), bits)
    except (OSError, ValueError) as e:
        print(f"cloud_controller: cannot listen: {e}", file=sys.stderr)
        return 1
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    servers.start()
    done.wait()
    servers.shutdown()
    logging.getLogger("cloud_controller").info("cloud controller stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
