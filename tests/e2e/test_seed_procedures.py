"""The seed's look-around procedures, run as their command text is written: cfdot piped
into jq on a cell, the read-only cfdot commands, `cf app --guid`, and the instance
certificate's Subject as openssl prints it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def test_instance_certificate_subject_as_openssl_prints_it(app):
    guid, lrp = app
    proc = subprocess.run(["docker", "exec", lrp["instance_guid"], "openssl", "x509", "-noout",
                           "-subject", "-in", "/etc/cf-instance-credentials/instance.crt"],
                          capture_output=True, text=True, timeout=30)
    subject = proc.stdout.strip()
    assert subject.startswith(f"subject=OU = app:{guid} + OU = space:"), subject
    assert " + OU = organization:" in subject
    assert subject.endswith(f", CN = {lrp['instance_guid']}")
