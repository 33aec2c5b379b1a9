"""The dashboard's part of the foundation config: its port, its job config, its service."""

import yaml

from foundry.dashboard.config import from_dict
from orchestrator import config, render
from tests.e2e.helpers import CONFIG


def test_dashboard_json_is_a_valid_job_config_for_the_foundation():
    cfg = config.load(None, {"cells": 3, "mode": "strict"})
    dash = from_dict(render.dashboard_json(cfg))
    assert dash.cells == ["cell-1", "cell-2", "cell-3"] and dash.mode == "strict"
    assert {j.name for j in dash.jobs} >= {"nats", "router", "bbs", "cloud-controller"}
    assert dash.droplet_stale_threshold == cfg.timings["droplet_stale_threshold"]


def test_the_dashboard_port_is_published_on_loopback_and_distinct_for_e2e():
    demo, e2e = config.load(), config.load(CONFIG)
    assert demo.ports["dashboard"] != e2e.ports["dashboard"]
    assert render.compose_env(e2e)["CFLAB_DASHBOARD_PORT"] == str(e2e.ports["dashboard"])
    service = yaml.safe_load(render.COMPOSE_FILE.read_text())["services"]["dashboard"]
    assert service["ports"] == ["127.0.0.1:${CFLAB_DASHBOARD_PORT}:8300"]
    # The router's access log reaches it read-only; its one secrets volume is its own
    # (a BBS client certificate, the BBS being mutual TLS only).
    assert "router-logs:/var/vcap/sys/log/gorouter:ro" in service["volumes"]
    assert [v for v in service["volumes"] if v.startswith("secrets-")] == [
        "secrets-dashboard:/var/vcap/jobs/dashboard/secrets:ro"]
