"""The dashboard in a real browser: Debian's chromium-headless-shell driven by Playwright
(`executable_path`; Playwright's own browser download cannot work here)."""

from __future__ import annotations

import json
import time

from test_dashboard_loopback import DESIRED, REGISTER, access_line, lrp

from tests.browser_support import sync_api

sync_api()


class Watched:
    """A page whose console errors, page errors and failed requests are all recorded."""

    def __init__(self, browser, width: int, height: int) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(
            f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: r.url.endswith("/events") or
                     self.problems.append(f"failed: {r.url} {r.failure}"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(
            f"{r.status}: {r.url}"))


def test_page_loads_lists_jobs_and_shows_live_updates(dashboard, browser, tmp_path):
    w = Watched(browser, 1280, 800)
    page = w.page
    started = time.monotonic()
    page.goto(dashboard.url + "/")
    page.wait_for_selector('#conn[data-state="live"]', timeout=5000)
    page.wait_for_selector('#jobs li[data-job="bbs"][data-health="healthy"]', timeout=5000)
    page.wait_for_selector('#jobs li[data-job="credhub"][data-health="down"]', timeout=5000)
    first_paint = time.monotonic() - started
    # The link to the host's incidents page (`cflab lab`) is on the host the page came from.
    assert page.eval_on_selector("#lab-link", "e => e.href") == "http://127.0.0.1:8090/"

    # A route registered on NATS appears on the page within 2 s, with the count.
    sent = time.monotonic()
    dashboard.publish("router.register", REGISTER)
    page.wait_for_selector('#routes tr[data-route="hello.apps.internal"]', timeout=2000)
    assert time.monotonic() - sent < 2.0
    assert page.inner_text("#route-count") == "1"
    assert "TLS" in page.inner_text('#routes tr[data-route="hello.apps.internal"]')

    # An app container and a misrouted request, in red.
    dashboard.bbs.set(desired=DESIRED, actual=[lrp("pg-b", "inst-b0", 61000)])
    page.wait_for_selector('#cells tr[data-instance="inst-b0"]', timeout=2000)
    dashboard.log_request(access_line("10.244.0.5:61000", "app-a"))
    li = page.wait_for_selector('#requests li[data-outcome="misrouted"]', timeout=2000)
    assert "other/0" in li.inner_text()
    color = page.eval_on_selector('#requests li[data-outcome="misrouted"]',
                                  "e => getComputedStyle(e).backgroundColor")
    assert color == "rgb(207, 34, 46)"
    page.screenshot(path=str(tmp_path / "dashboard-1280x800.png"), full_page=True)

    assert w.problems == []
    assert first_paint < 5.0


def test_page_fits_a_phone(dashboard, browser, tmp_path):
    dashboard.publish("router.register", REGISTER)
    w = Watched(browser, 390, 844)
    w.page.goto(dashboard.url + "/")
    w.page.wait_for_selector('#jobs li[data-job="bbs"]', timeout=5000)
    w.page.wait_for_selector('#routes tr[data-route="hello.apps.internal"]', timeout=5000)
    overflow = w.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a phone"
    w.page.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=True)
    assert w.problems == []
    assert json.loads(json.dumps(w.problems)) == []


def test_a_rotation_shows_in_the_identity_view(dashboard, browser, tmp_path):
    from dashboard_harness import IdentityServer

    ident = IdentityServer(tmp_path)
    try:
        dashboard.bbs.set(desired=DESIRED, actual=[{
            **lrp("pg-a", "inst-a0", 61000), "address": "127.0.0.1",
            "ports": [{"container_port": 8080, "host_port": 61000,
                       "container_tls_proxy_port": 61001, "host_tls_proxy_port": ident.port}]}])
        w = Watched(browser, 1280, 800)
        w.page.goto(dashboard.url + "/")
        first = format(ident.serial, "x")
        w.page.wait_for_selector(f'#identities tr[data-instance="inst-a0"][data-serial="{first}"]',
                                 timeout=5000)
        second = format(ident.rotate(), "x")
        row = w.page.wait_for_selector(
            f'#identities tr[data-instance="inst-a0"][data-serial="{second}"][data-rotations="1"]',
            timeout=3000)
        text = row.inner_text()
        assert "hello/0" in text and first[:10] in text and second[:10] in text
        assert "23h" in text  # the countdown to not-after (24 h validity)
        w.page.screenshot(path=str(tmp_path / "dashboard-rotation.png"), full_page=True)
        assert w.problems == []
    finally:
        ident.stop()
