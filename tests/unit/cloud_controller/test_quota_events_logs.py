"""Memory and disk quotas, audit events, the log store and container usage in stats."""

from __future__ import annotations

import json
import time

import pytest

from foundry.cloud_controller.api import API, Request
from foundry.cloud_controller.bits import BitsStore
from foundry.cloud_controller.config import CCConfig
from foundry.cloud_controller.db import DB
from foundry.cloud_controller.logcache import LogCache
from foundry.cloud_controller.service import CloudController
from tests.unit.cloud_controller.test_service_api import FakeBBS, call, new_app, tgz


class StatsBBS(FakeBBS):
    def __init__(self) -> None:
        super().__init__()
        self.lrps: list[dict] = []

    def actual_lrps(self, **query):  # noqa: ANN003, ANN201
        return self.lrps


@pytest.fixture
def env(tmp_path):
    cfg = CCConfig(db_path=":memory:", bits_dir=str(tmp_path / "bits"), max_bits_bytes=10_000,
                   internal_url="http://cc:9023", space_memory_limit_mb=1024,
                   log_cache_max_per_source=5)
    bbs = StatsBBS()
    cc = CloudController(cfg, DB(":memory:"), bbs, BitsStore(cfg.bits_dir))
    return cc, API(cc), bbs


def started(api, name="a", **kw) -> str:  # noqa: ANN001
    guid = new_app(api, name, **kw)
    assert call(api, "PUT", f"/v2/apps/{guid}/bits", raw=tgz({"app.py": b"x"}))[0] == 201
    status, body = call(api, "PUT", f"/v2/apps/{guid}", {"state": "STARTED"})
    assert status == 201, body
    return guid


def test_memory_and_disk_must_be_positive(env):
    _, api, _ = env
    guid = new_app(api)
    status, body = call(api, "PUT", f"/v2/apps/{guid}", {"memory": 0})
    assert (status, body["error_code"], body["code"]) == (400, "CF-AppMemoryInvalid", 100006)
    status, body = call(api, "PUT", f"/v2/apps/{guid}", {"disk_quota": -1})
    assert status == 400 and body["error_code"] == "CF-AppInvalid"
    status, body = call(api, "PUT", f"/v2/apps/{guid}", {"disk_quota": 4096})
    assert "too much disk requested (requested 4096 MB - must be less than 2048 MB)" in \
        body["description"]


def test_the_space_quota_counts_started_apps(env):
    _, api, bbs = env
    started(api, "a", memory=512, instances=1)
    guid = new_app(api, "b", memory=600)  # a stopped app uses none of the quota
    call(api, "PUT", f"/v2/apps/{guid}/bits", raw=tgz({"app.py": b"x"}))
    status, body = call(api, "PUT", f"/v2/apps/{guid}", {"state": "STARTED"})
    assert (status, body["error_code"]) == (400, "CF-SpaceQuotaMemoryLimitExceeded")
    assert body["description"] == ("You have exceeded your space's memory limit: "
                                   "app requested more memory than available")
    assert len(bbs.desired) == 1  # nothing half-started
    assert call(api, "PUT", f"/v2/apps/{guid}", {"memory": 256, "state": "STARTED"})[0] == 201


def test_scaling_memory_changes_the_next_recipe(env):
    _, api, bbs = env
    guid = started(api, memory=128)
    [lrp] = bbs.desired.values()
    assert (lrp["memory_mb"], lrp["cpu_weight"]) == (128, 1)
    assert call(api, "PUT", f"/v2/apps/{guid}", {"memory": 512})[0] == 201
    call(api, "POST", f"/v2/apps/{guid}/restage")
    [lrp] = bbs.desired.values()
    assert (lrp["memory_mb"], lrp["cpu_weight"]) == (512, 6)


def test_audit_events_in_cfs_v2_shape(env):
    cc, api, _ = env
    guid = started(api, instances=1)
    call(api, "PUT", f"/v2/apps/{guid}", {"instances": 2, "environment_json": {"S": "x"}})
    status, body = call(api, "GET", f"/v2/events?q=actee:{guid}&order-direction=desc")
    assert status == 200
    types = [r["entity"]["type"] for r in body["resources"]]
    assert types == ["audit.app.update", "audit.app.update", "audit.app.create"]
    e = body["resources"][0]["entity"]
    assert e["metadata"] == {"request": {"instances": 2,
                                         "environment_json": "PRIVATE DATA HIDDEN"}}
    assert (e["actee"], e["actee_type"], e["actee_name"], e["actor_name"]) == \
        (guid, "app", "a", "admin")
    assert e["space_guid"] and e["organization_guid"] and e["timestamp"].endswith("Z")
    status, body = call(api, "GET", f"/v2/events?q=type IN app.crash&q=actee:{guid}")
    assert body["total_results"] == 0


