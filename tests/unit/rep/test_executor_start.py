"""The executor's start path against a fake Garden: a stale endpoint holding an address."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from foundry.pki import new_ca
from foundry.rep.executor import Container, Executor, StartFailed
from foundry.rep.garden import GardenError
from foundry.rep.ports import FirstFitAllocator
from tests.rep_support import executor_config


class FakeGarden:
    """Docker refuses to start a container on any address in `stale`."""

    def __init__(self, stale: set[str]) -> None:
        self.stale = stale
        self.created: dict[str, str] = {}   # cid -> ip
        self.destroyed: list[str] = []
        self.started: list[str] = []
        self.limits: dict[str, object] = {}

    def used_ips(self) -> set[str]:
        return set(self.created.values())

    def create(self, handle, image, ip, labels, extra_hosts=None, limits=None,  # noqa: ANN001
               env=None) -> str:
        cid = f"cid-{len(self.created) + len(self.destroyed)}"
        self.created[cid] = ip
        self.limits[cid] = limits
        self.env = env
        return cid

    def put_tree(self, cid, tree, members=()) -> None:  # noqa: ANN001
        assert cid in self.created

    def start(self, cid: str) -> None:
        if self.created[cid] in self.stale:
            raise GardenError("container start failed: Address already in use")
        self.started.append(cid)

    def destroy(self, cid: str) -> None:
        self.destroyed.append(cid)
        self.created.pop(cid, None)


def executor(tmp_path: Path, garden: FakeGarden) -> Executor:
    cfg = executor_config(tmp_path)
    return Executor(cfg, garden, None, new_ca("test intermediate"), FirstFitAllocator())  # type: ignore[arg-type]


def container() -> Container:
    return Container(process_guid="pg", index=0, instance_guid="ig-1",
                     desired={"process_guid": "pg", "ports": []})


def test_an_address_held_by_a_stale_endpoint_is_skipped(tmp_path, monkeypatch):
    garden = FakeGarden(stale={"10.255.1.2"})
    ex = executor(tmp_path, garden)
    monkeypatch.setattr("foundry.rep.executor.iptables", lambda cmd: None)
    c = container()
    ex._create(c)  # noqa: SLF001
    assert c.ip == "10.255.1.3"
    assert ex.bad_ips == {"10.255.1.2"}
    assert garden.destroyed == ["cid-0"] and garden.started == [c.cid]
    c2 = container()
    ex._create(c2)  # noqa: SLF001 - the bad address is never offered again
    assert c2.ip == "10.255.1.4"


def test_other_start_failures_are_not_retried(tmp_path):
    garden = FakeGarden(stale=set())
    garden.start = lambda cid: (_ for _ in ()).throw(GardenError("container start failed: boom"))
    with pytest.raises(GardenError, match="boom"):
        executor(tmp_path, garden)._create(container())  # noqa: SLF001


def test_three_stale_addresses_in_a_row_fail_the_start(tmp_path):
    garden = FakeGarden(stale={"10.255.1.2", "10.255.1.3", "10.255.1.4"})
    with pytest.raises(StartFailed, match="no usable container IP"):
        executor(tmp_path, garden)._create(container())  # noqa: SLF001


def test_the_container_gets_the_instances_environment(tmp_path, monkeypatch,
                                                     no_host_iptables_restore):
    """What a `cf ssh` session (docker exec) then inherits, as Diego's sshd passes it on."""
    garden = FakeGarden(stale=set())
    monkeypatch.setattr("foundry.rep.executor.iptables",
                        lambda cmd: subprocess.CompletedProcess(cmd, 0, "", ""))
    c = Container(process_guid="pg", index=2, instance_guid="ig-9", desired={
        "process_guid": "pg", "ports": [8080],
        "env": [{"name": "VCAP_APPLICATION", "value": '{"name":"hello"}'}]})
    executor(tmp_path, garden)._create(c)  # noqa: SLF001
    env = garden.env
    assert (env["CF_INSTANCE_GUID"], env["CF_INSTANCE_INDEX"]) == ("ig-9", "2")
    assert env["CF_INSTANCE_INTERNAL_IP"] == c.ip and env["CF_INSTANCE_IP"] == "10.0.0.5"
    assert env["CF_INSTANCE_PORTS"] == f'[{{"external":{c.mappings[0].host_port},"internal":8080}}]'
    # its host port's DNAT rule went in as one iptables-restore transaction
    [rules] = no_host_iptables_restore
    assert f"--dport {c.mappings[0].host_port} " in rules and rules.startswith("*nat\n-A ")
    assert env["VCAP_APPLICATION"] == '{"name":"hello"}' and env["PORT"] == "8080"
    assert env["CF_INSTANCE_CERT"] == "/etc/cf-instance-credentials/instance.crt"
