"""`python3 -m foundry.cloud_controller -c /var/vcap/jobs/cloud_controller/config/cloud_controller.json`."""

from __future__ import annotations

import os
import sys

from foundry.cloud_controller.api import API
from foundry.cloud_controller.bbs_client import CCBBSClient
from foundry.cloud_controller.bits import BitsStore
from foundry.cloud_controller.config import CCConfig, ConfigError, load
from foundry.cloud_controller.db import DB
from foundry.cloud_controller.server import CCServers
from foundry.cloud_controller.service import CloudController
from foundry.jobconfig import start_job
from foundry.jobmain import Action, serve_until_signalled

DEFAULT_CONFIG = "/var/vcap/jobs/cloud_controller/config/cloud_controller.json"


def build(cfg: CCConfig) -> tuple[Action, Action]:
    os.makedirs(os.path.dirname(os.path.abspath(cfg.db_path)), exist_ok=True)
    bits = BitsStore(cfg.bits_dir)
    # the BBS's mutual TLS: a bad client cert or key fails the start (OSError/ValueError)
    bbs = CCBBSClient.from_files(cfg.bbs_address, cfg.bbs_ca_cert_file, cfg.bbs_client_cert_file,
                                 cfg.bbs_client_key_file, cfg.bbs_timeout)
    cc = CloudController(cfg, DB(cfg.db_path), bbs, bits)
    servers = CCServers(cfg, API(cc), bits)
    return servers.start, servers.shutdown


def main(argv: list[str] | None = None) -> int:
    cfg = start_job("cloud_controller", __doc__, DEFAULT_CONFIG, load, ConfigError, argv)
    return serve_until_signalled("cloud_controller", lambda: build(cfg))


if __name__ == "__main__":
    sys.exit(main())
