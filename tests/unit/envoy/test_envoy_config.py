"""Parsing the seed-era fixtures, SDS files and broken documents."""

from __future__ import annotations

import pytest
import yaml

from foundry.envoy.config import parse_bootstrap, parse_lds, parse_sds
from foundry.envoy.model import ConfigError, SocketAddress
from foundry.envoy.resolve import resolve_tls
from foundry.envoy.tlsctx import build_server_context

SDS_CERT = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"


def test_fixture_bootstrap(fixture_text):
    boot, warnings = parse_bootstrap(yaml.safe_load(fixture_text("pcf-2.2-envoy.yaml")))
    assert boot.admin == SocketAddress("127.0.0.1", 61004)
    assert set(boot.clusters) == {"0-service-cluster", "1-service-cluster"}
    c0 = boot.clusters["0-service-cluster"]
    assert c0.connect_timeout == 0.25
    assert c0.endpoints == (SocketAddress("10.255.247.3", 8080),)
    assert boot.lds is not None and boot.lds.path == "/etc/cf-assets/envoy_config/listeners.yaml"
    assert warnings == []


def test_fixture_listeners(fixture_text, pki, fill):
    inst = pki["instance"]
    text = fill(fixture_text("pcf-2.2-listeners.yaml"), inst.chain_pem, inst.key_pem)
    listeners, warnings = parse_lds(yaml.safe_load(text))
    assert warnings == []
    assert [li.name for li in listeners] == ["listener-8080", "listener-2222"]
    li = listeners[0]
    assert li.address == SocketAddress("0.0.0.0", 61001)
    assert li.address.stat_name == "0.0.0.0_61001"
    assert li.tcp_proxy.cluster == "0-service-cluster"
    assert li.tcp_proxy.stat_prefix == "0-stats"
    assert li.tls is not None
    assert li.tls.certificates[0].chain_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert li.tls.params.cipher_list == "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"
    assert li.tls.params.server_preference is False
    assert not li.tls.require_client_certificate
    ctx = build_server_context(resolve_tls(li.tls, {}, "x"))
    assert ctx.verify_mode.name == "CERT_NONE"


def test_strict_v2_listener(fixture_text, pki, fill):
    inst = pki["instance"]
    doc = yaml.safe_load(fill(fixture_text("pcf-2.2-listeners.yaml"),
                                      inst.chain_pem, inst.key_pem))
    tls = doc["resources"][0]["filter_chains"][0]["tls_context"]
    tls["require_client_certificate"] = True
    tls["common_tls_context"]["validation_context"] = {
        "trusted_ca": {"inline_string": pki["root"].cert_pem.decode()},
        "verify_subject_alt_name": ["gorouter.service.cf.internal"],
    }
    listeners, _ = parse_lds(doc)
    t = listeners[0].tls
    assert t.require_client_certificate
    assert [m.value for m in t.validation.san_matchers] == ["gorouter.service.cf.internal"]
    ctx = build_server_context(resolve_tls(t, {}, "x"))
    assert ctx.verify_mode.name == "CERT_REQUIRED"


def _v3_listener(sds_dir: str) -> dict:
    return {
        "@type": "type.googleapis.com/envoy.config.listener.v3.Listener",
        "name": "listener-8080-61001",
        "address": {"socket_address": {"address": "0.0.0.0", "port_value": 61001}},
        "filter_chains": [{
            "filters": [{
                "name": "envoy.filters.network.tcp_proxy",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
                    "stat_prefix": "stats-8080-61001", "cluster": "service-cluster-8080"}}],
            "transport_socket": {
                "name": "tls",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
                    "require_client_certificate": True,
                    "common_tls_context": {
                        "tls_params": {"cipher_suites": ["ECDHE-RSA-AES256-GCM-SHA384",
                                                         "ECDHE-RSA-AES128-GCM-SHA256"]},
                        "tls_certificate_sds_secret_configs": [{
                            "name": "id-cert-and-key",
                            "sds_config": {"path_config_source": {
                                "path": f"{sds_dir}/sds-id-cert-and-key.yaml",
                                "watched_directory": {"path": sds_dir}}}}],
                        "validation_context_sds_secret_config": {
                            "name": "id-validation-context",
                            "sds_config": {"path": f"{sds_dir}/sds-id-validation-context.yaml"}},
                    }}}}],
    }


