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

from foundry.jobconfig import listen_address, read_object, split_host_port


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class CredHubConfig:
    listen_address: str = "0.0.0.0:8844"
    cert_file: str = ""
    key_file: str = ""
    mtls_trusted_cas: str = ""
    client_cas: str = ""
    db_path: str = "/var/vcap/store/credhub/credhub.sqlite3"
    broker_actors: dict[str, str] = field(default_factory=dict)
    log_level: str = "INFO"

    def address(self) -> tuple[str, int]:
        return split_host_port(self.listen_address)

    @classmethod
    def from_dict(cls, raw: dict) -> CredHubConfig:
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        actors = known.get("broker_actors") or {}
        if not isinstance(actors, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in actors.items()):
            raise ConfigError("broker_actors: must map certificate CNs to actor strings")
        for key in ("listen_address", "cert_file", "key_file", "mtls_trusted_cas",
                    "client_cas", "db_path", "log_level"):
            if key in known and not isinstance(known[key], str):
                raise ConfigError(f"{key}: must be a string")
        cfg = cls(**{**known, "broker_actors": dict(actors)})
        listen_address(cfg.listen_address, ConfigError)
        for key in ("cert_file", "key_file", "mtls_trusted_cas"):
            if not getattr(cfg, key):
                raise ConfigError(f"{key}: required")
        return cfg


def load(path: str) -> CredHubConfig:
    return CredHubConfig.from_dict(read_object(path, ConfigError))
