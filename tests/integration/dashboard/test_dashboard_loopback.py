"""The dashboard job on loopback: its event stream pushes each job's change within 1 s."""

from __future__ import annotations

import http.client
import json
import time

import pytest
from dashboard_harness import SSE

from foundry.gorouter.accesslog import AccessLogRecord
from tests.support import wait_for

REGISTER = {"host": "10.244.0.5", "port": 61000, "tls_port": 61002,
            "uris": ["hello.apps.internal"], "app": "app-a", "private_instance_id": "inst-a0",
            "private_instance_index": "0", "server_cert_domain_san": "inst-a0"}
DESIRED = [{"process_guid": "pg-a", "log_guid": "app-a", "env": [
    {"name": "VCAP_APPLICATION",
     "value": json.dumps({"application_id": "app-a", "application_name": "hello"})}]},
    {"process_guid": "pg-b", "log_guid": "app-b", "env": [
        {"name": "VCAP_APPLICATION",
         "value": json.dumps({"application_id": "app-b", "application_name": "other"})}]}]


def lrp(pg: str, guid: str, host_port: int) -> dict:
    return {"process_guid": pg, "index": 0, "instance_guid": guid, "cell_id": "cell-1",
            "address": "10.244.0.5", "instance_address": "10.255.1.2", "state": "RUNNING",
            "ports": [{"container_port": 8080, "host_port": host_port}]}


def get(port: int, path: str, method: str = "GET") -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def access_line(backend: str, app_id: str, status: int = 200, error: str = "") -> str:
    now = time.time()
    return AccessLogRecord(host="hello.apps.internal", received_at=now, method="GET",
                           request_uri="/", status=status, backend_addr=backend, app_id=app_id,
                           app_index="0", instance_id="inst", router_error=error,
                           finished_at=now + 0.001).format()


def test_snapshot_then_pushed_changes_within_a_second(dashboard):
    sse = SSE(dashboard.port)
    try:
        assert sse.status == 200 and "text/event-stream" in sse.head
        # The jobs: the BBS and NATS healthy, the job nobody listens for shown down.
        sse.wait(lambda e, d: e == "snapshot")
        jobs = wait_for(lambda: len(dashboard.state("jobs")["sections"]["jobs"]) == 3
                        and dashboard.state("jobs")["sections"]["jobs"], what="3 jobs probed")
        assert jobs["credhub"]["health"] == "down"
        assert jobs["bbs"]["health"] == "healthy" and jobs["nats"]["health"] == "healthy"

        # A route registered on NATS is pushed within 1 s.
        sent = time.monotonic()
        dashboard.publish("router.register", REGISTER)
        _, patch, at = sse.wait(lambda e, d: e == "patch" and d["section"] == "routes"
                                and "hello.apps.internal" in d["set"])
        assert at - sent < 1.0
        ep = patch["set"]["hello.apps.internal"]["endpoints"][0]
        assert (ep["address"], ep["tls"], ep["san"], ep["ttl"]) == (
            "10.244.0.5:61002", True, "inst-a0", 120)
        assert abs(ep["last_refresh"] - time.time()) < 5

        # An app container placed in the BBS is pushed within 1 s.
        sent = time.monotonic()
        dashboard.bbs.set(desired=DESIRED, actual=[lrp("pg-b", "inst-b0", 61000)])
        _, patch, at = sse.wait(lambda e, d: e == "patch" and d["section"] == "containers")
        assert at - sent < 1.0
        row = patch["set"]["pg-b/0"]
        assert (row["app"], row["instance_guid"], row["dnat"]) == (
            "other", "inst-b0", ["10.244.0.5:61000 → 10.255.1.2:8080"])

        # A request the router sent for app A to the port app B now holds: a misroute.
        sent = time.monotonic()
        dashboard.log_request(access_line("10.244.0.5:61000", "app-a"))
        dashboard.log_request(access_line("10.244.0.5:61002", "app-a", 503,
                                          "endpoint_failure (hostname mismatch)"))
        _, got, at = sse.wait(lambda e, d: e == "requests")
        assert at - sent < 1.0
        outcomes = [(r["outcome"], r["answered_by"]) for r in got["items"]]
        assert ("misrouted", "other") in outcomes
        if len(outcomes) == 1:
            _, got, _ = sse.wait(lambda e, d: e == "requests")
            outcomes += [(r["outcome"], r["answered_by"]) for r in got["items"]]
        assert ("error", "") in outcomes

        # The route unregistered: removed from the table.
        dashboard.publish("router.unregister", REGISTER)
        _, patch, _ = sse.wait(lambda e, d: e == "patch" and d["section"] == "routes"
                               and d["removed"] == ["hello.apps.internal"])
    finally:
        sse.close()


