"""Quotas as Diego asks Garden for them, OOM detection and what a crash reports."""

from __future__ import annotations

from pathlib import Path

from foundry.cloud_controller.recipe import cpu_weight
from foundry.pki import new_ca
from foundry.rep.executor import Container, Executor, exit_description
from foundry.rep.garden import _pump, oom_kills
from foundry.rep.limits import MB, ContainerLimits, disk_quota_supported, limits_for
from foundry.rep.ports import FirstFitAllocator
from tests.rep_support import executor_config


def test_memory_gets_the_proxy_allowance_only_with_the_proxy():
    desired = {"memory_mb": 64, "disk_mb": 1024, "cpu_weight": cpu_weight(64)}
    with_proxy = limits_for(desired, proxy_enabled=True, proxy_memory_mb=32)
    assert with_proxy.memory_bytes == 96 * MB and with_proxy.memory_mb == 96
    assert limits_for(desired, proxy_enabled=False).memory_bytes == 64 * MB
    assert with_proxy.disk_bytes == 1024 * MB and with_proxy.pids == 1024


def test_no_memory_quota_means_no_limit_and_no_allowance():
    assert limits_for({}, proxy_enabled=True) == ContainerLimits(pids=1024)


def test_cpu_shares_follow_memory_as_cc_and_the_executor_compute_them():
    # CC: 100 * clamp(mem, 128, 8192) / 8192; executor: 1024 * weight / 100
    assert [cpu_weight(m) for m in (64, 128, 1024, 4096, 8192, 16384)] == [1, 1, 12, 50, 100, 100]
    shares = [limits_for({"memory_mb": m, "cpu_weight": cpu_weight(m)},
                         proxy_enabled=False).cpu_shares for m in (1024, 4096)]
    assert shares == [122, 512]
    assert limits_for({"memory_mb": 256}, proxy_enabled=False).cpu_shares == 0


def test_disk_quota_only_where_the_storage_driver_can_enforce_it():
    assert not disk_quota_supported("fuse-overlayfs", None)
    assert not disk_quota_supported("vfs", [])
    assert not disk_quota_supported("overlay2", [["Backing Filesystem", "extfs"]])
    assert disk_quota_supported("overlay2", [["Backing Filesystem", "xfs"]])
    assert disk_quota_supported("btrfs", None)


def test_oom_kill_counters_of_cgroup_v1_and_v2():
    v2 = "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n"
    v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"
    assert oom_kills(v2) == 1 and oom_kills(v1) == 3
    assert oom_kills("oom_kill_disable 0\nunder_oom 0\n") == 0 and oom_kills("") == 0


def test_exit_description_is_the_run_steps():
    assert exit_description("APP/PROC/WEB", 137, True) == \
        "APP/PROC/WEB: Exited with status 137 (out of memory)"
    assert exit_description("APP/PROC/WEB", 1, False) == "APP/PROC/WEB: Exited with status 1"


def test_process_output_is_split_into_lines_per_stream():
    got: list[tuple[str, str]] = []
    _pump(iter([(b"hello\nwor", None), (b"ld\r\n", b"oops\n"), (None, b"tail")]),
          lambda s, line: got.append((s, line)))
    assert got == [("OUT", "hello"), ("OUT", "world"), ("ERR", "oops"), ("ERR", "tail")]


class CrashGarden:
    def __init__(self, exit_code: int, oom: bool) -> None:
        self.exit_code, self.oom = exit_code, oom
        self.destroyed: list[str] = []

    def container_running(self, cid: str) -> bool:
        return True

    def exec_state(self, exec_id: str) -> tuple[bool, int | None]:
        return (False, self.exit_code) if exec_id == "app-exec" else (True, None)

    def out_of_memory(self, cid: str) -> bool:
        return self.oom

    def destroy(self, cid: str) -> None:
        self.destroyed.append(cid)


class FakeBBS:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def lifecycle(self, action: str, **fields):  # noqa: ANN003, ANN201
        self.calls.append((action, fields))
        return {"crash_count": 3, "state": "CRASHED"}


