"""The foundation as a Docker stack on a single-node swarm (README, Swarm).

The engine is put in a swarm only if it is not in one, and leaves it only if this
test put it there, so it ends as it was found (also when a test fails: the fixture's
finalizer). `--default-addr-pool` keeps swarm's own networks (ingress) on a range no
cflab foundation or test uses (they use 10.228-10.255); the advertise address is
loopback, so the swarm's ports are not reachable from outside this machine.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import config, render
from orchestrator.foundation import Foundation
from orchestrator.scenario import schema
from orchestrator.scenario.results import PASSED
from orchestrator.scenario.runner import run_scenario
from tests.e2e.helpers import through_router, wait_for

# In plain `make test` (CFLAB_SWARM_E2E=0 leaves it out; `make swarm-test` runs it alone).
pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(os.environ.get("CFLAB_SWARM_E2E") == "0",
                                 reason="CFLAB_SWARM_E2E=0")]

ADDR_POOL = "10.212.0.0/16"
PROJECT = "cflab-swarm"
PORTS = {"http": 31080, "nats_monitor": 31222, "bbs": 31889, "cloud_controller": 31022,
         "uaa": 31024, "ssh_proxy": 31223, "dashboard": 31300}
PLACEMENT = {"engine": "swarm", "subnets": {"foundation": "10.214.0.0/24",
                                            "cell_containers": "10.213.0.0/16"},
             "ports": PORTS}
SCENARIO_PROJECT = "cflab-swarm-scn"
MARKER = render.STATE_ROOT / "swarm-made-by-test"
REPO = Path(__file__).resolve().parents[2]  # not the cwd: a test may have left it elsewhere


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check,
                          timeout=120)


def swarm_state() -> str:
    return docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()


@pytest.fixture(scope="module")
def swarm():
    """A swarm for the module: the engine's own, else a single-node one made here."""
    created = False
    had_gwbridge = docker("network", "inspect", "docker_gwbridge", check=False).returncode == 0
    if swarm_state() == "inactive":
        # .ci/run leaves a swarm this marker names, should this run be killed mid-test
        MARKER.parent.mkdir(parents=True, exist_ok=True)
        MARKER.write_text("swarm\n" + ("" if had_gwbridge else "gwbridge\n"))
        docker("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr",
               "127.0.0.1:2377", "--default-addr-pool", ADDR_POOL,
               "--default-addr-pool-mask-length", "24")
        created = True
    try:
        yield created
    finally:
        for project in (PROJECT, SCENARIO_PROJECT):
            Foundation(config.load(None, {**PLACEMENT, "project": project})).down()
        if created:
            docker("swarm", "leave", "--force", check=False)
            wait_for(lambda: swarm_state() == "inactive", timeout=30)
            if not had_gwbridge:  # swarm init made it; leave keeps it
                docker("network", "rm", "docker_gwbridge", check=False)
            MARKER.unlink(missing_ok=True)


def cflab(cfg_path: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "orchestrator.cli", "--config", str(cfg_path),
                           *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"cflab {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_up_push_route_down_on_a_swarm(swarm, tmp_path):
    cfg_path = tmp_path / "foundation.yml"
    cfg_path.write_text(json.dumps({"project": PROJECT, "cells": 1, "sample_apps": False,
                                    **PLACEMENT}))
    cfg = config.load(cfg_path)
    Foundation(cfg).down()
    cflab(cfg_path, "up", "--wait", "240")
    services = docker("service", "ls", "--filter",
                      f"label=com.docker.stack.namespace={PROJECT}", "--format",
                      "{{.Name}}").stdout.split()
    assert {f"{PROJECT}_router", f"{PROJECT}_cell-1", f"{PROJECT}_pki"} <= set(services)
    try:
        check_foundation(cfg_path, cfg)
    finally:
        cflab(cfg_path, "down")
    assert not docker("service", "ls", "-q", "--filter",
                      f"label=com.docker.stack.namespace={PROJECT}").stdout.split()
    for kind in ("ps", "network ls", "volume ls"):
        left = docker(*kind.split(), "-q", "--filter", f"label=cflab.foundation={PROJECT}")
        assert not left.stdout.split(), kind
    node = docker("info", "--format", "{{.Swarm.NodeID}}").stdout.strip()
    labels = json.loads(docker("node", "inspect", node).stdout)[0]["Spec"].get("Labels") or {}
    assert not [k for k in labels if k.startswith(f"cflab.{PROJECT}.")]


def check_foundation(cfg_path: Path, cfg: config.FoundationConfig) -> None:
    """Status, placement, a push and its route on the running stack."""
    foundation = Foundation(cfg)
    status = json.loads(cflab(cfg_path, "status", "--json").stdout)
    for job, st in status["jobs"].items():   # health: `up` ran the checks itself
        assert st["state"] == ("exited" if job == "pki" else "running"), (job, st)
        assert st["health"] != "unhealthy", (job, st)
    # each cell is pinned by its node label, which `up` put on this node
    node = docker("info", "--format", "{{.Swarm.NodeID}}").stdout.strip()
    labels = json.loads(docker("node", "inspect", node).stdout)[0]["Spec"]["Labels"]
    assert labels.get(f"cflab.{PROJECT}.cell-1") == "true"

    push = foundation.cf("push", "hello", "-p", str(REPO / "foundry" / "apps" / "identity"),
                         "-i", "1")
    assert push.returncode == 0, push.stderr
    host = f"hello.{cfg.apps_domain}"
    wait_for(lambda: through_router(cfg, host)[0] == 200, timeout=60)
    body = json.loads(through_router(cfg, host)[2])
    assert body["app_name"] == "hello", body
    # the cell reports its own task address on the foundation overlay (no virtual IP)
    assert ipaddress.ip_address(body["cell_ip"]) in cfg.foundation_subnet, body
    # the app container is the rep's, on its cell's overlay network, labelled cflab's
    app = docker("ps", "-q", "--filter", f"label=cflab.foundation={PROJECT}", "--filter",
                 "label=cflab.role=lrp").stdout.split()
    assert len(app) == 1
    nets = json.loads(docker("inspect", app[0]).stdout)[0]["NetworkSettings"]["Networks"]
    assert f"{PROJECT}_cell-1-containers" in nets


@pytest.mark.parametrize("mode", ["before-envoy", "strict"])
def test_stale_route_port_reuse_on_a_swarm(swarm, mode, tmp_path):
    sc = schema.load_file(schema.discover()["stale-route-port-reuse"])
    placement = {**PLACEMENT, "subnets": {"foundation": "10.216.0.0/24",
                                          "cell_containers": "10.215.0.0/16"},
                 "ports": {k: v + 100 for k, v in PORTS.items()}}
    results = run_scenario(sc, [mode], out=tmp_path, project=SCENARIO_PROJECT,
                           placement=placement)
    r = results[0]
    assert r.error == "", r.error
    assert r.status == PASSED, [o.expectation + " " + str(o.actual) for o in r.outcomes]
    assert (r.counts.misrouted > 0) == (mode == "before-envoy"), r.counts
    assert not docker("service", "ls", "-q", "--filter",
                      f"label=com.docker.stack.namespace={SCENARIO_PROJECT}").stdout.split()
