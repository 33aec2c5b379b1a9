"""NATS with a user and a password, as cf-deployment configures it: one password per
foundation, 0600 wherever it is written, in every NATS client's job config."""

from __future__ import annotations

import json
import stat

import pytest
import yaml

from foundry.dashboard.config import from_dict as dashboard_config
from foundry.gorouter.config import loads as gorouter_config
from foundry.route_emitter.config import EmitterConfig
from orchestrator import config, render


@pytest.fixture
def rendered(tmp_path, monkeypatch):
    monkeypatch.setattr(render, "STATE_ROOT", tmp_path)
    cfg = config.load(None, {"cells": 2})
    render.render_all(cfg)
    return render.state_dir(cfg.project), cfg


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_one_password_per_foundation_kept_across_renders(rendered):
    state, cfg = rendered
    password = (state / "nats_password").read_text().strip()
    assert len(password) == 40 and _mode(state / "nats_password") == 0o600
    render.render_all(cfg)  # `cflab mode` renders again: same password
    assert (state / "nats_password").read_text().strip() == password


def test_nats_server_demands_the_user_and_password(rendered):
    state, _ = rendered
    conf = (state / "jobs" / "nats" / "nats.conf").read_text()
    password = (state / "nats_password").read_text().strip()
    assert "authorization {" in conf and 'user: "nats"' in conf
    assert f'password: "{password}"' in conf
    assert _mode(state / "jobs" / "nats" / "nats.conf") == 0o600
    compose = yaml.safe_load(render.COMPOSE_FILE.read_text())["services"]["nats"]
    assert compose["command"] == ["nats-server", "-c", "/var/vcap/jobs/nats/config/nats.conf"]


def test_every_nats_client_authenticates_and_its_config_is_0600(rendered):
    state, cfg = rendered
    password = (state / "nats_password").read_text().strip()
    jobs = state / "jobs"
    router = jobs / "gorouter" / "gorouter.yml"
    # the nats section as gorouter reads it (the PEMs are ((variables)) until the start)
    nats = yaml.safe_load(router.read_text())["nats"]
    parsed = gorouter_config(yaml.safe_dump({"nats": nats}))
    assert (parsed.nats_user, parsed.nats_pass) == ("nats", password)
    for cell in cfg.cell_names:
        path = jobs / cell / "route_emitter" / "route_emitter.json"
        emitter = EmitterConfig.from_dict(json.loads(path.read_text()))
        assert (emitter.nats_username, emitter.nats_password) == ("nats", password)
        assert _mode(path) == 0o600
        assert all("@" not in url for url in emitter.nats_servers)  # never in a logged URL
    dash_path = jobs / "dashboard" / "dashboard.json"
    dash = dashboard_config(json.loads(dash_path.read_text()))
    assert (dash.nats_username, dash.nats_password) == ("nats", password)
    for path in (router, dash_path):
        assert _mode(path) == 0o600, path
    assert _mode(jobs / "bbs" / "bbs.json") == 0o644  # no secret there


def test_no_tmp_files_left(rendered):
    state, _ = rendered
    assert not list(state.rglob("*.tmp"))
