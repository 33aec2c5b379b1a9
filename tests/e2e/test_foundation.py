"""The skeleton on a real engine: NATS answers, networks and labels, secrets and their modes."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest
import testinfra

from foundry.pki import bundle
from tests.e2e.helpers import cflab, docker_json, wait_for

pytestmark = pytest.mark.e2e


def test_every_job_is_healthy(foundation, jobs):
    assert "nats" in jobs
    assert (jobs["pki"]["state"], jobs["pki"]["exit_code"]) == ("exited", 0)  # the PKI step ran
    # Docker runs no job's check (each an exec the engine pays for); cflab runs them
    states = foundation.job_states()
    assert {job: v["checked_by"] for job, v in states.items() if job != "pki"} == {
        job: "cflab" for job in states if job != "pki"}
    for job in ("nats", "bbs", "router"):
        inspected = docker_json("inspect", states[job]["container"])[0]["Config"]
        assert inspected["Healthcheck"]["Test"] == ["NONE"], job
        assert states[job]["check"], job  # the check itself rides in a label

    def all_healthy():  # each job's own check, run by cflab
        states = foundation.checked_states()
        return all(v["state"] == "running" and v["health"] == "healthy"
                   for job, v in states.items() if job != "pki")
    wait_for(all_healthy, 60, interval=1.0, what="every job's own health check to pass")


def test_nats_server_answers_inside_and_on_loopback(foundation, jobs, cfg):
    host = testinfra.get_host(f"docker://{jobs['nats']['container']}")
    assert host.process.filter(comm="nats-server")
    varz = json.loads(host.check_output("curl -fsS http://127.0.0.1:8222/varz"))
    assert varz["port"] == 4222
    assert varz["version"].startswith("2.")
    with urllib.request.urlopen(f"http://127.0.0.1:{cfg.ports['nats_monitor']}/healthz", timeout=5) as r:
        assert json.load(r) == {"status": "ok"}


def test_published_ports_bind_loopback_only(jobs):
    for state in jobs.values():
        info = docker_json("inspect", state["container"])[0]
        for bindings in (info["HostConfig"]["PortBindings"] or {}).values():
            assert all(b["HostIp"] == "127.0.0.1" for b in bindings), bindings


def test_foundation_network_has_the_configured_subnet_and_label(foundation, cfg):
    net = docker_json("network", "inspect", f"{cfg.project}_foundation")[0]
    assert [c["Subnet"] for c in net["IPAM"]["Config"]] == [str(cfg.foundation_subnet)]
    assert net["Labels"]["cflab.foundation"] == cfg.project


def test_every_container_and_volume_carries_the_foundation_label(foundation, cfg, jobs):
    for state in jobs.values():
        labels = docker_json("inspect", state["container"])[0]["Config"]["Labels"]
        assert labels["cflab.foundation"] == cfg.project
    vols = subprocess.run(["docker", "volume", "ls", "-q", "--filter",
                           f"label=cflab.foundation={cfg.project}"],
                          capture_output=True, text=True, check=True).stdout.split()
    secrets = [f"{cfg.project}_secrets-{j.replace('_', '-')}" for j in ["pki", *bundle.JOB_FILES]]
    stores = [f"{cfg.project}_{job}-store"
              for job in ("bbs", "cloud-controller", "credhub", "service-broker")]
    logs = [f"{cfg.project}_router-logs"]  # the router's access log, read by the dashboard
    assert sorted(vols) == sorted([*secrets, *stores, *logs])


@pytest.mark.parametrize("job", sorted(bundle.JOB_FILES))
def test_secrets_volume_holds_each_jobs_files_with_modes(foundation, cfg, job):
    volume = f"{cfg.project}_secrets-{job.replace('_', '-')}"
    out = subprocess.run(
        ["docker", "run", "--rm", "--label", f"cflab.foundation={cfg.project}",
         "-v", f"{volume}:/s:ro", "cflab/base:latest", "stat", "-c", "%a %n", "/s/", "--",
         *[f"/s/{name}" for name in bundle.JOB_FILES[job]]],
        capture_output=True, text=True, check=True).stdout.split("\n")
    modes = dict(reversed(line.split(" ", 1)) for line in out if line)
    assert modes.pop("/s/") == "750"
    for name in bundle.JOB_FILES[job]:
        assert modes[f"/s/{name}"] == ("600" if name.endswith(".key") else "644")


def test_status_shows_jobs_and_mode(foundation, cfg):
    jobs = {"nats", "router", "bbs", "cloud-controller", "credhub"} | {
        f"cell-{n}" for n in range(1, cfg.cells + 1)}

    def table():
        out = cflab("status").stdout.splitlines()
        assert f"mode: {cfg.mode}" in out[0]
        rows = {line.split()[0]: line.split()[1:3] for line in out[2:] if line.strip()}
        assert jobs <= set(rows), rows
        # Docker's own health state may still read "starting" for one check interval
        return rows if all(rows[job] == ["running", "healthy"] for job in jobs) else None

    rows = wait_for(table, 60, what="every job running and healthy in `cflab status`")
    assert all(rows[job] == ["running", "healthy"] for job in jobs)


def test_logs_of_an_unknown_job_is_a_clear_error(foundation):
    proc = cflab("logs", "no-such-job", check=False)
    assert proc.returncode == 2
    assert "no job 'no-such-job'" in proc.stderr


def test_up_refuses_a_clashing_subnet(foundation, cfg, tmp_path):
    clash = tmp_path / "clash.yml"
    clash.write_text(f"project: cflab-clash\nsubnets:\n  foundation: {cfg.foundation_subnet}\n"
                     "  cell_containers: 10.241.0.0/16\nports: {http: 18081, nats_monitor: 18223, bbs: 18890, cloud_controller: 19023, uaa: 19031, ssh_proxy: 12223, dashboard: 18301}\n")
    proc = subprocess.run([sys.executable, "-m", "orchestrator.cli", "--config", str(clash), "up"],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "subnets.foundation" in proc.stderr and "clashes" in proc.stderr


def test_up_refuses_a_taken_port(foundation, cfg, tmp_path):
    taken = tmp_path / "taken.yml"
    taken.write_text("project: cflab-taken\nsubnets:\n  foundation: 10.240.0.0/24\n"
                     "  cell_containers: 10.239.0.0/16\n"
                     f"ports: {{http: 18082, bbs: 18891, cloud_controller: 19024, uaa: 19032, ssh_proxy: 12224, dashboard: 18302, nats_monitor: {cfg.ports['nats_monitor']}}}\n")
    proc = subprocess.run([sys.executable, "-m", "orchestrator.cli", "--config", str(taken), "up"],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "ports.nats_monitor" in proc.stderr and "already in use" in proc.stderr
