"""Incident packs (plain tar.gz of one run), the then/now comparison, and the access-log
lines around each fault."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from orchestrator.scenario import evidence, incident, schema

SCENARIO = schema.discover()["router-restart-under-load"]


def mode_doc(status="passed", misrouted=0, recovery=2.5, passed=(True, True)) -> dict:
    return {"mode": "strict", "status": status,
            "counts": {"requests": 120, "misrouted": misrouted, "errors": 9},
            "timers": {"recovery": recovery},
            "expectations": [
                {"expectation": "misrouted == 0.0", "actual": misrouted, "passed": passed[0]},
                {"expectation": "timer.recovery <= 30.0", "actual": recovery,
                 "passed": passed[1]}]}


def run_dir(tmp_path):
    d = tmp_path / "out" / "router-restart-under-load"
    (d / "strict" / "evidence").mkdir(parents=True)
    (d / "scenario.yml").write_text(SCENARIO.read_text())
    (d / "result.json").write_text(json.dumps({
        "scenario": "router-restart-under-load", "description": "The router restarts.",
        "modes": {"strict": mode_doc()}}))
    (d / "report.md").write_text("# report\n")
    (d / "timeline.png").write_bytes(b"\x89PNG...")
    (d / "strict" / "foundation.yml").write_text("mode: strict\ntimings: {a: 1}\n")
    (d / "strict" / "evidence" / "router-routes.json").write_text("{}")
    (d / "strict" / "evidence" / "access-log-around-faults.txt").write_text("== x\n")
    return d


def test_pack_holds_the_run_as_plain_files(tmp_path):
    out = tmp_path / "incident.tar.gz"
    names = incident.pack(run_dir(tmp_path), out)
    base = "router-restart-under-load/"
    assert names == [base + n for n in (
        "README.txt", "scenario.yml", "result.json", "report.md", "timeline.png",
        "strict/foundation.yml", "strict/evidence/access-log-around-faults.txt",
        "strict/evidence/router-routes.json")]
    with tarfile.open(out) as tar:
        readme = tar.extractfile(base + "README.txt").read().decode()
        assert tar.extractfile(base + "scenario.yml").read() == SCENARIO.read_bytes()
    assert "strict: passed — 120 requests, 0 misrouted, 9 errors" in readme
    assert "✓ misrouted == 0.0 (actual 0)" in readme
    root = incident.unpack(out, tmp_path / "x")
    assert schema.load_file(root / "scenario.yml").name == "router-restart-under-load"


def test_pack_refuses_what_is_not_a_run(tmp_path, capsys):
    with pytest.raises(incident.PackError, match="not a run folder"):
        incident.pack(tmp_path, tmp_path / "p.tar.gz")
    d = run_dir(tmp_path)
    (d / "scenario.yml").unlink()
    with pytest.raises(incident.PackError, match="no scenario.yml"):
        incident.pack(d, tmp_path / "p.tar.gz")


def evil_pack(tmp_path, name: str):
    p = tmp_path / "evil.tar.gz"
    with tarfile.open(p, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    return p


@pytest.mark.parametrize("member", ["x/../../escape.txt", "/abs/scenario.yml"])
def test_unpack_keeps_everything_inside(tmp_path, member):
    with pytest.raises(incident.PackError):
        incident.unpack(evil_pack(tmp_path, member), tmp_path / "dest")
    assert not (tmp_path / "escape.txt").exists()


def test_unpack_needs_the_scenario_and_result(tmp_path):
    with pytest.raises(incident.PackError, match="no x/scenario.yml"):
        incident.unpack(evil_pack(tmp_path, "x/other.txt"), tmp_path / "dest")
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tar")
    with pytest.raises(incident.PackError, match="not a readable incident pack"):
        incident.unpack(bad, tmp_path / "dest")


def test_compare_sets_verdicts_side_by_side_and_names_changes():
    then = {"scenario": "s", "modes": {"strict": mode_doc()}}
    same, changed = incident.compare(then, then)
    assert changed == [] and same.endswith("changed: nothing\n")
    now = {"scenario": "s", "modes": {"strict": mode_doc("failed", misrouted=3, recovery=40,
                                                         passed=(False, False))}}
    text, changed = incident.compare(then, now)
    assert text.splitlines()[2:8] == [
        "strict: then passed, now failed",
        "                                 then         now",
        "  misrouted == 0.0               ✓ 0          ✗ 3",
        "  timer.recovery <= 30.0         ✓ 2.5        ✗ 40",
        "  requests / misrouted / errors  120 / 0 / 9  120 / 3 / 9",
        "  timer recovery                 2.5 s        40.0 s"]
    assert changed == ["strict: passed → failed", "strict: misrouted == 0.0 ✓ 0 → ✗ 3",
                       "strict: timer.recovery <= 30.0 ✓ 2.5 → ✗ 40"]


def test_settings_changed_ignores_placement():
    then = {"project": "a", "ports": {"http": 1}, "timings": {"x": "1s", "y": "2s"}}
    now = {"project": "b", "ports": {"http": 2}, "timings": {"x": "1s", "y": "3s"}, "z": 1}
    assert incident.settings_changed(then, now) == ["timings.y: 2s → 3s", "z: – → 1"]


LOG = """\
gorouter.started port=8080
web.apps.internal - [2026-11-29T16:00:09.500000000Z] "GET / HTTP/1.1" 200 0 10 "-" "-"
web.apps.internal - [2026-11-29T16:00:11.250000000Z] "GET / HTTP/1.1" 404 0 10 "-" "-"
web.apps.internal - [2026-11-29T16:00:20.000000000Z] "GET / HTTP/1.1" 200 0 10 "-" "-"
"""
T0 = 1795968000.0   # 2026-11-29T16:00:00Z


def test_access_time_reads_gorouters_stamp():
    assert evidence.access_time(LOG.splitlines()[2]) == T0 + 11.25
    assert evidence.access_time(LOG.splitlines()[0]) is None


def test_access_log_lines_around_each_fault():
    text = evidence.around_faults(LOG, [{"name": "restart router", "start": 10.0, "end": 10.0},
                                        {"name": "kill nats", "start": 30.0, "end": None}],
                                  T0, margin=2.0)
    blocks = text.split("\n\n")
    assert blocks[0].splitlines()[0] == ("== restart router: 10.0 s – 10.0 s after the load"
                                         " started, ±2 s: 2 lines")
    assert [evidence.access_time(x) - T0 for x in blocks[0].splitlines()[1:]] == [9.5, 11.25]
    assert blocks[1].splitlines()[1] == "(no access-log lines in this window)"
