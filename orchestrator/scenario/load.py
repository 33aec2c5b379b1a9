"""Background load through the router: one thread per route, every request classified.

The load is stdlib http.client from the host to 127.0.0.1:<http port> with the route's
Host header, as a user's curl would. With keep-alive one connection per route is reused
(and reopened after an error), which is what makes certificate rotation visible: open
connections must survive it. It stays hand-written, not `requests`, because urllib3's pool
checks a pooled connection before reuse and silently opens a new one when the router
dropped it, hiding the very failures counted here; and it is cheaper per request (loopback
keep-alive against a stdlib server, client and server on one busy host: http.client
0.75-1.1 ms, requests 3.3-4.9 ms). One-shot probes and pages use `requests`.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable

import requests

from foundry import httpclient
from orchestrator.scenario.classify import Sample, classify, failure


class LoadGenerator:
    def __init__(self, port: int, routes: dict[str, str], rps: float, keepalive: bool,
                 timeout: float, phase: Callable[[], str] = lambda: "") -> None:
        """`routes` maps app name -> host. `phase` names the current mark."""
        self.port, self.routes, self.rps = port, routes, rps
        self.keepalive, self.timeout, self.phase = keepalive, timeout, phase
        self.samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.t0 = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def start(self) -> None:
        self.t0 = time.monotonic()
        for app, host in self.routes.items():
            t = threading.Thread(target=self._run, args=(app, host), daemon=True,
                                 name=f"load-{app}")
            t.start()
            self._threads.append(t)

    def stop(self) -> list[Sample]:
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout + 2)
        return self.snapshot()

    def since(self, n: int) -> list[Sample]:
        """The samples recorded after the first `n`, in the order they were recorded: a live
        view reads the new ones without missing any a slower thread added late."""
        with self._lock:
            return self.samples[n:]

    def snapshot(self) -> list[Sample]:
        with self._lock:
            return sorted(self.samples, key=lambda s: s.t)

    def _record(self, sample: Sample) -> None:
        with self._lock:
            self.samples.append(sample)

    def _run(self, app: str, host: str) -> None:
        interval = 1.0 / self.rps
        conn: http.client.HTTPConnection | None = None
        next_at = time.monotonic()
        while not self._stop.is_set():
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            started = time.monotonic()
            t = started - self.t0
            phase = self.phase()   # at send: a request in flight at a mark is the old phase
            try:
                headers = {"Host": host, "User-Agent": "cflab-scenario"}
                if not self.keepalive:
                    headers["Connection"] = "close"
                conn.request("GET", "/", headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                sample = classify(app, resp.status, dict(resp.getheaders()), body, t,
                                  time.monotonic() - started, phase)
                if not self.keepalive or resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                sample = failure(app, exc, t, time.monotonic() - started, phase)
                conn.close()
                conn = None
            self._record(sample)
            next_at = max(next_at + interval, time.monotonic() - interval)
            self._stop.wait(max(0.0, next_at - time.monotonic()))
        if conn is not None:
            conn.close()


def _get(port: int, host: str, timeout: float, agent: str) -> requests.Response:
    with httpclient.session() as http:
        return http.get(f"http://127.0.0.1:{port}/", timeout=timeout, allow_redirects=False,
                        headers={"Host": host, "Connection": "close", "User-Agent": agent})


def probe(port: int, app: str, host: str, timeout: float = 3.0) -> Sample:
    """One classified request, for wait conditions."""
    try:
        resp = _get(port, host, timeout, "cflab-scenario-probe")
    except requests.RequestException as exc:
        return failure(app, httpclient.root_cause(exc))
    return classify(app, resp.status_code, dict(resp.headers), resp.content)


def page(port: int, host: str, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one GET of `host`'s route through the router."""
    resp = _get(port, host, timeout, "cflab-scenario-probe")
    return resp.status_code, dict(resp.headers), resp.content
