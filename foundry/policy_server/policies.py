"""Container-to-container policies in cf-networking's v1 JSON shapes (sans-IO).

A policy lets every instance of a source app open connections to a destination app's
port range over one protocol; everything not allowed is denied (silk's default). The
messages of a refused body follow the policy server's ``{"error": ...}`` answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

PROTOCOLS = ("tcp", "udp")
MAX_POLICIES_PER_REQUEST = 100


class PolicyError(ValueError):
    """A request body the policy server answers 400 for."""


@dataclass(frozen=True, order=True)
class Policy:
    source_id: str
    destination_id: str
    protocol: str
    start: int
    end: int

    def to_json(self) -> dict[str, Any]:
        return {"source": {"id": self.source_id},
                "destination": {"id": self.destination_id, "protocol": self.protocol,
                                "ports": {"start": self.start, "end": self.end}}}

    @property
    def ports(self) -> str:
        """As `cf network-policies` prints them: 8080, or 8080-8090."""
        return str(self.start) if self.start == self.end else f"{self.start}-{self.end}"


def _id(obj: Any, where: str) -> str:
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not obj["id"].strip():
        raise PolicyError(f"missing {where} id")
    if len(obj["id"]) > 255:
        raise PolicyError(f"{where} id is longer than 255 characters")
    return obj["id"].strip()


def _port(value: Any, which: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise PolicyError(f"invalid {which} port {value!r}, must be in range 1-65535")
    return value


def parse_policy(raw: Any) -> Policy:
    if not isinstance(raw, dict):
        raise PolicyError("each policy must be an object")
    source = _id(raw.get("source"), "source")
    dest = raw.get("destination")
    dest_id = _id(dest, "destination")
    protocol = dest.get("protocol")
    if protocol not in PROTOCOLS:
        raise PolicyError(f"invalid destination protocol {protocol!r}, specify either udp or tcp")
    ports = dest.get("ports")
    if not isinstance(ports, dict):
        raise PolicyError("missing destination ports")
    start, end = _port(ports.get("start"), "start"), _port(ports.get("end"), "end")
    if start > end:
        raise PolicyError(f"start port {start} is greater than end port {end}")
    return Policy(source, dest_id, protocol, start, end)


def parse_policies(body: Any) -> list[Policy]:
    """The `policies` of a create or delete body, each checked; duplicates folded."""
    if not isinstance(body, dict) or not isinstance(body.get("policies"), list):
        raise PolicyError("missing policies")
    raw = body["policies"]
    if not raw:
        raise PolicyError("missing policies")
    if len(raw) > MAX_POLICIES_PER_REQUEST:
        raise PolicyError(f"more than {MAX_POLICIES_PER_REQUEST} policies in one request")
    return sorted(set(parse_policy(p) for p in raw))


def ids_param(values: Iterable[str]) -> set[str]:
    """A comma-separated `id` query parameter (repeatable) as a set."""
    return {i.strip() for v in values for i in v.split(",") if i.strip()}


def select(policies: Iterable[Policy], ids: set[str] | None = None,
           source_ids: set[str] | None = None, dest_ids: set[str] | None = None
           ) -> list[Policy]:
    """The filters of `GET .../policies`: `id` matches either end."""
    out = []
    for p in policies:
        if ids is not None and p.source_id not in ids and p.destination_id not in ids:
            continue
        if source_ids is not None and p.source_id not in source_ids:
            continue
        if dest_ids is not None and p.destination_id not in dest_ids:
            continue
        out.append(p)
    return sorted(out)


def listing(policies: list[Policy]) -> dict[str, Any]:
    return {"total_policies": len(policies), "policies": [p.to_json() for p in policies]}
