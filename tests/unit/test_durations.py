"""The one Go-duration parser every job's config shares."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


def _regex_reference(text: str) -> float:
    """The grammar as the regular expression the parser once was (it runs without `re`
    now, to keep the health check small): the scanner must agree with it everywhere."""
    import re

    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
             "m": 60.0, "h": 3600.0}
    s = text.strip()
    body = s[1:] if s[:1] in ("+", "-") else s
    if body == "0":
        return 0.0
    if not re.fullmatch(r"(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+", body):
        raise ValueError(f'time: invalid duration "{text}"')
    total = sum(float(n) * units[u] for n, u in re.findall(
        r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)", body))
    return -total if s.startswith("-") else total


@given(st.text(alphabet="0123456789.+-smhnuµμ x", max_size=12))
def test_the_scanner_agrees_with_the_regular_grammar(text: str) -> None:
    try:
        want: float | str = _regex_reference(text)
    except ValueError as e:
        want = str(e)
    try:
        got: float | str = parse_go_duration(text)
    except ValueError as e:
        got = str(e)
    assert got == want or (isinstance(got, float) and isinstance(want, float)
                           and got == pytest.approx(want)), text
