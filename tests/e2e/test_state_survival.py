"""State survives what it survives on Cloud Foundry.

A restart of the BBS, the Cloud Controller, CredHub (and UAA when there is one) keeps
desired LRPs, apps, routes, service bindings and credentials: each keeps its state in
a database on disk, as on CF. A restarted cell brings its instances back: its rep
starts again, the BBS and convergence place the missing instances, and every route
answers again.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.helpers import bbs, through_router, wait_for

pytestmark = pytest.mark.e2e
APP_DIR = str(Path(__file__).resolve().parents[2] / "foundry" / "apps" / "identity")
HOST = "keep.apps.internal"
STATEFUL = ("bbs", "cloud-controller", "credhub", "uaa")


def credentials(cfg) -> dict:
    """The bound credentials the running app shows (secrets masked)."""
    status, _, body = through_router(cfg, HOST)
    return json.loads(body).get("service_credentials") if status == 200 else {}


def instances_answering(cfg, n: int) -> bool:
    seen = set()
    for _ in range(6 * n):
        status, headers, _ = through_router(cfg, HOST)
        if status != 200:
            return False
        seen.add(headers["X-Cf-Instance-Guid"])
    return len(seen) == n


def apps(text: str) -> list[tuple[str, ...]]:
    """`cf apps` rows without the running count (it moves while instances restart)."""
    rows = []
    for line in text.splitlines():
        cols = line.split()
        if len(cols) >= 3 and "/" in cols[2]:
            rows.append((cols[0], cols[1], cols[2].split("/")[1], *cols[3:]))
    return rows


def snapshot(cfg, cf) -> dict:
    desired = {d["process_guid"]: d["instances"] for d in bbs(cfg, "GET", "/v1/desired_lrps")}
    return {"desired": desired, "apps": apps(cf("apps").stdout),
            "routes": cf("routes").stdout.split("\n", 2)[-1],
            "services": cf("services").stdout.split("\n", 2)[-1],
            "binding": cf("env", "keep").stdout.split("VCAP_SERVICES", 1)[-1]}


@pytest.fixture(scope="module")
def kept(foundation, cfg, cf) -> dict:
    cf("push", "keep", "-p", APP_DIR, "-i", "2")
    cf("create-service", "cflab-db", "small", "keep-db")
    cf("bind-service", "keep", "keep-db")
    cf("restart", "keep")
    wait_for(lambda: credentials(cfg), 90, what="keep running with its bound service")
    wait_for(lambda: instances_answering(cfg, 2), 90, what="both instances of keep routable")
    return {"state": snapshot(cfg, cf), "credentials": credentials(cfg)}


def test_restarting_bbs_cc_credhub_keeps_their_state(foundation, cfg, cf, kept) -> None:
    jobs = foundation.job_states()
    restarted = [jobs[j]["container"] for j in STATEFUL if j in jobs]
    assert len(restarted) >= 3, sorted(jobs)
    subprocess.run(["docker", "restart", "-t", "5", *restarted], check=True,
                   capture_output=True, timeout=120)
    foundation.wait_healthy(120)
    wait_for(lambda: cf("apps", check=False).returncode == 0, 60, what="the CC answering")
    assert snapshot(cfg, cf) == kept["state"]
    # The app restarts: its launcher fetches the credentials from the restarted CredHub.
    cf("restart", "keep")
    wait_for(lambda: instances_answering(cfg, 2), 90, what="keep routable after restart")
    wait_for(lambda: credentials(cfg) == kept["credentials"], 60,
             what="the same credentials from CredHub")


def keep_process_guid(cfg) -> str:
    return next(d["process_guid"] for d in bbs(cfg, "GET", "/v1/desired_lrps")
                if HOST in json.dumps(d.get("routes")))


def test_a_restarted_cell_brings_its_instances_back(foundation, cfg, cf, kept) -> None:
    before = snapshot(cfg, cf)
    pg = keep_process_guid(cfg)
    cell = foundation.job_states()["cell-1"]["container"]
    subprocess.run(["docker", "restart", "-t", "5", cell], check=True, capture_output=True,
                   timeout=120)

    def running() -> bool:
        lrps = bbs(cfg, "GET", f"/v1/actual_lrps?process_guid={pg}")
        return sum(1 for a in lrps if a["state"] == "RUNNING") == 2

    wait_for(running, 120, what="both instances RUNNING after the cell restart")
    wait_for(lambda: instances_answering(cfg, 2), 120, what="both instances routable again")
    assert snapshot(cfg, cf)["desired"] == before["desired"]
