"""The executor's proxy config in each mode, parsed back by foundry.envoy."""

from __future__ import annotations

import pytest
import yaml

from foundry.envoy import config as envoy_config
from foundry.envoy.model import SocketAddress
from foundry.rep import proxy_config
from tests.envoy_support import FIXTURES
from tests.rep_support import instance_pems


@pytest.fixture(scope="module")
def spec_args():
    chain, key, router_ca = instance_pems()
    return dict(container_ip="10.255.1.2", app_ports=[8080, 2222],
                cert_chain=chain, private_key=key, trusted_ca=router_ca)


def test_proxy_ports_skip_app_ports_and_61443():
    assert proxy_config.proxy_ports([8080, 2222]) == {8080: 61001, 2222: 61002}
    assert proxy_config.proxy_ports([61001, 61002]) == {61001: 61003, 61002: 61005}
    with pytest.raises(ValueError, match="61443"):
        proxy_config.proxy_ports([61443])


def test_seed_layout_matches_the_pcf_2_2_capture(spec_args):
    files = proxy_config.render(proxy_config.ProxySpec(**spec_args))
    assert sorted(files) == ["envoy.yaml", "listeners.yaml"]
    ours = yaml.safe_load(files["envoy.yaml"])
    theirs = yaml.safe_load((FIXTURES / "pcf-2.2-envoy.yaml").read_text())
    theirs["static_resources"]["clusters"][0]["hosts"][0]["socket_address"]["address"] = "10.255.1.2"
    theirs["static_resources"]["clusters"][1]["hosts"][0]["socket_address"]["address"] = "10.255.1.2"
    assert ours == theirs
    lds = yaml.safe_load(files["listeners.yaml"])
    captured = yaml.safe_load((FIXTURES / "pcf-2.2-listeners.yaml").read_text())
    for mine, real in zip(lds["resources"], captured["resources"], strict=True):
        real_tls = real["filter_chains"][0]["tls_context"]["common_tls_context"]
        real_tls["tls_certificates"][0]["certificate_chain"]["inline_string"] = spec_args["cert_chain"]
        real_tls["tls_certificates"][0]["private_key"]["inline_string"] = spec_args["private_key"]
        assert mine == real


@pytest.mark.parametrize("layout", ["seed", "sds"])
@pytest.mark.parametrize("strict", [False, True])
def test_every_mode_parses_back(spec_args, layout, strict):
    files = proxy_config.render(proxy_config.ProxySpec(**spec_args, strict=strict, layout=layout))
    by_path = {f"{proxy_config.CONFIG_DIR}/{n}": t.encode() for n, t in files.items()}
    bootstrap, warnings = envoy_config.parse_bootstrap(
        envoy_config.load_yaml(files["envoy.yaml"]), read_file=lambda p: by_path[p])
    assert warnings == []
    for i, port in enumerate([8080, 2222]):
        cluster = yaml.safe_load(files["envoy.yaml"])["static_resources"]["clusters"][i]
        assert ("hosts" in cluster) is (layout == "seed")  # v3 (sds) has only load_assignment
        assert ("load_assignment" in cluster) is (layout == "sds")
        assert bootstrap.clusters[cluster["name"]].endpoints == (SocketAddress("10.255.1.2", port),)
    if layout == "seed":
        listeners, _ = envoy_config.parse_lds(envoy_config.load_yaml(files["listeners.yaml"]))
        assert [ls.name for ls in listeners] == ["listener-8080", "listener-2222"]
        text = files["listeners.yaml"]
    else:
        secrets, _ = envoy_config.parse_sds(envoy_config.load_yaml(files["sds-id-cert-and-key.yaml"]))
        assert "id-cert-and-key" in secrets
        text = files["envoy.yaml"]
    assert ("require_client_certificate: true" in text) is strict
    if strict and layout == "sds":
        secrets, _ = envoy_config.parse_sds(
            envoy_config.load_yaml(files["sds-id-validation-context.yaml"]))
        assert "id-validation-context" in secrets


@pytest.mark.parametrize("layout", ["seed", "sds"])
def test_libyaml_writes_the_same_text_as_pure_python(spec_args, layout, monkeypatch):
    """The rep renders with libyaml's emitter for speed; the files must not change."""
    fast = proxy_config.render(proxy_config.ProxySpec(**spec_args, strict=True, layout=layout))
    monkeypatch.setattr(proxy_config, "_DUMPER", yaml.SafeDumper)
    assert proxy_config.render(proxy_config.ProxySpec(**spec_args, strict=True,
                                                      layout=layout)) == fast
