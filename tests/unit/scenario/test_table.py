"""The one table of step kinds: complete, consistent, and the fault windows it drives."""

from __future__ import annotations

from orchestrator.scenario import schema
from orchestrator.scenario.table import (
    CONDITIONS,
    GROUPS,
    KINDS,
    Closes,
    Instant,
    Opens,
    Windows,
    closers_of,
)


def test_every_kind_is_complete():
    assert len(KINDS) >= 24 and len(CONDITIONS) >= 12
    for kind in KINDS.values():
        assert kind.group in GROUPS
        assert kind.doc, f"{kind.name} has no reference text (its handler's docstring)"
        assert kind.example.startswith(f"{kind.name}:"), kind.name
        assert callable(kind.handler)
        names = [p.name for p in kind.params]
        assert len(names) == len(set(names)), kind.name
        if isinstance(kind.window, (Opens, Instant)):
            kind.window.label.format_map({p.name: "x" for p in kind.params})
        if isinstance(kind.window, Closes):
            assert all(k in KINDS and isinstance(KINDS[k].window, Opens)
                       for k in kind.window.kinds), kind.name
            assert set(kind.window.match) <= set(names), kind.name
    for cond in CONDITIONS.values():
        assert cond.doc and cond.example.startswith("wait:")
        assert set(cond.needs + cond.uses) <= {p.name for p in KINDS["wait"].params}


def test_every_window_a_kind_opens_has_a_closer():
    for kind in KINDS.values():
        if isinstance(kind.window, Opens):
            assert closers_of(kind.name), kind.name


def run_steps(*steps: tuple[str, dict]) -> list[dict]:
    w = Windows()
    for t, (name, params) in enumerate(steps):
        w.before(KINDS[name], params, float(t))
        w.after(KINDS[name], params, float(t))
    w.close_all(99.0)
    return [(f["name"], f["start"], f["end"]) for f in w.faults]


def test_windows_open_close_and_instants():
    assert run_steps(
        ("partition", {"from": "cell-1", "to": "nats"}),
        ("partition", {"from": "router", "to": "bbs"}),
        ("kill_job", {"job": "router"}),
        ("pause_job", {"job": "nats"}),
        ("crash_instance", {"app": "web", "index": 1}),
        ("heal", {"from": "router", "to": "bbs"}),
        ("start_job", {"job": "nats"}),       # starts nothing that was killed: pause stays
        ("start_job", {"job": "router"}),
        ("heal", {}),                         # every partition left
    ) == [("partition cell-1|nats", 0.0, 8.0), ("partition router|bbs", 1.0, 5.0),
          ("kill router", 2.0, 7.0), ("pause nats", 3.0, 99.0), ("crash web/1", 4.0, 4.0)]


def test_open_windows_give_closers_their_parameters():
    w = Windows()
    w.before(KINDS["nats_outage"], {"how": "stop"}, 1.0)
    assert w.open("nats_outage") == [{"how": "stop"}]
    w.after(KINDS["nats_restore"], {}, 2.0)
    assert w.open("nats_outage") == [] and w.faults[0]["end"] == 2.0


def test_the_table_views_for_old_callers():
    assert schema.STEP_KINDS["wait"][0] == ("until",)
    assert "route_ok" in schema.WAIT_CONDITIONS
