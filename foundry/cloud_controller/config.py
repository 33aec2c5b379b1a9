"""cloud_controller.json, as the orchestrator renders it under /var/vcap/jobs/cloud_controller/config/."""

from __future__ import annotations

from dataclasses import dataclass

from foundry.jobconfig import ConfigError, JobConfig, split_host_port

MODES = ("before-envoy", "after-envoy", "strict")


@dataclass(frozen=True)
class CCConfig(JobConfig):
    listen_keys = ("listen_address", "internal_listen_address")

    listen_address: str = "0.0.0.0:9022"
    cert_file: str = ""
    key_file: str = ""
    internal_listen_address: str = "0.0.0.0:9023"
    internal_url: str = "http://cloud-controller:9023"
    db_path: str = "/var/vcap/store/cloud_controller/cc.sqlite3"
    bits_dir: str = "/var/vcap/store/cloud_controller/bits"
    bbs_address: str = "https://bbs.service.cf.internal:8889"
    bbs_ca_cert_file: str = ""  # mutual TLS to the BBS (an https address needs all three)
    bbs_client_cert_file: str = ""
    bbs_client_key_file: str = ""
    system_domain: str = "sys.cflab.internal"
    apps_domain: str = "apps.internal"
    mode: str = "strict"
    max_bits_bytes: int = 50 * 1024 * 1024
    credhub_url: str = ""
    service_broker_url: str = ""  # e.g. http://service-broker:8088; empty: no marketplace
    service_broker_username: str = ""
    service_broker_password: str = ""
    default_memory_mb: int = 256
    default_disk_mb: int = 1024
    maximum_app_disk_in_mb: int = 2048          # CC's default
    space_memory_limit_mb: int = 10240          # the space quota's memory_limit
    space_instance_memory_limit_mb: int = -1    # its instance_memory_limit (-1: none)
    log_cache_max_per_source: int = 1000        # envelopes kept per app (Log Cache's ring)
    bbs_timeout: float = 10.0
    # UAA and the addresses clients are sent to (GET /, /v2/info): the host's view.
    external_url: str = ""  # e.g. https://127.0.0.1:9022; empty: https://api.<system_domain>
    uaa_url: str = ""       # e.g. https://127.0.0.1:9024
    uaa_verification_key_file: str = ""  # PEM (public key or cert) of UAA's JWT signing key
    app_ssh_endpoint: str = ""  # host:port of the ssh-proxy
    app_ssh_host_key_fingerprint: str = ""
    app_ssh_oauth_client: str = "ssh-proxy"

    @staticmethod
    def split(address: str) -> tuple[str, int]:
        return split_host_port(address)

    def check(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"mode: must be one of {', '.join(MODES)}")
        if self.max_bits_bytes <= 0:
            raise ConfigError("max_bits_bytes: must be positive")
        if self.log_cache_max_per_source < 1:
            raise ConfigError("log_cache_max_per_source: must be at least 1")


load = CCConfig.load
