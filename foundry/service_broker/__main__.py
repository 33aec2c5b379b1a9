"""`python3 -m foundry.service_broker -c /var/vcap/jobs/service_broker/config/service_broker.json`."""

from __future__ import annotations

import os
import sys

from foundry.jobconfig import start_job
from foundry.jobmain import Action, serve_until_signalled, serving
from foundry.service_broker.broker import Broker
from foundry.service_broker.config import BrokerConfig, ConfigError, load
from foundry.service_broker.credhub_client import CredHubClient
from foundry.service_broker.server import listen

DEFAULT_CONFIG = "/var/vcap/jobs/service_broker/config/service_broker.json"


def build(cfg: BrokerConfig) -> tuple[Action, Action]:
    os.makedirs(os.path.dirname(os.path.abspath(cfg.db_path)), exist_ok=True)
    credhub = CredHubClient(cfg.credhub_url, cfg.cert_file, cfg.key_file, cfg.ca_file,
                            cfg.credhub_timeout)
    broker = Broker(cfg.db_path, credhub, cfg.username, cfg.password, cfg.broker_id,
                    cfg.service_host)
    server = listen(cfg.address, broker)
    return serving(server, "service_broker", f"service broker {cfg.broker_id} listening on "
                   f"{cfg.listen_address}, CredHub {cfg.credhub_url}", broker.close)


def main(argv: list[str] | None = None) -> int:
    cfg = start_job("service_broker", __doc__, DEFAULT_CONFIG, load, ConfigError, argv)
    return serve_until_signalled("service_broker", lambda: build(cfg))


if __name__ == "__main__":
    sys.exit(main())
