"""The BBS's mutual TLS as rendered: every BBS client job names https and files the PKI
step really writes into that job's own secrets, and the BBS demands a certificate."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest
import yaml

from foundry.bbs.config import BBSConfig
from foundry.cloud_controller.config import CCConfig
from foundry.dashboard.config import from_dict as dashboard_config
from foundry.pki import bundle
from foundry.route_emitter.config import EmitterConfig
from foundry.ssh_proxy.config import from_dict as ssh_proxy_config
from orchestrator import config, render

CFG = config.load(None, {"cells": 2})


def _written_by_pki(path: str) -> None:
    """`/var/vcap/jobs/<job>/secrets/<file>` must be a file the PKI step gives <job>."""
    parts = PurePosixPath(path).parts
    assert parts[:3] == ("/", "var", "vcap") and parts[3] == "jobs" and parts[5] == "secrets", path
    job, name = parts[4], parts[6]
    assert name in bundle.JOB_FILES[job], f"{path}: the PKI step writes no {name} for {job}"


@pytest.mark.parametrize("job, rendered", [
    ("rep", render.rep_json(CFG, 1, "cell-1")),
    ("route_emitter", render.route_emitter_json(CFG, "cell-1")),
    ("cloud_controller", render.cloud_controller_json(CFG)),
    ("ssh_proxy", render.ssh_proxy_json(CFG)),
    ("dashboard", render.dashboard_json(CFG)),
])
def test_every_bbs_client_uses_https_and_its_own_certificate(job, rendered):
    assert rendered["bbs_address"] == "https://bbs.service.cf.internal:8889"
    for key in ("bbs_ca_cert_file", "bbs_client_cert_file", "bbs_client_key_file"):
        assert f"/var/vcap/jobs/{job}/secrets/" in rendered[key]
        _written_by_pki(rendered[key])


def test_the_job_configs_load():
    EmitterConfig.from_dict(render.route_emitter_json(CFG, "cell-1"))
    CCConfig.from_dict(render.cloud_controller_json(CFG))
    ssh_proxy_config(render.ssh_proxy_json(CFG))
    dashboard_config(render.dashboard_json(CFG))


def test_the_bbs_demands_a_client_certificate_and_pings_on_loopback_only():
    bbs = BBSConfig.from_dict(render.bbs_json(CFG))
    assert bbs.tls and bbs.health_address.startswith("127.0.0.1:")
    for path in (bbs.ca_file, bbs.server_cert_file, bbs.server_key_file):
        _written_by_pki(path)
    compose = yaml.safe_load(render.COMPOSE_FILE.read_text())["services"]["bbs"]
    assert compose["healthcheck"]["test"][-1] == f"http://{bbs.health_address}/ping"
    assert "bbs.service.cf.internal" in compose["networks"]["foundation"]["aliases"]


def test_cfdot_on_a_cell_needs_no_flags():
    cell = render.cells_compose(CFG, "/var/run/docker.sock")["services"]["cell-1"]
    env = cell["environment"]
    assert env["BBS_URL"] == render.BBS_URL
    certs = PurePosixPath(render.CFDOT_CERTS)
    assert {env["CA_CERT_FILE"], env["CLIENT_CERT_FILE"], env["CLIENT_KEY_FILE"]} == {
        str(certs / name) for name in bundle.JOB_FILES["cfdot"]}
    assert f"secrets-cfdot:{render.CFDOT_CERTS}:ro" in cell["volumes"]
    assert "secrets-route-emitter:/var/vcap/jobs/route_emitter/secrets:ro" in cell["volumes"]


def test_the_pki_step_fills_every_secrets_volume_a_job_mounts():
    compose = yaml.safe_load(render.COMPOSE_FILE.read_text())
    pki = {v.split(":")[0] for v in compose["services"]["pki"]["volumes"]}
    cell = render.cells_compose(CFG, "/var/run/docker.sock")["services"]["cell-1"]
    for service in [*compose["services"].values(), cell]:
        for volume in service.get("volumes", []):
            name = volume.split(":")[0]
            if name.startswith("secrets-"):
                assert name in pki, name
                assert name in compose["volumes"], name
    assert {f"secrets-{job.replace('_', '-')}" for job in bundle.JOB_FILES} <= pki
