"""Switching route-integrity modes on a running foundation (runs last: it changes the mode)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.helpers import bbs, cflab, identity_lrp, through_router, wait_for

APP_DIR = Path(__file__).resolve().parents[2] / "foundry" / "apps" / "identity"

pytestmark = pytest.mark.e2e
PG, HOST = "e2e-modes-pg", "modes.apps.internal"


def running(cfg):
    return [x for x in bbs(cfg, "GET", f"/v1/actual_lrps?process_guid={PG}") if x["state"] == "RUNNING"]


@pytest.fixture(scope="module")
def app(foundation, cfg, cf):
    bbs(cfg, "POST", "/v1/desired_lrps", identity_lrp(PG, "modes-app", HOST, "modes"))
    cf("push", "modes-cf", "-p", str(APP_DIR))
    wait_for(lambda: through_router(cfg, HOST)[0] == 200, 90, what="the app through the router")
    yield PG
    # The session's foundation is shared: the modules after this one (the seed's
    # procedures read host_tls_proxy_port and CF_INSTANCE_PORTS) expect its own mode back.
    cflab("mode", cfg.mode)


def v2_stats(cf) -> dict:
    apps = json.loads(cf("curl", "/v2/apps").stdout)["resources"]
    guid = next(a["metadata"]["guid"] for a in apps if a["entity"]["name"] == "modes-cf")
    return json.loads(cf("curl", f"/v2/apps/{guid}/stats").stdout)


def serves_new_instance(cfg, old_guids):
    lrps = running(cfg)
    if not lrps or {x["instance_guid"] for x in lrps} & old_guids:
        return None
    status, _, body = through_router(cfg, HOST)
    return lrps[0] if status == 200 and json.loads(body)["instance_guid"] == lrps[0]["instance_guid"] else None


def test_strict_mode_serves_and_refuses_clients_without_a_certificate(foundation, cfg, app):
    old = {x["instance_guid"] for x in running(cfg)}
    cflab("mode", "strict")
    lrp = wait_for(lambda: serves_new_instance(cfg, old), 120, what="a strict-mode instance")
    assert [p["host_port"] for p in lrp["ports"]] == [0, 0]
    tls_port = lrp["ports"][0]["host_tls_proxy_port"]
    cell = foundation.job_states()[lrp["cell_id"]]["container"]
    direct = subprocess.run(["docker", "exec", cell, "curl", "-sSk", "-o", "/dev/null", "-m", "5",
                             f"https://{lrp['address']}:{tls_port}/"],
                            capture_output=True, text=True)
    # the proxy demands the router's client certificate: the TLS exchange ends in an alert
    # (35: handshake failed, 56: TLS 1.3's post-handshake "certificate required"), not a
    # timeout (28) or a refused connection (7)
    assert direct.returncode in (35, 56), (direct.returncode, direct.stderr)
    assert "alert" in direct.stderr, direct.stderr
    assert "mode: strict" in cflab("status").stdout


EXTRACT = ("import yaml; c = yaml.safe_load(open('/var/vcap/jobs/gorouter/config/gorouter.yml'));"
           "open('/tmp/cert', 'w').write(c['backends']['cert_chain']);"
           "open('/tmp/key', 'w').write(c['backends']['private_key'])")


def test_strict_mode_seed_procedure_from_the_router(foundation, cfg, app):
    """Issue 13 A3, the seed's procedure as written: extract backends.cert_chain and
    backends.private_key from gorouter.yml to files; from the router, curl the instance's
    TLS proxy port with them (200); without the client certificate the handshake fails."""
    lrp = wait_for(lambda: (running(cfg) or [None])[0], 60, what="the strict-mode instance")
    url = f"https://{lrp['address']}:{lrp['ports'][0]['host_tls_proxy_port']}"
    router = foundation.job_states()["router"]["container"]

    def in_router(*cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", "exec", router, *cmd], capture_output=True, text=True,
                              timeout=60)

    assert in_router("python3", "-c", EXTRACT).returncode == 0
    curl = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10",
            "-H", f"Host: {HOST}", url]
    with_cert = in_router(*curl, "--cert", "/tmp/cert", "--key", "/tmp/key", "-k")
    assert (with_cert.returncode, with_cert.stdout) == (0, "200"), with_cert.stderr
    without = in_router(*curl, "-k")
    # refused in the TLS exchange (35, or 56 for TLS 1.3's "certificate required" alert)
    assert without.returncode in (35, 56) and without.stdout == "000", without


def test_strict_mode_stats_show_no_port_as_pcf_2_3_did(foundation, cfg, cf, app):
    def running_stats():
        stats = v2_stats(cf)
        return stats if stats and all(s["state"] == "RUNNING" for s in stats.values()) else None
    stats = wait_for(running_stats, 120, what="modes-cf RUNNING again in strict mode")
    assert [s["stats"]["port"] for s in stats.values()] == [0]
    assert through_router(cfg, "modes-cf.apps.internal")[0] == 200
    # the seed's command text: the guid from `cf app --guid`, then CC's v2 stats
    env = dict(os.environ, CF_HOME=str(foundation.cf_home),
               PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    proc = subprocess.run(["bash", "-c", "cf curl /v2/apps/$(cf app modes-cf --guid)/stats"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert [s["stats"]["port"] for s in json.loads(proc.stdout).values()] == [0]


def test_before_envoy_mode_has_no_proxy(foundation, cfg, app):
    old = {x["instance_guid"] for x in running(cfg)}
    cflab("mode", "before-envoy")
    lrp = wait_for(lambda: serves_new_instance(cfg, old), 120, what="a before-envoy instance")
    assert all(p["container_tls_proxy_port"] == 0 for p in lrp["ports"])
    listening = subprocess.run(["docker", "exec", lrp["instance_guid"], "netstat", "-ltn"],
                               capture_output=True, text=True).stdout
    assert "0.0.0.0:8080" in listening and ":61001" not in listening
