"""An instance container's limits, as Diego's executor asks Garden for them (sans-IO).

- memory: the LRP's ``memory_mb`` plus ``proxy_memory_allocation_mb`` when the cell
  runs the Envoy proxy (rep adds it, so the app keeps its whole quota); no swap. A
  ``memory_mb`` of 0 means no limit, as in Diego.
- CPU: Cloud Controller puts ``cpu_weight`` = 100 × clamp(memory, 128, 8192) / 8192 in
  the LRP (``TaskCpuWeightCalculator``); the executor turns it into
  ``max_cpu_shares`` × weight / 100 shares (``LimitInShares``), so CPU under
  contention is shared in proportion to memory.
- pids: the executor's ``max_pids`` for every container.
- disk: ``disk_mb``, where the engine's storage driver can enforce it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MB = 1024 * 1024
DEFAULT_MAX_CPU_SHARES = 1024
DEFAULT_MAX_PIDS = 1024


@dataclass(frozen=True)
class ContainerLimits:
    memory_bytes: int = 0     # 0: unlimited
    cpu_shares: int = 0       # 0: the engine's default
    pids: int = 0             # 0: unlimited
    disk_bytes: int = 0       # 0: none asked for

    @property
    def memory_mb(self) -> int:
        return self.memory_bytes // MB


def limits_for(desired: dict[str, Any], *, proxy_enabled: bool, proxy_memory_mb: int = 32,
               max_cpu_shares: int = DEFAULT_MAX_CPU_SHARES,
               max_pids: int = DEFAULT_MAX_PIDS) -> ContainerLimits:
    memory_mb = int(desired.get("memory_mb") or 0)
    if memory_mb > 0 and proxy_enabled:
        memory_mb += proxy_memory_mb
    weight = int(desired.get("cpu_weight") or 0)
    return ContainerLimits(
        memory_bytes=memory_mb * MB,
        cpu_shares=max_cpu_shares * weight // 100 if weight > 0 else 0,
        pids=max_pids,
        disk_bytes=int(desired.get("disk_mb") or 0) * MB)


# Storage drivers whose Docker implementation takes `--storage-opt size=` (overlay2
# only on xfs mounted with pquota, which Docker checks itself at create).
DISK_QUOTA_DRIVERS = ("overlay2", "btrfs", "zfs", "devicemapper", "windowsfilter")


def disk_quota_supported(driver: str, driver_status: list[list[str]] | None) -> bool:
    """Whether Docker's storage driver can enforce a per-container disk size."""
    if driver not in DISK_QUOTA_DRIVERS:
        return False
    if driver == "overlay2":
        status = dict((k, v) for k, v in driver_status or [])
        return status.get("Backing Filesystem", "").lower() == "xfs"
    return True
