"""route_emitter.json, as rendered under /var/vcap/jobs/route_emitter/config/."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from foundry.jobconfig import ConfigError, JobConfig


@dataclass(frozen=True)
class EmitterConfig(JobConfig):
    listen_keys = ()
    special = ("nats_servers",)

    cell_id: str = ""
    bbs_address: str = "https://bbs.service.cf.internal:8889"
    bbs_ca_cert_file: str = ""  # mutual TLS to the BBS (an https address needs all three)
    bbs_client_cert_file: str = ""
    bbs_client_key_file: str = ""
    nats_servers: list[str] = field(default_factory=lambda: ["nats://nats:4222"])
    nats_username: str = ""  # diego's route emitter: NATS's user and password, if it has one
    nats_password: str = ""
    sync_interval: float = 60.0
    unregistration_interval: float = 30.0
    unregistration_send_count: int = 20
    jitter_factor: float = 0.2
    greet_interval: float = 1.0
    greet_max_attempts: int = 30
    poll_interval: float = 0.5
    register_direct_instance_routes: bool = False
    log_level: str = "info"

    @classmethod
    def special_fields(cls, raw: dict[str, Any]) -> dict[str, Any]:
        if "nats_servers" not in raw:
            return {}
        value = raw["nats_servers"]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(
                isinstance(v, str) for v in value):
            raise ConfigError("nats_servers: must be a non-empty list of URLs")
        return {"nats_servers": value}

    def check(self) -> None:
        if self.bbs_address.startswith("https:") and not (
                self.bbs_ca_cert_file and self.bbs_client_cert_file and self.bbs_client_key_file):
            raise ConfigError("bbs_ca_cert_file, bbs_client_cert_file, bbs_client_key_file:"
                              " required for an https bbs_address (the BBS's mutual TLS)")
        if not self.cell_id:
            raise ConfigError("cell_id: is required (local mode emits for one cell)")
        if self.greet_max_attempts < 1 or self.greet_interval <= 0 or self.poll_interval <= 0:
            raise ConfigError("greet_interval/greet_max_attempts/poll_interval: must be > 0")


load = EmitterConfig.load