def test_a_bad_nats_message_is_dropped_and_the_job_keeps_running(dashboard):
    dashboard.publish("router.register", {"host": "10.0.0.1", "port": "not a number",
                                          "uris": ["x.apps.internal"]},
                      {**REGISTER, "uris": ["after.apps.internal"]})
    wait_for(lambda: "after.apps.internal" in dashboard.state("routes")["sections"]["routes"],
             what="the good message's route")
    routes = dashboard.state("routes")["sections"]["routes"]
    assert "x.apps.internal" not in routes


@pytest.mark.parametrize("path", [
    "/api/state?sections=nope", "/api/state?requests=lots", "/events?bogus=1",
    "/api/state?sections=jobs&sections=routes", "/events?requests=-3", "/api/state?=",
    "/?x=1",
])
def test_malformed_query_parameters_get_400(dashboard, path):
    status, headers, body = get(dashboard.port, path)
    assert status == 400, body
    assert json.loads(body)["error"]
    assert get(dashboard.port, "/health")[0] == 200  # and it keeps serving


def test_the_page_and_its_assets_are_served_from_the_job(dashboard):
    status, headers, body = get(dashboard.port, "/")
    assert status == 200 and b"/static/app.js" in body
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert b"http://" not in body and b"https://" not in body  # no CDN
    for asset, ctype in (("/static/app.js", "text/javascript"), ("/static/style.css", "text/css")):
        status, headers, body = get(dashboard.port, asset)
        assert status == 200 and headers["Content-Type"].startswith(ctype)
        assert b"http://" not in body and b"https://" not in body
    assert get(dashboard.port, "/static/../config.py")[0] == 404
    assert get(dashboard.port, "/nope")[0] == 404
    assert get(dashboard.port, "/", "POST")[0] == 405


def test_identity_view_reads_the_presented_cert_and_records_a_rotation(dashboard, tmp_path):
    """The collector reads the certificate an instance's TLS port presents (here a loopback
    listener standing in for the proxy behind the cell's DNAT) and pushes a rotation."""
    from dashboard_harness import IdentityServer

    ident = IdentityServer(tmp_path)
    try:
        instance = {**lrp("pg-a", "inst-a0", 61000), "address": "127.0.0.1",
                    "ports": [{"container_port": 8080, "host_port": 61000,
                               "container_tls_proxy_port": 61001,
                               "host_tls_proxy_port": ident.port}]}
        sse = SSE(dashboard.port, "/events?sections=identities")
        try:
            dashboard.bbs.set(desired=DESIRED, actual=[instance])
            first = format(ident.serial, "x")
            _, patch, _ = sse.wait(lambda e, d: e == "patch"
                                   and d["set"].get("inst-a0", {}).get("serial") == first)
            row = patch["set"]["inst-a0"]
            assert row["rotations"] == 0 and row["error"] == ""
            assert row["next_rotation"] == row["not_after"] - 1800  # 24 h validity: 30 min
            sent = time.monotonic()
            second = format(ident.rotate(), "x")
            _, patch, at = sse.wait(lambda e, d: e == "patch"
                                    and d["set"].get("inst-a0", {}).get("serial") == second)
            assert at - sent < 2.0  # read every second
            row = patch["set"]["inst-a0"]
            assert row["rotations"] == 1
            assert [h["serial"] for h in row["history"]] == [first, second]
        finally:
            sse.close()
    finally:
        ident.stop()