def _sds_docs(pki) -> tuple[dict, dict]:
    inst = pki["instance"]
    cert = {"version_info": "0", "resources": [{
        "@type": SDS_CERT, "name": "id-cert-and-key",
        "tls_certificate": {"certificate_chain": {"inline_string": inst.chain_pem.decode()},
                            "private_key": {"inline_string": inst.key_pem.decode()}}}]}
    val = {"version_info": "0", "resources": [{
        "@type": SDS_CERT, "name": "id-validation-context",
        "validation_context": {
            "trusted_ca": {"inline_string": pki["root"].cert_pem.decode()},
            "match_subject_alt_names": [{"exact": "gorouter.service.cf.internal"},
                                        {"suffix": ".service.cf.internal"}]}}]}
    return cert, val


def test_v3_bootstrap_with_sds(pki, tmp_path):
    boot_doc = {
        "admin": {"access_log_path": "/dev/null",
                  "address": {"socket_address": {"address": "127.0.0.1", "port_value": 61003}}},
        "node": {"id": "sidecar~10.0.0.1~guid~x", "cluster": "proxy-cluster"},
        "stats_config": {"stats_matcher": {"reject_all": True}},
        "static_resources": {
            "clusters": [{
                "name": "service-cluster-8080", "connect_timeout": "0.25s", "type": "STATIC",
                "circuit_breakers": {"thresholds": [{"max_connections": 4294967295}]},
                "load_assignment": {"cluster_name": "service-cluster-8080", "endpoints": [
                    {"lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                        "address": "10.255.1.2", "port_value": 8080}}}}]}]}}],
            "listeners": [_v3_listener(str(tmp_path))],
        },
    }
    boot, warnings = parse_bootstrap(boot_doc)
    assert warnings == []
    assert boot.node_id.startswith("sidecar~")
    assert boot.clusters["service-cluster-8080"].endpoints == (SocketAddress("10.255.1.2", 8080),)
    tls = boot.listeners[0].tls
    assert tls.certificate_sds[0].path == f"{tmp_path}/sds-id-cert-and-key.yaml"
    assert tls.validation_sds.path == f"{tmp_path}/sds-id-validation-context.yaml"
    cert_doc, val_doc = _sds_docs(pki)
    certs, w1 = parse_sds(cert_doc)
    vals, w2 = parse_sds(val_doc)
    assert w1 == w2 == []
    store = {tls.certificate_sds[0].path: certs, tls.validation_sds.path: vals}
    res = resolve_tls(tls, store, "l")
    assert res.certificate.key_pem == pki["instance"].key_pem
    assert [m.kind for m in res.validation.san_matchers] == ["exact", "suffix"]
    build_server_context(res)


def test_sds_filename_data_source(pki, tmp_path):
    inst = pki["instance"]
    (tmp_path / "c.pem").write_bytes(inst.chain_pem)
    (tmp_path / "k.pem").write_bytes(inst.key_pem)
    doc = {"resources": [{"@type": SDS_CERT, "name": "id", "tls_certificate": {
        "certificate_chain": {"filename": str(tmp_path / "c.pem")},
        "private_key": {"filename": str(tmp_path / "k.pem")}}}]}
    secrets, _ = parse_sds(doc, lambda p: open(p, "rb").read())
    assert secrets["id"].tls_certificate.chain_path == str(tmp_path / "c.pem")


def _lds(fixture_text, pki, fill) -> dict:
    inst = pki["instance"]
    return yaml.safe_load(fill(fixture_text("pcf-2.2-listeners.yaml"),
                                       inst.chain_pem, inst.key_pem))


@pytest.mark.parametrize("mutate, path", [
    (lambda d: d["resources"][0]["filter_chains"][0]["tls_context"]["common_tls_context"].pop(
        "tls_certificates"), "resources[0].filter_chains[0].tls_context.common_tls_context"),
    (lambda d: d["resources"][1]["address"]["socket_address"].update(port_value="http"),
     "resources[1].address.socket_address.port_value"),
    (lambda d: d["resources"][0]["filter_chains"][0]["filters"][0].update(name="envoy.http_connection_manager"),
     "resources[0].filter_chains[0].filters[0].name"),
    (lambda d: d["resources"][0]["filter_chains"][0]["tls_context"]["common_tls_context"]["tls_params"].update(
        cipher_suites="[ECDHE-RSA-AES256-GCM-SHA384|NOT-A-CIPHER]"),
     "resources[0].filter_chains[0].tls_context.common_tls_context.tls_params.cipher_suites"),
    (lambda d: d["resources"][0]["filter_chains"][0]["tls_context"]["common_tls_context"]["tls_certificates"][0][
        "private_key"].update(inline_string="garbage"),
     "resources[0].filter_chains[0].tls_context.common_tls_context.tls_certificates[0].private_key"),
    (lambda d: d["resources"][0].update({"@type": "type.googleapis.com/envoy.api.v2.Cluster"}),
     "resources[0].@type"),
    (lambda d: d["resources"][1].update(name="listener-8080"), "resources[1].name"),
    (lambda d: d["resources"][0]["filter_chains"][0]["tls_context"].update(require_client_certificate=True),
     "resources[0].filter_chains[0].tls_context.require_client_certificate"),
])
def test_broken_lds_names_field(fixture_text, pki, fill, mutate, path):
    doc = _lds(fixture_text, pki, fill)
    mutate(doc)
    with pytest.raises(ConfigError) as err:
        parse_lds(doc)
    assert err.value.path == path
    assert str(err.value).startswith(path + ": ")


def test_broken_bootstrap(fixture_text):
    doc = yaml.safe_load(fixture_text("pcf-2.2-envoy.yaml"))
    doc["static_resources"]["clusters"][0]["connect_timeout"] = "soon"
    with pytest.raises(ConfigError, match=r"^static_resources.clusters\[0\].connect_timeout: "):
        parse_bootstrap(doc)
    doc = yaml.safe_load(fixture_text("pcf-2.2-envoy.yaml"))
    doc["static_resources"]["clusters"][1]["type"] = "STRICT_DNS"
    with pytest.raises(ConfigError, match=r"clusters\[1\].type: only STATIC"):
        parse_bootstrap(doc)
    doc = yaml.safe_load(fixture_text("pcf-2.2-envoy.yaml"))
    doc["dynamic_resources"]["lds_config"] = {"ads": {}}
    with pytest.raises(ConfigError, match="dynamic_resources.lds_config: only file-based"):
        parse_bootstrap(doc)


def test_unknown_fields_are_reported(fixture_text):
    doc = yaml.safe_load(fixture_text("pcf-2.2-envoy.yaml"))
    doc["static_resources"]["clusters"][0]["outlier_detection"] = {"consecutive_5xx": 1}
    doc["tracing"] = {}
    _, warnings = parse_bootstrap(doc)
    assert "static_resources.clusters[0].outlier_detection: unsupported field ignored" in warnings
    assert "tracing: unsupported field ignored" in warnings


def test_broken_sds(pki):
    cert_doc, _ = _sds_docs(pki)
    cert_doc["resources"][0]["tls_certificate"]["certificate_chain"] = {"inline_string": "x"}
    with pytest.raises(ConfigError, match=r"^resources\[0\].tls_certificate.certificate_chain: "):
        parse_sds(cert_doc)
    with pytest.raises(ConfigError, match=r"^resources\[0\]: a secret needs"):
        parse_sds({"resources": [{"@type": SDS_CERT, "name": "x"}]})


def test_mismatched_key_is_rejected_when_building(pki):
    other = pki["inter"]
    cert_doc, _ = _sds_docs(pki)
    cert_doc["resources"][0]["tls_certificate"]["private_key"]["inline_string"] = other.key_pem.decode()
    secrets, _ = parse_sds(cert_doc)
    from foundry.envoy.model import DownstreamTls, ResolvedTls, TlsParams

    res = ResolvedTls(TlsParams("ECDHE-RSA-AES128-GCM-SHA256", True), secrets["id-cert-and-key"].tls_certificate,
                      None, False, (), True)
    with pytest.raises(ConfigError, match="cannot load certificate chain and key"):
        build_server_context(res, "listeners[0]")
    assert DownstreamTls  # imported for the shape
