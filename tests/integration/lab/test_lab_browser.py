"""The lab's page in a real browser (Debian's chromium-headless-shell through Playwright),
with the fake runner: start a run from the page, watch its lanes fill in live, see a
failed start's error, the switch, a job that is down, past runs, a phone's width."""

from __future__ import annotations

from tests.browser_support import sync_api

sync_api()


def watched(browser, width: int, height: int, problems: list[str], allowed=()):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.on("console", lambda m: m.type == "error" and not any(a in m.text for a in allowed)
            and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("response", lambda r: r.status >= 400 and not any(a in r.url for a in allowed)
            and problems.append(f"{r.status}: {r.url}"))
    return page


def test_start_watch_and_read_a_run_from_the_page(lab, browser, tmp_path):
    problems: list[str] = []
    page = watched(browser, 1280, 800, problems, allowed=("/api/runs?scenario=broken",
                                                          "400 (Bad Request)"))
    page.goto(lab.url)
    page.wait_for_selector('#conn[data-state="live"]', timeout=5000)
    # The foundation's jobs, a stopped one shown as down.
    page.wait_for_selector('#jobs li[data-job="nats"][data-health="down"]', timeout=5000)
    page.wait_for_selector('#jobs li[data-job="router"][data-health="healthy"]', timeout=5000)

    # A scenario that cannot start shows why, and nothing ran.
    page.select_option("#scenario", "broken")
    page.click("#start-button")
    page.wait_for_selector("#start-error:not([hidden])", timeout=5000)
    assert "modes" in page.inner_text("#start-error")
    assert lab.runner.calls == []

    page.select_option("#scenario", "fake-incident")
    assert page.is_checked('#modes input[value="before-envoy"]')
    assert not page.is_checked('#modes input[value="after-envoy"]')
    page.click("#start-button")
    # Live, while the fake holds the first mode: red dots and the fault window.
    page.wait_for_selector('.lane[data-mode="before-envoy"][data-state="running"]'
                           ' circle.dot-misrouted', timeout=5000)
    page.wait_for_selector('.lane[data-mode="before-envoy"] rect.fault', timeout=5000)
    assert page.is_disabled("#start-button")
    page.screenshot(path=str(tmp_path / "lab-live.png"), full_page=True)
    lab.runner.release.set()
    page.wait_for_selector('#run-state[data-state="done"]', timeout=10000)
    assert page.get_attribute('.lane[data-mode="before-envoy"]', "data-misrouted") == "6"
    assert page.get_attribute('.lane[data-mode="strict"]', "data-misrouted") == "0"
    assert page.get_attribute('.lane[data-mode="strict"]', "data-state") == "passed"
    color = page.eval_on_selector('.lane[data-mode="before-envoy"] circle.dot-misrouted',
                                  "e => getComputedStyle(e).fill")
    assert color == "rgb(207, 34, 46)"
    # The finished run joins the past runs, with its timeline.
    row = page.wait_for_selector('#past tr[data-scenario="fake-incident"]', timeout=5000)
    assert "6/40 misrouted" in row.inner_text()
    page.wait_for_selector('#past tr[data-scenario="fake-incident"] img', timeout=5000)

    # The switch: it starts at the foundation's mode.
    assert page.input_value("#switch-mode") == "after-envoy"
    page.select_option("#switch-mode", "strict")
    page.click("#switch-button")
    page.wait_for_selector('#switch-status[data-state="done"]', timeout=5000)
    assert lab.switched == ["strict"]
    page.wait_for_selector('#foundation-mode:text-is("strict")', timeout=7000)
    page.screenshot(path=str(tmp_path / "lab-1280x800.png"), full_page=True)
    assert problems == []


def test_the_page_fits_a_phone(lab, browser, tmp_path):
    lab.past_run("ok-run", {"scenario": "ok-run", "passed": True, "modes": {"strict": {
        "status": "passed", "counts": {"requests": 9, "misrouted": 0, "errors": 1}}}})
    problems: list[str] = []
    page = watched(browser, 390, 844, problems)
    page.goto(lab.url)
    page.wait_for_selector('#past tr[data-scenario="ok-run"]', timeout=5000)
    page.wait_for_selector('#jobs li[data-job="router"]', timeout=5000)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a phone"
    page.screenshot(path=str(tmp_path / "lab-phone.png"), full_page=True)
    assert problems == []
