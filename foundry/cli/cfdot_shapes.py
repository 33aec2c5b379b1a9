"""The JSON objects real cfdot prints, built from the BBS's records (sans-IO).

Field names and order follow the Go structs cfdot encodes: bbs ``models`` (gogo
protobuf with JSON tags; embedded structs flattened in place) and rep
``resources.go`` for a cell's state. Sources: cloudfoundry/cfdot ``commands/*.go``,
cloudfoundry/bbs ``models/desired_lrp.pb.go``, ``models/events.pb.go``,
``docs/052-events.md``, cloudfoundry/rep ``resources.go``, ``rootfs_providers.go``.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]
ActualKey = tuple[str, int]

# ActualLRPKey and ActualLRPInstanceKey: what an ActualLRPInfo leaves out.
_KEY_FIELDS = ("process_guid", "index", "domain")
_INSTANCE_KEY_FIELDS = ("instance_guid", "cell_id")
# Executor container states as a rep's /state reports them, by BBS actual LRP state.
_REP_STATES = {"CLAIMED": "CREATED", "RUNNING": "RUNNING"}


def group(lrp: Json) -> Json:
    """An ActualLRPGroup (deprecated shape): ``{"instance": ...}``."""
    return {"instance": lrp}


def scheduling_info(d: Json) -> Json:
    """``DesiredLRPSchedulingInfo``: key, annotation, instances, resource, routes, and the
    modification tag flattened (``epoch``, ``index``) as its embedded struct is."""
    tag = d.get("modification_tag") or {}
    out: Json = {
        "process_guid": d["process_guid"], "domain": d.get("domain", ""),
        "log_guid": d.get("log_guid", ""), "annotation": d.get("annotation", ""),
        "instances": d.get("instances", 0), "memory_mb": d.get("memory_mb", 0),
        "disk_mb": d.get("disk_mb", 0), "rootfs": d.get("rootfs", ""),
        "max_pids": d.get("max_pids", 0), "routes": d.get("routes") or None,
        "epoch": tag.get("epoch", ""), "index": tag.get("index", 0),
    }
    if d.get("placement_tags"):
        out["placement_tags"] = list(d["placement_tags"])
    return out


def domains(desired: list[Json]) -> list[str]:
    """Fresh domains. Real CC re-upserts ``cf-apps`` every sync; cflab's BBS keeps no
    domain records, so a domain counts as fresh while a desired LRP is in it."""
    return sorted({d.get("domain", "") for d in desired if d.get("domain")})


def _rootfs_name(rootfs: str) -> str:
    return rootfs.split(":", 1)[1] if rootfs.startswith("preloaded:") else rootfs


def cell_state(cell: Json, index: int, actual: list[Json], desired: dict[str, Json],
               stack: str = "cflinuxfs3") -> Json:
    """A rep's ``CellState`` (``GET /state``) for one cell, from what the BBS knows of it."""
    capacity = cell.get("capacity") or {}
    total = {"MemoryMB": int(capacity.get("memory_mb") or 0),
             "DiskMB": int(capacity.get("disk_mb") or 0),
             "Containers": int(capacity.get("containers") or 0)}
    lrps, used_mem, used_disk, starting = [], 0, 0, 0
    for lrp in actual:
        if lrp.get("cell_id") != cell["cell_id"] or lrp.get("state") not in _REP_STATES:
            continue
        d = desired.get(lrp["process_guid"], {})
        used_mem += int(d.get("memory_mb") or 0)
        used_disk += int(d.get("disk_mb") or 0)
        starting += lrp["state"] == "CLAIMED"
        lrps.append({
            "instance_guid": lrp.get("instance_guid", ""),
            "process_guid": lrp["process_guid"], "index": lrp["index"],
            "domain": lrp.get("domain", ""),
            "PlacementTags": d.get("placement_tags") or None, "VolumeDrivers": None,
            "RootFs": d.get("rootfs", ""),
            "MemoryMB": int(d.get("memory_mb") or 0), "DiskMB": int(d.get("disk_mb") or 0),
            "MaxPids": int(d.get("max_pids") or 0),
            "state": _REP_STATES[lrp["state"]],
        })
    available = {"MemoryMB": max(0, total["MemoryMB"] - used_mem),
                 "DiskMB": max(0, total["DiskMB"] - used_disk),
                 "Containers": max(0, total["Containers"] - len(lrps))}
    return {
        "rep_url": cell.get("rep_url") or cell.get("rep_address", ""),
        "cell_id": cell["cell_id"], "cell_index": index,
        "RootFSProviders": {"docker": {"type": "arbitrary"},
                            "preloaded": {"set": {_rootfs_name(stack): {}},
                                          "type": "fixed_set"}},
        "AvailableResources": available, "TotalResources": total,
        "LRPs": lrps, "Tasks": None, "StartingContainerCount": starting,
        "Zone": cell.get("zone", ""), "Evacuating": False, "VolumeDrivers": None,
        "PlacementTags": None, "OptionalPlacementTags": None,
        "ProxyMemoryAllocationMB": int(capacity.get("proxy_memory_allocation_mb") or 0),
    }


