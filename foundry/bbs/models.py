"""BBS records and their JSON, in cfdot's field names (bbs ``models/actual_lrp.go``)."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

UNCLAIMED = "UNCLAIMED"
CLAIMED = "CLAIMED"
RUNNING = "RUNNING"
CRASHED = "CRASHED"
ORDINARY = "ORDINARY"
SUSPECT = "SUSPECT"  # RUNNING on a cell whose presence lapsed, kept until replaced
PREFERRED_ADDRESSES = ("UNKNOWN", "INSTANCE", "HOST")


def new_epoch() -> str:
    return str(uuid.uuid4())


@dataclass
class ModificationTag:
    epoch: str = field(default_factory=new_epoch)
    index: int = 0

    def bump(self) -> None:
        self.index += 1

    def to_json(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "index": self.index}


PORT_KEYS = ("container_port", "host_port", "container_tls_proxy_port", "host_tls_proxy_port")


def normalize_port_mapping(raw: dict[str, Any]) -> dict[str, int]:
    """Every key present, zeros printed (bbs PR #64)."""
    return {k: int(raw.get(k) or 0) for k in PORT_KEYS}


@dataclass
class ActualLRP:
    """One instance slot (process_guid, index) of a desired LRP.

    ``placement_cell_id`` is where the BBS wants an UNCLAIMED instance to start (the
    auction's answer); cfdot shows ``cell_id`` only once a cell has claimed it.
    """

    process_guid: str
    index: int
    domain: str
    state: str = UNCLAIMED
    instance_guid: str = ""
    cell_id: str = ""
    placement_cell_id: str = ""
    address: str = ""
    ports: list[dict[str, int]] = field(default_factory=list)
    instance_address: str = ""
    preferred_address: str = "UNKNOWN"
    availability_zone: str = ""
    crash_count: int = 0
    crash_reason: str = ""
    placement_error: str = ""
    since: int = 0
    modification_tag: ModificationTag = field(default_factory=ModificationTag)
    presence: str = ORDINARY

    @property
    def key(self) -> tuple[str, int]:
        return (self.process_guid, self.index)

    def clear_instance(self) -> None:
        """Crash/loss: instance key and net info go (bbs ``CrashActualLRP``)."""
        self.instance_guid = ""
        self.cell_id = ""
        self.address = ""
        self.ports = []
        self.instance_address = ""
        self.preferred_address = "UNKNOWN"
        self.availability_zone = ""

    def to_json(self) -> dict[str, Any]:
        """The object cfdot prints, keys in Go struct order."""
        out: dict[str, Any] = {
            "process_guid": self.process_guid,
            "index": self.index,
            "domain": self.domain,
            "instance_guid": self.instance_guid,
            "cell_id": self.cell_id,
            "address": self.address,
            "ports": [dict(p) for p in self.ports],
        }
        if self.instance_address:
            out["instance_address"] = self.instance_address
        out["preferred_address"] = self.preferred_address
        out["crash_count"] = self.crash_count
        if self.crash_reason:
            out["crash_reason"] = self.crash_reason
        out["state"] = self.state
        if self.placement_error:
            out["placement_error"] = self.placement_error
        out["since"] = self.since
        out["modification_tag"] = self.modification_tag.to_json()
        out["presence"] = self.presence
        out["availability_zone"] = self.availability_zone
        return out

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> ActualLRP:
        rec = dict(rec)
        rec["modification_tag"] = ModificationTag(**rec["modification_tag"])
        return cls(**rec)


@dataclass
class CellPresence:
    cell_id: str
    rep_address: str = ""
    zone: str = ""
    capacity: dict[str, Any] = field(default_factory=dict)
    last_heartbeat_ns: int = 0

    @property
    def containers(self) -> int | None:
        value = self.capacity.get("containers")
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else None

    def to_json(self) -> dict[str, Any]:
        return {"cell_id": self.cell_id, "rep_address": self.rep_address,
                "zone": self.zone, "capacity": dict(self.capacity)}

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> CellPresence:
        return cls(**rec)


@dataclass(frozen=True)
class StopRequest:
    """An instance a cell still runs that the BBS no longer wants (e.g. after a lost cell)."""

    cell_id: str
    process_guid: str
    index: int
    instance_guid: str

    def to_json(self) -> dict[str, Any]:
        return {"process_guid": self.process_guid, "index": self.index,
                "instance_guid": self.instance_guid}