class FakeReporter:
    def __init__(self) -> None:
        self.logs: list[tuple[str, int, str, str, str]] = []
        self.crashes: list[tuple[str, dict]] = []

    def log(self, source_id, index, source_type, message, stream="OUT"):  # noqa: ANN001, ANN201
        self.logs.append((source_id, index, source_type, message, stream))

    def crashed(self, pg, payload):  # noqa: ANN001, ANN201
        self.crashes.append((pg, payload))


def crash_executor(tmp_path: Path, garden: CrashGarden) -> tuple[Executor, FakeBBS, FakeReporter]:
    cfg = executor_config(tmp_path)
    bbs, reporter = FakeBBS(), FakeReporter()
    ex = Executor(cfg, garden, bbs, new_ca("test intermediate"), FirstFitAllocator(),  # type: ignore[arg-type]
                  reporter)  # type: ignore[arg-type]
    c = Container(process_guid="app-guid-v1", index=1, instance_guid="ig-1",
                  desired={"log_guid": "app-guid"}, cid="cid-1", state="running",
                  processes={"app": "app-exec"})
    ex.containers[c.handle] = c
    return ex, bbs, reporter


def test_an_oom_killed_app_is_a_crash_with_cfs_reason_and_payload(tmp_path, monkeypatch):
    monkeypatch.setattr("foundry.rep.executor.iptables", lambda cmd: None)
    ex, bbs, reporter = crash_executor(tmp_path, CrashGarden(137, oom=True))
    ex.tick()
    reason = "APP/PROC/WEB: Exited with status 137 (out of memory)"
    assert bbs.calls == [("crash", {"process_guid": "app-guid-v1", "index": 1,
                                    "instance_guid": "ig-1", "cell_id": "cell-1",
                                    "crash_reason": reason})]
    (pg, payload), = reporter.crashes
    assert pg == "app-guid-v1"
    assert {k: payload[k] for k in ("instance", "index", "cell_id", "reason", "exit_status",
                                    "exit_description", "crash_count")} == {
        "instance": "ig-1", "index": 1, "cell_id": "cell-1", "reason": "CRASHED",
        "exit_status": 137, "exit_description": reason, "crash_count": 3}
    lines = [(t, m) for _, _, t, m, _ in reporter.logs]
    assert ("APP/PROC/WEB", "Exit status 137 (out of memory)") in lines
    assert ("CELL", "Cell cell-1 successfully destroyed container for instance ig-1") in lines
    assert ex.known() == {}


def test_a_plain_exit_is_not_out_of_memory(tmp_path, monkeypatch):
    monkeypatch.setattr("foundry.rep.executor.iptables", lambda cmd: None)
    ex, bbs, reporter = crash_executor(tmp_path, CrashGarden(1, oom=False))
    ex.tick()
    assert bbs.calls[0][1]["crash_reason"] == "APP/PROC/WEB: Exited with status 1"


def test_cgroup_metrics_of_v1_and_v2_stats():
    from foundry.rep.garden import cgroup_metrics
    v1 = {"cpu_stats": {"cpu_usage": {"total_usage": 123456789}},
          "memory_stats": {"usage": 50 * MB, "limit": 96 * MB,
                           "stats": {"total_inactive_file": 10 * MB}}}
    assert cgroup_metrics(v1, 4096) == {"cpu_ns": 123456789, "memory_bytes": 40 * MB,
                                        "memory_limit": 96 * MB, "disk_bytes": 4096}
    v2 = {"cpu_stats": {"cpu_usage": {"total_usage": 5}},
          "memory_stats": {"usage": 8 * MB, "stats": {"inactive_file": 9 * MB}}}
    assert cgroup_metrics(v2, 0)["memory_bytes"] == 0  # never negative
    assert cgroup_metrics({}, 0) == {"cpu_ns": 0, "memory_bytes": 0, "memory_limit": 0,
                                     "disk_bytes": 0}


