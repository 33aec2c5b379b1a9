"""The Cloud Controller and `cf` on a real foundation: push, scale, routes, stop, delete."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.e2e.helpers import bbs, inside, through_router, wait_for

pytestmark = pytest.mark.e2e



@pytest.fixture(scope="module")
def pushed(cf, tmp_path_factory):
    app = tmp_path_factory.mktemp("greeter")
    (app / "app.py").write_text(
        "import json, os\n"
        "from http.server import BaseHTTPRequestHandler, HTTPServer\n"
        "class H(BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        body = json.dumps({'app': 'greeter', 'guid': os.environ['CF_INSTANCE_GUID']}).encode()\n"
        "        self.send_response(200); self.send_header('Content-Length', str(len(body)))\n"
        "        self.end_headers(); self.wfile.write(body)\n"
        "HTTPServer(('0.0.0.0', int(os.environ['PORT'])), H).serve_forever()\n")
    out = cf("push", "greeter", "-p", str(app)).stdout
    assert "greeter" in out
    return app


def greeter(cfg, host="greeter.apps.internal"):
    status, _, body = through_router(cfg, host)
    return json.loads(body) if status == 200 else None


def test_pushed_app_answers_through_the_router(cfg, pushed):
    assert wait_for(lambda: greeter(cfg), 60, what="greeter through the router")["app"] == "greeter"


def test_scale_to_three_and_see_three_instance_guids(cfg, cf, pushed):
    cf("scale", "greeter", "-i", "3")
    seen: set[str] = set()

    def three():
        me = greeter(cfg)
        if me:
            seen.add(me["guid"])
        return len(seen) == 3
    wait_for(three, 120, interval=0.1, what="three instance guids answering")
    assert "#2" in cf("app", "greeter").stdout


def test_map_and_unmap_a_route(cfg, cf, pushed):
    cf("map-route", "greeter", cfg.apps_domain, "--hostname", "hi")
    wait_for(lambda: greeter(cfg, "hi.apps.internal"), 60, what="the mapped route")
    cf("unmap-route", "greeter", cfg.apps_domain, "--hostname", "hi")
    wait_for(lambda: through_router(cfg, "hi.apps.internal")[0] == 404, 60,
             what="the unmapped route to 404")


def test_bad_input_fails_cleanly(cf, tmp_path):
    proc = cf("push", "ghost", "-p", str(tmp_path / "missing"), check=False)
    assert proc.returncode != 0 and "FAILED" in proc.stdout + proc.stderr
    assert "ghost" not in cf("apps").stdout
    assert cf("scale", "nope", "-i", "2", check=False).returncode != 0
    assert cf("scale", "greeter", "-i", "-1", check=False).returncode != 0


def test_stop_and_delete_leave_nothing_behind(foundation, cfg, cf, pushed):
    pgs = [d["process_guid"] for d in bbs(cfg, "GET", "/v1/desired_lrps")
           if any("greeter.apps.internal" in r.get("hostnames", [])
                  for r in (d.get("routes") or {}).get("cf-router", []))]
    guids = {lrp["instance_guid"] for pg in pgs
             for lrp in bbs(cfg, "GET", f"/v1/actual_lrps?process_guid={pg}")}
    assert guids
    cf("stop", "greeter")
    cf("delete", "greeter", "-f")

    def gone():
        ps = subprocess.run(["docker", "ps", "-aq", "--filter",
                             f"label=cflab.foundation={cfg.project}", "--filter",
                             "label=cflab.role=lrp"], capture_output=True, text=True).stdout
        names = subprocess.run(["docker", "inspect", "-f", "{{.Name}}", *ps.split()],
                               capture_output=True, text=True).stdout if ps.split() else ""
        return not any(g in names for g in guids)
    wait_for(gone, 60, what="the containers to go")
    for cell in cfg.cell_names:
        container = foundation.job_states()[cell]["container"]
        rules = inside(container).run("iptables -t nat -nL CFLAB-DNAT").stdout
        assert not any(g in rules for g in guids), rules
    assert through_router(cfg, "greeter.apps.internal")[0] in (404, 503)
