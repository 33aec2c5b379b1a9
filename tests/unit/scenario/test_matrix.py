"""The side-by-side table of every scenario's results."""

from __future__ import annotations

import json

import pytest

from orchestrator.scenario import matrix


def mode(status="passed", requests=10, misrouted=0, errors=0, checks=None):
    doc = {"status": status, "counts": {"requests": requests, "misrouted": misrouted,
                                        "errors": errors}}
    if checks is not None:
        doc["checks"] = checks
    return doc


def test_a_row_per_scenario_a_column_per_mode():
    text = matrix.table({
        "stale": {"modes": {"before-envoy": mode(requests=360, misrouted=285, errors=42),
                            "strict": mode(status="failed", errors=3)}},
        "direct": {"modes": {"strict": mode(checks={"no-client-cert": False})}},
    })
    lines = text.splitlines()
    assert lines[0] == "| scenario | before-envoy | after-envoy | strict |"
    assert lines[2] == "| direct | – | – | ✓ 0/10 misrouted, 0 errors; no-client-cert no |"
    assert lines[3] == ("| stale | ✓ 285/360 misrouted, 42 errors | – |"
                        " ✗ 0/10 misrouted, 3 errors |")


def test_load_reads_each_result_json(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "result.json").write_text(json.dumps({"modes": {"strict": mode()}}))
    assert list(matrix.load(tmp_path)) == ["a"]
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "result.json").write_text("{not json")
    with pytest.raises(ValueError, match="b/result.json"):
        matrix.load(tmp_path)
