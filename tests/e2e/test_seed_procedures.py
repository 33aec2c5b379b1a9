"""The seed's look-around procedures, run as their command text is written: cfdot piped
into jq on a cell, `echo $CF_INSTANCE_PORTS` in a `cf ssh` session, `cf ssh -c env` read
by a real CF client library (cfenv), `cf app --guid`, and the instance certificate's
Subject as openssl prints it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.e2e.helpers import bbs, through_router, wait_for

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
APP_DIR = REPO / "foundry" / "apps" / "identity"
NAME, HOST = "seed-hello", "seed-hello.apps.internal"
SEED_CFDOT = ("cfdot actual-lrp-groups | jq 'select(.instance.process_guid | contains(\"{guid}\"))'"
              " | jq '[.instance.address, .instance.ports[0].host_tls_proxy_port]"
              " | \"https://\\(.[0]):\\(.[1])\"'")
READ_ONLY = ["actual-lrp-groups", "actual-lrps", "desired-lrps", "desired-lrp-scheduling-infos",
             "cells", "cell-states", "domains"]


@pytest.fixture(scope="module")
def sh(foundation):
    """bash on the host with the foundation's `cf` (and cflab's venv) first on PATH."""
    foundation.write_cf_config()
    env = dict(os.environ, CF_HOME=str(foundation.cf_home),
               PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}")

    def run(script: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-c", script], input=stdin, capture_output=True,
                              text=True, env=env, timeout=120)
    return run


def running(cfg, app_guid):
    return sorted((x for x in bbs(cfg, "GET", "/v1/actual_lrps")
                   if x["process_guid"].startswith(app_guid) and x["state"] == "RUNNING"),
                  key=lambda x: x["index"])


@pytest.fixture(scope="module")
def app(foundation, cfg, cf, sh):
    cf("push", NAME, "-p", str(APP_DIR))
    guid = sh(f"cf app {NAME} --guid").stdout.strip()
    lrps = wait_for(lambda: running(cfg, guid), 90, what=f"{NAME} RUNNING")
    wait_for(lambda: through_router(cfg, HOST)[0] == 200, 60, what=f"{NAME} through the router")
    return guid, lrps[0]


def on_cell(foundation, lrp, script: str) -> subprocess.CompletedProcess:
    cell = foundation.job_states()[lrp["cell_id"]]["container"]
    return subprocess.run(["docker", "exec", cell, "sh", "-c", script], capture_output=True,
                          text=True, timeout=60)


def test_cf_app_guid_prints_the_guid(cf, app):
    guid, _ = app
    apps = json.loads(cf("curl", "/v2/apps").stdout)["resources"]
    assert guid == next(a["metadata"]["guid"] for a in apps if a["entity"]["name"] == NAME)


def test_seed_cfdot_jq_pipeline_prints_the_instance_url(foundation, app):
    guid, lrp = app
    proc = on_cell(foundation, lrp, SEED_CFDOT.format(guid=guid))
    assert proc.returncode == 0, proc.stderr
    url = f"https://{lrp['address']}:{lrp['ports'][0]['host_tls_proxy_port']}"
    assert proc.stdout.splitlines() == [json.dumps(url)]
    # the URL reaches that instance (after-envoy: TLS, no client certificate asked)
    who = on_cell(foundation, lrp, f"curl -sk {json.loads(proc.stdout)}/")
    assert json.loads(who.stdout)["instance_guid"] == lrp["instance_guid"]


def test_read_only_cfdot_commands_print_json_lines_on_a_cell(foundation, app):
    guid, lrp = app
    pg = lrp["process_guid"]
    for cmd in [*READ_ONLY, f"actual-lrp-groups-for-guid {pg}", f"actual-lrp-groups-for-guid {pg}"
                " -i 0", f"desired-lrp {pg}"]:
        proc = on_cell(foundation, lrp, f"cfdot {cmd}")
        assert proc.returncode == 0, (cmd, proc.stderr)
        lines = [json.loads(line) for line in proc.stdout.splitlines()]
        assert lines, cmd
    assert json.loads(on_cell(foundation, lrp, f"cfdot desired-lrp {pg}").stdout)[
        "process_guid"] == pg
    states = [json.loads(x) for x in on_cell(foundation, lrp, "cfdot cell-states").stdout.split()]
    assert lrp["instance_guid"] in {x["instance_guid"] for s in states for x in s["LRPs"]}
    missing = on_cell(foundation, lrp, "cfdot desired-lrp no-such-guid")
    assert missing.returncode == 4 and "ResourceNotFound" in missing.stderr
    piped = on_cell(foundation, lrp, "cfdot actual-lrps | head -1")
    assert piped.returncode == 0 and piped.stderr == ""
    assert json.loads(piped.stdout)["state"] in ("RUNNING", "CLAIMED", "UNCLAIMED", "CRASHED")


def test_lrp_events_stream_a_new_instance_and_cf_ssh_reaches_it(foundation, cfg, cf, sh, app):
    """`cfdot lrp-events` on a cell sees `cf scale` create index 1; `cf ssh -i 1` is there."""
    guid, lrp = app
    cell = foundation.job_states()[lrp["cell_id"]]["container"]
    events = subprocess.Popen(["docker", "exec", cell, "timeout", "60", "cfdot", "lrp-events",
                               "--exclude-actual-lrp-groups"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[dict] = []
    threading.Thread(target=lambda: [seen.append(json.loads(x)) for x in events.stdout],
                     daemon=True).start()
    try:
        wait_for(lambda: on_cell(foundation, lrp, "pgrep -f 'cfdot lrp-events'").stdout, 20,
                 what="cfdot lrp-events running on the cell")
        cf("scale", NAME, "-i", "2")

        def index_1_event():
            # created (UNCLAIMED) if the stream's first snapshot came before the scale,
            # else the instance's change to RUNNING, which comes seconds later
            return [e for e in seen if e["type"] in ("actual_lrp_instance_created",
                                                     "actual_lrp_instance_changed")
                    and e["data"].get("process_guid", e["data"].get("actual_lrp", {}).get(
                        "process_guid")) == lrp["process_guid"]
                    and e["data"].get("index", e["data"].get("actual_lrp", {}).get("index")) == 1]
        wait_for(index_1_event, 40, what="an lrp-events line for index 1")
    finally:
        events.kill()
    assert all(not e["type"].startswith("actual_lrp_") or "instance" in e["type"]
               or e["type"] == "actual_lrp_crashed" for e in seen)  # -x drops group events
    second = wait_for(lambda: running(cfg, guid)[1:], 90, what="index 1 RUNNING")[0]
    proc = sh(f"cf ssh {NAME} -i 1 -c 'echo $CF_INSTANCE_INDEX $CF_INSTANCE_GUID'")
    assert proc.stdout.split() == ["1", second["instance_guid"]], proc.stderr


def test_echo_cf_instance_ports_in_a_cf_ssh_session(sh, app):
    """The seed types `echo $CF_INSTANCE_PORTS` into `cf ssh`'s shell."""
    _, lrp = app
    proc = sh(f"cf ssh {NAME}", stdin="echo $CF_INSTANCE_PORTS\n")
    assert proc.returncode == 0, proc.stderr
    ports = json.loads(proc.stdout)
    by_internal = {p["internal"]: p for p in ports}
    for m in lrp["ports"]:
        assert by_internal[m["container_port"]]["external_tls_proxy"] == m["host_tls_proxy_port"]
        assert by_internal[m["container_port"]]["internal_tls_proxy"] == \
            m["container_tls_proxy_port"]


