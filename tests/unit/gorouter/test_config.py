"""gorouter.yml parsing: gorouter key names, Go durations, errors naming the key."""

from __future__ import annotations

import pytest

from foundry.gorouter.config import ConfigError, load, loads, parse_duration

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
PEM_YAML = PEM.replace("\n", "\\n")
INDENTED_PEM = PEM.replace("\n", "\n  ")

FULL = f"""
status: {{port: 8080, user: router-status, pass: s3cret, routes: {{port: 8082}}}}
nats:
  hosts: [{{hostname: nats, port: 4222}}]
port: 80
backends:
  max_attempts: 3
  max_conns: 500
  cert_chain: "{PEM_YAML}"
  private_key: "-----BEGIN RSA PRIVATE KEY-----\\nx\\n-----END RSA PRIVATE KEY-----\\n"
ca_certs: ["{PEM_YAML}"]
skip_ssl_validation: false
droplet_stale_threshold: 120s
prune_stale_droplets_interval: 30s
suspend_pruning_if_nats_unavailable: true
start_response_delay_interval: 20s
endpoint_timeout: 900s
endpoint_dial_timeout: 5s
tls_handshake_timeout: 10s
balancing_algorithm: least-connection
access_log: {{file: /var/vcap/sys/log/gorouter/access.log}}
load_balancer_healthy_threshold: 20s
logging: {{level: info}}
"""


def test_full_config() -> None:
    c = loads(FULL)
    assert (c.status_port, c.status_user, c.status_pass, c.status_routes_port) == (
        8080, "router-status", "s3cret", 8082)
    assert [(h.hostname, h.port) for h in c.nats_hosts] == [("nats", 4222)]
    assert c.max_attempts == 3 and c.max_conns == 500
    assert c.backend_cert_chain.startswith("-----BEGIN CERTIFICATE")
    assert c.ca_certs == [PEM]
    assert c.droplet_stale_threshold == 120 and c.prune_stale_droplets_interval == 30
    assert c.suspend_pruning_if_nats_unavailable
    assert c.start_response_delay_interval == 20 and c.endpoint_timeout == 900
    assert c.tls_handshake_timeout == 10 and c.balancing_algorithm == "least-connection"
    assert c.access_log_file == "/var/vcap/sys/log/gorouter/access.log"
    assert c.retry_after_failure == 30


def test_defaults() -> None:
    c = loads("")
    assert c.max_attempts == 3 and c.max_conns == 500 and c.droplet_stale_threshold == 120
    assert c.balancing_algorithm == "round-robin"
    assert c.empty_pool_response_code_503 is False  # gorouter's code default: 404


def test_empty_pool_response_code_503() -> None:
    assert loads("empty_pool_response_code_503: true").empty_pool_response_code_503 is True
    with pytest.raises(ConfigError, match="empty_pool_response_code_503"):
        loads("empty_pool_response_code_503: yes please")


def test_ca_certs_as_single_pem_string_or_path(tmp_path) -> None:
    assert loads(f"ca_certs: |\n  {INDENTED_PEM}").ca_certs[0].startswith(
        "-----BEGIN")
    p = tmp_path / "ca.pem"
    p.write_text(PEM)
    assert loads(f"ca_certs: {p}").ca_certs == [PEM]


@pytest.mark.parametrize("value,seconds", [
    ("120s", 120), ("1m30s", 90), ("500ms", 0.5), ("1h", 3600), (30, 30), ("0", 0), (1.5, 1.5)])
def test_durations(value, seconds) -> None:
    assert parse_duration("k", value) == seconds


@pytest.mark.parametrize("text,key", [
    ("droplet_stale_threshold: 120x", "droplet_stale_threshold"),
    ("endpoint_timeout: -1", "endpoint_timeout"),
    ("endpoint_timeout: true", "endpoint_timeout"),
    ("port: 70000", "port"),
    ("port: eighty", "port"),
    ("status: {port: x}", "status.port"),
    ("status: [1]", "status"),
    ("backends: {max_attempts: 0}", "backends.max_attempts"),
    ("backends: {cert_chain: abc}", "backends.cert_chain and backends.private_key"),
    ("backends: {cert_chain: abc, private_key: def}", "backends.cert_chain"),
    ("balancing_algorithm: random", "balancing_algorithm"),
    ("nats: {hosts: []}", "nats.hosts"),
    ("nats: {hosts: [{hostname: n, port: x}]}", "nats.hosts[0].port"),
    ("ca_certs: [not-a-pem]", "ca_certs[0]"),
    ("suspend_pruning_if_nats_unavailable: maybe", "suspend_pruning_if_nats_unavailable"),
    ("prune_stale_droplets_interval: 0s", "prune_stale_droplets_interval"),
    ("- a list", "top"),
    ("port: [", "invalid YAML"),
])
def test_errors_name_the_key(text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        loads(text)


def test_backend_cert_and_key_from_files(tmp_path) -> None:
    (tmp_path / "b.crt").write_text(PEM)
    (tmp_path / "b.key").write_text("-----BEGIN RSA PRIVATE KEY-----\nx\n-----END RSA PRIVATE KEY-----\n")
    c = loads(f"backends: {{cert_chain: {tmp_path}/b.crt, private_key: {tmp_path}/b.key}}")
    assert c.backend_cert_chain == PEM and "PRIVATE KEY" in c.backend_private_key
    with pytest.raises(ConfigError, match="backends.private_key"):
        loads(f"backends: {{cert_chain: {tmp_path}/b.crt, private_key: {tmp_path}/nope}}")


def test_threshold_raised_to_start_delay() -> None:
    c = loads("droplet_stale_threshold: 10s\nstart_response_delay_interval: 20s")
    assert c.droplet_stale_threshold == 20


def test_legacy_nats_list_layout() -> None:
    c = loads("nats: [{host: n1, port: 4222, user: u, pass: p}]")
    assert c.nats_hosts[0].hostname == "n1"


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load("/nonexistent/gorouter.yml")
