"""The real `cf` against the CC (HTTPS on loopback), the real BBS and a fake cell."""

from __future__ import annotations

import io
import json
import os
import tarfile

from cc_harness import wait_for


def app_dir(tmp, name="hello", procfile=None, size=0):
    d = tmp / name
    d.mkdir()
    (d / "app.py").write_text("print('hello')\n")
    if procfile:
        (d / "Procfile").write_text(procfile)
    if size:
        (d / "blob.bin").write_bytes(os.urandom(size))
    return d


def env_of(lrp):
    return {e["name"]: e["value"] for e in lrp["env"]}


def test_push_creates_desired_lrp_with_recipe(foundation, cf, tmp_path):
    d = app_dir(tmp_path, procfile="web: python3 server.py --port $PORT\n")
    r = cf("push", "hello", "-p", str(d), "-i", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Pushing app hello to org cflab-org / space dev as admin..." in r.stdout
    assert "Waiting for app hello to start..." in r.stdout
    assert "hello.apps.internal" in r.stdout
    assert "#0   running" in r.stdout
    [lrp] = foundation.desired()
    app = foundation.cc_get("/v2/apps?q=name:hello")[1]["resources"][0]
    guid = app["metadata"]["guid"]
    org = foundation.cc_get("/v2/organizations")[1]["resources"][0]["metadata"]["guid"]
    space = foundation.cc_get("/v2/spaces")[1]["resources"][0]["metadata"]["guid"]
    assert lrp["process_guid"].startswith(guid + "-")
    assert lrp["instances"] == 2 and lrp["domain"] == "cf-apps"
    assert lrp["ports"] == [8080, 2222]
    assert lrp["routes"]["cf-router"][0]["hostnames"] == ["hello.apps.internal"]
    assert lrp["certificate_properties"]["organizational_unit"] == [
        f"organization:{org}", f"space:{space}", f"app:{guid}"]
    assert lrp["action"]["run"]["args"] == ["/home/vcap/app", "python3 server.py --port $PORT", ""]
    vcap = json.loads(env_of(lrp)["VCAP_APPLICATION"])
    assert vcap["application_id"] == guid and vcap["application_uris"] == ["hello.apps.internal"]
    # the cell fetched the bits over plain HTTP and got the folder back
    url, status, data = foundation.cell.downloads[0]
    assert url == lrp["setup"]["download"]["from"] and status == 200
    names = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz").getnames()
    assert "app.py" in names and "Procfile" in names
    # strict mode: no unproxied port in the v2 stats
    stats = foundation.cc_get(f"/v2/apps/{guid}/stats")[1]
    running = [s for s in stats.values() if s["state"] == "RUNNING"]
    assert running and all(s["stats"]["port"] == 0 for s in running)
    assert running[0]["stats"]["host"] == "10.244.0.10"

    r = cf("apps")
    assert r.returncode == 0
    assert "Getting apps in org cflab-org / space dev as admin..." in r.stdout
    assert "hello" in r.stdout and "started" in r.stdout


def test_scale_routes_stop_start_delete(foundation, cf, tmp_path):
    d = app_dir(tmp_path)
    assert cf("push", "web", "-p", str(d)).returncode == 0
    [lrp] = foundation.desired()
    pg = lrp["process_guid"]
    assert lrp["action"]["run"]["args"][1] == "python3 app.py"

    r = cf("scale", "web", "-i", "3")
    assert r.returncode == 0 and "OK" in r.stdout
    assert foundation.desired()[0]["instances"] == 3
    assert foundation.desired()[0]["process_guid"] == pg  # no restart

    r = cf("map-route", "web", "apps.internal", "--hostname", "www", "--path", "/v1")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: foundation.desired()[0]["routes"]["cf-router"][0]["hostnames"]
             == ["web.apps.internal", "www.apps.internal/v1"], what="route mapped")
    assert foundation.desired()[0]["process_guid"] == pg
    r = cf("routes")
    assert "www" in r.stdout and "/v1" in r.stdout
    r = cf("unmap-route", "web", "apps.internal", "--hostname", "www", "--path", "/v1")
    assert r.returncode == 0, r.stderr
    assert foundation.desired()[0]["routes"]["cf-router"][0]["hostnames"] == ["web.apps.internal"]

    r = cf("stop", "web")
    assert r.returncode == 0 and "OK" in r.stdout
    assert foundation.desired() == []
    r = cf("start", "web")
    assert r.returncode == 0, r.stderr
    [lrp2] = foundation.desired()
    assert lrp2["process_guid"] != pg and lrp2["instances"] == 3
    r = cf("restart", "web")
    assert r.returncode == 0, r.stderr
    [lrp3] = foundation.desired()
    assert lrp3["process_guid"] not in (pg, lrp2["process_guid"])

    r = cf("app", "web")
    assert r.returncode == 0
    rows = [line.split() for line in r.stdout.splitlines() if line.startswith("#")]
    assert len(rows) == 3 and all(row[1] == "running" and row[4:6] == ["0", "of"] for row in rows)

    r = cf("env", "web")
    assert r.returncode == 0 and "VCAP_APPLICATION" in r.stdout

    r = cf("curl", "/v2/info")
    assert r.returncode == 0 and json.loads(r.stdout)["api_version"]

    r = cf("delete", "web", "-f")
    assert r.returncode == 0
    assert foundation.desired() == []
    assert foundation.cc_get("/v2/apps")[1]["total_results"] == 0
    assert not any((foundation.tmp / "bits").iterdir())


