"""What every job's config loader shares: BOSH-style typed fields and host:port."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from foundry.jobconfig import listen_address, split_host_port, typed_fields


class Bad(Exception):
    pass


@dataclass
class Cfg:
    name: str = "x"
    count: int = 1
    ratio: float = 0.5
    enabled: bool = False


def test_typed_fields_coerces_ignores_unknown_and_keeps_defaults_for_null() -> None:
    raw = {"name": 7, "count": "3", "ratio": 2, "enabled": True, "unknown": 1, "skipme": 1}
    assert typed_fields(Cfg, {**raw, "ratio": None}, Bad) == {
        "name": "7", "count": 3, "enabled": True}
    assert typed_fields(Cfg, raw, Bad)["ratio"] == 2.0


@pytest.mark.parametrize(("raw", "message"), [
    ({"count": "many"}, "count: invalid literal"),
    ({"enabled": "false"}, "enabled: expected true or false, got 'false'"),
    ({"ratio": [1]}, "ratio: "),
])
def test_typed_fields_names_the_field(raw: dict, message: str) -> None:
    with pytest.raises(Bad, match=f"^{message}"):
        typed_fields(Cfg, raw, Bad)


def test_split_host_port() -> None:
    assert split_host_port("0.0.0.0:8889") == ("0.0.0.0", 8889)
    assert split_host_port(":9022") == ("0.0.0.0", 9022)
    assert split_host_port("bbs:8889") == ("bbs", 8889)
    for bad in ("8889", "bbs:", "bbs:http", "bbs:0", "bbs:70000"):
        with pytest.raises(ValueError, match="is not host:port"):
            split_host_port(bad)
    with pytest.raises(Bad, match="^internal_listen_address: 'x' is not host:port$"):
        listen_address("x", Bad, "internal_listen_address")
