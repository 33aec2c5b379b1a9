"""Cipher syntax, SAN matching, stats and admin formatting."""

from __future__ import annotations

import json

import pytest

from foundry.envoy import admin, stats
from foundry.envoy.certinfo import certs_json
from foundry.envoy.ciphers import CipherError, parse_cipher_suites
from foundry.envoy.model import (
    Cluster,
    Listener,
    ResolvedTls,
    SocketAddress,
    StringMatcher,
    TcpProxy,
    TlsCertificate,
    TlsParams,
    ValidationContext,
)
from foundry.envoy.san import peer_sans, san_allowed
from foundry.envoy.watch import FileWatcher


def test_cipher_group_only_means_client_preference():
    spec = parse_cipher_suites(["[ECDHE-RSA-AES256-GCM-SHA384|ECDHE-RSA-AES128-GCM-SHA256]"])
    assert spec.openssl == "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"
    assert spec.server_preference is False


def test_cipher_mixed_list_and_iana_names():
    spec = parse_cipher_suites(["[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-RSA-AES128-GCM-SHA256]",
                                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"])
    assert spec.openssl.split(":") == ["ECDHE-ECDSA-AES128-GCM-SHA256",
                                       "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"]
    assert spec.server_preference is True
    assert any("TLS 1.3" in n for n in spec.notes)


def test_cipher_colon_joined_string_and_default():
    assert parse_cipher_suites(["ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"]
                               ).openssl.count(":") == 1
    assert "ECDHE-RSA-AES128-GCM-SHA256" in parse_cipher_suites(None).openssl


@pytest.mark.parametrize("bad", ["[ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256]",
                                 "[A|[B]]", "NOPE-CIPHER", "A|B", "[ECDHE-RSA-AES128-GCM-SHA256|]"])
def test_cipher_errors(bad):
    with pytest.raises(CipherError):
        parse_cipher_suites([bad])


def test_san_matching():
    sans = peer_sans({"subjectAltName": (("DNS", "gorouter.service.cf.internal"),
                                         ("IP Address", "10.0.0.1"))})
    assert sans == ["gorouter.service.cf.internal", "10.0.0.1"]
    exact = StringMatcher("exact", "gorouter.service.cf.internal")
    assert san_allowed([exact], sans)
    assert not san_allowed([exact], ["ssh-proxy.service.cf.internal"])
    assert san_allowed([StringMatcher("suffix", ".CF.internal", ignore_case=True)], sans)
    assert san_allowed([StringMatcher("safe_regex", r"10\.0\.0\.\d+")], sans)
    assert san_allowed([], [])
    assert not san_allowed([exact], peer_sans(None))


def test_stats_formats():
    s = stats.Stats()
    s.counter("listener.0.0.0.0_61001.downstream_cx_total").value = 3
    s.gauge("listener.0.0.0.0_61001.downstream_cx_active").value = 1
    s.inc("cluster.0-service-cluster.upstream_cx_connect_fail")
    s.inc("sds.id-cert-and-key.update_success")
    rows = s.items()
    text = stats.render_text(rows)
    assert "listener.0.0.0.0_61001.downstream_cx_total: 3\n" in text
    assert text.splitlines() == sorted(text.splitlines())
    assert stats.render_text(rows, "cluster") == "cluster.0-service-cluster.upstream_cx_connect_fail: 1\n"
    data = json.loads(stats.render_json(rows))
    assert {"name": "listener.0.0.0.0_61001.downstream_cx_active", "value": 1} in data["stats"]
    prom = stats.render_prometheus(rows)
    assert "# TYPE envoy_listener_downstream_cx_total counter\n" in prom
    assert 'envoy_listener_downstream_cx_total{envoy_listener_address="0.0.0.0_61001"} 3' in prom
    assert "# TYPE envoy_listener_downstream_cx_active gauge" in prom
    assert 'envoy_cluster_upstream_cx_connect_fail{envoy_cluster_name="0-service-cluster"} 1' in prom


class FakeBackend:
    draining = False

    def __init__(self, tls: ResolvedTls) -> None:
        self.tls = tls
        self.drained = False
        self.s = stats.Stats()
        self.s.inc("listener_manager.lds.update_success")

    def server_info(self):
        return {"state": "LIVE"}

    def stats_rows(self):
        return self.s.items()

    def cluster_views(self):
        c = Cluster("0-service-cluster", 0.25, (SocketAddress("10.0.0.1", 8080),))
        return [(c, {"10.0.0.1:8080": {"cx_active": 2, "cx_total": 5}})]

    def active_listeners(self):
        return [Listener("listener-8080", SocketAddress("0.0.0.0", 61001), TcpProxy("s", "c"))]

    def tls_contexts(self):
        return [self.tls]

    def config_dump(self):
        return {"configs": [{"x": {"private_key": {"inline_string": "SECRET"}}}]}

    def drain_listeners(self):
        self.drained = True

    def quit(self):
        pass


@pytest.fixture
def backend(pki):
    inst = pki["instance"]
    tls = ResolvedTls(TlsParams("ECDHE-RSA-AES128-GCM-SHA256", True),
                      TlsCertificate(inst.chain_pem, inst.key_pem),
                      ValidationContext(pki["root"].cert_pem), False, (), True)
    return FakeBackend(tls)


def test_admin_endpoints(backend, pki):
    assert admin.handle(backend, "GET", "/ready").body == "LIVE\n"
    r = admin.handle(backend, "GET", "/stats?filter=lds")
    assert r.body == "listener_manager.lds.update_success: 1\n"
    assert json.loads(admin.handle(backend, "GET", "/stats?format=json").body)["stats"]
    assert "0-service-cluster::10.0.0.1:8080::cx_active::2\n" in admin.handle(backend, "GET", "/clusters").body
    assert admin.handle(backend, "GET", "/listeners").body == "listener-8080::0.0.0.0:61001\n"
    lj = json.loads(admin.handle(backend, "GET", "/listeners?format=json").body)
    assert lj["listener_statuses"][0]["local_address"]["socket_address"]["port_value"] == 61001
    dump = admin.handle(backend, "GET", "/config_dump").body
    assert "SECRET" not in dump and "[redacted]" in dump
    assert admin.handle(backend, "GET", "/drain_listeners").status == 405
    r = admin.handle(backend, "POST", "/drain_listeners")
    assert r.status == 200 and r.after is not None
    r.after()
    assert backend.drained
    assert admin.handle(backend, "GET", "/nope").status == 404
    assert admin.handle(backend, "GET", "/stats?filter=(").status == 400


def test_certs_json(backend, pki):
    data = certs_json(backend.tls_contexts())
    chain = data["certificates"][0]["cert_chain"]
    leaf = pki["instance"].cert
    assert chain[0]["serial_number"] == format(leaf.serial_number, "x")
    assert {"dns": pki["guid"]} in chain[0]["subject_alt_names"]
    assert {"ip_address": "10.255.1.2"} in chain[0]["subject_alt_names"]
    assert chain[0]["days_until_expiration"] == "0"  # 24 h validity, just issued
    assert chain[0]["expiration_time"].endswith("Z")
    assert len(chain) == 1  # the leaf only, as real Envoy shows it (not the intermediate)
    assert data["certificates"][0]["ca_cert"][0]["path"] == "<inline>"


def test_file_watcher(tmp_path):
    f = tmp_path / "listeners.yaml"
    f.write_text("a")
    w = FileWatcher()
    w.track(str(f))
    assert w.changed() == []
    tmp = tmp_path / "listeners.yaml.tmp"
    tmp.write_text("b")
    tmp.rename(f)
    assert w.changed() == [str(f)]
    assert w.changed() == []


def test_file_watcher_is_told_of_a_rename_by_inotify(tmp_path):
    import select

    f = tmp_path / "listeners.yaml"
    f.write_text("a")
    w = FileWatcher()
    try:
        w.track(str(f))
        fd = w.fileno()
        assert fd is not None  # Linux: the proxy sleeps until the kernel says something moved
        assert select.select([fd], [], [], 0)[0] == []
        (tmp_path / "listeners.yaml.tmp").write_text("b")
        (tmp_path / "listeners.yaml.tmp").rename(f)
        assert select.select([fd], [], [], 5)[0] == [fd]
        assert w.changed() == [str(f)]
        assert select.select([fd], [], [], 0)[0] == []  # the notices were read
    finally:
        w.close()


def test_file_watcher_without_notices_still_sees_changes_by_polling(tmp_path):
    f = tmp_path / "sds.yaml"
    f.write_text("a")
    w = FileWatcher(notify=False)
    w.track(str(f))
    assert w.fileno() is None
    f.write_text("bb")
    assert w.changed() == [str(f)]
