"""`python3 -m foundry.service_broker -c /var/vcap/jobs/service_broker/config/service_broker.json`."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

from foundry.jobconfig import start_job
from foundry.service_broker.broker import Broker
from foundry.service_broker.config import ConfigError, load
from foundry.service_broker.credhub_client import CredHubClient
from foundry.service_broker.server import BrokerServer

DEFAULT_CONFIG = "/var/vcap/jobs/service_broker/config/service_broker.json"


def main(argv: list[str] | None = None) -> int:
    cfg = start_job("service_broker", __doc__, DEFAULT_CONFIG, load, ConfigError, argv)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(cfg.db_path)), exist_ok=True)
        credhub = CredHubClient(cfg.credhub_url, cfg.cert_file, cfg.key_file, cfg.ca_file,
                                cfg.credhub_timeout)
        broker = Broker(cfg.db_path, credhub, cfg.username, cfg.password, cfg.broker_id,
                        cfg.service_host)
        server = BrokerServer(cfg.address, broker)
    except (OSError, ValueError) as e:
        print(f"service_broker: cannot start: {e}", file=sys.stderr)
        return 1
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    server.start()
    logging.getLogger("service_broker").info("service broker %s listening on %s, CredHub %s",
                                             cfg.broker_id, cfg.listen_address, cfg.credhub_url)
    done.wait()
    server.shutdown()
    server.server_close()
    broker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