def test_bad_inputs(foundation, cf, tmp_path):
    r = cf("push", "ghost", "-p", str(tmp_path / "missing"))
    assert r.returncode == 1 and "FAILED" in r.stderr and "does not exist" in r.stderr
    big = app_dir(tmp_path, "big", size=600 * 1024)
    r = cf("push", "big", "-p", str(big))
    assert r.returncode == 1 and "may not be larger than" in r.stderr
    assert foundation.cc_get("/v2/apps")[1]["total_results"] == 0  # nothing half-created

    r = cf("app", "nope")
    assert r.returncode == 1 and "App 'nope' not found." in r.stderr
    r = cf("scale", "nope", "-i", "2")
    assert r.returncode == 1 and "not found" in r.stderr
    d = app_dir(tmp_path)
    assert cf("push", "ok", "-p", str(d), "--no-start").returncode == 0
    assert foundation.desired() == []
    r = cf("scale", "ok", "-i", "-1")
    assert r.returncode == 1 and "zero or more" in r.stderr
    r = cf("map-route", "ok", "no.such.domain", "--hostname", "x")
    assert r.returncode == 1 and "Domain 'no.such.domain' not found." in r.stderr
    r = cf("unmap-route", "ok", "apps.internal", "--hostname", "never")
    assert r.returncode == 1 and "not found" in r.stderr
    r = cf("map-route", "ok", "apps.internal", "--hostname", "bad_host!")
    assert r.returncode == 1 and "route is invalid" in r.stderr
    status, body = foundation.cc_get("/v2/apps/does-not-exist")
    assert status == 404 and body["error_code"] == "CF-AppNotFound"
    status, body = foundation.cc_get("/v3/apps/does-not-exist")
    assert status == 404 and body["errors"][0]["title"] == "CF-AppNotFound"

    # oversized bits straight to the API: CF-style 413, app untouched
    guid = foundation.cc_get("/v2/apps?q=name:ok")[1]["resources"][0]["metadata"]["guid"]
    from cc_harness import http
    status, body = http("PUT", f"{foundation.api}/v2/apps/{guid}/bits", ctx=foundation.ssl,
                        raw=os.urandom(300 * 1024), token=foundation.token)
    assert status == 413 and body["error_code"] == "CF-AppBitsTooLarge"
    status, body = http("PUT", f"{foundation.api}/v2/apps/{guid}/bits", ctx=foundation.ssl,
                        raw=b"not a tarball", token=foundation.token)
    assert status == 400 and body["error_code"] == "CF-AppBitsUploadInvalid"
    # name clash through the API
    space = foundation.cc_get("/v2/spaces")[1]["resources"][0]["metadata"]["guid"]
    status, body = http("POST", f"{foundation.api}/v2/apps", {"name": "ok", "space_guid": space},
                        ctx=foundation.ssl, token=foundation.token)
    assert status == 400 and body["error_code"] == "CF-AppNameTaken"


def test_unreachable_api(tmp_path):
    import subprocess
    import sys

    from cc_harness import REPO, free_port
    home = tmp_path / "home"
    (home / ".cf").mkdir(parents=True)
    (home / ".cf" / "config.json").write_text(json.dumps({
        "Target": f"https://127.0.0.1:{free_port()}", "AccessToken": "bearer x"}))
    r = subprocess.run([sys.executable, "-m", "foundry.cli.cf", "apps"], capture_output=True,
                       text=True, env={**os.environ, "CF_HOME": str(home), "PYTHONPATH": str(REPO)},
                       timeout=30)
    assert r.returncode == 1 and "FAILED" in r.stderr and "Request error" in r.stderr
