"""The one Go-duration parser every job's config shares."""

from __future__ import annotations

import pytest

from foundry.durations import parse_go_duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("0", 0.0), ("-0", 0.0), ("120s", 120.0), ("250ms", 0.25), ("1m30s", 90.0),
    ("1h2m3.5s", 3723.5), ("-1.5h", -5400.0), ("+2m", 120.0), ("1500us", 0.0015),
    ("1µs", 1e-6), ("10ns", 1e-8), (".5s", 0.5), ("2.s", 2.0), ("24h", 86400.0),
])
def test_go_accepts(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "s", "1x", "1s2", "1 s", "--1s", "1.2.3s", "+", "ms"])
def test_go_rejects_with_its_message(text: str) -> None:
    with pytest.raises(ValueError, match=r'^time: invalid duration "'):
        parse_go_duration(text)
