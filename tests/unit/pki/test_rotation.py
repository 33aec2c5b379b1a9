"""credmanager.go's rotation period: 30 min before expiry over 4 h, else validity/8 before."""

from __future__ import annotations

import datetime as dt

import pytest

from foundry.pki import rotation_period

H, M, S = dt.timedelta(hours=1), dt.timedelta(minutes=1), dt.timedelta(seconds=1)


@pytest.mark.parametrize(
    ("validity", "expected"),
    [
        (24 * H, 23 * H + 30 * M),   # CF's default: a new cert every 23 h 30 m
        (4 * H + S, 3 * H + 30 * M + S),
        (4 * H, 3 * H + 30 * M),     # exactly 4 h is not "over 4 h": 4h - 4h/8
        (1 * H, 52 * M + 30 * S),
        (60 * S, 52.5 * S),
        (8 * S, 7 * S),
    ],
)
def test_rotation_period(validity, expected):
    assert rotation_period(validity) == expected


def test_rotation_always_precedes_expiry():
    for seconds in (60, 61, 3600, 14400, 14401, 86400, 7 * 86400):
        v = dt.timedelta(seconds=seconds)
        assert dt.timedelta(0) < rotation_period(v) < v


def test_zero_validity_is_refused():
    with pytest.raises(ValueError):
        rotation_period(dt.timedelta(0))
