"""The BBS over real HTTP, with a fake cell doing what a rep does, and cfdot reading it."""

from bbs_harness import cfdot, wait_for

DESIRED = {
    "process_guid": "pg-app-v1", "domain": "cf-apps", "instances": 1, "ports": [8080, 2222],
    "log_guid": "app-guid", "memory_mb": 256,
    "routes": {"cf-router": [{"hostnames": ["app.example.com"], "port": 8080,
                              "route_service_url": None, "protocol": "http1"}]},
    "action": {"run": {"path": "/tmp/lifecycle/launcher", "args": ["app", "python3 app.py"]}},
}
PORTS = [{"container_port": 8080, "host_port": 61000, "container_tls_proxy_port": 61001,
          "host_tls_proxy_port": 61001}]


def claim_and_start(bbs, ig, cell_id="cell-1", index=0):
    key = {"process_guid": "pg-app-v1", "index": index, "instance_guid": ig, "cell_id": cell_id}
    assert bbs.request("POST", "/v1/actual_lrps/claim", key)[0] == 200
    status, lrp = bbs.request("POST", "/v1/actual_lrps/start", {
        **key, "address": "10.244.0.5", "instance_address": "10.255.1.2", "ports": PORTS,
        "preferred_address": "HOST", "availability_zone": "z1"})
    assert status == 200, lrp
    return lrp


def test_desire_claim_start_shows_running_in_cfdot(bbs):
    bbs.heartbeat("cell-1")
    status, d = bbs.request("POST", "/v1/desired_lrps", DESIRED)
    assert status == 201 and d["modification_tag"]["index"] == 0
    assert bbs.request("POST", "/v1/desired_lrps", DESIRED)[0] == 409
    status, err = bbs.request("POST", "/v1/desired_lrps", {"process_guid": "x", "ports": "80"})
    assert status == 400 and err["error"].startswith("ports:")
    work = bbs.request("GET", "/v1/cells/cell-1/work")[1]
    assert [w["actual_lrp"]["index"] for w in work["to_start"]] == [0]
    assert work["to_start"][0]["desired_lrp"]["action"] == DESIRED["action"]
    claim_and_start(bbs, "ig-1")

    rc, lines, raw = cfdot(bbs, "actual-lrps")
    assert rc == 0 and len(lines) == 1
    lrp = lines[0]
    assert (lrp["state"], lrp["cell_id"], lrp["instance_guid"], lrp["address"]) == (
        "RUNNING", "cell-1", "ig-1", "10.244.0.5")
    assert lrp["ports"] == PORTS and lrp["presence"] == "ORDINARY"
    assert raw.startswith('{"process_guid":"pg-app-v1","index":0,"domain":"cf-apps"')
    assert "crash_reason" not in lrp
    rc, groups, _ = cfdot(bbs, "actual-lrp-groups")
    assert groups == [{"instance": lrp}]
    assert cfdot(bbs, "actual-lrps", "-c", "cell-2")[1] == []
    assert cfdot(bbs, "actual-lrps", "-p", "pg-app-v1", "-i", "0")[1] == [lrp]
    rc, desired, _ = cfdot(bbs, "desired-lrps", "-d", "cf-apps")
    assert [d["process_guid"] for d in desired] == ["pg-app-v1"]
    bbs.heartbeat("cell-1")  # the cfdot runs above may outlast the 6 s TTL when loaded
    rc, cells, _ = cfdot(bbs, "cells")
    assert cells == [{"cell_id": "cell-1", "rep_address": "http://cell-1:1800", "zone": "z1",
                      "capacity": {"containers": 10}}]


def test_state_survives_restart(bbs):
    bbs.heartbeat("cell-1")
    bbs.request("POST", "/v1/desired_lrps", DESIRED)
    before = claim_and_start(bbs, "ig-1")
    bbs.stop()
    bbs.start()
    bbs.heartbeat("cell-1")
    assert bbs.request("GET", "/v1/actual_lrps")[1] == [before]
    assert bbs.request("GET", "/v1/desired_lrps/pg-app-v1")[1]["log_guid"] == "app-guid"
    assert bbs.request("GET", "/v1/desired_lrps/nope")[0] == 404


