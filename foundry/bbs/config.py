"""bbs.json, as the orchestrator renders it under /var/vcap/jobs/bbs/config/.

As diego-release's bbs job: with `ca_file`, `server_cert_file` and `server_key_file` the
API is mutual TLS only (a client certificate from that CA, or no answer); the health
check listens apart, plain HTTP on `health_address` (loopback), serving `/ping`.
"""

from __future__ import annotations

from dataclasses import dataclass

from foundry.jobconfig import ConfigError as ConfigError  # the job's, for its __main__
from foundry.jobconfig import JobConfig, listen_address


@dataclass(frozen=True)
class BBSConfig(JobConfig):
    listen_address: str = "0.0.0.0:8889"
    db_path: str = "/var/vcap/store/bbs/bbs.sqlite3"
    convergence_interval: float = 30.0
    cell_presence_ttl: float = 15.0  # locket's presence TTL
    restart_backoff_base: float = 30.0
    restart_backoff_max: float = 960.0
    crash_reset_timeout: float = 300.0
    ca_file: str = ""
    server_cert_file: str = ""
    server_key_file: str = ""
    health_address: str = ""  # e.g. 127.0.0.1:8890; empty: no health listener

    @property
    def tls(self) -> bool:
        return bool(self.server_cert_file)

    def check(self) -> None:
        if self.health_address:
            listen_address(self.health_address, ConfigError, "health_address")
        given = [bool(self.ca_file), bool(self.server_cert_file), bool(self.server_key_file)]
        if any(given) and not all(given):
            raise ConfigError("ca_file, server_cert_file and server_key_file: give all three"
                              " (mutual TLS) or none (plain HTTP)")


load = BBSConfig.load
