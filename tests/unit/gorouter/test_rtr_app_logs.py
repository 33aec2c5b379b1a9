"""A request to an app gives the app an `RTR` log line: its access log line."""

from __future__ import annotations

from foundry.gorouter.accesslog import AccessLogRecord, AccessLogWriter
from foundry.gorouter.config import from_dict
from foundry.gorouter.metrics import Metrics
from foundry.gorouter.proxy import Proxy
from foundry.gorouter.registry import Registry


class Sink:
    def __init__(self) -> None:
        self.lines: list[tuple[str, int, str, str]] = []

    def log(self, source_id: str, index: int, source_type: str, message: str) -> None:
        self.lines.append((source_id, index, source_type, message))


def test_rtr_lines_go_to_the_apps_logs_only_for_requests_that_reached_an_app():
    cfg = from_dict({"log_cache_url": "http://cloud-controller:9023"})
    assert cfg.log_cache_url == "http://cloud-controller:9023"
    sink = Sink()
    proxy = Proxy(cfg, Registry(clock=lambda: 0.0), Metrics(), AccessLogWriter("", stdout=False),
                  app_logs=sink)  # type: ignore[arg-type]
    rec = AccessLogRecord(host="web.apps.internal", method="GET", request_uri="/", status=200,
                          app_id="app-guid", app_index="1")
    proxy.finish(rec)
    proxy.finish(AccessLogRecord(host="nope.apps.internal", method="GET", status=404))
    [(source, index, kind, line)] = sink.lines
    assert (source, index, kind) == ("app-guid", 0, "RTR")
    assert line.startswith('web.apps.internal - [') and 'app_id:"app-guid"' in line
    assert from_dict({}).log_cache_url == ""