CFENV_READER = """\
import json, os, sys, cfenv
os.environ.clear()
os.environ.update(line.split("=", 1) for line in sys.stdin.read().splitlines() if "=" in line)
e = cfenv.AppEnv()
print(json.dumps({"name": e.name, "uris": e.uris, "port": e.port, "index": e.index,
                  "home": os.environ["HOME"], "user": os.environ["USER"],
                  "path": os.environ["PATH"], "keys": sorted(os.environ)}))
"""


def test_cf_ssh_env_read_by_cfenv_gives_name_and_uris(sh, app, tmp_path):
    (tmp_path / "cfenv_reader.py").write_text(CFENV_READER)
    proc = sh(f"cf ssh {NAME} -c env | python3 {tmp_path / 'cfenv_reader.py'}")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert (got["name"], got["uris"], got["port"]) == (NAME, [HOST], 8080)
    assert got["index"] == 0  # cf ssh without -i: instance 0 (cfenv gives ints)
    assert (got["home"], got["user"], got["path"]) == ("/home/vcap", "vcap", "/bin:/usr/bin")
    for key in ("CF_INSTANCE_GUID", "CF_INSTANCE_INDEX", "CF_INSTANCE_IP",
                "CF_INSTANCE_INTERNAL_IP", "CF_INSTANCE_PORTS", "CF_INSTANCE_CERT",
                "CF_INSTANCE_KEY", "VCAP_APPLICATION", "VCAP_SERVICES", "PORT", "HOME"):
        assert key in got["keys"], key
    whoami = sh(f"cf ssh {NAME} -c 'id -un; pwd; test -r $CF_INSTANCE_KEY && echo key'")
    assert whoami.stdout.split() == ["vcap", "/home/vcap", "key"], whoami.stderr


def test_instance_certificate_subject_as_openssl_prints_it(sh, app):
    guid, lrp = app
    proc = sh(f"cf ssh {NAME}", stdin="openssl x509 -noout -subject -in $CF_INSTANCE_CERT\n")
    subject = proc.stdout.strip()
    assert subject.startswith(f"subject=OU = app:{guid} + OU = space:"), (subject, proc.stderr)
    assert " + OU = organization:" in subject
    assert subject.endswith(f", CN = {lrp['instance_guid']}")
    direct = subprocess.run(["docker", "exec", lrp["instance_guid"], "openssl", "x509", "-noout",
                             "-subject", "-in", "/etc/cf-instance-credentials/instance.crt"],
                            capture_output=True, text=True, timeout=30)
    assert direct.stdout.strip() == subject


def test_readme_cfenv_line(sh, app):
    """The README's one-liner, as written there."""
    line = next(x for x in (REPO / "README.md").read_text().splitlines()
                if x.startswith("cf ssh hello -c env | python3 -c 'import cfenv"))
    proc = sh(line.replace("cf ssh hello ", f"cf ssh {NAME} "))
    assert proc.stdout.strip() == f"{NAME} ['{HOST}']", proc.stderr
