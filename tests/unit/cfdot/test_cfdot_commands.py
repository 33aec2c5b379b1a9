"""cfdot's read-only commands against a fake BBS: real cfdot's lines, fields and exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from foundry.cli import cfdot, cfdot_shapes

REPO = Path(__file__).resolve().parents[3]
PG = "4a295375-84d5-4017-8e14-97cc08fef7e6-f257d4b3-e810-4ad9-bfbe-f493dcddddb0"
PORTS = [{"container_port": 8080, "host_port": 0, "container_tls_proxy_port": 61001,
          "host_tls_proxy_port": 61002}]
ACTUAL = {"process_guid": PG, "index": 0, "domain": "cf-apps",
          "instance_guid": "6f042458-693c-456a-6fa6-ed96", "cell_id": "cell-1",
          "address": "10.244.0.5", "ports": PORTS, "instance_address": "10.255.1.2",
          "preferred_address": "HOST", "crash_count": 0, "state": "RUNNING", "since": 1,
          "modification_tag": {"epoch": "e", "index": 2}, "presence": "ORDINARY",
          "availability_zone": "z1"}
DESIRED = {"process_guid": PG, "domain": "cf-apps", "rootfs": "preloaded:cflinuxfs3",
           "instances": 1, "memory_mb": 256, "disk_mb": 1024, "log_guid": "app-guid",
           "annotation": "", "routes": {"cf-router": [{"hostnames": ["a.apps.internal"],
                                                       "port": 8080}]},
           "modification_tag": {"epoch": "d", "index": 0}}
CELL = {"cell_id": "cell-1", "rep_address": "http://10.244.0.3:1800", "zone": "z1",
        "capacity": {"containers": 250}}


@pytest.fixture
def bbs(monkeypatch):
    """A fake BBS: path -> answer; records what was asked."""
    calls: list[tuple[str, dict]] = []

    def fake(base, path, params, timeout=cfdot.TIMEOUT_S):
        calls.append((path, params))
        if path == "/v1/actual_lrps":
            lrps = [ACTUAL]
            if params.get("process_guid") not in (None, PG) or params.get("index") not in (None, 0):
                lrps = []
            return lrps
        if path == "/v1/desired_lrps":
            return [DESIRED]
        if path == f"/v1/desired_lrps/{PG}":
            return DESIRED
        if path.startswith("/v1/desired_lrps/"):
            raise cfdot.BBSModelError(404, "desired LRP nope not found")
        if path == "/v1/cells":
            return [CELL]
        raise AssertionError(path)
    monkeypatch.setattr(cfdot, "fetch_json", fake)
    return calls


def run(*argv: str) -> tuple[int, list, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = cfdot.main(["--bbsURL", "http://bbs:8889", *argv], out=out, err=err)
    return rc, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_seed_pipeline_fields(bbs):
    """What `jq '[.instance.address, .instance.ports[0].host_tls_proxy_port]'` reads."""
    rc, lines, _ = run("actual-lrp-groups")
    assert rc == 0
    assert lines[0]["instance"]["address"] == "10.244.0.5"
    assert lines[0]["instance"]["ports"][0]["host_tls_proxy_port"] == 61002


def test_groups_for_guid_with_and_without_index(bbs):
    assert run("actual-lrp-groups-for-guid", PG)[1] == [{"instance": ACTUAL}]
    assert run("actual-lrp-groups-for-guid", PG, "-i", "0")[1] == [{"instance": ACTUAL}]
    rc, lines, err = run("actual-lrp-groups-for-guid", PG, "-i", "7")
    assert (rc, lines) == (4, [])
    assert err.splitlines() == ["BBS error", "Type 13: ResourceNotFound",
                                "Message: the requested resource could not be found"]
    assert ("/v1/actual_lrps", {"process_guid": PG, "index": 7}) in bbs


def test_desired_lrp_and_its_not_found(bbs):
    assert run("desired-lrp", PG)[1] == [DESIRED]
    rc, lines, err = run("desired-lrp", "nope")
    assert rc == 4 and lines == [] and "Type 13: ResourceNotFound" in err


def test_scheduling_infos_flatten_key_resource_and_tag(bbs):
    rc, lines, _ = run("desired-lrp-scheduling-infos")
    assert rc == 0
    assert list(lines[0]) == ["process_guid", "domain", "log_guid", "annotation", "instances",
                              "memory_mb", "disk_mb", "rootfs", "max_pids", "routes",
                              "epoch", "index"]
    assert (lines[0]["epoch"], lines[0]["index"], lines[0]["rootfs"]) == (
        "d", 0, "preloaded:cflinuxfs3")


def test_domains_one_json_string_per_line(bbs):
    out = io.StringIO()
    assert cfdot.main(["--bbsURL", "http://x", "domains"], out=out) == 0
    assert out.getvalue() == '"cf-apps"\n'


def test_cell_states_in_the_reps_shape(bbs):
    rc, lines, _ = run("cell-states")
    assert rc == 0 and len(lines) == 1
    state = lines[0]
    assert list(state) == ["rep_url", "cell_id", "cell_index", "RootFSProviders",
                           "AvailableResources", "TotalResources", "LRPs", "Tasks",
                           "StartingContainerCount", "Zone", "Evacuating", "VolumeDrivers",
                           "PlacementTags", "OptionalPlacementTags", "ProxyMemoryAllocationMB"]
    assert state["TotalResources"]["Containers"] == 250
    assert state["AvailableResources"]["Containers"] == 249
    assert state["LRPs"] == [{
        "instance_guid": ACTUAL["instance_guid"], "process_guid": PG, "index": 0,
        "domain": "cf-apps", "PlacementTags": None, "VolumeDrivers": None,
        "RootFs": "preloaded:cflinuxfs3", "MemoryMB": 256, "DiskMB": 1024, "MaxPids": 0,
        "state": "RUNNING"}]
    assert state["RootFSProviders"]["preloaded"] == {"set": {"cflinuxfs3": {}},
                                                     "type": "fixed_set"}


def test_bbs_url_from_the_environment(bbs, monkeypatch):
    monkeypatch.setenv("BBS_URL", "http://bbs:8889")
    seen = []
    monkeypatch.setattr(cfdot, "fetch_json", lambda base, *a, **k: seen.append(base.url) or [])
    assert cfdot.main(["cells"], out=io.StringIO()) == 0
    assert seen == ["http://bbs:8889"]


def test_lrp_events_diff_instance_and_group_events():
    diff = cfdot_shapes.LRPEventDiff([], [])
    created = diff.update([ACTUAL], [DESIRED])
    assert [e["type"] for e in created] == ["desired_lrp_created", "actual_lrp_created",
                                            "actual_lrp_instance_created"]
    assert created[2]["data"] == {"actual_lrp": ACTUAL, "trace_id": ""}
    crashed = {**ACTUAL, "instance_guid": "", "cell_id": "", "state": "UNCLAIMED",
               "crash_count": 1, "crash_reason": "exit 1", "since": 2}
    events = diff.update([crashed], [DESIRED])
    assert [e["type"] for e in events] == ["actual_lrp_crashed", "actual_lrp_changed",
                                           "actual_lrp_instance_changed"]
    assert events[0]["data"] == {"process_guid": PG, "index": 0, "domain": "cf-apps",
                                 "instance_guid": ACTUAL["instance_guid"], "cell_id": "cell-1",
                                 "crash_count": 1, "crash_reason": "exit 1", "since": 2}
    changed = events[2]["data"]
    assert changed["instance_guid"] == ACTUAL["instance_guid"]
    assert changed["before"]["state"] == "RUNNING" and changed["after"]["state"] == "UNCLAIMED"
    assert "process_guid" not in changed["before"] and "cell_id" not in changed["after"]
    assert [e["type"] for e in diff.update([], [])] == [
        "desired_lrp_removed", "actual_lrp_removed", "actual_lrp_instance_removed"]


def test_lrp_events_by_cell_drop_desired_and_other_cells():
    diff = cfdot_shapes.LRPEventDiff([], [], cell_id="cell-2", groups=False)
    assert diff.update([ACTUAL], [DESIRED]) == []
    moved = {**ACTUAL, "cell_id": "cell-2", "instance_guid": "x"}
    assert [e["type"] for e in diff.update([moved], [DESIRED])] == [
        "actual_lrp_instance_changed"]


def test_closed_pipe_ends_quietly(tmp_path):
    """`cfdot ... | head -1`: no traceback, whatever the BBS holds."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = json.dumps([ACTUAL] * 20000).encode()

    class H(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        cmd = (f"{sys.executable} -m foundry.cli.cfdot --bbsURL "
               f"http://127.0.0.1:{srv.server_port} actual-lrps | head -1")
        proc = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, cwd=REPO,
                              timeout=60)
    finally:
        srv.shutdown()
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["process_guid"] == PG
    assert proc.stderr == ""
