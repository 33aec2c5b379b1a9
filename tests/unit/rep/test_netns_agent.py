"""The cell's netns agent: one long-lived container per cell runs each instance's firewall
through nsenter, made once, made again when it went away, never an LRP."""

from __future__ import annotations

import json
import threading

import pytest
from docker.errors import APIError, NotFound

from foundry.rep.garden import Garden, GardenError

LABELS = {"cflab.foundation": "p", "cflab.cell": "cell-1", "cflab.role": "lrp"}


class FakeAPI:
    """The Docker Engine API calls `run_in_netns` makes, against in-memory containers."""

    def __init__(self) -> None:
        self.containers = {"app": {"State": {"Running": True, "Pid": 4242},
                                   "Config": {"Image": "stack"}}}
        self.created: list[dict] = []
        self.execs: list[tuple[str, list[str], dict]] = []
        self.exec_fails = 0

    def inspect_container(self, cid: str) -> dict:
        if cid not in self.containers:
            raise NotFound(f"no container {cid}")
        return {**self.containers[cid], "Id": cid}

    def remove_container(self, cid: str, force: bool = False) -> None:
        self.containers.pop(cid, None)

    def create_host_config(self, **kw) -> dict:
        return kw

    def create_container(self, image: str, name: str, labels: dict, host_config: dict,
                         **kw) -> dict:
        self.created.append({"image": image, "name": name, "labels": labels,
                             "host_config": host_config, **kw})
        self.containers[name] = {"State": {"Running": False}, "Config": {"Image": image}}
        return {"Id": name}

    def start(self, cid: str) -> None:
        self.containers[cid]["State"] = {"Running": True, "Pid": 7}

    def exec_create(self, cid: str, cmd: list[str], environment: dict | None = None,
                    stdin: bool = False) -> dict:
        if stdin:  # an agent session (see test_agent_session): none in this fake
            raise APIError("no sessions here")
        if self.exec_fails:
            self.exec_fails -= 1
            self.containers.pop(cid, None)
            raise APIError("container is not running")
        self.execs.append((cid, cmd, environment))
        return {"Id": f"exec-{len(self.execs)}"}

    def exec_start(self, exec_id: str) -> bytes:
        return b"ok"

    def exec_inspect(self, exec_id: str) -> dict:
        return {"ExitCode": 0}


@pytest.fixture
def garden() -> Garden:
    g = Garden.__new__(Garden)  # no engine: the API is the fake's
    g.network, g.labels = "p_cell-1-containers", LABELS
    g._agent, g._agent_lock, g._pids, g._batch_warned = None, threading.Lock(), {}, False
    g._session = None
    g.client = type("Client", (), {"api": FakeAPI()})()
    return g


def test_one_agent_serves_every_instance_through_nsenter(garden):
    for _ in range(3):
        assert garden.run_in_netns("app", "stack", ["iptables-restore"], {"R": "x"}) == (0, b"ok")
    api = garden.client.api
    assert len(api.created) == 1
    agent = api.created[0]
    assert agent["name"] == "p_cell-1-containers-netns-agent"
    assert agent["labels"]["cflab.role"] == "netns-agent"  # not an LRP: the sync leaves it
    assert agent["labels"]["cflab.foundation"] == "p"      # cflab down removes it
    host = agent["host_config"]
    assert host["pid_mode"] == "host" and {"NET_ADMIN", "SYS_ADMIN"} <= set(host["cap_add"])
    assert [e[1] for e in api.execs] == [["nsenter", "--net=/proc/4242/ns/net",
                                          "iptables-restore"]] * 3
    assert api.execs[0][2] == {"R": "x"}


def test_an_agent_that_went_away_is_made_again(garden):
    garden.run_in_netns("app", "stack", ["true"], {})
    garden.client.api.exec_fails = 1  # the agent was removed behind the rep's back
    assert garden.run_in_netns("app", "stack", ["true"], {}) == (0, b"ok")
    assert len(garden.client.api.created) == 2


def test_a_running_agent_from_an_earlier_rep_is_reused(garden):
    api = garden.client.api
    api.containers["p_cell-1-containers-netns-agent"] = {
        "State": {"Running": True, "Pid": 9}, "Config": {"Image": "stack"}}
    garden.run_in_netns("app", "stack", ["true"], {})
    assert api.created == [] and api.execs[0][0] == "p_cell-1-containers-netns-agent"


def test_a_container_that_is_not_running_gets_a_clear_error(garden):
    garden.client.api.containers["app"]["State"] = {"Running": False, "Pid": 0}
    with pytest.raises(GardenError, match="is not running"):
        garden.run_in_netns("app", "stack", ["true"], {})
    with pytest.raises(GardenError, match="gone"):
        garden.run_in_netns("gone", "stack", ["true"], {})


def test_batch_metrics_is_one_agent_exec_and_a_stale_pid_is_looked_up_again(garden):
    api = garden.client.api
    api.containers["gone"] = {"State": {"Running": False}, "Config": {"Image": "stack"}}
    v1 = {"cpuacct/cpuacct.usage": "7\n", "memory/memory.usage_in_bytes": "100\n",
          "memory/memory.stat": "total_inactive_file 40\n"}
    api.exec_start = lambda exec_id: json.dumps(  # type: ignore[method-assign]
        {"app": {"files": v1, "du": "8\t/proc/4242/root/home/vcap\n4\t/proc/4242/root/tmp\n"},
         "other": {"files": {}, "du": ""}}).encode()
    api.containers["other"] = {"State": {"Running": True, "Pid": 99}, "Config": {"Image": "s"}}
    got = garden.batch_metrics(["app", "gone", "other"], "stack", disk=True)
    assert got == {"app": {"cpu_ns": 7, "memory_bytes": 60, "memory_limit": 0,
                           "disk_bytes": 12 * 1024}}
    (agent, cmd, _env), = api.execs  # one process for every instance
    assert cmd[:2] == ["python3", "-c"] and cmd[-2:] == ["app=4242", "other=99"]
    assert cmd[4] == "/home/vcap,/tmp,/var/tmp"  # du only when disk is asked for
    assert garden._pids == {"app": 4242}  # "other" answered nothing usable: asked again


def test_batch_metrics_answers_nothing_when_the_agent_fails_and_says_so_once(garden, caplog):
    garden.client.api.exec_fails = 2  # the agent is gone, and gone again
    assert garden.batch_metrics(["app"], "stack", disk=False) == {}
    assert garden.batch_metrics(["app"], "stack", disk=False) == {}  # b"ok" is no JSON
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and "read none of 1 instances" in warned[0]
