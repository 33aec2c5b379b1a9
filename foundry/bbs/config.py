"""bbs.json, as the orchestrator renders it under /var/vcap/jobs/bbs/config/."""

from __future__ import annotations

from dataclasses import dataclass

from foundry.jobconfig import ConfigError as ConfigError  # the job's, for its __main__
from foundry.jobconfig import JobConfig


@dataclass(frozen=True)
class BBSConfig(JobConfig):
    listen_address: str = "0.0.0.0:8889"
    db_path: str = "/var/vcap/store/bbs/bbs.sqlite3"
    convergence_interval: float = 30.0
    cell_presence_ttl: float = 10.0
    restart_backoff_base: float = 30.0
    restart_backoff_max: float = 960.0
    crash_reset_timeout: float = 300.0


load = BBSConfig.load
