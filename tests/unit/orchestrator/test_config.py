"""A bad foundation config gives a clear error naming the field."""

from __future__ import annotations

import pytest

from orchestrator import config
from orchestrator.config import ConfigError


def test_defaults_are_cf_defaults():
    cfg = config.load()
    assert cfg.mode == "after-envoy"
    assert cfg.timings["droplet_stale_threshold"] == 120
    assert cfg.timings["prune_stale_droplets_interval"] == 30
    assert cfg.timings["register_interval"] == 20
    assert cfg.timings["instance_identity_validity_period"] == 24 * 3600
    assert cfg.timings["configuration_reload_duration"] == 5
    assert str(cfg.cell_subnet(1)) == "10.255.1.0/24"
    assert str(cfg.cell_subnet(2)) == "10.255.2.0/24"
    assert cfg.router_workers == 1


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"mode": "envoy-ish"}, "mode:", "before-envoy, after-envoy, strict"),
        ({"subnets": {"cell_containers": "10.244.0.0/16"}}, "subnets.cell_containers:", "overlaps"),
        ({"subnets": {"foundation": "10.244.0.1/24"}}, "subnets.foundation:", "not an IPv4 subnet"),
        ({"timings": {"register_interval": "soon"}}, "timings.register_interval:", "duration"),
        ({"timings": {"droplet_stale_threshold": -5}}, "timings.droplet_stale_threshold:", "greater than zero"),
        ({"timings": {"prune_stale_droplets_interval": "10m"}}, "timings.prune_stale_droplets_interval:", "longer"),
        ({"timings": {"bogus_timer": "1s"}}, "timings.bogus_timer:", "unknown setting"),
        ({"cells": 0}, "cells:", "whole number"),
        ({"cells": "two"}, "cells:", "whole number"),
        ({"router_workers": 0}, "router_workers:", "whole number"),
        ({"router_workers": 1.5}, "router_workers:", "whole number"),
        ({"ports": {"http": 80}}, "ports.http:", "1024"),
        ({"ports": {"http": 8222}}, "ports:", "share"),
        ({"key_sizes": {"instance_identity": 1024}}, "key_sizes.instance_identity:", "2048"),
        ({"port_allocator": "random"}, "port_allocator:", "first-fit"),
        ({"project": "Bad Name"}, "project:", "lower-case"),
        ({"timings": "fast"}, "timings:", "mapping"),
    ],
)
def test_bad_values_name_the_field(overrides, field, words):
    with pytest.raises(ConfigError) as err:
        config.load(overrides=overrides)
    assert str(err.value).startswith(field), err.value
    assert words in str(err.value)


def test_durations():
    assert config.parse_duration("250ms", "x") == 0.25
    assert config.parse_duration("16m", "x") == 960
    assert config.parse_duration("24h", "x") == 86400
    assert config.parse_duration(3, "x") == 3.0
    with pytest.raises(ConfigError):
        config.parse_duration(True, "x")


def test_file_errors(tmp_path):
    bad = tmp_path / "f.yml"
    bad.write_text("mode: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        config.load(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        config.load(tmp_path / "missing.yml")


def test_file_overrides_merge_over_defaults(tmp_path):
    f = tmp_path / "f.yml"
    f.write_text("mode: strict\ntimings:\n  droplet_stale_threshold: 10s\n"
                 "  prune_stale_droplets_interval: 2s\n")
    cfg = config.load(f, overrides={"cells": 3})
    assert (cfg.mode, cfg.cells) == ("strict", 3)
    assert cfg.timings["droplet_stale_threshold"] == 10
    assert cfg.timings["register_interval"] == 20


def test_too_many_cells_for_the_subnet():
    with pytest.raises(ConfigError, match="^subnets.cell_containers:.*no room"):
        config.load(overrides={"subnets": {"cell_containers": "10.255.0.0/23"}, "cells": 2})


def test_uaa_users_and_clients_render_for_the_jobs(tmp_path, monkeypatch):
    import json

    from orchestrator import render

    cfg = config.load()
    assert [u["username"] for u in cfg.uaa["users"]] == ["admin"]
    assert {"cf", "ssh-proxy", "cflab-dashboard"} <= set(cfg.uaa["clients"])
    assert cfg.uaa["clients"]["cf"]["authorized-grant-types"] == ["password", "refresh_token"]
    monkeypatch.setattr(render, "STATE_ROOT", tmp_path)
    render.render_all(cfg)
    uaa = tmp_path / "cflab" / "jobs" / "uaa" / "uaa.json"
    assert uaa.stat().st_mode & 0o777 == 0o600  # holds passwords and client secrets
    assert json.loads(uaa.read_text())["url"] == "https://127.0.0.1:9024"
    cc = json.loads((tmp_path / "cflab" / "jobs" / "cloud_controller" /
                     "cloud_controller.json").read_text())
    assert (cc["external_url"], cc["uaa_url"]) == ("https://127.0.0.1:9022",
                                                   "https://127.0.0.1:9024")


@pytest.mark.parametrize("uaa, words", [
    ({"clients": [{"client_id": "x", "authorized-grant-types": ["implicit"]}]},
     "uaa.clients.x.authorized-grant-types"),
    ({"clients": [{"secret": "s"}]}, "client_id"),
    ({"users": [{"username": "u"}]}, "uaa.users[0]"),
    ({"access_token_validity": "soon"}, "uaa.access_token_validity"),
])
def test_bad_uaa_settings_name_the_field(uaa, words):
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("]", r"\]")):
        config.load(overrides={"uaa": uaa})