class MetricsGarden:
    """Per-container metrics; its batch answers nothing (an agent that failed), unless
    `batch` is set."""

    def __init__(self, batch: dict[str, dict[str, int]] | None = None) -> None:
        self.calls: list[bool] = []
        self.batches: list[tuple[list[str], bool]] = []
        self.batch = batch or {}
        self.cpu = 0

    def batch_metrics(self, cids: list[str], image: str, disk: bool) -> dict[str, dict[str, int]]:
        self.batches.append((cids, disk))
        return {cid: m for cid, m in self.batch.items() if cid in cids}

    def metrics(self, cid: str, disk: bool = True) -> dict[str, int]:
        self.calls.append(disk)
        self.cpu += 500_000_000
        return {"cpu_ns": self.cpu, "memory_bytes": 30 * MB, "memory_limit": 96 * MB,
                "disk_bytes": 7 * MB if disk else 0}


def test_metrics_are_gauges_of_the_running_instance_with_disk_read_sparingly(tmp_path):
    garden = MetricsGarden()
    ex, _, _ = crash_executor(tmp_path, garden)  # type: ignore[arg-type]
    envelopes: list[dict] = []
    ex.reporter.envelope = envelopes.append  # type: ignore[method-assign]
    c = next(iter(ex.containers.values()))
    c.desired.update(memory_mb=64, disk_mb=1024)
    ex.report_metrics()
    ex.report_metrics()
    assert garden.calls == [True, False]  # the layer's size once per DISK_REFRESH_NS
    first, second = (e["gauge"]["metrics"] for e in envelopes)
    assert first["cpu"]["value"] == 0.0 and second["cpu"]["value"] > 0  # a rate needs two
    assert second["memory"] == {"value": 30.0 * MB, "unit": "bytes"}
    assert second["disk"]["value"] == 7.0 * MB  # the last read size, kept
    assert second["memory_quota"]["value"] == 64.0 * MB
    assert envelopes[0]["source_id"] == "app-guid" and envelopes[0]["instance_id"] == "1"
    assert envelopes[0]["tags"] == {"instance_guid": "ig-1"}


def test_metrics_come_from_one_batch_and_only_the_missed_instance_asks_docker(tmp_path):
    ex, _, _ = crash_executor(tmp_path, MetricsGarden())  # type: ignore[arg-type]
    first = next(iter(ex.containers.values()))
    second = Container(process_guid="app-guid-v1", index=2, instance_guid="ig-2", cid="c2",
                       desired={"log_guid": "app-guid"}, state="running")
    ex.containers[second.handle] = second
    garden = MetricsGarden(batch={first.cid: {"cpu_ns": 10, "memory_bytes": 5 * MB,
                                              "memory_limit": 0, "disk_bytes": 3 * MB}})
    ex.garden = garden  # type: ignore[assignment]
    envelopes: list[dict] = []
    ex.reporter.envelope = envelopes.append  # type: ignore[method-assign]
    ex.report_metrics()
    ex.report_metrics()
    assert garden.batches == [([first.cid, "c2"], True), ([first.cid, "c2"], False)]
    assert garden.calls == [True, False]  # the one the batch missed, alone, disk once
    by_index = {e["instance_id"]: e["gauge"]["metrics"] for e in envelopes[-2:]}
    assert by_index["1"]["memory"]["value"] == 5.0 * MB and by_index["1"]["disk"]["value"] == 3.0 * MB
    assert by_index["1"]["memory"]["value"] != by_index["2"]["memory"]["value"]


def test_file_metrics_read_cgroup_v1_and_v2_files():
    from foundry.rep.garden import file_metrics
    v1 = {"cpuacct/cpuacct.usage": "123456789\n", "memory/memory.usage_in_bytes": f"{50 * MB}\n",
          "memory/memory.stat": f"cache 1\ntotal_inactive_file {10 * MB}\n",
          "memory/memory.limit_in_bytes": f"{96 * MB}\n"}
    assert file_metrics(v1, 4096) == {"cpu_ns": 123456789, "memory_bytes": 40 * MB,
                                      "memory_limit": 96 * MB, "disk_bytes": 4096}
    v2 = {"cpu.stat": "usage_usec 2500\nuser_usec 2000\n", "memory.current": f"{8 * MB}\n",
          "memory.stat": f"anon 1\ninactive_file {MB}\n", "memory.max": "max\n"}
    assert file_metrics(v2, 0) == {"cpu_ns": 2_500_000, "memory_bytes": 7 * MB,
                                   "memory_limit": 0, "disk_bytes": 0}
    assert file_metrics({"memory.current": "1\n"}, 0) is None  # not enough: ask Docker
    assert file_metrics({}, 0) is None