def test_a_crash_report_becomes_app_crash_and_an_api_log_line(env):
    cc, api, _ = env
    guid = started(api)
    pg = f"{guid}-version"
    payload = {"instance": "ig-1", "index": 0, "cell_id": "cell-1", "reason": "CRASHED",
               "exit_status": 137, "crash_count": 1, "crash_timestamp": 1,
               "exit_description": "APP/PROC/WEB: Exited with status 137 (out of memory)"}
    resp = api.internal(Request.from_target("POST", f"/internal/v4/apps/{pg}/crashed",
                                            json.dumps(payload).encode()))
    assert resp is not None and resp.status == 200
    body = call(api, "GET", f"/v2/events?q=type:app.crash&q=actee:{guid}")[1]
    [e] = [r["entity"] for r in body["resources"]]
    assert e["metadata"] == {k: payload[k] for k in ("instance", "index", "cell_id",
                                                     "exit_status", "exit_description",
                                                     "reason")}
    assert (e["actor_type"], e["actor"], e["actor_name"]) == ("app", guid, "a")
    lines = [x["log"]["payload"] for x in cc.logs.read(guid)]
    assert any(line.startswith(f"App instance exited with guid {guid} payload: ")
               for line in lines)
    missing = api.internal(Request.from_target("POST", "/internal/v4/apps/nope/crashed", b"{}"))
    assert missing is not None and missing.status == 404


def test_log_cache_is_a_bounded_ring_read_by_start_time():
    lc = LogCache(max_per_source=3)
    for i in range(5):
        lc.log("app", "APP/PROC/WEB", f"line {i}")
    got = lc.read("app")
    assert [e["log"]["payload"] for e in got] == ["line 2", "line 3", "line 4"]
    ts = [int(e["timestamp"]) for e in got]
    assert ts == sorted(set(ts))  # strictly increasing: "after t" never repeats a line
    assert [e["log"]["payload"] for e in lc.read("app", start_time=ts[1] + 1)] == ["line 4"]
    assert [e["log"]["payload"] for e in lc.read("app", limit=1, descending=True)] == ["line 4"]
    with pytest.raises(ValueError):
        lc.ingest([{"source_id": "", "log": {}}])


def test_reading_logs_of_a_deleted_app_is_a_404(env):
    cc, api, _ = env
    guid = new_app(api)
    status, body = call(api, "GET", f"/api/v1/read/{guid}?start_time=0")
    assert status == 200 and [e["log"]["payload"] for e in body["envelopes"]["batch"]] == [
        f"Created app with guid {guid}"]
    call(api, "DELETE", f"/v2/apps/{guid}")
    status, body = call(api, "GET", f"/api/v1/read/{guid}")
    assert status == 404 and body["error_code"] == "CF-AppNotFound"


def test_envelopes_from_cells_are_checked(env):
    _, api, _ = env
    bad = api.internal(Request.from_target("POST", "/internal/v1/envelopes",
                                           b'{"envelopes": [{"source_id": "x"}]}'))
    assert bad is not None and bad.status == 400


def test_stats_report_usage_of_the_running_instance_only(env):
    cc, api, bbs = env
    guid = started(api, memory=256)
    bbs.lrps = [{"index": 0, "state": "RUNNING", "instance_guid": "ig-new", "since": time.time_ns(),
                 "address": "10.0.0.5", "ports": []}]

    def gauge(instance_guid: str, cpu: float, mem: float) -> dict:
        return {"source_id": guid, "instance_id": "0", "timestamp": str(time.time_ns()),
                "tags": {"instance_guid": instance_guid},
                "gauge": {"metrics": {"cpu": {"value": cpu, "unit": "percentage"},
                                      "memory": {"value": mem, "unit": "bytes"},
                                      "disk": {"value": 4096.0, "unit": "bytes"}}}}
    cc.logs.ingest([gauge("ig-old", 90.0, 1e8)])
    usage = call(api, "GET", f"/v2/apps/{guid}/stats")[1]["0"]["stats"]["usage"]
    assert (usage["cpu"], usage["mem"], usage["disk"]) == (0, 0, 0)
    cc.logs.ingest([gauge("ig-new", 12.5, 25 * 1024 * 1024)])
    usage = call(api, "GET", f"/v2/apps/{guid}/stats")[1]["0"]["stats"]["usage"]
    assert (usage["cpu"], usage["mem"], usage["disk"]) == (0.125, 25 * 1024 * 1024, 4096)
    v3 = call(api, "GET", f"/v3/processes/{guid}/stats")[1]["resources"][0]["usage"]
    assert v3["mem"] == 25 * 1024 * 1024 and v3["cpu"] == 0.125
