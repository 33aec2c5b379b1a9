"""`cflab lab` for real: stale-route-port-reuse started from the page in a browser, before
Envoy and in strict, each mode on a fresh foundation (test_scenarios' project, ports and
subnets: pytest runs the two files one after the other). The page shows misrouted
requests in before-envoy, live, and none in strict; the run is then a past run.

This is CI's replay of the incident itself (it is not in test_scenarios' CI_MODES), so
it checks what test_scenarios checks of a run as well.
"""

from __future__ import annotations

import shutil
import threading

import pytest

from orchestrator.foundation import Foundation
from orchestrator.lab import Lab
from orchestrator.lab_server import LabServer
from orchestrator.render import ROOT
from orchestrator.scenario import schema
from orchestrator.scenario.runner import run_scenario
from tests.e2e.helpers import wait_for
from tests.e2e.test_scenarios import PLACEMENT, PROJECT, check_run, check_stale_route

pytestmark = pytest.mark.e2e
SCENARIO = "stale-route-port-reuse"
SHOTS = ROOT / "out" / "lab"
BROWSER = shutil.which("chromium-headless-shell")


@pytest.fixture
def lab(cfg, tmp_path):
    def run(sc, modes, out, log, watch):
        return run_scenario(sc, modes, out=out, log=lambda m: (print(m, flush=True), log(m)),
                            project=PROJECT, placement=PLACEMENT, watch=watch)

    def switch(mode: str) -> None:
        raise AssertionError("this test switches no mode (test_modes does, with `cflab mode`)")

    def foundation() -> dict:
        status = Foundation(cfg).status()
        return {"project": status["project"], "mode": status["mode"],
                "jobs": {j: {"state": s["state"], "health": s["health"]}
                         for j, s in status["jobs"].items()}}

    lab = Lab(schema.SCENARIO_DIR, tmp_path / "out", run, switch, foundation)
    server = LabServer(lab, 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        # The run's thread outlives a failed test: let it finish (and tear its foundation
        # down) before the next test starts one in the same project.
        wait_for(lambda: lab.run is None or lab.run.state != "running", 600,
                 what="the lab's run to end")


@pytest.mark.timeout(900)
@pytest.mark.skipif(BROWSER is None, reason="Debian's chromium-headless-shell is not installed")
def test_a_stale_route_run_started_from_the_page(lab, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    problems: list[str] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=BROWSER, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("response", lambda r: r.status >= 400 and problems.append(r.url))
            page.goto(lab.url())
            page.wait_for_selector('#conn[data-state="live"]', timeout=30000)
            page.wait_for_selector(f'#scenario option[value="{SCENARIO}"]', state="attached",
                                   timeout=30000)
            page.select_option("#scenario", SCENARIO)
            page.uncheck('#modes input[value="after-envoy"]')
            assert page.is_checked('#modes input[value="before-envoy"]')
            assert page.is_checked('#modes input[value="strict"]')
            page.click("#start-button")

            # Live: B answers A's route while before-envoy is still running (or the lane
            # ends without, and the test fails at once with the lane's error).
            lane = '.lane[data-mode="before-envoy"]'
            live = f'{lane}[data-state="running"] circle.dot-misrouted'
            # A lane box can exist for a moment before its first render sets data-state, so
            # wait for a final state by name, not for "neither running nor waiting".
            ended = ", ".join(f'{lane}[data-state="{s}"]'
                              for s in ("passed", "failed", "error", "skipped"))
            page.wait_for_selector(f"{live}, {ended}", timeout=360_000)
            assert page.query_selector(live), \
                f"before-envoy ended without a misroute seen live: {page.inner_text(lane)}"
            page.wait_for_selector('.lane[data-mode="before-envoy"] rect.fault',
                                   state="attached", timeout=30000)
            page.screenshot(path=str(SHOTS / "lab-live.png"), full_page=True)

            page.wait_for_selector('#run-state[data-state="done"]', timeout=720_000)
            lanes = {m: {k: page.get_attribute(f'.lane[data-mode="{m}"]', f"data-{k}")
                         for k in ("state", "misrouted", "requests")}
                     for m in ("before-envoy", "strict")}
            print(f"lanes on the page: {lanes}")
            assert lanes["before-envoy"]["state"] == lanes["strict"]["state"] == "passed", lanes
            assert int(lanes["before-envoy"]["misrouted"]) > 0, lanes
            assert lanes["strict"]["misrouted"] == "0", lanes
            assert int(lanes["strict"]["requests"]) > 0, lanes
            assert page.query_selector('.lane[data-mode="strict"] circle.dot-misrouted') is None
            assert page.query_selector(".lane-error") is None
            # The run is now a past run, with its timeline.
            page.wait_for_selector(f'#past tr[data-scenario="{SCENARIO}"]'
                                   ' td[data-mode="strict"][data-status="passed"]', timeout=30000)
            page.wait_for_selector(f'#past tr[data-scenario="{SCENARIO}"] img', timeout=30000)
            page.screenshot(path=str(SHOTS / "lab.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []

    dest = tmp_path / "out" / SCENARIO
    for mode in ("before-envoy", "strict"):
        doc = check_run(dest, mode)
        check_stale_route(dest, mode, doc)
        # the page showed what result.json counted
        assert lanes[mode]["misrouted"] == str(doc["counts"]["misrouted"]), (lanes, doc["counts"])
        assert lanes[mode]["requests"] == str(doc["counts"]["requests"]), (lanes, doc["counts"])
