"""`cflab lab`'s server on loopback with a fake runner: start a run and read its lanes live
over SSE, past runs, the mode switch, and every kind of bad request."""

from __future__ import annotations

import http.client
import json

from tests.support import wait_for


def call(lab, method: str, path: str, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", lab.server.port, timeout=10)
    try:
        hdrs = {"X-Cflab-Lab": "1"} if method == "POST" else {}
        conn.request(method, path, body=body, headers={**hdrs, **(headers or {})})
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, (json.loads(raw) if resp.getheader("Content-Type", "").startswith(
            "application/json") else {"raw": raw})
    finally:
        conn.close()


class Events:
    """An SSE client: reads `event:`/`data:` blocks as they come."""

    def __init__(self, lab, after: int | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", lab.server.port, timeout=10)
        self.conn.request("GET", "/events" + (f"?after={after}" if after is not None else ""))
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200
        assert self.resp.getheader("Content-Type") == "text/event-stream"

    def next(self) -> tuple[str, dict]:
        kind, data = "", ""
        while True:
            line = self.resp.fp.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and kind:
                return kind, json.loads(data)

    def until(self, pred, limit: int = 2000) -> list[tuple[str, dict]]:
        seen = []
        for _ in range(limit):
            seen.append(self.next())
            if pred(*seen[-1]):
                return seen
        raise AssertionError(f"no such event in {limit}: {[k for k, _ in seen][-20:]}")

    def close(self) -> None:
        self.conn.close()


def test_a_run_fills_its_lanes_live_then_lists_as_a_past_run(lab):
    status, doc = call(lab, "GET", "/api/scenarios")
    assert status == 200
    by_name = {s["name"]: s for s in doc["scenarios"]}
    assert by_name["fake-incident"]["modes"] == ["before-envoy", "strict"]
    assert "modes" in by_name["broken"]["error"]   # an invalid file is listed with why

    ev = Events(lab)
    kind, snap = ev.next()
    assert kind == "snapshot" and snap["run"] is None
    status, doc = call(lab, "POST", "/api/runs?scenario=fake-incident&mode=before-envoy"
                                    "&mode=strict")
    assert status == 202 and doc["modes"] == ["before-envoy", "strict"]
    assert lab.runner.calls == [{"scenario": "fake-incident", "modes": ["before-envoy", "strict"]}]

    # Live: the before-envoy lane's samples, misroutes and the open fault window arrive
    # while the mode is still running (the fake holds it until released).
    seen = ev.until(lambda k, d: k == "samples" and d.get("faults"))
    samples = [s for k, d in seen if k == "samples" for s in d["samples"]]
    assert {k for k, _ in seen} >= {"run", "lane", "log", "samples"}
    assert sum(s["outcome"] == "misrouted" for s in samples) == 6
    assert seen[-1][1]["faults"] == [{"name": "kill app-a", "start": 3.5, "end": None}]
    assert lab.lab.snapshot()["run"]["lanes"]["before-envoy"]["state"] == "running"
    assert lab.lab.running_mode().cfg.mode == "before-envoy"   # what Ctrl-C tears down
    # Only one run at a time.
    status, doc = call(lab, "POST", "/api/runs?scenario=fake-incident")
    assert status == 409 and "still going" in doc["error"]

    lab.runner.release.set()
    seen = ev.until(lambda k, d: k == "run" and d.get("state") == "done")
    assert lab.lab.running_mode() is None
    results = {d["mode"]: d for k, d in seen if k == "result"}
    assert results["before-envoy"]["state"] == "passed"
    assert results["before-envoy"]["counts"]["misrouted"] == 6
    assert results["strict"]["counts"]["misrouted"] == 0
    assert results["strict"]["faults"][0]["end"] == 7.0
    ev.close()

    # A page connecting now gets the finished run whole.
    ev = Events(lab)
    kind, snap = ev.next()
    lanes = snap["run"]["lanes"]
    assert snap["run"]["state"] == "done" and lanes["before-envoy"]["misrouted"] == 6
    assert len(lanes["strict"]["samples"]) == 40
    ev.close()

    status, doc = call(lab, "GET", "/api/runs")
    (row,) = doc["runs"]
    assert row["scenario"] == "fake-incident" and row["timeline"]
    assert row["cells"]["before-envoy"].startswith("✓ 6/40 misrouted")
    assert row["cells"]["after-envoy"] == "–"
    status, doc = call(lab, "GET", "/runs/fake-incident/timeline.png")
    assert status == 200 and doc["raw"].startswith(b"\x89PNG")


def test_a_scenario_that_fails_to_start_says_why(lab):
    status, doc = call(lab, "POST", "/api/runs?scenario=broken")
    assert status == 400 and "modes" in doc["error"]
    status, doc = call(lab, "POST", "/api/runs?scenario=no-such")
    assert status == 400 and "no scenario 'no-such'" in doc["error"]
    # The runner itself fails (no Docker engine, a foundation that does not come up).
    lab.runner.fail = RuntimeError("the Docker engine is not answering")
    ev = Events(lab)
    ev.next()
    assert call(lab, "POST", "/api/runs?scenario=fake-incident")[0] == 202
    seen = ev.until(lambda k, d: k == "run" and d.get("state") == "error")
    assert seen[-1][1]["error"] == "RuntimeError: the Docker engine is not answering"
    ev.close()
    assert lab.lab.snapshot()["run"]["lanes"]["strict"]["state"] == "error"
    # and the lab keeps serving: the next run starts
    lab.runner.fail = None
    lab.runner.release.set()
    assert call(lab, "POST", "/api/runs?scenario=fake-incident&mode=strict")[0] == 202
    wait_for(lambda: lab.lab.snapshot()["run"]["state"] == "done", 10, what="the run done")


def test_the_mode_switch_and_the_foundation(lab):
    status, doc = call(lab, "GET", "/api/foundation")
    assert doc["jobs"]["nats"] == {"state": "exited", "health": "unhealthy"}
    status, doc = call(lab, "POST", "/api/mode?mode=strict")
    assert status == 202
    wait_for(lambda: lab.lab.snapshot()["switch"]["state"] == "done", 10, what="switched")
    assert lab.switched == ["strict"]
    assert call(lab, "GET", "/api/foundation")[1]["mode"] == "strict"
    lab.switch_error = RuntimeError("foundation 'cflab' is not running")
    assert call(lab, "POST", "/api/mode?mode=before-envoy")[0] == 202
    wait_for(lambda: lab.lab.snapshot()["switch"]["state"] == "error", 10, what="an error")
    assert "not running" in lab.lab.snapshot()["switch"]["error"]
    # A foundation that cannot be read is an answer, not a failed page.
    lab.lab.foundation_fn = lambda: (_ for _ in ()).throw(OSError("docker: not found"))
    status, doc = call(lab, "GET", "/api/foundation")
    assert status == 200 and doc == {"error": "OSError: docker: not found", "jobs": {}}


def test_past_runs_read_what_is_there(lab):
    lab.past_run("garbled", "{not json")
    lab.past_run("ok-run", {"scenario": "ok-run", "passed": True, "modes": {"strict": {
        "status": "passed", "counts": {"requests": 9, "misrouted": 0, "errors": 1}}}})
    status, doc = call(lab, "GET", "/api/runs")
    rows = {r["scenario"]: r for r in doc["runs"]}
    assert rows["garbled"]["error"].startswith("unreadable result.json")
    assert rows["ok-run"]["cells"]["strict"] == "✓ 0/9 misrouted, 1 errors"
    assert rows["ok-run"]["timeline"] is False
    assert call(lab, "GET", "/runs/ok-run/timeline.png")[0] == 404
    assert call(lab, "GET", "/runs/..%2f..%2fetc/timeline.png")[0] == 404


def test_bad_requests(lab):
    bad = {
        "/api/runs?scenario=fake-incident&mode=sideways": "mode must be one of",
        "/api/runs?mode=strict": "scenario is required",
        "/api/runs?scenario=a&scenario=b": "scenario given 2 times",
        "/api/runs?scenario=fake-incident&colour=red": "unknown query parameter 'colour'",
        "/api/runs?scenario=": "scenario must be 1-200 characters",
        "/api/runs?scenario=x&&&": "",
        "/api/mode?mode=": "mode must be one of",
        "/api/mode": "mode is required",
    }
    for path, message in bad.items():
        status, doc = call(lab, "POST", path)
        assert status == 400, (path, doc)
        assert message in doc["error"], (path, doc)
    for path, message in {"/events?after=-1": "must not be negative",
                          "/events?after=x": "whole number",
                          "/api/state?x=1": "unknown query parameter",
                          "/?q=1": "takes no query"}.items():
        status, doc = call(lab, "GET", path)
        assert status == 400 and message in doc["error"], (path, doc)
    assert call(lab, "GET", "/nope")[0] == 404
    assert call(lab, "POST", "/api/nope")[0] == 404
    # Actions only from the lab's own page: another site can set neither header.
    assert call(lab, "POST", "/api/mode?mode=strict", {"X-Cflab-Lab": "0"})[0] == 403
    assert call(lab, "POST", "/api/mode?mode=strict", {"Host": "evil.example:80"})[0] == 403
    assert call(lab, "POST", "/api/mode?mode=strict", body=b"x")[0] == 400
    assert lab.switched == [] and lab.runner.calls == []
    status, doc = call(lab, "GET", "/")
    assert status == 200 and b"cflab lab" in doc["raw"]
    conn = http.client.HTTPConnection("127.0.0.1", lab.server.port, timeout=5)
    conn.request("GET", "/")
    assert "default-src 'self'" in conn.getresponse().getheader("Content-Security-Policy")
    conn.close()
