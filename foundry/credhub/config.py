"""credhub.json, rendered under /var/vcap/jobs/credhub/config/.

Keys (all strings unless noted):

- ``listen_address``: ``host:port`` to serve HTTPS on (default ``0.0.0.0:8844``).
- ``cert_file`` / ``key_file``: the server certificate (chain) and key, for
  ``credhub.service.cf.internal`` (pki job dir ``credhub/credhub.crt`` + ``credhub.key``).
- ``mtls_trusted_cas``: PEM file of the CAs app instance certificates chain to (the
  instance-identity root, ``credhub/mtls_trusted_cas.crt``); instances send the
  intermediate in their chain.
- ``client_cas``: PEM file of the CAs of other clients' certificates, e.g. the service
  broker's (``credhub/client_cas.crt``).
- ``db_path``: SQLite file; credentials and permissions persist across restarts
  (default ``/var/vcap/store/credhub/credhub.sqlite3``).
- ``broker_actors`` (object): client-certificate CN → actor, e.g.
  ``{"service-broker": "uaa-client:service-broker"}``. These actors may create new
  credentials; everyone else needs a ``write`` grant on the path.
- ``log_level`` (optional): ``INFO`` (default) or ``DEBUG``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from foundry.jobconfig import ConfigError, JobConfig


@dataclass(frozen=True)
class CredHubConfig(JobConfig):
    required = ("cert_file", "key_file", "mtls_trusted_cas")
    special = ("broker_actors",)

    listen_address: str = "0.0.0.0:8844"
    cert_file: str = ""
    key_file: str = ""
    mtls_trusted_cas: str = ""
    client_cas: str = ""
    db_path: str = "/var/vcap/store/credhub/credhub.sqlite3"
    broker_actors: dict[str, str] = field(default_factory=dict)
    log_level: str = "INFO"

    @classmethod
    def special_fields(cls, raw: dict[str, Any]) -> dict[str, Any]:
        actors = raw.get("broker_actors") or {}
        if not isinstance(actors, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in actors.items()):
            raise ConfigError("broker_actors: must map certificate CNs to actor strings")
        return {"broker_actors": dict(actors)}


load = CredHubConfig.load
