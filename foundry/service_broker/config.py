"""service_broker.json, rendered under /var/vcap/jobs/service_broker/config/.

Keys:

- ``listen_address``: ``host:port`` for the broker API, plain HTTP on the foundation
  network (default ``0.0.0.0:8088``).
- ``username`` / ``password``: HTTP basic auth the Cloud Controller must send.
- ``credhub_url``: CredHub's URL (default ``https://credhub.service.cf.internal:8844``).
- ``cert_file`` / ``key_file``: the broker's client certificate for CredHub, CN
  ``service-broker`` (pki job dir ``service_broker/broker.crt`` + ``broker.key``).
- ``ca_file``: CA to verify CredHub's server certificate (``service_broker/system_ca.crt``).
- ``broker_id``: first part of credential names, ``/c/<broker_id>/<service_id>/<binding_id>/credentials``
  (default ``cflab-broker``).
- ``db_path``: SQLite file for instances and bindings (never credential values)
  (default ``/var/vcap/store/service_broker/broker.sqlite3``).
- ``service_host`` (optional): host put in generated credential URIs
  (default ``cflab-db.service.cf.internal``).
- ``credhub_timeout`` (optional, seconds, default 10).
"""

from __future__ import annotations

from dataclasses import dataclass

from foundry.jobconfig import ConfigError as ConfigError  # the job's, for its __main__
from foundry.jobconfig import JobConfig


@dataclass(frozen=True)
class BrokerConfig(JobConfig):
    required = ("username", "password", "cert_file", "key_file")

    listen_address: str = "0.0.0.0:8088"
    username: str = ""
    password: str = ""
    credhub_url: str = "https://credhub.service.cf.internal:8844"
    cert_file: str = ""
    key_file: str = ""
    ca_file: str = ""
    broker_id: str = "cflab-broker"
    db_path: str = "/var/vcap/store/service_broker/broker.sqlite3"
    service_host: str = "cflab-db.service.cf.internal"
    credhub_timeout: float = 10.0


load = BrokerConfig.load