def test_crash_restart_semantics(bbs):
    bbs.heartbeat("cell-1")
    bbs.request("POST", "/v1/desired_lrps", DESIRED)
    for n in (1, 2, 3):
        claim_and_start(bbs, f"ig-{n}")
        status, lrp = bbs.request("POST", "/v1/actual_lrps/crash", {
            "process_guid": "pg-app-v1", "index": 0, "instance_guid": f"ig-{n}",
            "crash_reason": "APP/PROC/WEB: Exited with status 1"})
        assert status == 200 and lrp["crash_count"] == n
        assert lrp["instance_guid"] == "" and lrp["cell_id"] == ""
        assert lrp["state"] == ("UNCLAIMED" if n < 3 else "CRASHED")
    # third crash: backoff (base 1 s in this config), then convergence makes it UNCLAIMED
    wait_for(lambda: bbs.request("GET", "/v1/cells/cell-1/work")[1]["to_start"],
             what="crashed LRP to be restarted after backoff")
    lrp = bbs.request("GET", "/v1/actual_lrps")[1][0]
    assert (lrp["state"], lrp["crash_count"]) == ("UNCLAIMED", 3)
    assert lrp["crash_reason"] == "APP/PROC/WEB: Exited with status 1"


def test_scale_and_delete_over_http(bbs):
    bbs.heartbeat("cell-1")
    bbs.request("POST", "/v1/desired_lrps", DESIRED)
    claim_and_start(bbs, "ig-1")
    status, d = bbs.request("PATCH", "/v1/desired_lrps/pg-app-v1", {"instances": 3})
    assert status == 200 and d["instances"] == 3
    assert len(bbs.request("GET", "/v1/actual_lrps")[1]) == 3
    assert bbs.request("DELETE", "/v1/desired_lrps/pg-app-v1")[0] == 204
    work = bbs.request("GET", "/v1/cells/cell-1/work")[1]
    assert work == {"to_start": [], "to_stop": [
        {"process_guid": "pg-app-v1", "index": 0, "instance_guid": "ig-1"}]}
    assert bbs.request("POST", "/v1/actual_lrps/remove", {
        "process_guid": "pg-app-v1", "index": 0, "instance_guid": "ig-1"})[0] == 200
    assert bbs.request("GET", "/v1/actual_lrps")[1] == []


def test_lost_cell_replaced(bbs):
    bbs.heartbeat("cell-1")
    bbs.request("POST", "/v1/desired_lrps", DESIRED)
    claim_and_start(bbs, "ig-1")

    def moved():
        bbs.heartbeat("cell-2")
        work = bbs.request("GET", "/v1/cells/cell-2/work")[1]
        return work["to_start"]
    wait_for(moved, timeout=20, interval=0.3, what="LRP re-placed on cell-2 after cell-1 expired")
    # the lost instance stays listed, RUNNING and SUSPECT, until its replacement runs
    lrps = bbs.request("GET", "/v1/actual_lrps")[1]
    assert [(a["state"], a["presence"], a["instance_guid"]) for a in lrps] == [
        ("UNCLAIMED", "ORDINARY", ""), ("RUNNING", "SUSPECT", "ig-1")]
    claim_and_start(bbs, "ig-2", cell_id="cell-2")
    lrps = bbs.request("GET", "/v1/actual_lrps")[1]
    assert [(a["state"], a["presence"], a["cell_id"]) for a in lrps] == [
        ("RUNNING", "ORDINARY", "cell-2")]


def test_cfdot_unreachable(tmp_path):
    from bbs_harness import free_port
    rc, lines, _ = cfdot(f"http://127.0.0.1:{free_port()}", "cells")
    assert rc == 5 and lines == []  # cfdot's exit code for a failure other than a BBS error
