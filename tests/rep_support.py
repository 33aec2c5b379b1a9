"""What the rep's tests share: an executor config for one cell with no proxy, and the
PEMs an instance's proxy config is rendered with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from foundry.pki import issue_instance_identity, new_ca, new_instance_guid
from foundry.rep.executor import ExecutorConfig


def executor_config(state_dir: Path, **overrides: Any) -> ExecutorConfig:
    """cell-1 at 10.0.0.5 (containers in 10.255.1.0/24), no proxy, seed layout, short timings."""
    settings: dict[str, Any] = dict(
        cell_id="cell-1", cell_ip="10.0.0.5", container_subnet="10.255.1.0/24",
        garden_network="n", stack_image="cflab/stack", foundation="t", proxy_enabled=False,
        strict=False, unproxied_port_mappings=True, proxy_config_layout="seed", validity=3600,
        reload_duration=0, key_size=2048, startup_interval=1, startup_timeout=5,
        liveness_interval=30, trusted_ca="", verify_subject_alt_name=[], system_certs={},
        state_dir=state_dir, spare_keys=4)
    return ExecutorConfig(**{**settings, **overrides})


def instance_pems(ip: str = "10.255.1.2") -> tuple[str, str, str]:
    """(certificate chain, key) of an instance identity issued as on a cell (root →
    intermediate → leaf), and the CA of the gorouter's backend client certificates."""
    root = new_ca("appRootCA")
    identity = new_ca("instanceIdentityCA", issuer=root)
    cred = issue_instance_identity(identity, new_instance_guid(), [], ip)
    router_ca = new_ca("gorouterBackendTlsCA")
    return cred.chain_pem.decode(), cred.key_pem.decode(), router_ca.cert_pem.decode()
