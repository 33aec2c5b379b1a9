"""Scenarios end to end: the runner starts its own foundation per mode (project
cflab-scn, its own ports and subnets), replays the incident, tears it down, and
writes result.json, report.md and timeline.png.

Not using the session `foundation` fixture: each scenario needs a fresh foundation
with its own compressed timings.
"""

from __future__ import annotations

import json

import pytest

from orchestrator.scenario import schema
from orchestrator.scenario.results import PASSED
from orchestrator.scenario.runner import run_scenario

pytestmark = pytest.mark.e2e


def replay(name: str, mode: str, tmp_path):
    sc = schema.load_file(schema.discover()[name])
    results = run_scenario(sc, [mode], out=tmp_path, project="cflab-scn-e2e")
    dest = tmp_path / name
    doc = json.loads((dest / "result.json").read_text())
    assert (dest / "timeline.png").read_bytes()[:4] == b"\x89PNG"
    assert f"| {mode} |" in (dest / "report.md").read_text()
    assert (dest / mode / "evidence" / "router-routes.json").exists()
    return results[0], doc["modes"][mode]


def no_leftovers(project: str = "cflab-scn-e2e") -> bool:
    import subprocess

    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=cflab.foundation={project}"],
                         capture_output=True, text=True, check=True).stdout
    return not out.strip()


@pytest.mark.timeout(600)
def test_stale_route_port_reuse_is_caught_in_strict(tmp_path):
    result, doc = replay("stale-route-port-reuse", "strict", tmp_path)
    assert result.error == "", result.error
    assert doc["counts"]["misrouted"] == 0
    assert doc["counts"]["requests"] > 0
    assert result.status == PASSED, doc["expectations"]
    assert no_leftovers()


@pytest.mark.timeout(600)
def test_strict_direct_access_needs_the_router_certificate(tmp_path):
    result, doc = replay("strict-direct-access", "strict", tmp_path)
    assert result.error == "", result.error
    assert doc["checks"] == {"no-client-cert": False, "router-cert": True}, doc["check_details"]
    assert result.status == PASSED
    assert no_leftovers()


@pytest.mark.timeout(600)
def test_credential_delivery_only_the_bound_app_reads(tmp_path):
    result, doc = replay("credential-delivery", "strict", tmp_path)
    assert result.error == "", result.error
    assert doc["checks"] == {"cc-holds-only-ref": True, "vault-has-credentials": True,
                             "own-app-reads": True, "other-app-denied": False,
                             "read-after-unbind": False}, doc["check_details"]
    assert "http 403" in doc["check_details"]["other-app-denied"]
    assert doc["counts"]["misrouted"] == 0
    assert result.status == PASSED, doc["expectations"]
    assert (tmp_path / "credential-delivery" / "strict" / "evidence"
            / "cf-env-vault-bound.txt").read_text().count("credhub-ref") == 1
    assert no_leftovers()
