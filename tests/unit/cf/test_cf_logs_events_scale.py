"""`cf push/scale -m -k` parsing, `cf app`'s instance table, `cf logs` and `cf events` output."""

from __future__ import annotations

import io

import pytest

from foundry.cli import cf, cf_format
from foundry.cli.cf_client import CFConfig, CFError


@pytest.fixture(autouse=True)
def cf_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CF_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TZ", "UTC")
    __import__("time").tzset()


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return cf.main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


@pytest.mark.parametrize(("text", "mb"), [("256M", 256), ("256m", 256), ("512MB", 512),
                                          ("1G", 1024), ("2gb", 2048)])
def test_megabytes_as_cf_reads_them(text, mb):
    assert cf.megabytes(text) == mb


@pytest.mark.parametrize("text", ["0", "10X", "1.5G", "-1M", "M", "256", ""])
def test_bad_byte_quantities_are_cfs_usage_error(text):
    with pytest.raises(CFError, match="Byte quantity must be an integer with a unit of "
                                      "measurement like M, MB, G, or GB"):
        cf.megabytes(text)


def test_bad_memory_fails_before_any_request():
    CFConfig(api="https://127.0.0.1:1").save()  # unreachable: a request would say so
    for argv in (["push", "app", "-m", "10X"], ["scale", "app", "-m", "0"],
                 ["scale", "app", "-k", "1.5G"]):
        code, _, err = run(*argv)
        assert code == 1 and err.startswith("FAILED\nIncorrect Usage: Byte quantity"), err


def test_byte_size_as_bytefmt_prints_it():
    assert [cf_format.byte_size(n) for n in (0, 512, 26843545, 256 << 20, 1 << 30,
                                             1536 << 20)] == ["0", "512B", "25.6M", "256M",
                                                              "1G", "1.5G"]


def test_instance_table_has_the_go_clis_columns_and_true_usage():
    app = {"memory": 256, "disk_quota": 1024}
    stats = [{"index": 0, "state": "RUNNING", "since": "2026-11-29T16:00:00Z",
              "usage": {"cpu": 0.0034, "mem": 26843545, "disk": 110 << 20},
              "mem_quota": 256 << 20, "disk_quota": 1 << 30},
             {"index": 1, "state": "CRASHED", "usage": {}, "mem_quota": 256 << 20,
              "disk_quota": 1 << 30,
              "details": "APP/PROC/WEB: Exited with status 137 (out of memory)"}]
    lines = cf_format.instances_table(app, stats).splitlines()
    assert lines[0].split() == ["state", "since", "cpu", "memory", "disk", "details"]
    assert lines[1].split() == ["#0", "running", "2026-11-29T16:00:00Z", "0.3%",
                                "25.6M", "of", "256M", "110M", "of", "1G"]
    assert lines[2].split()[:8] == ["#1", "crashed", "0.0%", "0", "of", "256M", "0", "of"]
    assert lines[2].endswith("APP/PROC/WEB: Exited with status 137 (out of memory)")


def test_log_lines_in_cfs_format():
    env = {"timestamp": str(1_764_432_000_123_000_000), "instance_id": "0",
           "tags": {"source_type": "APP/PROC/WEB"}, "log": {"payload": "hello\nworld",
                                                            "type": "ERR"}}
    head = "   2025-11-29T16:00:00.12+0000 [APP/PROC/WEB/0] ERR "
    assert cf_format.log_line(env) == head + "hello\n" + " " * len(head) + "world"


def test_event_rows_describe_crashes_and_updates_as_the_go_cli():
    crash = {"entity": {"timestamp": "2026-11-29T16:20:11Z", "type": "app.crash",
                        "actor_name": "web", "metadata": {
                            "instance": "ig", "index": 1, "cell_id": "cell-1",
                            "exit_status": 137, "reason": "CRASHED",
                            "exit_description": "APP/PROC/WEB: Exited with status 137 "
                                                "(out of memory)"}}}
    update = {"entity": {"timestamp": "2026-11-29T16:19:50Z", "type": "audit.app.update",
                         "actor_name": "admin", "metadata": {"request": {"instances": 2}}}}
    lines = cf_format.events_table([crash, update]).splitlines()
    assert lines[0].split() == ["time", "event", "actor", "description"]
    assert lines[1].startswith("2026-11-29T16:20:11.00+0000   app.crash")
    assert lines[1].endswith("index: 1, reason: CRASHED, cell_id: cell-1, instance: ig, "
                             "exit_description: APP/PROC/WEB: Exited with status 137 "
                             "(out of memory), exit_status: 137")
    assert lines[2].endswith("admin   instances: 2")
    assert cf_format.events_table([]) == "No events found"


def test_a_log_stream_ends_clearly_when_the_app_is_deleted(monkeypatch):
    class Gone:
        def raw(self, method, path, body=None, content_type=None):  # noqa: ANN001, ANN201
            from foundry.cli.cf_client import HTTPResult
            return HTTPResult(404, b'{"error_code": "CF-AppNotFound", "description": "x"}')

    ctx = cf.Context(io.StringIO(), io.StringIO())
    ctx._client = Gone()  # type: ignore[assignment]  # noqa: SLF001
    with pytest.raises(CFError, match="App web was deleted; the log stream has ended."):
        cf.read_logs(ctx, "guid", "web", start_time="0")
