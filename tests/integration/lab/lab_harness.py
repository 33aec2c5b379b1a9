"""`cflab lab` on loopback with a fake runner: no Docker, the run's pace in the test's hands.

The fake stands in for orchestrator.scenario.runner.run_scenario with the same call and
the same Watcher calls: each mode's "load" gets samples the test adds, a fault window
opens and closes, and the mode ends when the test releases it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from orchestrator.lab import Lab
from orchestrator.lab_server import LabServer
from orchestrator.scenario import report
from orchestrator.scenario.classify import ERROR, INTENDED, MISROUTED, Sample
from orchestrator.scenario.results import ModeResult

SCENARIO = """\
name: {name}
description: a fake incident for the lab's tests
foundation:
  modes: [before-envoy, strict]
apps:
  - {{name: app-a}}
  - {{name: app-b}}
load: {{rps: 10}}
steps:
  - observe: 1s
expect:
  before-envoy: {{misrouted: ">0"}}
  strict: {{misrouted: 0}}
"""


class FakeLoad:
    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.t = 0.0

    def since(self, n: int) -> list[Sample]:
        return self.samples[n:]

    def now(self) -> float:
        return self.t


class FakeRunner:
    """Each mode: samples (misrouted only in before-envoy), a fault window, then waits for
    `release` before its result."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.live = threading.Event()       # set once a mode has its first samples
        self.fail: Exception | None = None
        self.calls: list[dict[str, Any]] = []

    def __call__(self, sc, modes, out: Path, log, watch) -> list[ModeResult]:
        self.calls.append({"scenario": sc.name, "modes": list(modes)})
        if self.fail:
            raise self.fail
        results = []
        for mode in modes:
            load = FakeLoad()
            run = SimpleNamespace(cfg=SimpleNamespace(mode=mode), load=load,
                                  result=SimpleNamespace(faults=[]))
            watch.started(run)
            log(f"[{sc.name}/{mode}] setup done")
            for i in range(20):
                load.t = i * 0.5
                bad = mode == "before-envoy" and 8 <= i < 14
                load.samples.append(Sample(load.t, "app-a", MISROUTED if bad else INTENDED,
                                           200, answered_by="app-b" if bad else "app-a"))
                load.samples.append(Sample(load.t, "app-b", ERROR if i == 9 else INTENDED,
                                           503 if i == 9 else 200))
            run.result.faults.append({"name": "kill app-a", "start": 3.5, "end": None})
            self.live.set()
            self.release.wait(30)
            run.result.faults[0]["end"] = 7.0
            r = ModeResult(mode=mode, status="ran", samples=list(load.samples),
                           faults=list(run.result.faults))
            r.evaluate(sc.expect.get(mode, ()))
            results.append(r)
            dest = out / sc.name
            dest.mkdir(parents=True, exist_ok=True)
            report.write_json(dest / "result.json", sc, results)
            (dest / "timeline.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
            watch.finished(r)
        return results


class LabHarness:
    def __init__(self, tmp: Path) -> None:
        self.scenarios = tmp / "scenarios"
        self.scenarios.mkdir()
        (self.scenarios / "fake-incident.yml").write_text(SCENARIO.format(name="fake-incident"))
        (self.scenarios / "broken.yml").write_text("name: broken\nmodes: [nope]\n")
        self.out = tmp / "out"
        self.out.mkdir()
        self.runner = FakeRunner()
        self.switched: list[str] = []
        self.switch_error: Exception | None = None
        self.lab = Lab(self.scenarios, self.out, self.runner, self._switch, self._foundation)
        self.server = LabServer(self.lab, 0)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.1,),
                                       daemon=True)
        self.thread.start()
        self.url = self.server.url()

    def _switch(self, mode: str) -> None:
        if self.switch_error:
            raise self.switch_error
        self.switched.append(mode)

    def _foundation(self) -> dict[str, Any]:
        return {"project": "cflab-fake", "mode": self.switched[-1] if self.switched
                else "after-envoy", "dashboard": "http://127.0.0.1:9/",
                "jobs": {"router": {"state": "running", "health": "healthy"},
                         "nats": {"state": "exited", "health": "unhealthy"}}}

    def past_run(self, name: str, doc: dict[str, Any] | str) -> None:
        d = self.out / name
        d.mkdir()
        (d / "result.json").write_text(doc if isinstance(doc, str) else json.dumps(doc))

    def stop(self) -> None:
        self.runner.release.set()
        self.server.stop()
