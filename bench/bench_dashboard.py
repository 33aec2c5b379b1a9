"""The dashboard job's cost (issue 18 §5): idle RSS, CPU while 50 requests/s stream
through the router's access log to a connected page, and first paint in a browser.

Loopback, no Docker: the job as a subprocess with a real nats-server, a BBS stand-in
holding 6 running instances, and the access-log file the router would write. Targets:
≤ 40 MB RSS idle, ≤ 5 % of a core at 50 requests/s, first paint ≤ 1 s.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "integration" / "dashboard"))

from dashboard_harness import SSE, Dashboard  # noqa: E402
from test_dashboard_loopback import DESIRED, REGISTER, access_line, lrp  # noqa: E402

RSS_TARGET_MB, CPU_TARGET, PAINT_TARGET_S, RPS, SECONDS = 40.0, 0.05, 1.0, 50, 20


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_paint(url: str) -> float | None:
    browser = shutil.which("chromium-headless-shell")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if browser is None:
        return None
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=browser, args=["--no-sandbox"])
        try:
            page = b.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)  # warm the browser's own start out of the figure
            started = time.monotonic()
            page.reload()
            page.wait_for_selector('#jobs li[data-job="bbs"]')
            page.wait_for_selector("#routes tr[data-route]")
            return time.monotonic() - started
        finally:
            b.close()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="cflab-bench-dash-") as tmp:
        d = Dashboard(Path(tmp))
        try:
            actual = [dict(lrp("pg-a", f"inst-a{i}", 61000 + i), index=i) for i in range(6)]
            d.bbs.set(desired=DESIRED, actual=actual)
            d.publish("router.register", *[{**REGISTER, "port": 61000 + i, "tls_port": 0,
                                            "private_instance_id": f"inst-a{i}"}
                                           for i in range(6)])
            time.sleep(5)  # idle: probes and polls running, nothing changing
            idle = rss_mb(d.proc.pid)
            sse = SSE(d.port)
            got = [0]
            stop = threading.Event()

            def read() -> None:
                while not stop.is_set():
                    try:
                        if sse.next()[0] == "requests":
                            got[0] += 1
                    except (OSError, ConnectionError):
                        return
            threading.Thread(target=read, daemon=True).start()
            cpu0, t0 = cpu_seconds(d.proc.pid), time.monotonic()
            for n in range(RPS * SECONDS):
                d.log_request(access_line(f"10.244.0.5:{61000 + n % 6}", "app-a"))
                time.sleep(max(0.0, t0 + (n + 1) / RPS - time.monotonic()))
            cpu = (cpu_seconds(d.proc.pid) - cpu0) / (time.monotonic() - t0)
            stop.set()
            sse.close()
            busy = rss_mb(d.proc.pid)
            paint = first_paint(d.url + "/")
        finally:
            d.stop()
    print(f"dashboard idle RSS: {idle:.1f} MB (target ≤ {RSS_TARGET_MB:.0f} MB);"
          f" after the stream: {busy:.1f} MB")
    print(f"dashboard CPU at {RPS} requests/s streamed to a page: {cpu * 100:.1f} % of a core"
          f" (target ≤ {CPU_TARGET * 100:.0f} %); {got[0]} pushes")
    print("dashboard first paint: " + (f"{paint:.2f} s (target ≤ {PAINT_TARGET_S:.0f} s)"
                                       if paint is not None else "skipped (no browser)"))
    print(json.dumps({"idle_rss_mb": round(idle, 1), "cpu_at_50rps": round(cpu, 4),
                      "first_paint_s": paint}))
    ok = idle <= RSS_TARGET_MB and cpu <= CPU_TARGET and (paint is None or paint <= PAINT_TARGET_S)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