def _info(lrp: Json) -> Json:
    """``ActualLRPInfo``: an actual LRP without its key and instance key."""
    return {k: v for k, v in lrp.items() if k not in _KEY_FIELDS + _INSTANCE_KEY_FIELDS}


def _event(kind: str, data: Json) -> Json:
    return {"type": kind, "data": data}


class LRPEventDiff:
    """Turns successive BBS snapshots into the LRP events the BBS hub would have sent.

    Instance events (``actual_lrp_instance_*``, ``actual_lrp_crashed``) always; the
    deprecated group events (``actual_lrp_created|changed|removed``) unless excluded;
    desired LRP events only when not filtered by cell (the BBS sends a cell's
    subscriber only its instance events). Changes that happen between two snapshots
    arrive as one change.
    """

    def __init__(self, actual: list[Json], desired: list[Json], cell_id: str = "",
                 groups: bool = True) -> None:
        self.cell_id = cell_id
        self.groups = groups
        self.actual = self._index_actual(actual)
        self.desired = {d["process_guid"]: d for d in desired}

    @staticmethod
    def _index_actual(actual: list[Json]) -> dict[ActualKey, Json]:
        return {(a["process_guid"], a["index"]): a for a in actual}

    def _on_cell(self, *lrps: Json | None) -> bool:
        return not self.cell_id or any(x and x.get("cell_id") == self.cell_id for x in lrps)

    def update(self, actual: list[Json], desired: list[Json]) -> list[Json]:
        events: list[Json] = []
        new_desired = {d["process_guid"]: d for d in desired}
        if not self.cell_id:
            events += self._desired_events(self.desired, new_desired)
        new_actual = self._index_actual(actual)
        for key in sorted(self.actual.keys() | new_actual.keys()):
            before, after = self.actual.get(key), new_actual.get(key)
            if before != after and self._on_cell(before, after):
                events += self._actual_events(before, after)
        self.actual, self.desired = new_actual, new_desired
        return events

    @staticmethod
    def _desired_events(old: dict[str, Json], new: dict[str, Json]) -> list[Json]:
        out = []
        for pg in sorted(old.keys() | new.keys()):
            before, after = old.get(pg), new.get(pg)
            if before == after:
                continue
            if before is None:
                out.append(_event("desired_lrp_created", {"desired_lrp": after, "trace_id": ""}))
            elif after is None:
                out.append(_event("desired_lrp_removed", {"desired_lrp": before, "trace_id": ""}))
            else:
                out.append(_event("desired_lrp_changed",
                                  {"before": before, "after": after, "trace_id": ""}))
        return out

    def _actual_events(self, before: Json | None, after: Json | None) -> list[Json]:
        out = []
        if before is None and after is not None:
            if self.groups:
                out.append(_event("actual_lrp_created", {"actual_lrp_group": group(after)}))
            out.append(_event("actual_lrp_instance_created", {"actual_lrp": after, "trace_id": ""}))
            return out
        if after is None and before is not None:
            if self.groups:
                out.append(_event("actual_lrp_removed", {"actual_lrp_group": group(before)}))
            out.append(_event("actual_lrp_instance_removed", {"actual_lrp": before, "trace_id": ""}))
            return out
        assert before is not None and after is not None
        if int(after.get("crash_count") or 0) > int(before.get("crash_count") or 0):
            crashed = {k: before.get(k, "") for k in _KEY_FIELDS + _INSTANCE_KEY_FIELDS}
            crashed["crash_count"] = after.get("crash_count", 0)
            if after.get("crash_reason"):
                crashed["crash_reason"] = after["crash_reason"]
            crashed["since"] = after.get("since", 0)
            out.append(_event("actual_lrp_crashed", crashed))
        if self.groups:
            out.append(_event("actual_lrp_changed", {"before": group(before), "after": group(after)}))
        keyed = after if after.get("instance_guid") else before
        changed = {k: keyed.get(k, "") for k in _KEY_FIELDS + _INSTANCE_KEY_FIELDS}
        changed.update({"before": _info(before), "after": _info(after), "trace_id": ""})
        out.append(_event("actual_lrp_instance_changed", changed))
        return out
