"""The rep's bulk sync and stops racing a container's creation: no container may outlive
the instance it was made for (at 50 instances on 2 cores, ~180 did)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from foundry.pki import new_ca
from foundry.rep.executor import Container, Executor, StartFailed, residual_instances
from foundry.rep.ports import FirstFitAllocator
from tests.rep_support import executor_config
from tests.unit.rep.test_executor_start import FakeGarden


class ListingGarden(FakeGarden):
    """Names each container after its handle, as Garden does, and lists them."""

    def __init__(self) -> None:
        super().__init__(stale=set())
        self.handles: dict[str, str] = {}  # handle -> cid

    def create(self, handle, image, ip, labels, extra_hosts=None, limits=None,  # noqa: ANN001
               env=None) -> str:
        cid = super().create(handle, image, ip, labels, extra_hosts, limits, env)
        self.handles[handle] = cid
        return cid

    def destroy(self, cid: str) -> None:
        super().destroy(cid)
        self.handles = {h: c for h, c in self.handles.items() if c != cid}

    def list_handles(self) -> dict[str, str]:
        return dict(self.handles)


class FakeBBS:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def lifecycle(self, action: str, **fields):  # noqa: ANN003, ANN201
        self.calls.append((action, fields))


def new_executor(tmp_path: Path, garden: FakeGarden) -> tuple[Executor, FakeBBS]:
    bbs = FakeBBS()
    return Executor(executor_config(tmp_path), garden, bbs,  # type: ignore[arg-type]
                    new_ca("test intermediate"), FirstFitAllocator()), bbs


def instance(ig: str, index: int = 0, state: str = "running", cid: str = "") -> Container:
    return Container(process_guid="pg", index=index, instance_guid=ig,
                     desired={"process_guid": "pg", "ports": []}, state=state, cid=cid)


def lrp(ig: str, state: str = "RUNNING", index: int = 0) -> dict:
    return {"process_guid": "pg", "index": index, "instance_guid": ig, "cell_id": "cell-1",
            "state": state}


def test_residual_instances_are_those_the_bbs_no_longer_gives_this_cell():
    containers = {c.handle: c for c in (
        instance("ig-held"), instance("ig-claimed", 1, "starting"),
        instance("ig-unclaimed", 2, "starting"), instance("ig-replaced", 3),
        instance("ig-leaving", 4, "stopping"))}
    held = [lrp("ig-held"), lrp("ig-claimed", "CLAIMED", 1),
            lrp("ig-new", "RUNNING", 3)]  # index 3 now runs as another instance
    # index 2 was handed back (UNCLAIMED, so not listed by cell); ig-leaving is going anyway
    assert residual_instances(containers, held) == ["ig-replaced", "ig-unclaimed"]


def test_sync_stops_residual_instances_and_destroys_untracked_containers(tmp_path, monkeypatch):
    monkeypatch.setattr("foundry.rep.executor.iptables",
                        lambda cmd: subprocess.CompletedProcess(cmd, 0, "", ""))
    garden = ListingGarden()
    ex, bbs = new_executor(tmp_path, garden)
    for c in (instance("ig-held"), instance("ig-gone", 1)):
        ex.containers[c.handle] = c
        c.cid = garden.create(c.handle, "stack", "10.255.1.9", {})
    garden.handles["ig-orphan"] = "cid-orphan"  # made by this rep, tracked by none
    stopped: list[str] = []
    monkeypatch.setattr(ex, "stop", lambda handle, report=True: stopped.append(handle))
    assert ex.sync([lrp("ig-held")]) == ["ig-gone", "ig-orphan"]
    assert stopped == ["ig-gone"]
    assert garden.destroyed == ["cid-orphan"]
    assert set(garden.handles) == {"ig-held", "ig-gone"}  # ig-gone goes through its stop


def test_a_stop_while_docker_creates_the_container_leaves_no_container(tmp_path, monkeypatch):
    """The stop's cleanup runs before Docker returns the new container's id, so it cannot
    destroy it; the start must, as soon as it has the id."""
    monkeypatch.setattr("foundry.rep.executor.iptables",
                        lambda cmd: subprocess.CompletedProcess(cmd, 0, "", ""))
    garden = ListingGarden()
    ex, bbs = new_executor(tmp_path, garden)
    c = instance("ig-1", state="starting")
    ex.containers[c.handle] = c
    create = garden.create

    def slow_create(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        c.state = "stopping"  # the BBS's stop request arrives meanwhile (`stop`, inline)
        ex._stop(c, was_running=False, report=True)  # noqa: SLF001
        return create(*args, **kwargs)

    monkeypatch.setattr(garden, "create", slow_create)
    with pytest.raises(StartFailed, match="stopped while its container was created"):
        ex._create(c)  # noqa: SLF001
    assert garden.handles == {} and c.handle not in ex.containers
    assert bbs.calls == [("remove", {"process_guid": "pg", "index": 0, "instance_guid": "ig-1",
                                     "cell_id": "cell-1"})]
