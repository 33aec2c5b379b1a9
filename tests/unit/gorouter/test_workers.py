"""Worker reports: what a worker sends, how the main process reads and sums it."""

from __future__ import annotations

import json

from foundry.gorouter.metrics import Metrics
from foundry.gorouter.workers import WorkerSupervisor, _Reports, default_workers


def _worker_metrics(requests: int) -> Metrics:
    m = Metrics()
    for _ in range(requests):
        m.inc("total_requests")
        m.response(200)
        m.observe_latency(0.003)
    m.inc("backend_invalid_id")
    m.registry_message("register", "route-emitter")
    return m


def _value(text: str, name: str) -> str:
    return next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")
                or line.startswith(name + "{"))


def test_render_sums_every_report_with_the_main_process_counts() -> None:
    main = _worker_metrics(3)
    main.peers["worker-1-100"] = json.loads(json.dumps(_worker_metrics(5).snapshot()))
    main.peers["worker-1-101"] = json.loads(json.dumps(_worker_metrics(2).snapshot()))
    text = main.render()
    assert _value(text, "total_requests") == "10"
    assert _value(text, "backend_invalid_id") == "3"
    assert 'responses{status_group="2xx"} 10' in text
    assert 'registry_message{action="register",component="route-emitter"} 3' in text
    assert 'latency_bucket{le="0.004"} 10' in text and "latency_count 10" in text
    assert main.counters["total_requests"] == 3  # the process's own counts are untouched


def test_reports_keep_the_last_whole_line_and_signal_the_exit() -> None:
    metrics, exited = Metrics(), []
    r = _Reports(metrics, "worker-1-7", lambda: exited.append(True))
    first = json.dumps({"counters": {"total_requests": 1}, "ready": True}).encode()
    second = json.dumps({"counters": {"total_requests": 4}, "ready": True}).encode()
    r.data_received(first + b"\n" + second[:10])
    assert metrics.peers["worker-1-7"]["counters"]["total_requests"] == 1
    r.data_received(second[10:] + b"\nnot json\n")  # a torn or bad line is skipped
    assert metrics.peers["worker-1-7"]["counters"]["total_requests"] == 4
    r.connection_lost(None)
    assert exited == [True]


def test_workers_ready_counts_current_processes_only() -> None:
    metrics = Metrics()
    sup = WorkerSupervisor("gorouter.yml", 3, metrics)
    sup.names = {1: "worker-1-20", 2: "worker-2-21"}
    metrics.peers = {"worker-1-10": {"ready": True},  # a process since replaced
                     "worker-1-20": {"ready": True}, "worker-2-21": {"ready": False}}
    assert "workers_ready 1" in metrics.render()


def test_default_workers_from_gomaxprocs(monkeypatch) -> None:
    monkeypatch.setenv("GOMAXPROCS", "4")
    assert default_workers() == 4
    for bad in ("0", "-2", "many"):
        monkeypatch.setenv("GOMAXPROCS", bad)
        assert default_workers() == 1
    monkeypatch.delenv("GOMAXPROCS")
    assert default_workers() == 1
