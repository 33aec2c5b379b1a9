"""What every job's config loader shares: BOSH-style typed fields and host:port."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from foundry.jobconfig import JobConfig, listen_address, split_host_port, typed_fields


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
    ({"count": True}, "count: expected a whole number, got True"),
    ({"count": 1.5}, "count: expected a whole number, got 1.5"),
    ({"name": ["a"]}, r"name: expected a string, got \['a'\]"),
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


@dataclass(frozen=True)
class Job(JobConfig):
    error = Bad
    required = ("cert_file",)
    special = ("peers",)

    listen_address: str = "0.0.0.0:8080"
    cert_file: str = ""
    workers: int = 1
    peers: tuple[str, ...] = ()

    @classmethod
    def special_fields(cls, raw: dict) -> dict:
        return {"peers": tuple(raw["peers"])} if "peers" in raw else {}

    def check(self) -> None:
        if self.workers < 1:
            raise Bad("workers: must be at least 1")


def test_job_config_reads_typed_and_special_fields_and_checks_each_rule(tmp_path) -> None:
    cfg = Job.from_dict({"cert_file": "c.pem", "workers": "2", "peers": ["a"], "other": 1})
    assert (cfg.workers, cfg.peers, cfg.address) == (2, ("a",), ("0.0.0.0", 8080))
    for raw, message in [({}, "^cert_file: required$"),
                         ({"cert_file": "c", "listen_address": "x"},
                          "^listen_address: 'x' is not host:port$"),
                         ({"cert_file": "c", "workers": 0}, "^workers: must be at least 1$")]:
        with pytest.raises(Bad, match=message):
            Job.from_dict(raw)
    path = tmp_path / "job.json"
    path.write_text("[]")
    with pytest.raises(Bad, match="job.json: top level must be an object"):
        Job.load(str(path))
