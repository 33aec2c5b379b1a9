"""bbs.json, as the orchestrator renders it under /var/vcap/jobs/bbs/config/."""

from __future__ import annotations

from dataclasses import dataclass

from foundry.jobconfig import read_object


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class BBSConfig:
    listen_address: str = "0.0.0.0:8889"
    db_path: str = "/var/vcap/store/bbs/bbs.sqlite3"
    convergence_interval: float = 30.0
    cell_presence_ttl: float = 10.0
    restart_backoff_base: float = 30.0
    restart_backoff_max: float = 960.0
    crash_reset_timeout: float = 300.0

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen_address.rpartition(":")
        return host or "0.0.0.0", int(port)

    @classmethod
    def from_dict(cls, raw: dict) -> BBSConfig:
        known = set(cls.__dataclass_fields__)
        kwargs = {}
        for key, value in raw.items():
            if key not in known:
                continue  # BOSH-style: unknown properties are ignored
            default = cls.__dataclass_fields__[key].default
            try:
                kwargs[key] = type(default)(value)
            except (TypeError, ValueError) as e:
                raise ConfigError(f"{key}: {e}") from e
        cfg = cls(**kwargs)
        try:
            cfg.host_port  # noqa: B018 - validate early
        except ValueError as e:
            raise ConfigError(f"listen_address: {cfg.listen_address!r} is not host:port") from e
        return cfg


def load(path: str) -> BBSConfig:
    return BBSConfig.from_dict(read_object(path, ConfigError))