def test_an_unexpected_error_while_starting_is_a_crash_not_a_claimed_lrp(tmp_path, monkeypatch):
    """Any error in the start path crashes the instance so the BBS restarts it; an
    uncaught one used to end the thread and leave the LRP CLAIMED for good."""
    monkeypatch.setattr("foundry.rep.executor.iptables", lambda cmd: None)
    ex, bbs, reporter = crash_executor(tmp_path, CrashGarden(0, oom=False))
    c = Container(process_guid="app-guid-v1", index=0, instance_guid="ig-2",
                  desired={"log_guid": "app-guid"}, state="starting")
    ex.containers[c.handle] = c

    def broken(_c: Container) -> None:
        raise RuntimeError("Already mutably borrowed")

    monkeypatch.setattr(ex, "_create", broken)
    ex._run(c)  # noqa: SLF001
    assert bbs.calls == [("crash", {
        "process_guid": "app-guid-v1", "index": 0, "instance_guid": "ig-2", "cell_id": "cell-1",
        "crash_reason": "failed to start the container: RuntimeError: Already mutably borrowed"})]
    assert reporter.crashes[0][1]["exit_description"].startswith("failed to start")
    assert c.handle not in ex.known()


def test_disk_usage_sums_dus_lines_in_bytes():
    from foundry.rep.garden import disk_bytes
    out = "28\t/home/vcap\n16\t/tmp\n4\t/var/tmp\n"
    assert disk_bytes(out) == (28 + 16 + 4) * 1024
    # a path du could not read prints to stderr only; junk lines are left out
    assert disk_bytes("du: cannot access '/var/tmp'\n12\t/tmp\n") == 12 * 1024
    assert disk_bytes("") == 0


def start_through_run(tmp_path, monkeypatch, garden: CrashGarden,  # noqa: ANN001, ANN201
                      exits: tuple[str, ...] = ()):
    """`Executor._run` of one instance, its container and processes already made (the
    fakes'), Docker's events `exits` (exec ids, "" for the container) arriving while it
    starts: what it tells the BBS once the startup checks pass."""
    monkeypatch.setattr("foundry.rep.executor.iptables", lambda cmd: None)
    ex, bbs, _ = crash_executor(tmp_path, garden)
    c = next(iter(ex.containers.values()))
    c.state = "starting"
    monkeypatch.setattr(ex, "_create", lambda c: None)
    monkeypatch.setattr(ex, "_run_processes", lambda c: {})

    def await_healthy(c, sidecars) -> None:  # noqa: ANN001
        for exec_id in exits:
            ex.on_exit(c.handle, exec_id)

    monkeypatch.setattr(ex, "_await_healthy", await_healthy)
    inspects = []
    running = garden.container_running
    garden.container_running = lambda cid: inspects.append(cid) or running(cid)  # type: ignore[method-assign]
    ex._run(c)
    return c, bbs, inspects


def test_a_process_that_died_while_the_instance_started_is_a_crash_at_once(tmp_path,
                                                                             monkeypatch):
    """Its exec_die event came while the instance was starting, before its exec id was
    sure to be on record: matched as it becomes running, not by a sweep minutes later."""
    _, bbs, _ = start_through_run(tmp_path, monkeypatch, CrashGarden(1, oom=False),
                                  exits=("startup-check", "app-exec"))
    assert [action for action, _ in bbs.calls] == ["start", "crash"]
    assert bbs.calls[1][1]["crash_reason"] == "APP/PROC/WEB: Exited with status 1"


def test_a_start_where_only_other_execs_ended_costs_no_engine_call(tmp_path, monkeypatch):
    garden = CrashGarden(1, oom=False)  # a check would find the app dead: none is made
    c, bbs, inspects = start_through_run(tmp_path, monkeypatch, garden,
                                         exits=("startup-check", "rename"))
    assert [action for action, _ in bbs.calls] == ["start"] and c.state == "running"
    assert inspects == [] and c.early_exits == set()
