"""The proxy's config loader (YAML text, bootstrap, LDS, SDS) under fuzzed input.

Properties: YAML text loads or raises ConfigError; a document, valid or mutated
anywhere, parses or raises ConfigError naming a field (never another exception);
nothing takes long; an accepted document parsed again gives the same result.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from foundry.envoy.config import load_yaml, parse_bootstrap, parse_lds, parse_sds
from foundry.envoy.model import ConfigError
from tests.fuzz.fuzzlib import corpus, timed

CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
KEY_B64 = "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUUKLS0tLS1FTkQgUFJJVkFURSBLRVktLS0tLQo="
V3_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
V3_TCP = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
V3_LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener"
V3_SECRET = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"

BOOTSTRAP = {
    "admin": {"access_log_path": "/dev/null",
              "address": {"socket_address": {"address": "127.0.0.1", "port_value": 61003}}},
    "node": {"id": "sidecar~10.0.0.1~x~x", "cluster": "proxy-cluster"},
    "static_resources": {"clusters": [{
        "name": "0-service-cluster", "connect_timeout": "0.25s", "type": "STATIC",
        "lb_policy": "ROUND_ROBIN",
        "load_assignment": {"cluster_name": "0-service-cluster", "endpoints": [{"lb_endpoints": [
            {"endpoint": {"address": {"socket_address": {"address": "10.0.0.1",
                                                         "port_value": 8080}}}}]}]}}]},
    "dynamic_resources": {"lds_config": {"path": "/etc/cf-assets/envoy_config/listeners.yaml"}},
}
LDS = {"version_info": "0", "resources": [{
    "@type": V3_LISTENER, "name": "listener-8080",
    "address": {"socket_address": {"address": "0.0.0.0", "port_value": 61001}},
    "filter_chains": [{
        "filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": {
            "@type": V3_TCP, "stat_prefix": "0-stats", "cluster": "0-service-cluster",
            "idle_timeout": "60s"}}],
        "transport_socket_connect_timeout": {"seconds": 10, "nanos": 5},
        "transport_socket": {"name": "tls", "typed_config": {
            "@type": V3_TLS, "require_client_certificate": True,
            "common_tls_context": {
                "tls_certificate_sds_secret_configs": [{
                    "name": "server-cert-and-key",
                    "sds_config": {"path": "/etc/cf-assets/envoy_config/sds-server-cert.yaml"}}],
                "tls_params": {"cipher_suites": ["[ECDHE-RSA-AES128-GCM-SHA256|"
                                                 "ECDHE-RSA-AES256-GCM-SHA384]"],
                               "tls_minimum_protocol_version": "TLSv1_2"},
                "validation_context": {
                    "trusted_ca": {"inline_string": CERT},
                    "match_typed_subject_alt_names": [{"san_type": "DNS", "matcher": {
                        "exact": "gorouter.service.cf.internal"}}],
                    "match_subject_alt_names": [{"safe_regex": {"regex": "^a.*$"}}]},
                "alpn_protocols": "h2,http/1.1"}}}}]}]}
SDS = {"resources": [{"@type": V3_SECRET, "name": "server-cert-and-key",
                      "tls_certificate": {"certificate_chain": {"inline_string": CERT},
                                          "private_key": {"inline_bytes": KEY_B64}}},
                     {"@type": V3_SECRET, "name": "ca",
                      "validation_context": {"trusted_ca": {"inline_string": CERT}}}]}
TEMPLATES = {"bootstrap": (BOOTSTRAP, parse_bootstrap), "lds": (LDS, parse_lds),
             "sds": (SDS, parse_sds)}

values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 10**400),
              st.floats(), st.text(max_size=12),
              st.sampled_from(["0.25s", "-1s", "1e400s", "TLS_AUTO", "TLSv1_3", "tls",
                               "STATIC", "[", "|", "a{4294967296}", "(" * 200 + ")" * 200,
                               CERT, KEY, V3_TLS, V3_TCP, V3_SECRET])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["value", "seconds", "nanos",
                                                             "regex", "exact", "path"]),
                                            inner, max_size=2)),
    max_leaves=5)


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, template: dict) -> Any:
    doc = copy.deepcopy(template)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(doc)))
        if not where:
            return draw(values)
        parent = doc
        for k in where[:-1]:
            parent = parent[k]
        if isinstance(parent, dict) and draw(st.booleans()) and draw(st.booleans()):
            del parent[where[-1]]
        else:
            parent[where[-1]] = draw(values)
    return doc


def parse_or_config_error(kind: str, doc: Any):
    parse = TEMPLATES[kind][1]
    try:
        return timed(parse, doc, lambda p: b"")
    except ConfigError as e:
        assert str(e), "a ConfigError names the field and the reason"
        return e


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
def test_templates_are_valid(kind: str) -> None:
    result = parse_or_config_error(kind, TEMPLATES[kind][0])
    assert not isinstance(result, ConfigError), result


@given(st.sampled_from(sorted(TEMPLATES)).flatmap(
    lambda kind: st.tuples(st.just(kind), mutated(TEMPLATES[kind][0]))))
@example(("lds", {"resources": [{"@type": [V3_LISTENER]}]}))
@example(("sds", {"type_url": {"a": 1}}))
def test_mutated_document_parses_or_names_the_field(case: tuple[str, Any]) -> None:
    kind, doc = case
    first = parse_or_config_error(kind, doc)
    if not isinstance(first, ConfigError):
        assert parse_or_config_error(kind, doc) == first  # deterministic, input not consumed


yaml_text = st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from(["a:", " ", "\n", "- ", "[", "]", "{", "}", "&x", "*x", "!!binary",
                              "2001-13-01", "!!float", "1e400", ":", "'", '"', "? ", "|",
                              "!!python/object:os.system", "<<: *x", "~", "\t", "%YAML 1.1"]),
             max_size=20).map("".join))


@given(yaml_text)
@example("a: 2001-13-01")
@example("[" * 3000)
def test_yaml_text_loads_or_is_a_config_error(text: str) -> None:
    try:
        timed(load_yaml, text, "sds.yaml")
    except ConfigError:
        pass


@pytest.mark.parametrize("data", corpus("envoy_yaml"))
def test_envoy_corpus(data: bytes) -> None:
    for kind in sorted(TEMPLATES):
        try:
            doc = load_yaml(data)
        except ConfigError:
            return
        parse_or_config_error(kind, doc)
