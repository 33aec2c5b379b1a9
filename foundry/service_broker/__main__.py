"""`python3 -m foundry.service_broker -c /var/vcap/jobs/service_broker/config/service_broker.json`."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from foundry.service_broker.broker import Broker
from foundry.service_broker.config import ConfigError, load
from foundry.service_broker.credhub_client import CredHubClient
from foundry.service_broker.server import BrokerServer

DEFAULT_CONFIG = "/var/vcap/jobs/service_broker/config/service_broker.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="service_broker", description=__doc__)
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = load(args.config)
    except ConfigError as e:
        print(f"service_broker: config error: {e}", file=sys.stderr)
        return 2
    try:
        os.makedirs(os.path.dirname(os.path.abspath(cfg.db_path)), exist_ok=True)
        credhub = CredHubClient(cfg.credhub_url, cfg.cert_file, cfg.key_file, cfg.ca_file,
                                cfg.credhub_timeout)
        broker = Broker(cfg.db_path, credhub, cfg.username, cfg.password, cfg.broker_id,
                        cfg.service_host)
        server = BrokerServer(cfg.address(), broker)
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
