"""bbs.json, as the orchestrator renders it under /var/vcap/jobs/bbs/config/."""

from __future__ import annotations

from dataclasses import dataclass

from foundry.jobconfig import listen_address, read_object, split_host_port, typed_fields


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
        return split_host_port(self.listen_address)

    @classmethod
    def from_dict(cls, raw: dict) -> BBSConfig:
        cfg = cls(**typed_fields(cls, raw, ConfigError))
        listen_address(cfg.listen_address, ConfigError)
        return cfg


def load(path: str) -> BBSConfig:
    return BBSConfig.from_dict(read_object(path, ConfigError))
